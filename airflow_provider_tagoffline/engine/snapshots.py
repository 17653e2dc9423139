"""The snapshot of a ``changes`` service in the warehouse's scratch place (docs/changes-mode.md §1–2).

The snapshot holds the rows the service's last write wrote (entity ID and every output column, the
extract's own types). A run diffs today's extract against it inside the warehouse (a FULL JOIN on the
ID, every column compared NULL-safe), writes the change set as the *pending* set tagged with the run's
write id, streams only that into the target, then promotes it into the snapshot. The family's SQL is
its ``Reader.snapshot_sql`` (``engine/snapshot_sql.py``); this module runs it on the warehouse's own
connection, each step that changes more than one thing as one transaction:

* ``promote``: the pending set applied, the state's write id and row count set, the pending set gone;
  refused unless the pending set is the named write's and holds the rows the state says it holds;
* ``rebuild``: a new table built beside the old snapshot, then one transaction drops the old, renames
  the new and sets the state: a failure before leaves the old snapshot and state as they were.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from airflow_provider_tagoffline.engine.extract import Query
from airflow_provider_tagoffline.engine.snapshot_sql import (
    KEY,
    OP,
    SCRATCH_EXTRA,
    SnapshotSql,
    Statement,
    columns_json,
)
from airflow_provider_tagoffline.engine.warehouse import Warehouse
from airflow_provider_tagoffline.errors import RunFailed, first_line

#: tries at preparing the scratch place: two runs' first use races on CREATE ... IF NOT EXISTS, whose
#: loser fails on the catalog's unique index (PostgreSQL) and succeeds when it tries again
PREPARE_TRIES = 5
#: how long a step waits for a scratch place another process holds (a DuckDB file: one writer at a
#: time, held by another service's run from its diff's stream to its promotion)
PLACE_WAIT_SECONDS = 600

F = TypeVar("F", bound=Callable[..., Any])


def _step(keep: bool = False, release: bool = False) -> Callable[[F], F]:
    """A method run as one step in the scratch place (``Snapshots._in_place``): ``keep`` it reachable
    after (the pending set is streamed after ``pending_query`` returns) until a ``release`` step."""
    def decorate(method: F) -> F:
        @functools.wraps(method)
        def run(self: Snapshots, *args: Any, **kwargs: Any) -> Any:
            if release:
                self._kept = False
            self._kept = self._kept or keep
            with self._in_place():
                return method(self, *args, **kwargs)
        return cast(F, run)
    return decorate


@dataclass(frozen=True)
class SnapshotState:
    write_id: str  # the write whose rows the snapshot holds ("" : no snapshot)
    signature: str  # as given to rebuild() ("" : none)
    rows: int
    pending_write_id: str  # a change set written, not promoted ("" : none)


class Snapshots:
    """The snapshot of one service in the warehouse's scratch place, on the warehouse's own connection."""

    def __init__(self, warehouse: Warehouse, sql: SnapshotSql):
        self.warehouse, self.sql = warehouse, sql
        self.conn = warehouse.conn
        #: the cursor of the transaction under way, if any
        self._tx: Any = None
        #: the scratch place is reachable on the connection (``SnapshotSql.enter_place_sql`` ran)
        self._entered = False
        #: it stays so between steps: the pending set is being read (from ``pending_query`` on)
        self._kept = False

    @classmethod
    def open(cls, warehouse: Warehouse, service: str) -> Snapshots | None:
        """The snapshots of ``service``; None when the warehouse keeps none (no ``tagoffline_scratch``
        extra, a family without snapshot support, or the warehouse is the target itself). Makes the
        scratch place and the state table on first use."""
        snapshots = cls.kept(warehouse, service)
        if snapshots is not None:
            snapshots._prepare()
        return snapshots

    @classmethod
    def kept(cls, warehouse: Warehouse, service: str) -> Snapshots | None:
        """As ``open``, without making anything (a preview only reads: ``peek``)."""
        sql_class = warehouse.reader.snapshot_sql
        place = (warehouse.where.connection.extra_dejson or {}).get(SCRATCH_EXTRA)
        if warehouse.is_the_target or sql_class is None or place is None:
            return None
        problem = sql_class.place_problem(warehouse.dialect, place)
        if problem is not None:
            raise RunFailed(f"the extra {SCRATCH_EXTRA} of the warehouse connection {warehouse.conn_id!r} "
                            f"({place!r}) {problem}")
        return cls(warehouse, sql_class(warehouse.dialect, place, service))

    def _prepare(self) -> None:
        with self._in_place():
            for attempt in range(PREPARE_TRIES):
                try:
                    self._run(self.sql.prepare_place_sql())
                    with self._transaction():
                        self._run(self.sql.prepare_state_sql())
                    return
                except Exception as exc:
                    self.warehouse.reader.reset()
                    if attempt + 1 == PREPARE_TRIES:
                        raise self._unusable(exc) from None
                    time.sleep(0.05 * (attempt + 1))

    def _unusable(self, exc: BaseException) -> RunFailed:
        return RunFailed(f"the scratch place {self.sql.place!r} (extra {SCRATCH_EXTRA} of the warehouse connection "
                         f"{self.warehouse.conn_id!r}) cannot be used: {first_line(exc)}")

    @contextlib.contextmanager
    def _in_place(self) -> Iterator[None]:
        """One step in the scratch place: reached (waiting while another process holds it), then left
        for others unless it is ``_kept``."""
        deadline = time.monotonic() + PLACE_WAIT_SECONDS
        while not self._entered:
            try:
                self._run(self.sql.enter_place_sql())
                self._entered = True
            except Exception as exc:
                if not self.sql.is_busy(exc) or time.monotonic() > deadline:
                    raise self._unusable(exc) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            if not self._kept:
                self._entered = False
                with contextlib.suppress(Exception):
                    self._run(self.sql.leave_place_sql())

    # ---- running statements --------------------------------------------------------------------
    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        """The transaction's cursor inside one (DuckDB's ``cursor()`` is a connection of its own, with
        its own transaction), else a new one."""
        if self._tx is not None:
            yield self._tx
            return
        cur = self.conn.cursor()
        try:
            yield cur
        finally:
            with contextlib.suppress(Exception):
                cur.close()

    def _run(self, statements: list[str] | list[Statement]) -> None:
        with self._cursor() as cur:
            for s in statements:  # always with a parameter list: the SQL doubles a % for it (``quote``)
                statement = Statement(s) if isinstance(s, str) else s
                cur.execute(statement.sql, statement.params)

    def _one(self, sql: str, params: list[object] | None = None) -> tuple[Any, ...] | None:
        with self._cursor() as cur:
            cur.execute(sql, params or [])
            row = cur.fetchone()
            return None if row is None else tuple(row)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One warehouse transaction on one cursor: committed, or rolled back on any error."""
        cur = self._tx = self.conn.cursor()
        try:
            cur.execute("BEGIN", [])
            yield
            cur.execute("COMMIT", [])
        except BaseException:
            with contextlib.suppress(Exception):
                cur.execute("ROLLBACK", [])
            raise
        finally:
            self._tx = None
            with contextlib.suppress(Exception):
                cur.close()

    def _explained(self, exc: Exception, what: str) -> RunFailed:
        explained = self.warehouse.reader.explain(exc, what)
        return explained or RunFailed(f"{what} failed in the warehouse {self.warehouse.conn_id!r}: {first_line(exc)}")

    def _row(self) -> tuple[str, str, int, list[str], str, int]:
        read = self.sql.read_state_sql()
        row = self._one(read.sql, read.params)
        if row is None:  # dropped since open(): nothing kept
            return "", "", 0, [], "", 0
        write_id, signature, rows, cols, pending, pending_rows = row
        return str(write_id), str(signature), int(rows), list(json.loads(cols)), str(pending), int(pending_rows)

    # ---- the interface -------------------------------------------------------------------------
    @_step()
    def state(self) -> SnapshotState:
        write_id, signature, rows, _, pending, _ = self._row()
        return SnapshotState(write_id, signature, rows, pending)

    def peek(self) -> tuple[SnapshotState, int] | None:
        """The state as stored, read only and without waiting, and the rows the snapshot would hold once its
        pending change set (if any) were promoted; None when another process holds the scratch place now.
        Raises RunFailed when it cannot be read (a preview's view: a run makes a missing place and finds no
        snapshot there). Which pending set a run promotes is ``changes``' rule."""
        try:
            self._run(self.sql.look_into_place_sql())
            write_id, signature, rows, _, pending, _ = self._row()
            inserted, _, deleted = self._pending_counts() if pending else (0, 0, 0)
            return SnapshotState(write_id, signature, rows, pending), rows + inserted - deleted
        except Exception as exc:
            self.warehouse.reader.reset()
            if self.sql.is_busy(exc):
                return None
            raise RunFailed(f"the scratch place {self.sql.place!r} cannot be read: {first_line(exc)}") from None
        finally:
            with contextlib.suppress(Exception):
                self._run(self.sql.leave_place_sql())

    def _pending_counts(self) -> tuple[int, int, int]:
        """Rows of the pending set by op: (i, u, d)."""
        i, u, d = (int(n) for n in self._one(self.sql.pending_counts_sql()) or (0, 0, 0))
        return i, u, d

    @_step()
    def sample(self, extract: Query, key: str, columns: list[str], rows: int) -> tuple[int, int]:
        """(rows looked at, rows new or different) over the first ``rows`` rows of the extract, each
        found in the snapshot by key: a cheap look before the whole diff."""
        self.warehouse.memory.use_lean(False, extract.operators + 1)
        try:
            sample = self.sql.sample_sql(extract, key, columns, rows)
            looked, different = self._one(sample.sql, sample.params) or (0, 0)
        except Exception as exc:
            self.warehouse.reader.reset()
            raise self._explained(exc, "the snapshot's sample") from None
        return int(looked), int(different)

    @_step()
    def diff(self, extract: Query, key: str, columns: list[str], write_id: str) -> dict[str, int]:
        """The pending change set of ``extract`` against the snapshot, tagged ``write_id`` (replacing
        any pending): ``{"i": new keys, "u": same key with some column different, "d": keys gone}``."""
        _, _, _, kept, _, _ = self._row()
        if kept != list(columns):
            raise RunFailed(f"the snapshot holds the columns {kept}, not {list(columns)}: rebuild it first")
        self.warehouse.memory.use_lean(False, extract.operators + 1)
        try:
            with self._transaction():
                self._run(self.sql.work_settings_sql())
                self._run(self.sql.diff_sql(extract, key, columns))
                i, u, d = self._pending_counts()
                self._run([self.sql.set_state_sql(pending_write_id=write_id, pending_row_count=i + u + d)])
        except RunFailed:
            raise
        except Exception as exc:
            self.warehouse.reader.reset()
            raise self._explained(exc, "the diff with the snapshot") from None
        return {"i": i, "u": u, "d": d}

    @_step(keep=True)
    def pending_query(self, old_versions: bool = False) -> Query:
        """The pending change set: ``tagoffline_op``, ``tagoffline_key``, then the output columns; with
        ``old_versions``, rows ``o`` too: the snapshot's values of each key updated or deleted."""
        _, _, _, columns, _, _ = self._row()
        return Query(self.sql.pending_sql(columns, old_versions), [], [OP, KEY, *columns], scan_only=True)

    @_step(release=True)
    def promote(self, write_id: str) -> None:
        """In one transaction: the pending set applied to the snapshot, the state's write id and rows
        set, the pending set gone. Refused unless the pending set is ``write_id``'s, whole."""
        self.warehouse.memory.use_lean(False, 1)
        try:
            with self._transaction():
                self._run(self.sql.promote_settings_sql())
                _, _, rows, columns, pending, pending_rows = self._row()
                if not write_id or pending != write_id:
                    raise RunFailed(f"the snapshot's pending change set is {pending or 'none'}, not write "
                                    f"{write_id}: nothing promoted")
                i, u, d = self._pending_counts()
                if i + u + d != pending_rows:
                    raise RunFailed(f"the snapshot's pending change set holds {i + u + d} rows where its diff wrote "
                                    f"{pending_rows}: nothing promoted")
                self._run(self.sql.promote_sql(columns))
                self._run([self.sql.set_state_sql(write_id=write_id, row_count=rows + i - d, pending_write_id="",
                                                  pending_row_count=0)])
        except RunFailed:
            raise
        except Exception as exc:
            self.warehouse.reader.reset()
            raise self._explained(exc, "the snapshot's promotion") from None

    @_step(release=True)
    def discard_pending(self) -> None:
        try:
            with self._transaction():
                self._run(self.sql.discard_sql())
                self._run([self.sql.set_state_sql(pending_write_id="", pending_row_count=0)])
        except Exception as exc:
            self.warehouse.reader.reset()
            raise self._explained(exc, "the discard of the snapshot's pending change set") from None

    def rebuild(self, extract: Query, key: str, columns: list[str], write_id: str, signature: str) -> None:
        """The snapshot := the extract's rows, the state set, pending gone: a new table built, then
        swapped in in one transaction (a failure before leaves the old snapshot and state)."""
        self.build_next(extract, key, columns)
        self.adopt_next(write_id, columns, signature)

    @_step(keep=True)
    def build_next(self, extract: Query, key: str, columns: list[str]) -> Query:
        """The next snapshot built from the extract beside the current one (which stays the service's), and
        the query of its rows: a swap loads its stage from them, so the snapshot it adopts afterwards is
        exactly what the table received (a source rewritten between two reads cannot make them differ)."""
        self.warehouse.memory.use_lean(extract.scan_only, extract.operators)
        try:
            self._run(self.sql.rebuild_sql(extract, key, columns))
            self._run(self.sql.key_index_sql(self.sql.next))
            self._run(self.sql.analyze_sql(self.sql.next))
        except Exception as exc:
            self.warehouse.reader.reset()
            with contextlib.suppress(Exception):
                self._run([self.sql.drop_next_sql()])
            raise self._explained(exc, "the snapshot's rebuild") from None
        return Query(self.sql.next_rows_sql(columns), [], [KEY, *columns], scan_only=True)

    @_step(release=True)
    def adopt_next(self, write_id: str, columns: list[str], signature: str) -> None:
        """In one transaction: the table ``build_next`` made becomes the snapshot of ``write_id``, pending
        gone (a failure leaves the old snapshot and state)."""
        try:
            (rows,) = self._one(self.sql.count_sql(self.sql.next)) or (0,)
            with self._transaction():
                self._run(self.sql.swap_in_sql())
                self._run([self.sql.set_state_sql(write_id=write_id, signature=signature, row_count=int(rows),
                                                  columns_json=columns_json(columns), pending_write_id="",
                                                  pending_row_count=0)])
        except Exception as exc:
            self.warehouse.reader.reset()
            with contextlib.suppress(Exception):
                self._run([self.sql.drop_next_sql()])
            raise self._explained(exc, "the snapshot's rebuild") from None

    @_step(release=True)
    def drop_next(self) -> None:
        """A next snapshot whose swap did not happen."""
        self._run([self.sql.drop_next_sql()])

    @_step(release=True)
    def drop(self) -> None:
        """Everything of this service in the scratch place."""
        try:
            with self._transaction():
                self._run(self.sql.drop_sql())
        except Exception as exc:
            self.warehouse.reader.reset()
            raise self._explained(exc, "the drop of the snapshot") from None
