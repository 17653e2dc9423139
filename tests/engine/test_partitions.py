"""Partitioned targets: only partition D is replaced; other partitions are untouched."""

from __future__ import annotations

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.runs import run_export
from tests.run_data import D_PREV, EXPECTED_D, OUTPUT_COLUMNS, D, LiveTarget, make_spec, normalize

pytestmark = [pytest.mark.postgres, pytest.mark.mysql]
PARTITION = {"column": "ds", "format": "yyyyMMdd"}


def rows_of(t: LiveTarget, ds: str) -> list[tuple]:
    return t.rows(f"SELECT {', '.join(OUTPUT_COLUMNS)}, ds FROM user_tags WHERE ds = '{ds}' ORDER BY user_id")


def physical_id(t: LiveTarget, partition: str) -> object:
    if t.kind == "postgres":
        return t.rows(f"SELECT relfilenode FROM pg_class WHERE relname = '{partition}'")[0][0]
    if t.kind == "mysql":
        return t.rows("SELECT create_time, table_rows FROM information_schema.partitions WHERE table_schema = "
                      f"DATABASE() AND table_name = 'user_tags' AND partition_name = '{partition}'")[0]
    return None


@pytest.mark.parametrize("live_target", ["postgres", "mysql", "duckdb"], indirect=True)
def test_only_partition_d_is_replaced(live_target: LiveTarget) -> None:
    t = live_target
    spec = make_spec(t.kind, t.conn_id, partition=PARTITION)
    t.execute(*create_table_sql(spec, t.kind))

    run_export(spec, D_PREV)
    run_export(spec, D)
    prev = rows_of(t, "20261122")
    prev_id = physical_id(t, "user_tags_p20261122" if t.kind == "postgres" else "p20261122")
    assert len(prev) == len(EXPECTED_D) and [normalize(r) for r in rows_of(t, "20261123")] == EXPECTED_D

    t.execute("UPDATE user_tags SET nick = 'stale' WHERE ds = '20261123'")
    report = run_export(spec, D)  # re-export D: replaces D only
    assert [normalize(r) for r in rows_of(t, "20261123")] == EXPECTED_D
    assert rows_of(t, "20261122") == prev  # every value of the other partition, unchanged
    assert physical_id(t, "user_tags_p20261122" if t.kind == "postgres" else "p20261122") == prev_id
    assert report.rows_written == len(EXPECTED_D)
    assert not [n for n in t.tables() if "_dpfx_" in n]
    if t.kind == "postgres":
        parts = t.rows("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "WHERE i.inhparent = 'user_tags'::regclass ORDER BY 1")
        assert [p[0] for p in parts] == ["user_tags_p20261122", "user_tags_p20261123"]
    if t.kind == "mysql":
        parts = t.rows("SELECT partition_name FROM information_schema.partitions WHERE table_schema = DATABASE() "
                       "AND table_name = 'user_tags' ORDER BY 1")
        assert [p[0] for p in parts] == ["p20261122", "p20261123", "p_init"]


@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
def test_partition_max_change_ratio_compares_partition_d_only(live_target: LiveTarget) -> None:
    t = live_target
    spec = make_spec(t.kind, t.conn_id, partition=PARTITION, gates={"max_change_ratio": 0.1})
    t.execute(*create_table_sql(spec, t.kind))
    run_export(spec, D_PREV)  # partition D empty: no ratio to compare
    run_export(spec, D)
    run_export(spec, D)  # 7 rows against 7 live rows of D (not 14 of the table): passes
    assert len(rows_of(t, "20261123")) == len(EXPECTED_D)
