"""What a preview finds (``Preview``): the models the API and the CLI return and print."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ColumnDiff(BaseModel):
    """One difference between the mapping and the live table, on one column."""

    kind: str = Field(description="missing | extra | type | length | precision")
    column: str
    detail: str
    fails: bool = Field(description="whether the run would fail on it (else it is a warning)")


class SourceRows(BaseModel):
    table: str
    partition: str | None = None
    rows: int
    duplicates: int


class Changes(BaseModel):
    """The extract against the live table (partition D of a partitioned target), by entity ID."""

    live_rows: int
    added: int
    removed: int
    changed: int
    unchanged: int
    change_ratio: float | None = Field(description="|new rows - live rows| / live rows: what gates.max_change_ratio "
                                                   "compares (None for an empty live table)")
    compared_columns: list[str]
    method: str


class Preview(BaseModel):
    service: str
    data_date: str
    target: str
    target_exists: bool
    holds: str | None = Field(None, description="the data date the whole table holds now (its own record, else "
                                                "Airflow's); None: unknown, or a partitioned target")
    columns: list[ColumnDiff] = []
    sources: list[SourceRows] = []
    rows: int = Field(0, description="rows the run would write (the extract for D, duplicate IDs reduced)")
    duplicates_replaced: int = 0
    nulls: dict[str, int] = Field(default_factory=dict, description="NULL values per column the gates look at")
    sample_columns: list[str] = []
    sample: list[list[Any]] = []
    changes: Changes | None = None
    load_mode: str = Field("overwrite", description="how the run would write (target.load): overwrite, or for a "
                                                    "changes service its change set or the fallback and why")
    gates_checked: str = ""
    gates_failed: list[str] = Field(default_factory=list, description="the gates the run would fail, as it says them")
    would_fail: list[str] = Field(default_factory=list, description="why the run would fail before its gates")
    seconds: float = 0.0

    def summary(self) -> str:
        """A few lines for people (the CLI)."""
        out = [f"PREVIEW: {self.service} data date {self.data_date} -> {self.target}"
               + ("" if self.target_exists else " (table does not exist)")
               + (f" (holds data date {self.holds})" if self.holds else "")]
        for c in self.columns:
            out.append(f"  column {c.column!r}: {c.kind}{' (fails)' if c.fails else ''}: {c.detail}")
        if not self.columns and self.target_exists:
            out.append("  columns: the mapping matches the live table")
        out.append("  sources: " + ", ".join(
            f"{s.table}" + (f" {s.partition}" if s.partition else "") + f" {s.rows} rows"
            + (f" ({s.duplicates} duplicate IDs)" if s.duplicates else "") for s in self.sources))
        out.append(f"  rows to write {self.rows}, duplicates replaced {self.duplicates_replaced}")
        if self.changes is not None:
            ch = self.changes
            ratio = "n/a" if ch.change_ratio is None else f"{ch.change_ratio:.1%}"
            out.append(f"  versus live ({ch.live_rows} rows): added {ch.added}, removed {ch.removed}, changed "
                       f"{ch.changed}, unchanged {ch.unchanged}; change ratio {ratio} ({ch.method})")
        if self.load_mode != "overwrite":
            out.append(f"  load mode {self.load_mode}")
        if self.gates_checked:
            out.append(f"  gates {'would fail' if self.gates_failed else 'would pass'}: {self.gates_checked}")
        for g in self.gates_failed:
            out.append(f"  gate would fail: {g}")
        for w in self.would_fail:
            out.append(f"  run would fail: {w}")
        if self.sample:
            out.append("  sample: " + " | ".join(self.sample_columns))
            out += ["    " + " | ".join("NULL" if v is None else str(v) for v in row) for row in self.sample]
        out.append(f"  previewed in {self.seconds:.2f}s; nothing was written")
        return "\n".join(out)

