"""The record of the data date a whole table holds, as text and as each family's SQL (no server): the
comment's marker line kept apart from the user's own text, and the statement each family runs."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from airflow_provider_tagoffline.dialects import get_dialect, make_target
from airflow_provider_tagoffline.engine.targets.held import (
    MARK,
    HeldRecord,
    comment_with,
    join_comment,
    longest_record,
    split_comment,
)
from airflow_provider_tagoffline.runspec import TargetSpec

D = dt.date(2026, 11, 29)
AT = dt.datetime(2026, 11, 30, 2, 31, 5, 123456, tzinfo=dt.UTC)
RECORD = HeldRecord.of_run(D, "crm_user_tags", "scheduled__2026-11-29T02:30:00+00:00", "alice", now=AT)
LINE = (MARK + '{"data_date": "2026-11-29", "service": "crm_user_tags", "run_id": '
        '"scheduled__2026-11-29T02:30:00+00:00", "by": "alice", "at": "2026-11-30T02:31:05Z"}')


def test_a_record_is_one_line_of_json_after_the_users_comment() -> None:
    assert RECORD.at == "2026-11-30T02:31:05Z"
    assert join_comment(None, RECORD) == LINE
    assert join_comment("User tags for the CRM", RECORD) == "User tags for the CRM\n" + LINE
    assert split_comment("User tags for the CRM\n" + LINE) == ("User tags for the CRM", RECORD)
    assert split_comment(LINE) == (None, RECORD)
    assert RECORD.describe() == ("2026-11-29 (run scheduled__2026-11-29T02:30:00+00:00, by alice, "
                                 "at 2026-11-30T02:31:05Z, service crm_user_tags)")


@pytest.mark.parametrize("user_text", [
    None, "", "one line", "two\nlines", "ends with a newline\n", "\n", "标签 for the CRM 🚀",
    f"mentions {MARK}in the middle", f"{MARK}not json", f"x\n{MARK}" + '{"data_date": "soon"}',
    f"x\n{MARK}" + '["a list"]', f"x\n{MARK}" + '{"no": "date"}', "quote ' and backslash \\ kept",
])
def test_the_users_comment_survives_any_number_of_records_word_for_word(user_text: str | None) -> None:
    comment = user_text
    for day in (D, D + dt.timedelta(days=1), D + dt.timedelta(days=2)):
        comment = comment_with(comment, HeldRecord(day))
    kept, record = split_comment(comment)
    assert kept == (user_text or None)
    assert record == HeldRecord(D + dt.timedelta(days=2))


@pytest.mark.parametrize("comment", [None, "", "a comment", f"{MARK}", f"a\n{MARK}" + "{",
                                     f"a\n{MARK}" + '{"data_date": "2026-02-30"}', f"a\n {MARK}" + '{"data_date": '
                                     '"2026-11-29"}'])
def test_a_comment_without_our_exact_last_line_holds_no_record(comment: str | None) -> None:
    kept, record = split_comment(comment)
    assert record is None and kept == (comment or None)


def test_a_record_holds_no_character_an_engine_could_read_differently() -> None:
    """No quote, backslash or control character: the JSON has no escapes, whatever a string literal means."""
    record = HeldRecord.of_run(D, 'we"ird\\name', "manual__x\ny\t\x00", "bob\r" + "b" * 200, now=AT)
    text = record.to_json()
    assert "\\" not in text and "\n" not in text and "\t" not in text
    assert (record.service, record.run_id) == ("we?ird?name", "manual__x?y??")
    assert len(record.by) == 64
    assert HeldRecord.from_json(text) == record


# ---- each family's statement ----------------------------------------------------------------------

class NoServer:
    """A DB-API connection that must not be used: the statements here are pure."""

    def cursor(self) -> Any:
        raise AssertionError("a pure *_sql method touched the connection")


def target(kind: str, schema: str | None = None) -> Any:
    spec = TargetSpec.model_validate({"conn_id": "c", "kind": kind, "schema": schema, "table": "user_tags",
                                      "key_column": "user_id"})
    return make_target(spec, NoServer(), kind)


QUOTED = "a 'quoted' comment"


@pytest.mark.parametrize(("kind", "schema", "expected"), [
    ("postgres", "crm", "COMMENT ON TABLE \"crm\".\"user_tags_dpfx_b\" IS 'a ''quoted'' comment\n{line}'"),
    ("greenplum", None, "COMMENT ON TABLE \"user_tags_dpfx_b\" IS 'a ''quoted'' comment\n{line}'"),
    ("mysql", "crm", "ALTER TABLE `crm`.`user_tags_dpfx_b` COMMENT = 'a ''quoted'' comment\n{line}'"),
    ("oracle", "CRM", "COMMENT ON TABLE \"CRM\".\"user_tags_dpfx_b\" IS 'a ''quoted'' comment\n{line}'"),
    ("duckdb", None, "COMMENT ON TABLE \"user_tags_dpfx_b\" IS 'a ''quoted'' comment\n{line}'"),
])
def test_comment_families_write_the_record_on_the_stage_keeping_the_users_text(
        kind: str, schema: str | None, expected: str) -> None:
    t = target(kind, schema)
    older = comment_with(QUOTED, HeldRecord(D - dt.timedelta(days=1), run_id="old"))

    def written(comment: str | None) -> list[str]:
        # MySQL's record carries the swap's random generation (docs/changes-mode.md: the record of changes runs)
        return [re.sub(r', "generation": "[0-9a-f]{16}"', "", sql) for sql in t.held_record_sql(RECORD, comment)]
    assert written(older) == [expected.format(line=LINE)]
    assert written(None) == [expected.format(line=LINE).replace("a ''quoted'' comment\n", "")]


def test_sqlite_writes_the_record_into_its_table_inside_the_swap() -> None:
    t = target("sqlite")
    create, upsert = t.held_record_sql(RECORD, None)
    assert create == ('CREATE TABLE IF NOT EXISTS "_tagoffline_held" ("table_name" TEXT PRIMARY KEY, '
                      '"data_date" TEXT, "service" TEXT, "run_id" TEXT, "by" TEXT, "at" TEXT)')
    assert upsert == (
        'INSERT INTO "_tagoffline_held" ("table_name", "data_date", "service", "run_id", "by", "at") VALUES '
        "('user_tags', '2026-11-29', 'crm_user_tags', 'scheduled__2026-11-29T02:30:00+00:00', 'alice', "
        "'2026-11-30T02:31:05Z') ON CONFLICT (\"table_name\") DO UPDATE SET \"data_date\" = excluded.\"data_date\", "
        "\"service\" = excluded.\"service\", \"run_id\" = excluded.\"run_id\", \"by\" = excluded.\"by\", "
        "\"at\" = excluded.\"at\"")
    t._rebuild = []
    assert t.swap_sql()[-2:] != [create, upsert]  # nothing recorded yet: the swap writes no record
    t.record_held(RECORD)
    assert t.swap_sql()[-2:] == [create, upsert]  # then the swap's own transaction writes it


@pytest.mark.parametrize(("kind", "limit"), [("mysql", 2048), ("oracle", 4000)])
def test_engines_that_limit_comments_refuse_one_without_room_before_anything_is_written(
        kind: str, limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_tagoffline.errors import RunFailed

    t = target(kind)
    record_line = t.record_comment(None, longest_record())  # as the swap writes it (MySQL: with its generation)
    assert len(record_line) >= len(comment_with(None, longest_record()))
    assert t.comment_limit[0] == limit
    size = len(record_line.encode()) if t.comment_limit[1] == "bytes" else len(record_line)
    room = limit - size - 1  # the newline between the user's text and the record
    for text, fits in (("x" * room, True), ("x" * (room + 1), False)):
        monkeypatch.setattr(t, "table_comment", lambda _table, text=text: text)
        if fits:
            t.check_record_room()
        else:
            with pytest.raises(RunFailed, match=rf"comment of table user_tags leaves no room .* {limit} "):
                t.check_record_room()
    assert get_dialect(kind)  # the family exists under that kind
