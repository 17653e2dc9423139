"""The data date a whole table holds, recorded with the table by the swap (spec §4), on every live family:
the record always matches the rows (a run killed with the record on the stage, or inside the swap,
leaves rows and record of one run), a user's own table comment survives every run word for word, and
an older date is refused before anything is written unless allowed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from engine_data import D_PREV, EXPECTED_D, D, LiveTarget, make_spec
from engine_data import target_content as content

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.engine import faults
from airflow_provider_tagoffline.errors import OlderDataDate
from airflow_provider_tagoffline.runs import preview, run_export
from airflow_provider_tagoffline.service.held import held_data_date

pytestmark = [pytest.mark.postgres, pytest.mark.mysql]

#: a user's comment with what quoting must survive: quotes, a backslash, a second line, Unicode
USER_COMMENT = "Tags of users for the CRM (owner: team 'crm')\nsee C:\\docs — 标签"
COMMENT_OF = {
    "postgres": "SELECT obj_description('user_tags'::regclass, 'pg_class')",
    "mysql": "SELECT table_comment FROM information_schema.tables WHERE table_schema = DATABASE() "
             "AND table_name = 'user_tags'",
    "duckdb": "SELECT comment FROM duckdb_tables() WHERE table_name = 'user_tags'",
}
SET_COMMENT = {
    "postgres": "COMMENT ON TABLE user_tags IS E'{}'",
    "mysql": "ALTER TABLE user_tags COMMENT = '{}'",
    "duckdb": "COMMENT ON TABLE user_tags IS '{}'",
}
RUN = ("import json, os, sys; from airflow_provider_tagoffline.runs import run_export; "
       "run_export(json.loads(os.environ['TOT_SPEC']), sys.argv[1], run_id='killed', by='test')")


def held(t: LiveTarget) -> tuple[str | None, str | None, str | None]:
    """(the user's comment, the data date recorded, the run recorded), read straight from the database."""
    if t.kind == "sqlite":
        rows = t.rows("SELECT data_date, run_id FROM _tagoffline_held WHERE table_name = 'user_tags'") \
            if "_tagoffline_held" in t.tables() else []
        return (None, *rows[0]) if rows else (None, None, None)
    ((comment,),) = t.rows(COMMENT_OF[t.kind])
    comment = comment.decode() if isinstance(comment, bytes) else comment
    head, _, last = (comment or "").rpartition("\n")
    if not last.startswith("[tagoffline] "):
        return comment or None, None, None
    record = json.loads(last.removeprefix("[tagoffline] "))
    return head or None, record["data_date"], record["run_id"]


def set_user_comment(t: LiveTarget) -> str | None:
    if t.kind == "sqlite":
        return None  # SQLite tables have no comment
    escaped = USER_COMMENT.replace("'", "''")
    if t.kind in ("postgres", "mysql"):
        escaped = escaped.replace("\\", "\\\\").replace("\n", "\\n")
    t.execute(SET_COMMENT[t.kind].format(escaped))
    assert held(t) == (USER_COMMENT, None, None)
    return USER_COMMENT


def run_killed_at(phase: str, spec_json: str, day: str, tmp: Path) -> None:
    env = dict(os.environ, TOT_SPEC=spec_json, TMPDIR=str(tmp), **{faults.ENV: phase})
    proc = subprocess.run([sys.executable, "-c", RUN, day], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == -signal.SIGKILL, f"not killed at {phase}: {proc.stderr[-2000:]}"


def test_the_record_goes_live_with_the_rows_and_the_users_comment_survives(live_target: LiveTarget,
                                                                         tmp_path: Path) -> None:
    t = live_target
    spec = make_spec(t.kind, t.conn_id)
    t.execute(*create_table_sql(spec, t.kind))
    comment = set_user_comment(t)

    report = run_export(spec, D_PREV, run_id="first", by="alice")
    assert report.held_before is None  # a table no run had written: nothing to compare with
    old = content(t)
    assert old != EXPECTED_D
    assert held(t) == (comment, D_PREV.isoformat(), "first")

    # Killed with D's record on the stage, before the swap: the old rows and the old record
    run_killed_at("before_swap", spec.to_json(), D.isoformat(), tmp_path)
    assert (content(t), held(t)) == (old, (comment, D_PREV.isoformat(), "first"))
    # Killed inside the swap: rows and record of one run, whichever the engine kept
    run_killed_at("inside_swap", spec.to_json(), D.isoformat(), tmp_path)
    if t.kind == "mysql":  # its one RENAME TABLE had swapped both
        assert (content(t), held(t)) == (EXPECTED_D, (comment, D.isoformat(), "killed"))
    else:  # the swap's transaction rolled back
        assert (content(t), held(t)) == (old, (comment, D_PREV.isoformat(), "first"))

    report = run_export(spec, D, run_id="second", by="bob")  # recovers the leftovers, then swaps
    assert (content(t), held(t)) == (EXPECTED_D, (comment, D.isoformat(), "second"))
    assert report.held_before == (D if t.kind == "mysql" else D_PREV).isoformat()

    # An older date: refused before anything is written, naming both dates
    with pytest.raises(OlderDataDate) as refused:
        run_export(spec, D_PREV, run_id="older")
    assert str(refused.value) == (f"target tot_target:user_tags holds data date {D}; data date {D_PREV} is older "
                                  "and would roll it back: refused, the table is untouched (allow_older runs it "
                                  "anyway)")
    assert (content(t), held(t)) == (EXPECTED_D, (comment, D.isoformat(), "second"))
    assert not [n for n in t.tables() if "_dpfx_" in n]
    # ... unless allowed
    run_export(spec, D_PREV, run_id="allowed", allow_older=True)
    assert (content(t), held(t)) == (old, (comment, D_PREV.isoformat(), "allowed"))


def test_a_table_without_a_record_asks_elsewhere_then_records_its_own(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Written before records existed: what Airflow's asset event says is compared (refused when later);
    with nothing known the run goes on and records its date."""
    import sqlite3

    path = tmp_path / "target.db"
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TARGET", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    spec = make_spec("sqlite", "tot_target")
    with sqlite3.connect(path) as db:
        for sql in create_table_sql(spec, "sqlite"):
            db.execute(sql)
    db.close()
    said: list[str] = []
    with pytest.raises(OlderDataDate, match=f"holds data date {D}; data date {D_PREV} is older"):
        run_export(spec, D_PREV, held_elsewhere=lambda: D, echo=said.append)
    assert said[-1] == (f"target tot_target:user_tags records no data date yet (written before tagoffline recorded "
                        f"one, or never by it): Airflow's last event of its asset says {D}; this run records {D_PREV}")
    report = run_export(spec, D_PREV, held_elsewhere=lambda: None, echo=said.append)
    assert "not compared with anything; this run records 2026-11-22" in " ".join(said)
    assert report.held_before is None

    def never() -> None:
        raise AssertionError("the table's own record is enough")

    run_export(spec, D, held_elsewhere=never)  # recorded now: Airflow is not asked
    with pytest.raises(OlderDataDate) as refused:
        run_export(spec, D_PREV, held_elsewhere=never)
    # the plugin's Run and backfill plan, and the preview, read the same record
    assert held_data_date(spec) == D
    planned = preview(spec, D_PREV, held_elsewhere=never)
    assert (planned.holds, planned.would_fail) == (D.isoformat(), [str(refused.value)])
    assert preview(spec, D, held_elsewhere=never).would_fail == []
    # the record's table is SQLite's own: not offered as a table to export into
    from airflow_provider_tagoffline.connections import get_connection
    from airflow_provider_tagoffline.dialects import family_of_kind

    listed = family_of_kind("sqlite").introspection(get_connection("tot_target"), "sqlite").tables(None)
    assert listed == ["user_tags"]
