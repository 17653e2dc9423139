"""A tag offline service as data (YAML file, REST payload): the shape of spec §3 and §9.

Only shapes and types live here; every rule is in ``service/validation.py``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Model(BaseModel):
    # allow_inf_nan=False: NaN and ±infinity (YAML .nan / .inf, JSON NaN / Infinity) are no numbers a
    # rule can compare, nor a value a rendered DAG file or a PostgreSQL JSON column can hold.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True,
                              allow_inf_nan=False)


class ScheduleDef(_Model):
    type: Literal["manual", "recurring"]
    daily_at: str | None = None  # "HH:MM", recurring only
    timezone: str | None = None  # default: [tag_offline] timezone, else Airflow's default
    # recurring only: how long a scheduled run waits for a late source partition ("6h", "90m", seconds)
    wait_for_data: str | int | None = None  # default 6h (waiting.py)


class PartitionDef(_Model):
    field: str | list[str] | None = None  # a list means multi-level: refused with a message
    format: str = "yyyyMMdd"


class TargetDef(_Model):
    conn_id: str = ""  # required: checked with the other rules so every error comes at once
    schema_: str | None = Field(default=None, alias="schema")
    table: str = ""  # required, likewise
    key_column: str | None = None  # default: the entity ID code
    partition: PartitionDef | None = None
    load: str = "overwrite"
    # how long the swap may keep trying for the table's exclusive lock while other sessions use it
    # ("10m", "1h", seconds); default: [tag_offline] wait_for_lock (10m)
    wait_for_lock: str | int | None = None


class MappingDef(_Model):
    tag: str
    value: str | None = None  # target column of the value
    codename: str | None = None  # target column of the code name

    @field_validator("value", "codename")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v or None


class GatesDef(_Model):
    allow_empty: bool = False
    min_rows: int | None = None
    max_change_ratio: float | None = None
    max_null_ratio: dict[str, float] = {}


#: when a service's notification is sent: a run that failed for any reason but a quality gate, a
#: run a gate refused (the live table untouched), a run that succeeded
NOTIFY_EVENTS = ("failure", "gate_failure", "success")


class NotifyDef(_Model):
    """Who is told about a service's runs, through which Airflow connection (docs/notifications.md)."""

    conn_id: str = ""  # an SMTP connection of Airflow's: the server and its login stay there
    to: list[str] = []  # recipients' addresses
    # some of NOTIFY_EVENTS (not "on": YAML 1.1 reads an unquoted `on:` key as true)
    events: list[str] = ["failure", "gate_failure"]


class ServiceDef(_Model):
    name: str
    application: str
    owner: str
    entity: str
    entity_id: str
    description: str = ""
    schedule: ScheduleDef
    #: the Airflow pool and Celery queue its runs take (default: default_pool and [operators] default_queue),
    #: so that heavy exports do not starve a shared Airflow
    pool: str | None = None
    queue: str | None = None
    target: TargetDef
    mappings: list[MappingDef] = []
    gates: GatesDef = GatesDef()
    notify: NotifyDef | None = None

    def to_yaml_dict(self) -> dict[str, Any]:
        """The service file form (spec §9): defaults left out so files stay short."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        if data.get("description") == "":
            data.pop("description")
        data["mappings"] = [
            {k: v for k, v in m.items() if v is not None} for m in data.get("mappings", [])
        ]
        gates = {k: v for k, v in data.get("gates", {}).items() if v not in (None, {}, False)}
        if gates:
            data["gates"] = gates
        else:
            data.pop("gates", None)
        return data
