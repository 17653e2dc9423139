"""What every target family must do, on its live database: the shared conformance suite of a target.

A family's test module (``tests/dialects/<family>/test_<family>.py``) runs it with one line,
``class TestPostgresTarget(TargetSuite): family = "postgres"``; the ``live_target`` fixture
(tests/conftest.py) gives each test an empty database of that family, registered as ``tot_target``.
A family whose database the fixture cannot make overrides ``live_target`` in its class. Family data
the suite needs (its table comment's SQL, its dialect's attacks on the one-click create table) are
class attributes.

The suite: one run's exact content (types, NULLs, Unicode, duplicates), overwrite, views surviving
the swap, clear errors naming the table, column or partition, gates leaving the live table; the run
process killed at each phase and the next run recovering; the data date held with the table (and a
user's comment kept); the preview equal to the following run and writing nothing; the one-click
create table running only our rendering, once, whole or not at all, one statement per call.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from airflow_provider_tagoffline.connections import resolve_connection
from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.create_table.execute import create_on_target
from airflow_provider_tagoffline.create_table.parse import parse_edited
from airflow_provider_tagoffline.create_table.render import render
from airflow_provider_tagoffline.dialects import get_dialect, make_target
from airflow_provider_tagoffline.engine import faults
from airflow_provider_tagoffline.engine.preview import Preview
from airflow_provider_tagoffline.engine.report import RunReport
from airflow_provider_tagoffline.engine.targets.base import Target
from airflow_provider_tagoffline.engine.targets.held import TableDigest
from airflow_provider_tagoffline.errors import Conflict, OlderDataDate, RunFailed, ValidationFailed
from airflow_provider_tagoffline.runs import preview, run_export
from tests.run_data import D_PREV, EXPECTED_D, OUTPUT_COLUMNS, D, LiveTarget, make_spec
from tests.run_data import target_content as content

#: a user's table comment with what quoting must survive: quotes, a backslash, a second line, Unicode
USER_COMMENT = "Tags of users for the CRM (owner: team 'crm')\nsee C:\\docs — 标签"
RUN = ("import json, os, sys; from airflow_provider_tagoffline.runs import run_export; "
       "run_export(json.loads(os.environ['TOT_SPEC']), sys.argv[1], run_id='killed', by='test')")
#: the one-click create table's attacks every family refuses (a family adds its own: ``ddl_attacks``)
COMMON_DDL_ATTACKS = (
    "CREATE TABLE t_new (a int); DROP TABLE victim",
    "CREATE TABLE t_new AS SELECT * FROM victim",
    "DROP TABLE victim",
    "CREATE TABLE t_new (a int); DELETE FROM victim",
    "CREATE TABLE t_new (a int); INSERT INTO victim VALUES (2)",
)


def create_target(t: LiveTarget, table: str = "user_tags") -> None:
    t.execute(*create_table_sql(make_spec(t.kind, t.conn_id, table=table), t.kind))


def run_killed_at(phase: str, spec_json: str, day: str, tmp: Path) -> None:
    """A run in a process of its own, SIGKILLed at ``phase`` (TMPDIR: the temp files a killed run cannot
    remove, pipes and spool files, stay in pytest's folder)."""
    env = dict(os.environ, TOT_SPEC=spec_json, TMPDIR=str(tmp), **{faults.ENV: phase})
    proc = subprocess.run([sys.executable, "-c", RUN, day], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == -signal.SIGKILL, f"not killed at {phase}: {proc.stderr[-2000:]}"


def snapshot(t: LiveTarget) -> tuple[list[str], list[tuple[Any, ...]]]:
    return t.tables(), t.rows("SELECT * FROM user_tags ORDER BY user_id")


@contextlib.contextmanager
def target_session(t: LiveTarget, table: str = "user_tags") -> Iterator[Target]:
    """The family's Target on a connection of its own, as a run opens it."""
    where = resolve_connection(t.conn_id)
    target = make_target(make_spec(t.kind, t.conn_id, table=table).target, where.open(), where.kind)
    try:
        yield target
    finally:
        target.close()


#: one value changed each, with what a row hash must tell apart (run_data's rows for D)
DIGEST_CHANGES = {
    "NULL -> ''": "UPDATE {t} SET nick = '' WHERE user_id = 6",
    "'' -> NULL": "UPDATE {t} SET nick = NULL WHERE user_id = 5",
    "0 -> NULL (a boolean)": "UPDATE {t} SET vip = NULL WHERE user_id = 2",
    "0 -> NULL (a double)": "UPDATE {t} SET score = NULL WHERE user_id = 6",
    "a decimal's last digit": "UPDATE {t} SET gmv = -0.02 WHERE user_id = 2",
    "a date": "UPDATE {t} SET birthday = '1990-02-01' WHERE user_id = 1",
    "a boolean": "UPDATE {t} SET vip = NOT vip WHERE user_id = 1",
    "a Unicode string": "UPDATE {t} SET nick = '张三 🚁' WHERE user_id = 2",
    # (a sum of hashes that combine a row's values linearly would not see it: PostgreSQL's hash_record_extended)
    "two rows trading a value": "UPDATE {t} SET level = CASE user_id WHEN 1 THEN 4 ELSE 1 END WHERE user_id IN (1, 3)",
}


def same_as_run(p: Preview, report: RunReport) -> None:
    assert p.rows == report.rows_written
    assert p.duplicates_replaced == report.duplicates_replaced
    assert [s.model_dump() for s in p.sources] == report.sources
    assert p.gates_failed == report.gates_failed


def _diff(before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]) -> dict[str, int]:
    """Rows added / removed / changed by entity ID between two contents of the live table."""
    old, new = {r[0]: r for r in before}, {r[0]: r for r in after}
    return {"added": len(new.keys() - old.keys()), "removed": len(old.keys() - new.keys()),
            "changed": sum(1 for k in new.keys() & old.keys() if new[k] != old[k])}


@pytest.mark.postgres
@pytest.mark.mysql
@pytest.mark.usefixtures("warehouse_env")
class TargetSuite:
    """Inherit with ``family`` set; the class name starts with ``Test`` so pytest collects it."""

    family: ClassVar[str]
    #: the table's comment, read (None: the family's tables have none and it records the data date elsewhere)
    comment_sql: ClassVar[str | None] = None
    #: the table's comment, set: ``{}`` is the comment, escaped as a quoted literal
    set_comment_sql: ClassVar[str] = ""
    #: its string literal in ``set_comment_sql`` reads backslash escapes
    comment_backslash_escapes: ClassVar[bool] = False
    #: the swap is one RENAME TABLE of both tables, not a transaction: killed inside it, it has swapped
    rename_swap: ClassVar[bool] = False
    #: how a WHERE clause spells true
    true_literal: ClassVar[str] = "TRUE"
    #: the family's own attacks on the one-click create table; ``{out}``: a folder no file may appear in
    ddl_attacks: ClassVar[tuple[str, ...]] = ()
    #: a CREATE TABLE in the family's syntax with a primary key
    made_table_sql: ClassVar[str] = "CREATE TABLE t_made (user_id bigint NOT NULL, nick text, PRIMARY KEY (user_id))"

    def attacks(self, out: Path) -> list[str]:
        return [*COMMON_DDL_ATTACKS, *(a.format(out=out) for a in self.ddl_attacks)]

    def held(self, t: LiveTarget) -> tuple[str | None, str | None, str | None]:
        """(the user's comment, the data date recorded, the run recorded), read straight from the database."""
        if self.comment_sql is None:
            rows = t.rows("SELECT data_date, run_id FROM _tagoffline_held WHERE table_name = 'user_tags'") \
                if "_tagoffline_held" in t.tables() else []
            return (None, *rows[0]) if rows else (None, None, None)
        ((comment,),) = t.rows(self.comment_sql)
        comment = comment.decode() if isinstance(comment, bytes) else comment
        head, _, last = (comment or "").rpartition("\n")
        if not last.startswith("[tagoffline] "):
            return comment or None, None, None
        record = json.loads(last.removeprefix("[tagoffline] "))
        return head or None, record["data_date"], record["run_id"]

    def set_user_comment(self, t: LiveTarget) -> str | None:
        if self.comment_sql is None:
            return None
        escaped = USER_COMMENT.replace("'", "''")
        if self.comment_backslash_escapes:
            escaped = escaped.replace("\\", "\\\\").replace("\n", "\\n")
        t.execute(self.set_comment_sql.format(escaped))
        assert self.held(t) == (USER_COMMENT, None, None)
        return USER_COMMENT

    # ---- one run: content, overwrite, views, clear errors, gates -------------------------------------------

    def test_exact_content_for_a_data_date(self, live_target: LiveTarget) -> None:
        create_target(live_target)
        report = run_export(make_spec(live_target.kind, live_target.conn_id), D)

        assert content(live_target) == EXPECTED_D
        assert report.status == "success"
        assert report.rows_written == len(EXPECTED_D) and report.rows_read == len(EXPECTED_D)
        assert report.duplicates_replaced == 1  # user 3 twice in profile for D
        assert set(report.phases) >= {"preflight", "extract_load", "gates", "swap"}
        assert not [n for n in live_target.tables() if "_dpfx_" in n]


    def test_overwrite_replaces_everything(self, live_target: LiveTarget) -> None:
        create_target(live_target)
        spec = make_spec(live_target.kind, live_target.conn_id)
        run_export(spec, D_PREV)
        prev = content(live_target)
        assert prev[0][3] == 2  # user 1's level on the previous day
        live_target.execute("INSERT INTO user_tags (user_id, nick) VALUES (999, 'stale row')")

        run_export(spec, D)
        assert content(live_target) == EXPECTED_D  # 999 gone, every value from D
        assert not [n for n in live_target.tables() if "_dpfx_" in n]


    def test_views_on_the_target_survive_the_swap(self, live_target: LiveTarget) -> None:
        create_target(live_target)
        spec = make_spec(live_target.kind, live_target.conn_id)
        run_export(spec, D_PREV)
        live_target.execute("CREATE VIEW vip_users AS SELECT user_id, nick FROM user_tags "
                            f"WHERE vip = {self.true_literal}")
        run_export(spec, D)
        assert sorted(r[0] for r in live_target.rows("SELECT user_id FROM vip_users")) == [1, 4]
        # and the view reads the new table, not a dropped one: the next run works too
        run_export(spec, D)
        assert sorted(r[0] for r in live_target.rows("SELECT user_id FROM vip_users")) == [1, 4]


    def test_missing_target_table_is_a_clear_error(self, live_target: LiveTarget) -> None:
        with pytest.raises(RunFailed, match=r"target table .*user_tags does not exist"):
            run_export(make_spec(live_target.kind, live_target.conn_id), D)
        assert live_target.tables() == []


    def test_missing_column_names_the_column_and_writes_nothing(self, live_target: LiveTarget) -> None:
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


    def test_missing_source_partition_is_a_clear_error(self, live_target: LiveTarget) -> None:
        create_target(live_target)
        spec = make_spec(live_target.kind, live_target.conn_id)
        run_export(spec, D)
        with pytest.raises(RunFailed, match=r"no rows for data date 2026-11-01 in profile partition ds=20261101"):
            run_export(spec, "2026-11-01", allow_older=True)
        assert content(live_target) == EXPECTED_D
        assert not [n for n in live_target.tables() if "_dpfx_" in n]


    def test_failed_gate_leaves_live_table_untouched(self, live_target: LiveTarget) -> None:
        create_target(live_target)
        run_export(make_spec(live_target.kind, live_target.conn_id), D)
        strict = make_spec(live_target.kind, live_target.conn_id, gates={"min_rows": 100})
        with pytest.raises(RunFailed, match=r"7 rows is below gates.min_rows = 100") as err:
            run_export(strict, D_PREV, allow_older=True)
        assert err.value.report.gates_failed  # type: ignore[attr-defined]
        assert content(live_target) == EXPECTED_D
        assert not [n for n in live_target.tables() if "_dpfx_" in n]

    # ---- a crash: the run process killed at each phase, then the next run recovers (spec §6) -------------
    @pytest.mark.slow
    def test_kill_at_every_phase_then_recover(self, live_target: LiveTarget, tmp_path: Path) -> None:
        spec = make_spec(live_target.kind, live_target.conn_id)
        live_target.execute(*create_table_sql(spec, live_target.kind))
        run_export(spec, D_PREV)
        old = content(live_target)
        assert old != EXPECTED_D

        for phase in faults.PHASES:
            run_killed_at(phase, spec.to_json(), D.isoformat(), tmp_path)
            after_crash = content(live_target)
            if phase == "after_swap":
                assert after_crash == EXPECTED_D  # the swap committed before the kill
            elif phase == "inside_swap" and self.rename_swap:
                # the one RENAME TABLE statement already swapped; the kill left only the old copy
                assert after_crash == EXPECTED_D
                assert "user_tags_dpfx_tmp" in live_target.tables()
            else:  # transactional swaps roll back
                assert after_crash == old, f"killed at {phase}: the live table changed"
            # The next run recovers the leftovers and succeeds.
            report = run_export(spec, D)
            assert content(live_target) == EXPECTED_D
            assert not [n for n in live_target.tables() if "_dpfx_" in n]
            if phase in ("during_load", "after_load"):
                assert any("_dpfx_b" in a for a in report.recovery), report.recovery
            run_export(spec, D_PREV, allow_older=True)  # back to the old data for the next phase
            assert content(live_target) == old

    # ---- the data date held with the table (spec §4) ---------------------------------------------------------
    def test_the_record_goes_live_with_the_rows_and_the_users_comment_survives(self, live_target: LiveTarget,
                                                                             tmp_path: Path) -> None:
        t = live_target
        spec = make_spec(t.kind, t.conn_id)
        t.execute(*create_table_sql(spec, t.kind))
        comment = self.set_user_comment(t)

        report = run_export(spec, D_PREV, run_id="first", by="alice")
        assert report.held_before is None  # a table no run had written: nothing to compare with
        old = content(t)
        assert old != EXPECTED_D
        assert self.held(t) == (comment, D_PREV.isoformat(), "first")

        # Killed with D's record on the stage, before the swap: the old rows and the old record
        run_killed_at("before_swap", spec.to_json(), D.isoformat(), tmp_path)
        assert (content(t), self.held(t)) == (old, (comment, D_PREV.isoformat(), "first"))
        # Killed inside the swap: rows and record of one run, whichever the engine kept
        run_killed_at("inside_swap", spec.to_json(), D.isoformat(), tmp_path)
        if self.rename_swap:  # its one RENAME TABLE had swapped both
            assert (content(t), self.held(t)) == (EXPECTED_D, (comment, D.isoformat(), "killed"))
        else:  # the swap's transaction rolled back
            assert (content(t), self.held(t)) == (old, (comment, D_PREV.isoformat(), "first"))

        report = run_export(spec, D, run_id="second", by="bob")  # recovers the leftovers, then swaps
        assert (content(t), self.held(t)) == (EXPECTED_D, (comment, D.isoformat(), "second"))
        assert report.held_before == (D if self.rename_swap else D_PREV).isoformat()

        # An older date: refused before anything is written, naming both dates
        with pytest.raises(OlderDataDate) as refused:
            run_export(spec, D_PREV, run_id="older")
        assert str(refused.value) == (f"target tot_target:user_tags holds data date {D}; data date {D_PREV} is older "
                                      "and would roll it back: refused, the table is untouched (allow_older runs it "
                                      "anyway)")
        assert (content(t), self.held(t)) == (EXPECTED_D, (comment, D.isoformat(), "second"))
        assert not [n for n in t.tables() if "_dpfx_" in n]
        # ... unless allowed
        run_export(spec, D_PREV, run_id="allowed", allow_older=True)
        assert (content(t), self.held(t)) == (old, (comment, D_PREV.isoformat(), "allowed"))

    # ---- the table's digest (held.TableDigest): what a changes run records and checks -------------------------
    def test_the_digest_is_order_free_and_sees_any_one_value_change(self, live_target: LiveTarget) -> None:
        t = live_target
        create_target(t)
        create_target(t, table="user_copy")
        run_export(make_spec(t.kind, t.conn_id), D)
        refill = ["DELETE FROM user_copy", "INSERT INTO user_copy SELECT * FROM user_tags ORDER BY user_id DESC"]
        t.execute(*refill)
        with target_session(t) as target:
            digest = target.table_digest("user_tags", OUTPUT_COLUMNS)
            assert digest.rows == len(EXPECTED_D)
            # the same rows inserted in another order
            assert target.table_digest("user_copy", OUTPUT_COLUMNS) == digest
            assert target.table_digest("user_tags", OUTPUT_COLUMNS) == digest  # and again: deterministic
        for what, change in DIGEST_CHANGES.items():
            t.execute(*refill, change.format(t="user_copy"))
            with target_session(t) as target:
                changed = target.table_digest("user_copy", OUTPUT_COLUMNS)
            assert changed.rows == digest.rows and changed != digest, what
        t.execute("DELETE FROM user_copy")
        with target_session(t) as target:
            assert target.table_digest("user_copy", OUTPUT_COLUMNS) == TableDigest(0, 0)

    def test_the_digest_follows_the_changes_from_the_changed_rows_alone(self, live_target: LiveTarget) -> None:
        t = live_target
        create_target(t)
        run_export(make_spec(t.kind, t.conn_id), D)
        key, outputs, delta = "user_id", OUTPUT_COLUMNS[1:], "tagoffline_delta"
        with target_session(t) as target:
            q, ref, cols = target.d.quote, target.temp_ref(delta), ", ".join(outputs)
            before = target.table_digest("user_tags", OUTPUT_COLUMNS)
            # 1 and 2 updated, 5 deleted, 103 and 104 inserted (the values of 3 and 4 under new keys)
            target.run_statements([
                target.create_temp_sql(delta, f"SELECT 'u' AS {q('tagoffline_op')}, user_id AS "
                                              f"{q('tagoffline_key')}, {cols} FROM user_tags WHERE user_id IN (1, 2)"),
                f"UPDATE {ref} SET nick = 'changed', gmv = NULL WHERE {q('tagoffline_key')} = 1",
                f"UPDATE {ref} SET birthday = NULL WHERE {q('tagoffline_key')} = 2",
                f"INSERT INTO {ref} SELECT 'i', user_id + 100, {cols} FROM user_tags WHERE user_id IN (3, 4)",
                f"INSERT INTO {ref} SELECT 'd', user_id, {cols} FROM user_tags WHERE user_id = 5",
                # the versions the changes replace, as a warehouse-side diff sends them (the DML skips them)
                f"INSERT INTO {ref} SELECT 'o', user_id, {cols} FROM user_tags WHERE user_id IN (1, 2, 5)",
            ])
            removed = target.digest_of_changed_rows(delta, key, OUTPUT_COLUMNS, "ud")
            from_change_set = target.digests_from_change_set(key, outputs)
            if from_change_set:  # the same digests from the change set's own rows
                assert target.change_set_digest(delta, key, outputs, "o") == removed
            with target.dml_transaction():
                target.run_statements(list(target.changes_apply_sql(delta, key, outputs)))
            added = target.digest_of_changed_rows(delta, key, OUTPUT_COLUMNS, "ui")
            if from_change_set:
                assert target.change_set_digest(delta, key, outputs, "ui") == added
            after = target.table_digest("user_tags", OUTPUT_COLUMNS)
            assert (removed.rows, added.rows) == (3, 4)
            # through the family's digest_after: MySQL's CHECKSUM TABLE is a sum modulo 2**32
            assert target.digest_after(before, removed, added) == after
            assert after.rows == len(EXPECTED_D) + 1 and after != before
            assert target.digest_of_changed_rows(delta, key, OUTPUT_COLUMNS, "d") == TableDigest(0, 0)  # gone
        assert [r[0] for r in t.rows("SELECT user_id FROM user_tags ORDER BY user_id")] == [1, 2, 3, 4, 6, 7, 103, 104]

    # ---- preview: the following run's figures, nothing written -----------------------------------------------
    def test_preview_equals_the_following_run_and_writes_nothing(self, live_target: LiveTarget) -> None:
        t = live_target
        t.execute(*create_table_sql(make_spec(t.kind, t.conn_id), t.kind))
        spec = make_spec(t.kind, t.conn_id, gates={"max_change_ratio": 0.9})
        run_export(spec, D_PREV)
        t.execute("INSERT INTO user_tags (user_id, nick) VALUES (999, 'stale row')",
                  "DELETE FROM user_tags WHERE user_id = 2")
        before = snapshot(t)

        p = preview(spec, D, sample=3)

        assert snapshot(t) == before  # nothing written, no stage table, no leftovers
        assert not [n for n in t.tables() if "_dpfx_" in n]
        assert p.target_exists and p.columns == []
        assert p.rows == len(EXPECTED_D) and p.duplicates_replaced == 1
        assert len(p.sample) == 3 and p.sample_columns[0] == "user_id"
        assert p.changes is not None and p.changes.live_rows == 7  # 7 of D-1, minus user 2, plus 999

        old = content(t)
        report = run_export(spec, D)  # takes the lock at once: the preview held none
        moved = _diff(old, content(t))
        same_as_run(p, report)
        assert (p.changes.added, p.changes.removed, p.changes.changed) == (moved["added"], moved["removed"],
                                                                             moved["changed"])
        assert moved == {"added": 1, "removed": 1, "changed": 1}  # user 2 back; 999 gone; user 1's level and gmv
        assert p.changes.change_ratio == 0.0

        again = preview(spec, D)  # the live table now holds exactly D
        assert again.changes is not None
        assert (again.changes.added, again.changes.removed, again.changes.changed) == (0, 0, 0)
        assert again.changes.unchanged == len(EXPECTED_D)


    def test_gate_figures_are_the_runs(self, live_target: LiveTarget) -> None:
        t = live_target
        t.execute(*create_table_sql(make_spec(t.kind, t.conn_id), t.kind))
        spec = make_spec(t.kind, t.conn_id, gates={"max_change_ratio": 0.2, "max_null_ratio": {"gmv": 0.1}})
        run_export(make_spec(t.kind, t.conn_id), D_PREV)
        t.execute("DELETE FROM user_tags WHERE user_id > 3")
        p = preview(spec, D)
        assert p.changes is not None and p.changes.live_rows == 3
        assert p.changes.change_ratio == pytest.approx(4 / 3)
        assert len(p.gates_failed) == 2
        with pytest.raises(RunFailed) as failed:
            run_export(spec, D)
        same_as_run(p, failed.value.report)

    # ---- one-click create table: only our rendering runs --------------------------------------------------------
    def test_attacks_leave_the_database_as_it_was(self, live_target: LiveTarget, tmp_path: Path) -> None:
        t = live_target
        d = get_dialect(t.kind)
        t.execute("CREATE TABLE victim (a int)", "INSERT INTO victim VALUES (1)")
        out = tmp_path / "out"
        out.mkdir()
        spec = make_spec(t.kind, t.conn_id, table="t_new")
        refused = ran = 0
        for sql in self.attacks(out):
            try:
                design = parse_edited([sql], d, schema=None, table="t_new", partition_column=None)
            except ValidationFailed:
                refused += 1
                continue
            statements = render(design, d)
            assert statements[0].startswith(f"CREATE TABLE {d.quote('t_new')} ("), (sql, statements)
            assert not any(s.split()[0:2] != ["CREATE", "TABLE"] and not s.startswith("COMMENT ON") for s in statements)
            create_on_target(spec.target, t.conn_id, statements)
            ran += 1
            t.execute("DROP TABLE t_new")
        # Only the comment tricks parse as a harmless CREATE TABLE (their comment is never rendered).
        harmless = [sql for sql in self.attacks(out) if "/*" in sql]
        assert (refused, ran) == (len(self.attacks(out)) - len(harmless), len(harmless))
        assert t.tables() == ["victim"]
        assert t.rows("SELECT a FROM victim") == [(1,)]
        assert list(out.iterdir()) == []


    def test_generated_table_is_created_once(self, live_target: LiveTarget) -> None:
        t = live_target
        d = get_dialect(t.kind)
        spec = make_spec(t.kind, t.conn_id, table="t_made")
        statements = render(parse_edited([self.made_table_sql], d, schema=None, table="t_made",
                                          partition_column=None), d)
        create_on_target(spec.target, t.conn_id, statements)
        t.execute("INSERT INTO t_made (user_id, nick) VALUES (1, 'x')")
        with pytest.raises(Conflict, match="already exists"):
            create_on_target(spec.target, t.conn_id, statements)
        assert t.rows("SELECT user_id, nick FROM t_made") == [(1, "x")]


    def test_a_refusal_of_the_database_leaves_nothing_half_made(self, live_target: LiveTarget) -> None:
        """A later statement fails: the table made by the first is gone (rolled back or dropped)."""
        t = live_target
        spec = make_spec(t.kind, t.conn_id, table="t_half")
        d = get_dialect(t.kind)
        create = f"CREATE TABLE {d.quote('t_half')} (a int)"
        with pytest.raises(ValidationFailed, match="the database refused it"):
            create_on_target(spec.target, t.conn_id, [create, "CREATE TABLE no_such_schema.x (a int)"])
        assert "t_half" not in t.tables()


    def test_the_connection_runs_one_statement_per_call(self, live_target: LiveTarget) -> None:
        """Below the parser: psycopg's extended protocol, mysqlclient's server option, DuckDB's own
        statement count and sqlite3 each refuse a string holding two statements."""
        t = live_target
        where = resolve_connection(t.conn_id)
        conn, kind = where.open(), where.kind
        target = make_target(make_spec(t.kind, t.conn_id).target, conn, kind)
        try:
            target.prepare_for_ddl()
            with pytest.raises(Exception):  # noqa: B017 - each driver raises its own error type
                target.execute_one("CREATE TABLE two_a (a int); CREATE TABLE two_b (a int)")
        finally:
            target.close()
        assert t.tables() == []
