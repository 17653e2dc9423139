"""The SQL of one service's snapshot in a warehouse's scratch place (pure: strings and parameters).

The scratch place (the warehouse connection's extra ``tagoffline_scratch``) holds, per service:

* ``tagoffline_snap_<service>_<hash>``: the rows the last write of the service wrote, the entity ID
  as ``tagoffline_key`` and every output column, in the extract's own types;
* ``tagoffline_pend_<service>_<hash>``: the change set of a diff not yet promoted (``tagoffline_op``
  i / u / d, ``tagoffline_key``, the new values, then the old ones), read in the layout the target applies;
* ``tagoffline_next_<service>_<hash>``: a snapshot being rebuilt, renamed over the old one at the end;

and one state table shared by the services, ``tagoffline_snapshots``, one row per service. The names
keep the service's letters and digits for whoever looks, and end with a hash of the exact service name:
two services never share a table, whatever their names' case or characters, and a long name is cut
within the engine's identifier limit.

A family supporting snapshots subclasses ``SnapshotSql`` (``dialects/<family>/snapshots.py``) for what
its scratch place is (a schema, an attached file) and names it on its ``Reader`` (``snapshot_sql``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from airflow_provider_tagoffline.contract.dialect import Dialect
from airflow_provider_tagoffline.engine.extract import Query

#: the connection extra naming the warehouse's scratch place
SCRATCH_EXTRA = "tagoffline_scratch"
STATE_TABLE = "tagoffline_snapshots"
OP, KEY = "tagoffline_op", "tagoffline_key"
#: the identifier limit of an engine without one, so a name stays readable
DEFAULT_NAME_BYTES = 63
HASH_CHARS = 10


@dataclass
class Statement:
    """SQL and its parameters; run with the list even when empty (the SQL is written for it)."""

    sql: str
    params: list[object] = field(default_factory=list)


def table_stem(service: str, room: int) -> str:
    """``<service's letters and digits, lower case>_<hash of the exact name>`` in at most ``room``
    ASCII characters."""
    digest = hashlib.sha256(service.encode()).hexdigest()[:HASH_CHARS]
    readable = re.sub(r"[^a-z0-9]+", "_", service.lower()).strip("_")
    return f"{readable[:max(room - HASH_CHARS - 1, 0)]}_{digest}".lstrip("_")


class SnapshotSql:
    """The statements of one service's snapshot in one scratch place."""

    #: what the scratch place is, as an error about the extra says (``a schema name``)
    place_is: ClassVar[str] = "a scratch place"

    def __init__(self, dialect: Dialect, place: str, service: str):
        self.d, self.place, self.service = dialect, place, service
        room = (dialect.max_identifier_bytes or DEFAULT_NAME_BYTES) - len("tagoffline_snap_")
        stem = table_stem(service, room)
        self.snapshot = self.qualified(f"tagoffline_snap_{stem}")
        self.pending = self.qualified(f"tagoffline_pend_{stem}")
        #: the bare name the rebuilt table is renamed to
        self.snapshot_name = self.quote(f"tagoffline_snap_{stem}")
        self.next = self.qualified(f"tagoffline_next_{stem}")
        self.state = self.qualified(STATE_TABLE)

    def quote(self, identifier: str) -> str:
        """``identifier`` quoted, as every statement here is run: with a parameter list (a ``%`` doubled
        where the driver's parameters are ``%s``)."""
        return self.d.escape_for_params(self.d.quote(identifier))

    # ---- the family's part ---------------------------------------------------------------------
    @classmethod
    def place_problem(cls, dialect: Dialect, place: Any) -> str | None:
        """Why the extra's value cannot name a scratch place, or None."""
        if not isinstance(place, str) or not place.strip():
            return f"is not {cls.place_is}"
        return None

    def qualified(self, table: str) -> str:
        """``table`` inside the scratch place."""
        raise NotImplementedError

    def prepare_place_sql(self) -> list[str]:
        """What makes the scratch place (it may exist already), once a run."""
        return []

    def enter_place_sql(self) -> list[str]:
        """What makes the scratch place reachable on the warehouse's connection, before each step."""
        return []

    def leave_place_sql(self) -> list[str]:
        """What lets another process have the scratch place, after each step."""
        return []

    def look_into_place_sql(self) -> list[str]:
        """What makes the scratch place readable without changing it or making it (a preview)."""
        return self.enter_place_sql()

    def storage_sql(self) -> str:
        """What a snapshot table is created with, between its name and ``AS`` (PostgreSQL: ``WITH (..)``)."""
        return ""

    def analyze_sql(self, table: str) -> list[str]:
        """What gives the planner the statistics of a table just built (the diff's join sizes)."""
        return []

    def key_index_sql(self, table: str) -> list[str]:
        """What lets a few keys reach a snapshot's rows without scanning it all (the sample's lookups, the
        promotion's delete), on a table just built."""
        return []

    def is_busy(self, exc: BaseException) -> bool:
        """Whether ``exc`` says another process holds the scratch place now (worth waiting for)."""
        return False

    def work_settings_sql(self) -> list[str]:
        """Settings of the diff's and the promotion's transactions (their working memory), first in them."""
        return []

    def promote_settings_sql(self) -> list[str]:
        """Settings of the promotion's transaction, first in it."""
        return self.work_settings_sql()

    # ---- state ---------------------------------------------------------------------------------
    def prepare_state_sql(self) -> list[Statement]:
        """The state table and this service's row, both made only when missing (two runs may race here)."""
        return [
            Statement(f"CREATE TABLE IF NOT EXISTS {self.state} (service {self.d.text_type} PRIMARY KEY, "
                      f"write_id {self.d.text_type} NOT NULL, signature {self.d.text_type} NOT NULL, "
                      "row_count BIGINT NOT NULL, "
                      f"columns_json {self.d.text_type} NOT NULL, pending_write_id {self.d.text_type} NOT NULL, "
                      "pending_row_count BIGINT NOT NULL)"),
            Statement(f"INSERT INTO {self.state} (service, write_id, signature, row_count, columns_json, "
                      f"pending_write_id, pending_row_count) VALUES ({self.d.placeholder}, '', '', 0, '[]', '', 0) "
                      "ON CONFLICT (service) DO NOTHING", [self.service]),
        ]

    def read_state_sql(self) -> Statement:
        """``write_id, signature, row_count, columns_json, pending_write_id, pending_row_count`` of the service."""
        return Statement(f"SELECT write_id, signature, row_count, columns_json, pending_write_id, pending_row_count "
                         f"FROM {self.state} WHERE service = {self.d.placeholder}", [self.service])

    def set_state_sql(self, **values: object) -> Statement:
        """Set the named columns of the service's state row."""
        p = self.d.placeholder
        sets = ", ".join(f"{name} = {p}" for name in values)
        return Statement(f"UPDATE {self.state} SET {sets} WHERE service = {p}", [*values.values(), self.service])

    # ---- the rows ------------------------------------------------------------------------------
    def _named(self, key: str, columns: list[str]) -> str:
        """The extract's columns named: its SQL leaves the outputs unnamed."""
        return ", ".join(self.quote(c) for c in [key, *columns])

    def rebuild_sql(self, extract: Query, key: str, columns: list[str]) -> list[Statement]:
        """The new snapshot table built from the extract (not yet the service's snapshot)."""
        q = self.quote
        outputs = "".join(f", e.{q(c)}" for c in columns)
        return [Statement(self.drop_next_sql()),
                Statement(f"CREATE TABLE {self.next}{self.storage_sql()} AS SELECT e.{q(key)} AS {q(KEY)}{outputs} "
                          f"FROM ({extract.sql}) e({self._named(key, columns)})", list(extract.params))]

    def next_rows_sql(self, columns: list[str]) -> str:
        """The rows of the next snapshot, key first (what a swap loads into its stage)."""
        return f"SELECT {', '.join(self.quote(c) for c in [KEY, *columns])} FROM {self.next}"

    def drop_next_sql(self) -> str:
        return f"DROP TABLE IF EXISTS {self.next}"

    def count_sql(self, table: str) -> str:
        return f"SELECT COUNT(*) FROM {table}"

    def swap_in_sql(self) -> list[str]:
        """Inside the rebuild's one transaction: the new table becomes the snapshot, pending gone."""
        return [f"DROP TABLE IF EXISTS {self.snapshot}", f"DROP TABLE IF EXISTS {self.pending}",
                f"ALTER TABLE {self.next} RENAME TO {self.snapshot_name}"]

    def differs_sql(self, columns: list[str]) -> str:
        """Whether extract row ``e`` differs from snapshot row ``s`` in some column (NULL-safe)."""
        q = self.quote
        return " OR ".join(self.d.differs(f"e.{q(c)}", f"s.{q(c)}") for c in columns) or "FALSE"

    def diff_sql(self, extract: Query, key: str, columns: list[str]) -> list[Statement]:
        """The pending change set of the extract against the snapshot: FULL JOIN on the ID. Each row carries
        the new values and, as ``tagoffline_old_<n>``, the snapshot's (the row the table holds now)."""
        q = self.quote
        e_key, s_key = f"e.{q(key)}", f"s.{q(KEY)}"
        new = "".join(f", e.{q(c)}" for c in columns)
        old = "".join(f", s.{q(c)} AS {q(old_column(n))}" for n, c in enumerate(columns))
        return [Statement(f"DROP TABLE IF EXISTS {self.pending}"),
                Statement(f"CREATE TABLE {self.pending} AS SELECT CASE WHEN {s_key} IS NULL THEN 'i' "
                          f"WHEN {e_key} IS NULL THEN 'd' ELSE 'u' END AS {q(OP)}, "
                          f"COALESCE({e_key}, {s_key}) AS {q(KEY)}{new}{old} "
                          f"FROM ({extract.sql}) e({self._named(key, columns)}) "
                          f"FULL JOIN {self.snapshot} s ON {s_key} = {e_key} "
                          f"WHERE {s_key} IS NULL OR {e_key} IS NULL OR {self.differs_sql(columns)}",
                          list(extract.params))]

    def pending_counts_sql(self) -> str:
        """Rows of the pending set by op: ``(i, u, d)``."""
        op = self.quote(OP)
        return ("SELECT " + ", ".join(f"COALESCE(SUM(CASE WHEN {op} = '{o}' THEN 1 ELSE 0 END), 0)" for o in "iud")
                + f" FROM {self.pending}")

    def sample_sql(self, extract: Query, key: str, columns: list[str], rows: int) -> Statement:
        """``(rows looked at, rows new or different)`` over the extract's first ``rows`` rows. The few rows
        written on the right: DuckDB (told to keep the plan's build side) hashes them, not the 5M-row snapshot
        (12 ms instead of 0.15-0.33 s); PostgreSQL looks them up through the snapshot's key index either way."""
        q = self.quote
        first = self.d.first_rows_sql(extract.sql, rows)
        return Statement(f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN s.{q(KEY)} IS NULL OR {self.differs_sql(columns)} "
                         f"THEN 1 ELSE 0 END), 0) FROM {self.snapshot} s "
                         f"RIGHT JOIN ({first}) e({self._named(key, columns)}) ON s.{q(KEY)} = e.{q(key)}",
                         list(extract.params))

    def pending_sql(self, columns: list[str], old_versions: bool = False) -> str:
        """The pending change set in the layout the target applies; with ``old_versions``, also one row ``o``
        per updated or deleted key holding the snapshot's values: what the target holds before the changes, so
        that it need not read those rows again to update its digest. In key order: the target then reaches
        the rows it changes in the order of its key index, page after page, not at random."""
        q = self.quote
        rows = f"SELECT {', '.join(q(c) for c in [OP, KEY, *columns])} FROM {self.pending}"
        if old_versions:
            olds = ", ".join(q(old_column(n)) for n in range(len(columns)))
            rows += (f" UNION ALL SELECT 'o', {q(KEY)}{', ' if olds else ''}{olds} FROM {self.pending} "
                     f"WHERE {q(OP)} <> 'i'")
        return f"{rows} ORDER BY {q(KEY)}"

    def promote_sql(self, columns: list[str]) -> list[str]:
        """The pending set applied to the snapshot, then gone (inside promote's one transaction)."""
        q = self.quote
        names = ", ".join(q(c) for c in [KEY, *columns])
        return [f"DELETE FROM {self.snapshot} WHERE {q(KEY)} IN "
                f"(SELECT {q(KEY)} FROM {self.pending} WHERE {q(OP)} IN ('u', 'd'))",
                f"INSERT INTO {self.snapshot} ({names}) SELECT {names} FROM {self.pending} WHERE {q(OP)} IN ('i', 'u')",
                f"DROP TABLE {self.pending}"]

    def discard_sql(self) -> list[str]:
        return [f"DROP TABLE IF EXISTS {self.pending}"]

    def drop_sql(self) -> list[Statement]:
        return [Statement(f"DROP TABLE IF EXISTS {t}") for t in (self.snapshot, self.pending, self.next)] + [
            Statement(f"DELETE FROM {self.state} WHERE service = {self.d.placeholder}", [self.service])]


def old_column(n: int) -> str:
    """The pending set's column holding the snapshot's value of the ``n``-th output column (by position: an
    output's own name could be anything)."""
    return f"tagoffline_old_{n}"


def columns_json(columns: list[str]) -> str:
    return json.dumps(columns, ensure_ascii=False)
