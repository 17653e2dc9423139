"""The snapshot of a ``changes`` service in the warehouse's scratch place (``engine/snapshots.py``), the
shared conformance suite of a warehouse family that keeps snapshots. A family runs it with
``class TestPostgresSnapshots(SnapshotsSuite): family = "postgres"`` in its test module.

The warehouse is tests/run_data.py's (``warehouse_conn``), given a scratch place in its connection's
extra. The "old" extract (what the snapshot holds) is today's extract edited in the warehouse: ID 7
missing (so it is new today), ID 2's row kept while today drops it (gone), and ID 1's decimal, ID 3's
text (NULL then), ID 4's text and boolean, ID 5's text (NULL, where today it is '') changed; ID 6 alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from airflow_provider_tagoffline.connections import resolve_connection
from airflow_provider_tagoffline.engine.extract import Query, build_extract_query
from airflow_provider_tagoffline.engine.snapshots import Snapshots, SnapshotState
from airflow_provider_tagoffline.engine.warehouse import Warehouse
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runspec import RunSpec
from tests.run_data import D, make_spec

SERVICE = "user_tags_test"
HOSTILE_SERVICE = 'a "quoted" \'name\'; DROP TABLE x; -- 用户标签 🐍 ' + "long " * 30
#: the scratch place each family's warehouse is given (a schema; a file under the test's folder)
PLACES = {"postgres": 'tagoffline "scratch" 100% Ö', "duckdb": "{tmp}/scratch.duckdb"}


def spec() -> RunSpec:
    return make_spec("sqlite", "t", warehouse_conn_id="tot_wh")


def names() -> tuple[str, list[str]]:
    s = spec()
    return s.entity_key.code, [o.column for o in s.outputs]


def today(wh: Warehouse) -> Query:
    """The extract of D (``profile`` holds an ID twice: deduplicated)."""
    return build_extract_query(spec(), wh.dialect, D, frozenset({0}))


def edited(wh: Warehouse, q: Query, *, without: int, values: dict[str, tuple[int, str]] | None = None) -> Query:
    """``q`` without the row of ID ``without``, column ``c`` of ID ``k`` replaced by the SQL of ``values[c]``."""
    key, columns = names()
    quote = wh.dialect.quote
    every = [key, *columns]
    select = []
    for c in every:
        if c in (values or {}):
            k, expr = (values or {})[c]
            select.append(f"CASE WHEN e.{quote(key)} = {k} THEN {expr} ELSE e.{quote(c)} END")
        else:
            select.append(f"e.{quote(c)}")
    sql = (f"SELECT {', '.join(select)} FROM ({q.sql}) e({', '.join(quote(c) for c in every)}) "
           f"WHERE e.{quote(key)} <> {without}")
    return Query(sql, list(q.params), every, operators=q.operators)


def old_and_new(wh: Warehouse) -> tuple[Query, Query]:
    new = edited(wh, today(wh), without=2)
    old = edited(wh, today(wh), without=7, values={
        "gmv": (1, "e.gmv - 1"), "gender": (3, "NULL"), "nick": (4, "'x'"), "vip": (4, "NOT e.vip"),
    })
    old = edited(wh, old, without=-1, values={"nick": (5, "NULL")})
    return old, new


def rows(wh: Warehouse, q: Query) -> dict[Any, tuple[Any, ...]]:
    """The rows of ``q`` by their first column (the ID)."""
    got = {r[0]: tuple(r) for batch in wh.stream(q, 100) for r in batch}
    wh.reader.reset()
    return got


@pytest.mark.postgres
class SnapshotsSuite:
    """Inherit with ``family`` set; the class name starts with ``Test`` so pytest collects it."""

    family: ClassVar[str]

    @pytest.fixture
    def scratch(self, warehouse_conn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
        """The warehouse ``tot_wh`` given a scratch place in its extra; yields the place."""
        place = PLACES[self.family].format(tmp=tmp_path)
        self.set_extra(monkeypatch, {"tagoffline_scratch": place})
        return place

    def set_extra(self, monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any]) -> None:
        conn = json.loads(os.environ["AIRFLOW_CONN_TOT_WH"])
        conn["extra"] = {**(conn.get("extra") or {}), **extra}
        monkeypatch.setenv("AIRFLOW_CONN_TOT_WH", json.dumps(conn))

    def open(self, service: str = SERVICE) -> tuple[Warehouse, Snapshots]:
        wh = Warehouse(resolve_connection("tot_wh"))
        snaps = Snapshots.open(wh, service)
        assert snaps is not None
        return wh, snaps

    def snapshot_rows(self, wh: Warehouse, snaps: Snapshots) -> dict[Any, tuple[Any, ...]]:
        key, columns = names()
        with snaps._in_place():  # the scratch place reachable, as during a step
            return rows(wh, Query(f"SELECT * FROM {snaps.sql.snapshot}", [], [key, *columns]))

    def test_diff_promote_and_again(self, scratch: str) -> None:
        wh, snaps = self.open()
        key, columns = names()
        old, new = old_and_new(wh)
        assert snaps.state() == SnapshotState("", "", 0, "")
        snaps.rebuild(old, key, columns, "a1", "sig")
        assert snaps.state() == SnapshotState("a1", "sig", 6, "")
        assert self.snapshot_rows(wh, snaps) == rows(wh, old)

        assert snaps.diff(new, key, columns, "b2") == {"i": 1, "u": 4, "d": 1}
        assert snaps.state() == SnapshotState("a1", "sig", 6, "b2")
        q = snaps.pending_query()
        assert q.columns == ["tagoffline_op", "tagoffline_key", *columns]
        assert snaps.state().pending_write_id == "b2"  # a step between leaves the pending set readable
        changed = {r[1]: (r[0], tuple(r[2:])) for batch in wh.stream(q, 100) for r in batch}
        wh.reader.reset()
        # with the old versions: one row "o" per key updated or deleted, holding what the snapshot held
        with_olds = [r for batch in wh.stream(snaps.pending_query(old_versions=True), 100) for r in batch]
        wh.reader.reset()
        before = rows(wh, old)
        assert {r[1]: tuple(r[2:]) for r in with_olds if r[0] == "o"} == {k: before[k][1:] for k in (1, 2, 3, 4, 5)}
        assert {r[1]: (r[0], tuple(r[2:])) for r in with_olds if r[0] != "o"} == changed
        expected = rows(wh, new)
        assert changed == {
            7: ("i", expected[7][1:]),
            1: ("u", expected[1][1:]), 3: ("u", expected[3][1:]), 4: ("u", expected[4][1:]),
            5: ("u", expected[5][1:]),
            2: ("d", (None,) * len(columns)),
        }
        assert changed[5][1][columns.index("nick")] == ""  # '' is not NULL
        assert changed[4][1][columns.index("nick")].startswith("tab\there")
        assert snaps.sample(new, key, columns, 100) == (6, 5)
        looked, different = snaps.sample(new, key, columns, 2)
        assert looked == 2 and 0 <= different <= 2

        snaps.promote("b2")
        assert snaps.state() == SnapshotState("b2", "sig", 6, "")
        assert self.snapshot_rows(wh, snaps) == expected
        assert snaps.diff(new, key, columns, "c3") == {"i": 0, "u": 0, "d": 0}
        snaps.discard_pending()
        assert snaps.state() == SnapshotState("b2", "sig", 6, "")
        wh.close()

    def test_rebuild_then_same_extract_changes_nothing(self, scratch: str) -> None:
        wh, snaps = self.open()
        key, columns = names()
        snaps.rebuild(today(wh), key, columns, "a1", "sig")
        assert snaps.diff(today(wh), key, columns, "b2") == {"i": 0, "u": 0, "d": 0}
        assert snaps.sample(today(wh), key, columns, 100) == (7, 0)
        snaps.promote("b2")
        assert snaps.state() == SnapshotState("b2", "sig", 7, "")
        wh.close()

    def test_promote_refuses_another_write(self, scratch: str) -> None:
        wh, snaps = self.open()
        key, columns = names()
        old, new = old_and_new(wh)
        snaps.rebuild(old, key, columns, "a1", "sig")
        with pytest.raises(RunFailed, match="pending change set is none"):
            snaps.promote("b2")
        snaps.diff(new, key, columns, "b2")
        with pytest.raises(RunFailed, match="pending change set is b2, not write c3"):
            snaps.promote("c3")
        assert snaps.state() == SnapshotState("a1", "sig", 6, "b2")
        assert self.snapshot_rows(wh, snaps) == rows(wh, old)
        snaps.discard_pending()
        assert snaps.state() == SnapshotState("a1", "sig", 6, "")
        with pytest.raises(RunFailed, match="pending change set is none"):
            snaps.promote("b2")
        wh.close()

    def test_promote_refuses_a_pending_set_short_of_rows(self, scratch: str) -> None:
        wh, snaps = self.open()
        key, columns = names()
        old, new = old_and_new(wh)
        snaps.rebuild(old, key, columns, "a1", "sig")
        snaps.diff(new, key, columns, "b2")
        with snaps._in_place():
            cur = wh.conn.cursor()
            # as a crash could leave it (the names are written for a parameter list)
            cur.execute(f"DELETE FROM {snaps.sql.pending} WHERE tagoffline_op = 'd'", [])
            cur.close()
        with pytest.raises(RunFailed, match="holds 5 rows where its diff wrote 6"):
            snaps.promote("b2")
        assert snaps.state() == SnapshotState("a1", "sig", 6, "b2")
        assert self.snapshot_rows(wh, snaps) == rows(wh, old)
        wh.close()

    def test_a_failed_rebuild_keeps_the_old_snapshot(self, scratch: str) -> None:
        wh, snaps = self.open()
        key, columns = names()
        old, new = old_and_new(wh)
        snaps.rebuild(old, key, columns, "a1", "sig")
        snaps.diff(new, key, columns, "b2")
        # fails at ID 4, after some rows are written
        broken = Query(f"SELECT * FROM ({today(wh).sql}) e WHERE CAST(CASE WHEN e.tagoffline_key = 4 THEN 'x' "
                       "ELSE '1' END AS INTEGER) = 1", list(today(wh).params))
        with pytest.raises(RunFailed, match="the snapshot's rebuild"):
            snaps.rebuild(broken, key, columns, "c3", "sig2")
        assert snaps.state() == SnapshotState("a1", "sig", 6, "b2")
        assert self.snapshot_rows(wh, snaps) == rows(wh, old)
        snaps.promote("b2")  # the pending set survived too
        assert self.snapshot_rows(wh, snaps) == rows(wh, new)
        wh.close()

    def test_two_services_stay_apart(self, scratch: str) -> None:
        wh, first = self.open()
        _, second = self.open(HOSTILE_SERVICE)
        _, third = self.open(SERVICE.upper())  # where names ignore case, still another table
        key, columns = names()
        old, new = old_and_new(wh)
        first.rebuild(old, key, columns, "a1", "sig")
        second.rebuild(new, key, columns, "f1", "other")
        third.rebuild(today(wh), key, columns, "e1", "third")
        assert len({first.sql.snapshot, second.sql.snapshot, third.sql.snapshot}) == 3
        assert first.diff(new, key, columns, "b2") == {"i": 1, "u": 4, "d": 1}
        assert second.diff(new, key, columns, "f2") == {"i": 0, "u": 0, "d": 0}
        assert second.state() == SnapshotState("f1", "other", 6, "f2")
        second.promote("f2")
        first.drop()
        assert first.state() == SnapshotState("", "", 0, "")
        assert second.state() == SnapshotState("f2", "other", 6, "")
        assert third.state() == SnapshotState("e1", "third", 7, "")
        assert self.snapshot_rows(wh, second) == rows(wh, new)
        wh.close()

    def test_no_extra_no_snapshots(self, warehouse_conn: str) -> None:
        wh = Warehouse(resolve_connection("tot_wh"))
        assert Snapshots.open(wh, SERVICE) is None
        wh.close()

    def test_none_where_the_target_is_the_warehouse(self, scratch: str) -> None:
        where = resolve_connection("tot_wh")
        wh = Warehouse(where, conn=where.open())  # kind warehouse: the target's own connection reads
        assert Snapshots.open(wh, SERVICE) is None
        wh.close()

    @pytest.mark.parametrize("place", ["", 42, " "])
    def test_a_bad_extra_names_the_connection(self, warehouse_conn: str, monkeypatch: pytest.MonkeyPatch,
                                              place: Any) -> None:
        self.set_extra(monkeypatch, {"tagoffline_scratch": place})
        wh = Warehouse(resolve_connection("tot_wh"))
        with pytest.raises(RunFailed, match="tagoffline_scratch of the warehouse connection 'tot_wh'"):
            Snapshots.open(wh, SERVICE)
        wh.close()

    def test_an_unusable_place_names_the_connection(self, warehouse_conn: str, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
        self.set_extra(monkeypatch, {"tagoffline_scratch": self.unusable_place(tmp_path)})
        wh = Warehouse(resolve_connection("tot_wh"))
        with pytest.raises(RunFailed, match=r"tagoffline_scratch .*of the warehouse connection 'tot_wh'"):
            Snapshots.open(wh, SERVICE)
        wh.close()

    def unusable_place(self, tmp_path: Path) -> str:
        """A scratch place the warehouse cannot make: a schema name PostgreSQL keeps for itself, a file in
        no folder."""
        return "pg_tagoffline" if self.family == "postgres" else str(tmp_path / "no such folder" / "scratch.duckdb")

    def test_runs_of_three_services_at_once(self, scratch: str) -> None:
        """Three processes (as three runs are) make the scratch place at the same moment and each write
        their service's snapshot: none fails (PostgreSQL: CREATE ... IF NOT EXISTS racing; DuckDB: one
        writer of the file at a time, waited for)."""
        start = time.time() + 15  # every process past its imports
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
        procs = [subprocess.Popen([sys.executable, "-c", ONE_RUN, service, str(start)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for service in ("a", "b", "c")]
        outs = [p.communicate(timeout=240)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], outs
        wh, snaps = self.open("a")
        assert snaps.state() == SnapshotState("b2", "sig", 7, "")
        wh.close()


#: one run's use of the snapshots, in a process of its own: argv service, the moment to begin at
ONE_RUN = """
import sys, time
from airflow_provider_tagoffline.connections import resolve_connection
from airflow_provider_tagoffline.engine.snapshots import Snapshots
from airflow_provider_tagoffline.engine.warehouse import Warehouse
from tests.conformance.snapshots import names, today
wh = Warehouse(resolve_connection("tot_wh"))
key, columns = names()
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
snaps = Snapshots.open(wh, sys.argv[1])
snaps.rebuild(today(wh), key, columns, "a1", "sig")
assert snaps.diff(today(wh), key, columns, "b2") == {"i": 0, "u": 0, "d": 0}
assert list(wh.stream(snaps.pending_query(), 100)) == []
snaps.promote("b2")
wh.close()
"""
