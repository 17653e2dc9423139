"""What a whole-table target records about the data it holds (spec §4), as text: pure, no connection.

The record travels with the table (``docs/data-dates.md``): families with table comments append it to
the table's own comment as one last line, ``[tagoffline] {"data_date": ...}``, after the user's text,
which is kept as it is; SQLite keeps it in a small table of the same file. A comment is read back as
``(user text, record)``: only a last line that is exactly our marker followed by a JSON object with a
valid ``data_date`` is a record, so a user's comment is never mistaken for one and never loses a word.

A ``changes`` service's record also names its write (``write_id``) and the table's content digest
(``TableDigest``: row count and the sum of the target engine's row hashes), so the next run can tell
whether the table still holds what that write left (docs/changes-mode.md §1).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass

#: the start of the comment line that holds the record
MARK = "[tagoffline] "
#: the longest each text field of a record may be (a run id can be 250 characters in Airflow)
FIELD_CHARS = {"service": 64, "run_id": 100, "by": 64}
#: characters never written into a record: its JSON then has no escapes, which some engines' string
#: literals would read differently (MySQL with or without NO_BACKSLASH_ESCAPES)
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]')
#: a write of a ``changes`` service: a random id, never reused
_WRITE_ID = re.compile(r"[0-9a-f]{1,32}")
_DIGEST = re.compile(r"(\d{1,19}):(-?\d{1,40})")


@dataclass(frozen=True)
class TableDigest:
    """What a table holds, in two numbers: its row count and the sum of the target engine's row hashes over
    key + output columns. A sum is order-free and follows the rows a transaction deletes and inserts
    (``changed``), so no run needs a second full scan to record it."""

    rows: int
    total: int  # any size, may be negative (each family's hash and SUM decide)

    def text(self) -> str:
        return f"{self.rows}:{self.total}"

    @classmethod
    def parse(cls, text: str) -> TableDigest | None:
        """The digest ``text`` holds, or None for "" or anything malformed (never raises)."""
        m = _DIGEST.fullmatch(text or "") if isinstance(text, str) else None
        return cls(int(m.group(1)), int(m.group(2))) if m else None

    def changed(self, removed: TableDigest, added: TableDigest) -> TableDigest:
        """This table's digest after the rows digested as ``removed`` were replaced by those digested as ``added``."""
        return TableDigest(self.rows - removed.rows + added.rows, self.total - removed.total + added.total)


@dataclass(frozen=True)
class HeldRecord:
    """The data date a whole table holds and the run that wrote it."""

    data_date: dt.date
    service: str = ""
    run_id: str = ""
    by: str = ""  # who started the run: the triggering user, "scheduler", or the CLI's user
    at: str = ""  # when it was swapped in, UTC, ISO 8601 to the second
    #: the write of a ``changes`` service that left the table so ("": a service that overwrites)
    write_id: str = ""
    #: ``TableDigest.text()`` of the table as that write left it ("": none)
    digest: str = ""

    @classmethod
    def of_run(cls, data_date: dt.date, service: str, run_id: str, by: str,
               now: dt.datetime | None = None, write_id: str = "", digest: TableDigest | None = None) -> HeldRecord:
        at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if write_id and not _WRITE_ID.fullmatch(write_id):
            raise ValueError(f"a write id is 1 to 32 lowercase hex digits, not {write_id!r}")
        return cls(data_date, **{k: _clean(v, FIELD_CHARS[k]) for k, v in
                                 (("service", service), ("run_id", run_id), ("by", by))}, at=at,
                   write_id=write_id, digest=digest.text() if digest else "")

    def to_json(self) -> str:
        data = asdict(self)
        data["data_date"] = self.data_date.isoformat()
        for k in ("write_id", "digest"):  # absent when empty: an overwrite service's record is as it always was
            if not data[k]:
                del data[k]
        return json.dumps(data, ensure_ascii=False, separators=(", ", ": "))

    @classmethod
    def from_json(cls, text: str) -> HeldRecord | None:
        """The record ``text`` holds, or None when it is not one (never raises)."""
        try:
            data = json.loads(text)
            day = dt.date.fromisoformat(data["data_date"])
        except (ValueError, TypeError, KeyError):
            return None
        if not isinstance(data, dict):
            return None
        write_id, digest = (v if isinstance(v, str) else "" for v in (data.get("write_id"), data.get("digest")))
        # a malformed write id or digest is none: the next changes run then trusts nothing and swaps
        return cls(day, **{k: str(data.get(k) or "") for k in ("service", "run_id", "by", "at")},
                   write_id=write_id if _WRITE_ID.fullmatch(write_id) else "",
                   digest=digest if TableDigest.parse(digest) else "")

    @property
    def table_digest(self) -> TableDigest | None:
        return TableDigest.parse(self.digest)

    def describe(self) -> str:
        """For a log line: ``2026-11-29 (run ..., by ..., at ..., service ...)``."""
        said = [f"{k} {v}" for k, v in (("run", self.run_id), ("by", self.by), ("at", self.at),
                                         ("service", self.service)) if v]
        return self.data_date.isoformat() + (f" ({', '.join(said)})" if said else "")


def _clean(value: str, limit: int) -> str:
    return _UNSAFE.sub("?", value or "")[:limit]


def split_comment(comment: str | None) -> tuple[str | None, HeldRecord | None]:
    """A table comment as (the user's text, our record): the record is the comment's last line when that
    line is our marker and a record; everything else is the user's, untouched (None: no text)."""
    if not comment:
        return (comment or None), None
    head, sep, last = comment.rpartition("\n")
    if not last.startswith(MARK):
        return comment, None
    record = HeldRecord.from_json(last[len(MARK):])
    if record is None:
        return comment, None
    return (head if sep else None) or None, record


def join_comment(user_text: str | None, record: HeldRecord) -> str:
    """The comment a table gets with ``record``: the user's text as it was, then the record's line."""
    line = MARK + record.to_json()
    return f"{user_text}\n{line}" if user_text else line


def comment_with(comment: str | None, record: HeldRecord) -> str:
    """``comment`` (a live table's, perhaps with an older record) with ``record`` in place of its own."""
    return join_comment(split_comment(comment)[0], record)


def longest_record() -> HeldRecord:
    """A record as long as any run writes (to check that a comment has room for one)."""
    wide = "\u4e00"  # a character of three bytes in UTF-8
    return HeldRecord(dt.date(2026, 12, 31), **{k: wide * n for k, n in FIELD_CHARS.items()},
                      at="2026-12-31T23:59:59Z", write_id="f" * 32, digest=f"{'9' * 19}:-{'9' * 40}")
