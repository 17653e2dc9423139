"""One run into each live target kind: exact content, overwrite, no leftovers, views, bad input."""

from __future__ import annotations

import pytest
from engine_data import D_PREV, EXPECTED_D, OUTPUT_COLUMNS, D, LiveTarget, make_spec
from engine_data import target_content as content

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runs import run_export

pytestmark = [pytest.mark.postgres, pytest.mark.mysql]


def create_target(t: LiveTarget, table: str = "user_tags") -> None:
    t.execute(*create_table_sql(make_spec(t.kind, t.conn_id, table=table), t.kind))


def test_exact_content_for_a_data_date(live_target: LiveTarget) -> None:
    create_target(live_target)
    report = run_export(make_spec(live_target.kind, live_target.conn_id), D)

    assert content(live_target) == EXPECTED_D
    assert report.status == "success"
    assert report.rows_written == len(EXPECTED_D) and report.rows_read == len(EXPECTED_D)
    assert report.duplicates_replaced == 1  # user 3 twice in profile for D
    assert set(report.phases) >= {"preflight", "extract_load", "gates", "swap"}
    assert not [n for n in live_target.tables() if "_dpfx_" in n]


def test_overwrite_replaces_everything(live_target: LiveTarget) -> None:
    create_target(live_target)
    spec = make_spec(live_target.kind, live_target.conn_id)
    run_export(spec, D_PREV)
    prev = content(live_target)
    assert prev[0][3] == 2  # user 1's level on the previous day
    live_target.execute("INSERT INTO user_tags (user_id, nick) VALUES (999, 'stale row')")

    run_export(spec, D)
    assert content(live_target) == EXPECTED_D  # 999 gone, every value from D
    assert not [n for n in live_target.tables() if "_dpfx_" in n]


def test_views_on_the_target_survive_the_swap(live_target: LiveTarget) -> None:
    create_target(live_target)
    spec = make_spec(live_target.kind, live_target.conn_id)
    run_export(spec, D_PREV)
    live_target.execute("CREATE VIEW vip_users AS SELECT user_id, nick FROM user_tags WHERE vip = TRUE"
                        if live_target.kind != "sqlite" else
                        "CREATE VIEW vip_users AS SELECT user_id, nick FROM user_tags WHERE vip = 1")
    run_export(spec, D)
    assert sorted(r[0] for r in live_target.rows("SELECT user_id FROM vip_users")) == [1, 4]
    # and the view reads the new table, not a dropped one: the next run works too
    run_export(spec, D)
    assert sorted(r[0] for r in live_target.rows("SELECT user_id FROM vip_users")) == [1, 4]


def test_missing_target_table_is_a_clear_error(live_target: LiveTarget) -> None:
    with pytest.raises(RunFailed, match=r"target table .*user_tags does not exist"):
        run_export(make_spec(live_target.kind, live_target.conn_id), D)
    assert live_target.tables() == []


def test_missing_column_names_the_column_and_writes_nothing(live_target: LiveTarget) -> None:
    create_target(live_target)
    spec = make_spec(live_target.kind, live_target.conn_id)
    run_export(spec, D_PREV)
    before = content(live_target)
    drop = "ALTER TABLE user_tags DROP COLUMN level_name"
    live_target.execute(drop)
    with pytest.raises(RunFailed, match=r"column 'level_name' for tag 'level' \(code name\) does not exist"):
        run_export(spec, D)
    cols = [c for c in OUTPUT_COLUMNS if c != "level_name"]
    after = live_target.rows(f"SELECT {', '.join(cols)} FROM user_tags ORDER BY user_id")
    assert [r[:4] for r in after] == [tuple(b[:4]) for b in before] or len(after) == len(before)
    assert not [n for n in live_target.tables() if "_dpfx_" in n]


def test_missing_source_partition_is_a_clear_error(live_target: LiveTarget) -> None:
    create_target(live_target)
    spec = make_spec(live_target.kind, live_target.conn_id)
    run_export(spec, D)
    with pytest.raises(RunFailed, match=r"no rows for data date 2026-11-01 in profile partition ds=20261101"):
        run_export(spec, "2026-11-01", allow_older=True)
    assert content(live_target) == EXPECTED_D
    assert not [n for n in live_target.tables() if "_dpfx_" in n]


def test_failed_gate_leaves_live_table_untouched(live_target: LiveTarget) -> None:
    create_target(live_target)
    run_export(make_spec(live_target.kind, live_target.conn_id), D)
    strict = make_spec(live_target.kind, live_target.conn_id, gates={"min_rows": 100})
    with pytest.raises(RunFailed, match=r"7 rows is below gates.min_rows = 100") as err:
        run_export(strict, D_PREV, allow_older=True)
    assert err.value.report.gates_failed  # type: ignore[attr-defined]
    assert content(live_target) == EXPECTED_D
    assert not [n for n in live_target.tables() if "_dpfx_" in n]
