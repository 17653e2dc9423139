"""The run report (spec §5.7): the operator's return value (XCom), logged, printed by the CLI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RunReport:
    service: str
    data_date: str
    target: str  # conn_id:schema.table
    status: str = "running"  # running | success | failed
    rows_read: int = 0
    rows_written: int = 0
    duplicates_replaced: int = 0
    bytes_written: int | None = None
    load_method: str = ""
    #: statements the extract ran: more than one when a join's memory is bounded by passes over the IDs
    extract_passes: int = 1
    swap_window_seconds: float | None = None
    #: bounded lock waits of the swap and the recovery (engine/targets/lockwait.py): tries of the steps
    #: taking an exclusive lock, those whose lock was not granted in time, and the seconds they and the
    #: pauses between them took
    lock_attempts: int = 0
    lock_timeouts: int = 0
    lock_wait_seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    recovery: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    gates_checked: str = ""  # the gates, in a few words (gates.describe)
    gates_failed: list[str] = field(default_factory=list)
    #: a whole table: the data date it held before this run (None: unknown, or a partitioned target)
    held_before: str | None = None
    error: str | None = None
    #: target.load as the run did it: overwrite, changes (target-side diff), or overwrite (fallback: why)
    load_mode: str = ""
    #: a changes run that wrote its changes: the rows it inserted, updated, deleted and left alone
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    rows_unchanged: int | None = None

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = round(self.phases.get(name, 0.0) + time.perf_counter() - start, 3)

    @property
    def total_seconds(self) -> float:
        return round(sum(self.phases.values()), 3)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["total_seconds"] = self.total_seconds
        return out

    def summary(self) -> str:
        """A few lines for people (CLI and task log)."""
        lines = [f"{self.status.upper()}: {self.service} data date {self.data_date} -> {self.target}"]
        if self.error:
            lines.append(f"  error: {self.error}")
        lines.append(f"  rows read {self.rows_read}, written {self.rows_written}, duplicates replaced "
                     f"{self.duplicates_replaced}" + (f", {self.bytes_written} bytes" if self.bytes_written else ""))
        if self.load_mode and self.load_mode != "overwrite":
            lines.append(f"  load mode {self.load_mode}" + (
                f": {self.rows_inserted} inserted, {self.rows_updated} updated, {self.rows_deleted} deleted, "
                f"{self.rows_unchanged} unchanged" if self.rows_inserted is not None else ""))
        if self.sources:
            lines.append("  sources: " + ", ".join(
                f"{s['table']}" + (f" {s['partition']}" if s.get("partition") else "") + f" {s['rows']} rows"
                + (f" ({s['duplicates']} duplicate IDs)" if s.get("duplicates") else "") for s in self.sources))
        if self.gates_checked:
            lines.append(f"  gates {'failed' if self.gates_failed else 'passed'}: {self.gates_checked}")
        if self.phases:
            lines.append("  phases: " + ", ".join(f"{k} {v:.2f}s" for k, v in self.phases.items())
                         + f" (total {self.total_seconds:.2f}s)")
        if self.swap_window_seconds is not None:
            lines.append(f"  swap window {self.swap_window_seconds * 1000:.1f} ms, load by {self.load_method}"
                         + (f", extract in {self.extract_passes} passes" if self.extract_passes > 1 else ""))
        if self.lock_timeouts:
            lines.append(f"  lock: {self.lock_attempts} attempts, {self.lock_timeouts} not granted in time while "
                         f"other sessions held the table; waited {self.lock_wait_seconds:.1f}s")
        for a in self.recovery:
            lines.append(f"  recovered: {a}")
        for g in self.gates_failed:
            lines.append(f"  gate failed: {g}")
        return "\n".join(lines)
