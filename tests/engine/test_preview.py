"""Preview of a run (engine/preview/) against live targets: the DDL diff with its columns, a missing
table, no lock held, the diff pushed down into the warehouse, partitions. That a preview equals the
following run and writes nothing, on every family: tests/conformance/target.py."""

from __future__ import annotations

import pytest

from airflow_provider_tagoffline.connections import resolve_connection
from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runs import preview, run_export
from tests.conformance.target import same_as_run, snapshot
from tests.run_data import D_PREV, EXPECTED_D, WEIRD, D, LiveTarget, make_spec

pytestmark = [pytest.mark.postgres, pytest.mark.mysql]


@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
def test_each_column_difference_is_named(live_target: LiveTarget) -> None:
    t = live_target
    spec = make_spec(t.kind, t.conn_id)
    t.execute(*create_table_sql(spec, t.kind))
    if t.kind == "postgres":
        t.execute("ALTER TABLE user_tags DROP COLUMN birthday, ADD COLUMN note text, ALTER COLUMN level TYPE smallint, "
                  "ALTER COLUMN nick TYPE varchar(5), ALTER COLUMN score TYPE decimal(4,2)")
    else:
        t.execute("ALTER TABLE user_tags DROP COLUMN birthday, ADD COLUMN note text, MODIFY level smallint, "
                  "MODIFY nick varchar(5), MODIFY score decimal(4,2)")
    before = snapshot(t)

    p = preview(spec, D)

    by_kind = {(c.kind, c.column): c for c in p.columns}
    assert set(by_kind) == {("missing", "birthday"), ("extra", "note"), ("type", "level"), ("length", "nick"),
                            ("precision", "score")}
    assert by_kind[("missing", "birthday")].fails and not by_kind[("extra", "note")].fails
    assert "16-bit" in by_kind[("type", "level")].detail
    # nicks of users 3, 4 and 7 are longer than 5 characters; user 4's is the longest
    assert (f"3 value(s) longer than 5 characters (longest {len(WEIRD)}, entity ID 4)"
            in by_kind[("length", "nick")].detail)
    # a double into decimal(4,2): user 2's -1.25e10 has 11 integer digits
    assert ("1 value(s) with more than 2 integer digits (widest 11, entity ID 2)"
            in by_kind[("precision", "score")].detail)
    assert p.changes is not None and p.changes.added == len(EXPECTED_D)  # an empty live table
    assert snapshot(t) == before
    with pytest.raises(RunFailed, match=r"'birthday'.*does not exist|'level'.*16-bit"):
        run_export(spec, D)  # the run refuses what the preview named


@pytest.mark.parametrize("live_target", ["postgres", "sqlite"], indirect=True)
def test_missing_table_previews_the_extract(live_target: LiveTarget) -> None:
    p = preview(make_spec(live_target.kind, live_target.conn_id), D, sample=100)
    assert not p.target_exists and p.changes is None
    assert p.rows == len(EXPECTED_D) and len(p.sample) == len(EXPECTED_D)
    assert "does not exist" in p.would_fail[0]
    assert sorted(r[0] for r in p.sample) == [r[0] for r in EXPECTED_D]
    # code names applied in the sample: user 1's gender M → Male, level 1 → Bronze
    row1 = next(r for r in p.sample if r[0] == 1)
    assert row1[1:5] == ["M", "Male", 1, "Bronze"]
    assert live_target.tables() == []


