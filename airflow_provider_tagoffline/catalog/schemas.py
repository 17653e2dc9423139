"""The catalog as data (YAML files, REST payloads): pydantic models of spec §2 and §9.

These are the external shapes; ``catalog/models.py`` holds the stored ones. Field names follow
the YAML of spec §9.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from airflow_provider_tagoffline.dialects import PARTITION_FORMATS
from airflow_provider_tagoffline.value_types import normalize_value_type

CODE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TAG_CODE_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
MAX_LOOKUP_VALUES = 10_000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


def _code(value: str) -> str:
    if not CODE_RE.match(value) or len(value) > 64:
        raise ValueError("must be 1–64 letters, digits or _ and not start with a digit")
    return value


def _matching(pattern: re.Pattern[str], problem: str) -> Callable[[str], str]:
    """A field check: the value matches ``pattern``, else ``problem``."""
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(problem)
        return value
    return check


Code = Annotated[str, Field(min_length=1, max_length=64)]


class ApplicationDef(_Model):
    code: Code
    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=1000)
    admins: list[str] = []
    members: list[str] = []

    _check_code = field_validator("code")(_code)


class EntityIdDef(_Model):
    code: Code
    name: str = Field(min_length=1, max_length=255)
    type: str

    _check_code = field_validator("code")(_code)
    _check_type = field_validator("type")(normalize_value_type)


class SourceDef(_Model):
    table: str = Field(min_length=1, max_length=255)
    key: str = Field(min_length=1, max_length=255)
    column: str = Field(min_length=1, max_length=255)
    partition: str | None = Field(default=None, max_length=255)
    format: str | None = None

    @model_validator(mode="after")
    def _partition_format(self) -> SourceDef:
        if self.format is not None and self.format not in PARTITION_FORMATS:
            raise ValueError(f"format {self.format!r} is not one of {', '.join(PARTITION_FORMATS)}")
        if self.partition and not self.format:
            self.format = "yyyyMMdd"
        if self.format and not self.partition:
            raise ValueError("format is set but partition (the partition column) is not")
        return self


class TagDef(_Model):
    code: Code
    name: str = Field(min_length=1, max_length=255)
    type: str
    id: str = Field(description="code of the entity ID the tag is keyed by")
    description: str = Field(default="", max_length=1000)
    lookup: str | None = None
    source: SourceDef

    _check_code = field_validator("code")(
        _matching(TAG_CODE_RE, "must be lowercase letters, digits or _ and not start with a digit"))

    _check_type = field_validator("type")(normalize_value_type)


class EntityDef(_Model):
    code: Code
    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=1000)
    ids: list[EntityIdDef] = Field(min_length=1)
    tags: list[TagDef] = []

    _check_code = field_validator("code")(_code)


class LookupDef(_Model):
    code: Code
    name: str = Field(default="", max_length=255)
    values: dict[str, str] | None = None
    table: str | None = Field(default=None, max_length=255)
    code_column: str | None = Field(default=None, max_length=255)
    name_column: str | None = Field(default=None, max_length=255)

    _check_code = field_validator("code")(_code)

    @field_validator("values", mode="before")
    @classmethod
    def _stringify(cls, v: object) -> object:
        # YAML reads {1: Gold} with int keys and `Y: yes` as booleans; codes are strings.
        if isinstance(v, dict):
            return {_yaml_scalar(k): _yaml_scalar(val) for k, val in v.items()}
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> LookupDef:
        if self.values is not None and self.table is not None:
            raise ValueError("give either values (inline) or table, not both")
        if self.values is None and self.table is None:
            raise ValueError("give values (inline code → name pairs) or a warehouse table")
        if self.values is not None and len(self.values) > MAX_LOOKUP_VALUES:
            raise ValueError(f"has {len(self.values)} values; at most {MAX_LOOKUP_VALUES} inline pairs")
        if self.table is not None and not (self.code_column and self.name_column):
            raise ValueError("a table lookup needs code_column and name_column")
        return self

    @property
    def kind(self) -> Literal["inline", "table"]:
        return "inline" if self.values is not None else "table"


def _yaml_scalar(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class GrantDef(_Model):
    application: Code
    entity: Code
    tags: list[str] = Field(min_length=1)
    expires: dt.date | None = None


#: an Airflow connection id: no control characters and no "/" (it is a path segment of the API)
CONN_ID_RE = re.compile(r"^[^\x00-\x1f/]{1,250}$")
SCHEMA_NAME_RE = re.compile(r"^[^\x00-\x1f]{1,128}$")


class TargetGrantDef(_Model):
    """An application may write the tables of a connection, in these schemas (all when left out)."""

    application: Code
    conn_id: str = Field(min_length=1, max_length=250, description="an Airflow connection id")
    schemas: list[str] | None = Field(default=None, description="schemas the application may write; left out or "
                                                                "null: every schema (kinds without schemas "
                                                                "ignore it)")

    _check_application = field_validator("application")(_code)

    _check_conn_id = field_validator("conn_id")(
        _matching(CONN_ID_RE, "must be an Airflow connection id: no control characters and no '/'"))

    @field_validator("schemas")
    @classmethod
    def _schemas(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        if not v:
            raise ValueError("give at least one schema, or leave schemas out to grant every schema")
        names = [s.strip() for s in v]
        for name in names:
            if not SCHEMA_NAME_RE.match(name):
                raise ValueError(f"{name!r} is not a schema name (1–128 characters, no control characters)")
        return sorted(set(names))


class CatalogDef(_Model):
    applications: list[ApplicationDef] = []
    lookups: list[LookupDef] = []
    entities: list[EntityDef] = []
    grants: list[GrantDef] = []
    target_grants: list[TargetGrantDef] = []
