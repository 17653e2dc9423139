"""The run specification: a service frozen together with the catalog it needs.

A RunSpec is self-contained, versioned and JSON-serialisable. It is the only input of the export
engine and of DAG rendering: a rendered DAG carries it as a literal and never reads the catalog.
It holds connection ids, never secrets.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

# 2: schedule.wait_for_data. A format-1 spec still loads (the default wait).
# 3: notify. Older formats still load (no notification).
# 4: airflow_roles. Older formats still load (no per-DAG access).
# 5: target.wait_for_lock. Older formats still load (the [tag_offline] default where the run executes).
# 6: target.load "changes" (docs/changes-mode.md). Older formats still load (all overwrite).
RUNSPEC_VERSION = 6

DateFormat = Literal["yyyyMMdd", "yyyy-MM-dd", "yyyy/MM/dd", "yyyy.MM.dd"]
OutputContent = Literal["value", "codename"]
LoadMode = Literal["overwrite", "changes"]
#: target.load: the atomic swap of the whole table, or only the rows that changed (docs/changes-mode.md)
LOAD_MODES: tuple[str, ...] = get_args(LoadMode)


class _Frozen(BaseModel):
    # Finite numbers only: a NaN would render as `nan` in the DAG file's literal and fail its import.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class PartitionSpec(_Frozen):
    """A date partition: a column holding data date D in ``format``."""

    column: str
    format: DateFormat


class SourceSpec(_Frozen):
    """One warehouse table that holds tags of the entity, keyed by the entity ID."""

    table: str  # may be schema-qualified with dots ("dws.user_profile")
    key: str  # column holding the entity ID
    partition: PartitionSpec | None = None


class LookupSpec(_Frozen):
    code: str
    kind: Literal["inline", "table"]
    values: dict[str, str] | None = None  # inline: code -> code name
    table: str | None = None  # table: a warehouse table
    code_column: str | None = None
    name_column: str | None = None


class TagSpec(_Frozen):
    code: str
    name: str
    type: str  # a value type, see value_types.py
    source: int  # index into RunSpec.sources
    column: str  # value column in that source
    lookup: str | None = None  # key into RunSpec.lookups


class OutputSpec(_Frozen):
    """One target column: the value or the code name of one tag."""

    column: str
    tag: str
    content: OutputContent
    type: str  # value type of the column ("string" for code names)


class TargetSpec(_Frozen):
    conn_id: str
    kind: str  # see dialects.TARGET_KINDS
    schema_: str | None = Field(default=None, alias="schema")
    table: str
    key_column: str  # target column holding the entity ID (the primary key)
    partition: PartitionSpec | None = None
    #: overwrite: the atomic swap; changes: only the rows that differ, in one transaction (docs/changes-mode.md)
    load: LoadMode = "overwrite"
    #: seconds the swap keeps retrying its exclusive lock while other sessions hold the table
    #: (engine/targets/lockwait.py); None: [tag_offline] wait_for_lock where the run executes; format 5
    wait_for_lock: int | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)


class GatesSpec(_Frozen):
    """Quality gates checked before the swap (spec §5.5)."""

    allow_empty: bool = False
    min_rows: int | None = None
    max_change_ratio: float | None = None  # |new - live| / live
    max_null_ratio: dict[str, float] = {}  # tag code -> max share of NULL values


class ScheduleSpec(_Frozen):
    type: Literal["manual", "recurring"]
    daily_at: str | None = None  # "HH:MM"
    timezone: str = "UTC"
    #: seconds a scheduled run waits for a late source (None: waiting.DEFAULT_WAIT_SECONDS); format 2
    wait_for_data: int | None = None


class ServiceInfo(_Frozen):
    name: str
    slug: str  # ASCII, stable; the DAG id is tag_offline__<slug>
    application: str
    owner: str
    description: str = ""
    version: int  # version of the service definition frozen here


class EntityKeySpec(_Frozen):
    entity: str
    code: str  # entity ID code, e.g. user_id
    name: str
    type: str


class NotifySpec(_Frozen):
    """Who is told about a run, through which Airflow (SMTP) connection: ids and addresses, no secret."""

    conn_id: str
    to: list[str]
    events: list[Literal["failure", "gate_failure", "success"]]


class RunSpec(_Frozen):
    spec_version: int = RUNSPEC_VERSION
    service: ServiceInfo
    entity_key: EntityKeySpec
    warehouse_conn_id: str
    sources: list[SourceSpec]
    tags: list[TagSpec]
    lookups: dict[str, LookupSpec] = {}
    outputs: list[OutputSpec]
    target: TargetSpec
    gates: GatesSpec = GatesSpec()
    schedule: ScheduleSpec
    #: the Airflow pool and queue of the export task; None: Airflow's defaults
    pool: str | None = None
    queue: str | None = None
    #: notifications of the run's outcome (format 3); None: nobody is told
    notify: NotifySpec | None = None
    #: the Airflow roles of the service's application given access to its DAG (format 4;
    #: ``airflow_access.py``); None: no per-DAG access (an auth manager that does not enforce it)
    airflow_roles: list[str] | None = None

    @field_validator("spec_version")
    @classmethod
    def _known_format(cls, value: int) -> int:
        # A DAG file rendered by a newer provider than the one where Airflow parses it: say so
        # plainly (it becomes the import error shown as publish_failed) instead of guessing.
        if value > RUNSPEC_VERSION:
            raise ValueError(f"run spec format {value} is newer than this airflow-provider-tagoffline "
                             f"understands ({RUNSPEC_VERSION}); upgrade the provider where Airflow parses DAGs")
        return value

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        return cls.model_validate_json(text)

    def to_dict(self) -> dict:
        # without roles, the dict (and the fingerprint) of a spec frozen before format 4; without the
        # target's wait_for_lock, that of a spec frozen before format 5
        exclude: dict[str, Any] = {}
        if self.airflow_roles is None:
            exclude["airflow_roles"] = True
        if self.target.wait_for_lock is None:
            exclude["target"] = {"wait_for_lock"}
        return self.model_dump(mode="json", by_alias=True, exclude=exclude or None)

    def fingerprint(self) -> str:
        """A short hash of the whole spec: the same spec always gives the same fingerprint."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def tag(self, code: str) -> TagSpec:
        for t in self.tags:
            if t.code == code:
                return t
        raise KeyError(code)