@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
def test_preview_holds_no_lock(live_target: LiveTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    """Right after a preview, the run's lock is free at the first try (no waiting allowed)."""
    t = live_target
    spec = make_spec(t.kind, t.conn_id)
    t.execute(*create_table_sql(spec, t.kind))
    preview(spec, D)
    where = resolve_connection(t.conn_id)
    target = where.target(spec.target, where.open())
    module = __import__(type(target).__module__, fromlist=["LOCK_WAIT_SECONDS"])
    monkeypatch.setattr(module, "LOCK_WAIT_SECONDS", 0)
    try:
        with target.lock():
            pass
    finally:
        target.close()


# ---- the target is the warehouse: the comparison is one query inside it ------------------------------

# the warehouse of each engine that can be a target too (engine/conftest.py), registered as tot_wh
@pytest.mark.parametrize("warehouse_conn", ["duckdb", "postgres"], indirect=True)
def test_in_the_warehouse_the_diff_is_pushed_down(warehouse_conn: str) -> None:
    spec = make_spec("warehouse", "tot_wh", warehouse_conn_id="tot_wh", gates={"max_null_ratio": {"gmv": 0.9}})
    where = resolve_connection("tot_wh")
    target = where.target(spec.target, where.open())
    target.run_in_tx(create_table_sql(spec, where.kind))
    target.close()
    run_export(spec, D_PREV)

    p = preview(spec, D, sample=2)

    assert p.changes is not None and p.changes.method.startswith("one query inside the warehouse")
    assert (p.changes.live_rows, p.changes.added, p.changes.removed, p.changes.changed) == (7, 0, 0, 1)
    assert p.rows == len(EXPECTED_D) and len(p.sample) == 2
    assert p.nulls == {"gmv": 3}
    assert p.changes.unchanged == len(EXPECTED_D) - 1
    report = run_export(spec, D)
    same_as_run(p, report)
    again = preview(spec, D)
    assert again.changes is not None and (again.changes.changed, again.changes.unchanged) == (0, len(EXPECTED_D))


# ---- the digests: equal values from different drivers agree, different ones do not ----------------

def test_digests_across_drivers() -> None:
    import datetime as dt
    from decimal import Decimal

    from airflow_provider_tagoffline.engine.preview.digest import Digest

    types = ["bigint", "decimal(18,2)", "boolean", "date", "double", "bigint"]
    # the warehouse's driver on the left, the target's on the right (SQLite: dates as text, a decimal as float)
    extract = (1, Decimal("10.50"), True, dt.date(2026, 1, 2), 0.5, -1)
    same = Digest(types, list(extract), [1, Decimal("10.5"), 1, dt.date(2026, 1, 2), 0.5, -1])
    assert [n for n, _f in same.fixes] == [0]  # only the decimal is rounded to its scale; the rest as they come
    wider = (Decimal("10.504"), True, dt.date(2026, 1, 2), 0.5, -1)  # the target rounds it when it writes it
    assert same.of(wider) == same.of((Decimal("10.50"), 1, dt.date(2026, 1, 2), 0.5, -1))
    assert same.of(extract[1:]) == same.of((Decimal("10.5"), 1, dt.date(2026, 1, 2), 0.5, -1))
    assert same.of(extract[1:]) != same.of((Decimal("10.5"), 1, dt.date(2026, 1, 2), 0.5, -2))  # hash(-1) == hash(-2)
    assert same.of(extract[1:]) != same.of((Decimal("10.51"), 1, dt.date(2026, 1, 2), 0.5, -1))
    text = Digest(types, list(extract), [1, 10.5, 1, "2026-01-02", 0.5, -1])
    assert [n for n, _f in text.fixes] == [0, 2]  # the decimal, and the date stored as text
    assert text.of(extract[1:]) == text.of((10.5, 1, "2026-01-02", 0.5, -1))
    assert text.of(extract[1:]) != text.of((10.5, 1, "2026-01-03", 0.5, -1))


@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
def test_a_partitioned_target_compares_partition_d_only(live_target: LiveTarget) -> None:
    t = live_target
    spec = make_spec(t.kind, t.conn_id, partition={"column": "ds", "format": "yyyyMMdd"})
    t.execute(*create_table_sql(spec, t.kind))
    run_export(spec, D_PREV)  # partition D-1 holds 7 rows; partition D none yet
    p = preview(spec, D)
    assert p.changes is not None and (p.changes.live_rows, p.changes.added) == (0, len(EXPECTED_D))
    assert p.sample_columns[-1] == "ds" and {r[-1] for r in p.sample} == {"20261123"}
    run_export(spec, D)
    t.execute("UPDATE user_tags SET nick = 'stale' WHERE ds = '20261123' AND user_id = 1")
    p = preview(spec, D)
    assert p.changes is not None
    assert (p.changes.live_rows, p.changes.added, p.changes.removed, p.changes.changed) == (7, 0, 0, 1)
