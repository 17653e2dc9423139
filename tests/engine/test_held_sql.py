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
    TableDigest,
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


def test_sqlite_writes_the_record_into_its_table_inside_the_swap(monkeypatch: pytest.MonkeyPatch) -> None:
    t = target("sqlite")
    create, upsert = t.held_record_sql(RECORD, None)
    assert create == ('CREATE TABLE IF NOT EXISTS "_tagoffline_held" ("table_name" TEXT PRIMARY KEY, '
                      '"data_date" TEXT, "service" TEXT, "run_id" TEXT, "by" TEXT, "at" TEXT, "write_id" TEXT, '
                      '"digest" TEXT)')
    assert upsert == (
        'INSERT INTO "_tagoffline_held" ("table_name", "data_date", "service", "run_id", "by", "at", "write_id", '
        '"digest") VALUES (\'user_tags\', \'2026-11-29\', \'crm_user_tags\', \'scheduled__2026-11-29T02:30:00+00:00\', '
        "'alice', '2026-11-30T02:31:05Z', '', '') ON CONFLICT (\"table_name\") DO UPDATE SET \"data_date\" = "
        "excluded.\"data_date\", \"service\" = excluded.\"service\", \"run_id\" = excluded.\"run_id\", "
        "\"by\" = excluded.\"by\", \"at\" = excluded.\"at\", \"write_id\" = excluded.\"write_id\", "
        "\"digest\" = excluded.\"digest\"")
    t._rebuild = []
    assert t.swap_sql()[-2:] != [create, upsert]  # nothing recorded yet: the swap writes no record
    monkeypatch.setattr(t, "_held_columns", lambda: set())  # (a file without the table)
    t.record_held(RECORD)
    assert t.swap_sql()[-2:] == [create, upsert]  # then the swap's own transaction writes it
    # a file whose table predates the digest gets its two columns in the same transaction
    t._held_missing = ("write_id", "digest")
    assert t.swap_sql()[-4:] == [create, 'ALTER TABLE "_tagoffline_held" ADD COLUMN "write_id" TEXT',
                                 'ALTER TABLE "_tagoffline_held" ADD COLUMN "digest" TEXT', upsert]


# ---- a changes service's write id and digest ------------------------------------------------------------

def test_a_digest_is_rows_and_total_as_text_and_parses_back_or_is_none() -> None:
    d = TableDigest(7, -123456789012345678901234567890)
    assert d.text() == "7:-123456789012345678901234567890"
    assert TableDigest.parse(d.text()) == d
    assert TableDigest.parse("0:0") == TableDigest(0, 0)
    for bad in ("", "7", "7:", ":5", "-1:5", "7:5:1", "a:b", " 7:5", "7:5\n", "1" * 20 + ":0", "1:" + "9" * 41,
                None, 7):
        assert TableDigest.parse(bad) is None  # type: ignore[arg-type]


def test_a_digest_follows_the_rows_a_change_removes_and_adds() -> None:
    before = TableDigest(10, 1000)
    assert before.changed(removed=TableDigest(3, 2**64), added=TableDigest(2, -5)) == TableDigest(9, 1000 - 2**64 - 5)
    assert before.changed(TableDigest(0, 0), TableDigest(0, 0)) == before


def test_a_changes_record_keeps_its_write_and_digest_through_json_and_comments(
        monkeypatch: pytest.MonkeyPatch) -> None:
    record = HeldRecord.of_run(D, "crm_user_tags", "manual__1", "alice", now=AT, write_id="0123abcd" * 4,
                               digest=TableDigest(7, -42))
    assert (record.write_id, record.digest, record.table_digest) == ("0123abcd" * 4, "7:-42", TableDigest(7, -42))
    assert HeldRecord.from_json(record.to_json()) == record
    assert split_comment(join_comment("user text", record)) == ("user text", record)
    # an overwrite service's record is the same line as before: no empty fields
    assert RECORD.to_json() == LINE.removeprefix(MARK) and RECORD.table_digest is None
    # MySQL's swap comment (with its generation) and its held table's row keep them too
    mysql = target("mysql")
    assert split_comment(mysql.record_comment(None, record))[1] == record
    monkeypatch.setattr(mysql, "table_comment", lambda _table: mysql.record_comment("user text", RECORD))
    _delete, upsert = mysql.changes_record_sql(record)
    assert f"'{record.to_json()}'" in upsert  # the row of tagoffline_held, read back by from_json
    with pytest.raises(ValueError, match="write id"):
        HeldRecord.of_run(D, "s", "r", "b", write_id="NOT-HEX")


@pytest.mark.parametrize("fields", [{"write_id": "XYZ", "digest": "7:1"}, {"write_id": "ab", "digest": "nope"},
                                    {"write_id": "a" * 33, "digest": ""}, {"write_id": 5, "digest": ["x"]}])
def test_a_malformed_write_id_or_digest_reads_as_none(fields: dict[str, Any]) -> None:
    import json

    record = HeldRecord.from_json(json.dumps({"data_date": "2026-11-29", **fields}))
    assert record is not None and record.data_date == D
    assert record.write_id in ("", "ab") and record.digest in ("", "7:1")
    assert (record.write_id == "ab") == (fields["write_id"] == "ab")
    assert (record.digest == "7:1") == (fields["digest"] == "7:1")


def test_the_longest_record_holds_the_longest_write_id_and_digest() -> None:
    longest = longest_record()
    assert len(longest.write_id) == 32 and HeldRecord.from_json(longest.to_json()) == longest
    rows, total = longest.digest.split(":")
    assert (len(rows), len(total)) == (19, 41)  # 19 digits; 40 digits and a sign
    # it fits MySQL's held table (VARCHAR(1024) characters)
    assert len(longest.to_json()) <= 1024


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


@pytest.mark.parametrize(("kind", "limit"), [("mysql", 2048), ("oracle", 4000)])
def test_a_comment_that_left_room_for_an_overwrite_record_may_leave_none_for_a_changes_record(
        kind: str, limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The room check counts the longer record of a changes service (its write id and digest)."""
    import dataclasses

    from airflow_provider_tagoffline.errors import RunFailed

    t = target(kind)
    shorter = dataclasses.replace(longest_record(), write_id="", digest="")
    line = t.record_comment(None, shorter)
    size = len(line.encode()) if t.comment_limit[1] == "bytes" else len(line)
    fitted_before = "x" * (limit - size - 1)  # exactly room for the record without write id and digest
    monkeypatch.setattr(t, "table_comment", lambda _table: fitted_before)
    with pytest.raises(RunFailed, match=r"shorten it by \d+ "):
        t.check_record_room()
