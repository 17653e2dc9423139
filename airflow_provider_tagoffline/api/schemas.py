"""Request and response shapes of the REST API: the ones not already elsewhere. The API reuses
``catalog/schemas.py`` and ``service/definition.py`` as request bodies, and sends an action's outcome
(``service/publishing.ActionResult``) and a DAG run (``airflow_bridge.Instance``) in the shapes the
CLI prints too: one shape per concept."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from airflow_provider_tagoffline.airflow_bridge import AirflowPause, Instance
from airflow_provider_tagoffline.catalog.schemas import SourceDef
from airflow_provider_tagoffline.service.definition import MappingDef, ServiceDef
from airflow_provider_tagoffline.service.states import ServiceAction

# The catalog store keeps naive UTC; the API always says so (RFC 3339 with an offset).
UtcDatetime = Annotated[dt.datetime, AfterValidator(lambda v: v.replace(tzinfo=dt.UTC) if v.tzinfo is None else v)]


# Finite numbers only, in and out (JSON has no NaN or Infinity, though Python's parser accepts them).
class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, allow_inf_nan=False)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True, allow_inf_nan=False)


# ---- errors ----------------------------------------------------------------------------------

class ErrorItem(_Out):
    field: str = Field(description="dotted path of the offending field or parameter; empty for the whole request")
    message: str


class ErrorResponse(_Out):
    detail: list[ErrorItem]
    status: int


# ---- services --------------------------------------------------------------------------------

class TargetSummary(_Out):
    conn_id: str
    schema_: str | None = Field(default=None, alias="schema")
    table: str
    full_name: str


class ServiceSummary(_Out):
    name: str
    owner: str
    application: str
    entity: str
    entity_id: str
    status: str = Field(description="task status: editing, publishing, published, publish_failed, unpublishing, "
                                    "offline, unpublish_failed")
    execution_status: str = Field(description="state of the latest run: none, queued, waiting_for_data (a source "
                                              "partition is late), running, up_for_retry, success, failed")
    tags: list[str]
    schedule_type: str
    target_kind: str
    target: TargetSummary
    version: int = Field(description="draft version; send it back with an update")
    published_version: int | None = None
    updated_by: str
    updated_at: str | None = None
    default_data_date: str | None = Field(
        default=None, description="the data date a run started now exports by default: T-1 in the service's timezone")
    # catalog drift (service/attention.py)
    attention: str | None = Field(
        default=None, description="`needs attention`: why the catalog changed under the published version (tag "
                                  "removed or retyped, source renamed, lookup changed, grant revoked or expired), "
                                  "one line; null when nothing did. Runs fail and publish may refuse until fixed "
                                  "and republished.",
        examples=["tag user.gender was retyped from string to bigint"])
    attention_reasons: list[str] = Field(default_factory=list, description="every change behind `attention`")
    actions: list[str] = Field(default_factory=list,
                               description="what the calling user may do now: edit, publish, unpublish, run, "
                                           "backfill, delete")
    refusals: dict[ServiceAction, str] = Field(
        default_factory=dict,
        description="every other action, with why the calling user may not do it now: the message the action "
                    "would be refused with (403: who may; 409, or 422 for edit: the service's status). Each "
                    "action is either in `actions` or here.",
        examples=[{"unpublish": "service 'crm_user_tags' cannot be unpublished: the service is editing; only "
                                "published or unpublish_failed services can be unpublished"}])
    preview_refusal: str | None = Field(
        default=None, description="why the calling user may not preview the service's data (GET …/preview: 403), "
                                  "or null when they may; a preview is allowed in every status")


class ServiceList(_Out):
    total: int
    page: int
    page_size: int
    items: list[ServiceSummary]


class ServiceDetail(ServiceSummary):
    slug: str
    dag_id: str
    status_message: str
    description: str
    created_by: str
    created_at: str | None = None
    definition: ServiceDef
    airflow_pause: AirflowPause | None = Field(
        default=None, description="the latest pause or unpause of the service's DAG outside the plugin (Airflow's "
                                  "UI, REST API or CLI) since it was last published: who and when; null when none")


class ServiceUpdate(ServiceDef):
    """A whole service definition plus the version it was edited from (or send ``If-Match``)."""

    version: int | None = Field(default=None, ge=1,
                                description="the version the edit is based on (from GET); a newer stored "
                                            "version makes the update fail with 409")


_ALLOW_OLDER = ("let a whole-table target go back to an older data date than the one it holds (refused "
                "otherwise, naming both dates)")


class RunRequest(_In):
    data_date: dt.date | None = Field(default=None, description="the data date to export; default T-1 in the "
                                                                 "service's timezone")
    allow_older: bool = Field(default=False, description=_ALLOW_OLDER)


class BackfillRequest(_In):
    start: dt.date | None = Field(default=None, description="first data date; default T-1")
    end: dt.date | None = Field(default=None, description="last data date (inclusive); default start")
    allow_older: bool = Field(default=False, description=_ALLOW_OLDER + "; a backfill leaves the table at its "
                                                                         "last data date")


class InstanceList(_Out):
    service: str
    dag_id: str
    total: int
    items: list[Instance]


class AuditEntry(_Out):
    at: str
    actor: str
    action: str
    object_type: str
    object_key: str
    detail: Any = None


# ---- catalog ---------------------------------------------------------------------------------

class ApplicationOut(_Out):
    code: str
    name: str
    description: str
    admins: list[str]
    members: list[str]


class EntityIdOut(_Out):
    code: str
    name: str
    type: str


class TagOut(_Out):
    entity: str
    code: str
    name: str
    type: str
    id: str = Field(description="code of the entity ID the tag is keyed by")
    description: str
    lookup: str | None = None
    source: SourceDef


class EntityOut(_Out):
    code: str
    name: str
    description: str
    ids: list[EntityIdOut]
    tags: list[TagOut]


class LookupOut(_Out):
    code: str
    name: str
    kind: str
    values: dict[str, str] | None = None
    table: str | None = None
    code_column: str | None = None
    name_column: str | None = None


class GrantOut(_Out):
    application: str
    entity: str
    tag: str
    state: str
    expires: dt.date | None = None
    reason: str
    requested_by: str | None = None
    requested_at: UtcDatetime | None = None
    decided_by: str | None = None
    decided_at: UtcDatetime | None = None


class GrantRequest(_In):
    application: str = Field(min_length=1, max_length=64)
    entity: str = Field(min_length=1, max_length=64)
    tag: str = Field(min_length=1, max_length=64)
    expires: dt.date | None = None
    reason: str = Field(default="", max_length=1000)


class GrantDecision(_In):
    reason: str = Field(default="", max_length=1000,
                        description="why: the grant's reason from now on (always for reject and revoke), and in "
                                    "the audit log")


class TargetGrantOut(_Out):
    application: str
    conn_id: str
    schemas: list[str] | None = Field(description="the schemas the application may write; null: every schema")
    granted_by: str
    granted_at: UtcDatetime | None = None


class AffectedOut(_Out):
    service: str
    reason: str = Field(description="why it would need attention (or no longer)")


class PlanItemOut(_Out):
    kind: str
    key: str
    action: str
    changes: list[str]
    # catalog drift (dry run only)
    affects: list[AffectedOut] = Field(default_factory=list, description="dry run: the published services this "
                                                                          "change would make need attention")
    clears: list[AffectedOut] = Field(default_factory=list, description="dry run: the published services it "
                                                                        "would no longer leave needing attention")


class PlanOut(_Out):
    dry_run: bool
    changed: bool
    summary: dict[str, int]
    items: list[PlanItemOut]


# ---- helpers ---------------------------------------------------------------------------------

class KindOut(_Out):
    kind: str = Field(description="a target kind (spec §2); 'warehouse' is the warehouse itself")
    family: str = Field(description="its database family (one name for the family's flavours)")
    title: str = Field(description="the kind as messages name it")
    has_schemas: bool
    supports_partitions: bool
    default_schema: str | None = Field(
        default=None, description="where a table lands when the service names no schema; null: no schemas, or "
                                  "the schema named after the connection's login")


class ConnectionOut(_Out):
    conn_id: str
    conn_type: str
    kind: str = Field(description="target kind (spec §2); 'warehouse' for the warehouse connection")
    host: str | None = None
    port: int | None = None
    database: str | None = Field(default=None, description="the connection's schema/database field")
    description: str | None = None
    has_schemas: bool
    granted_schemas: list[str] | None = Field(
        default=None, description="for callers limited by target grants: the schemas granted here (null: every "
                                  "schema); always null for Airflow admins listing every connection")


class ColumnOut(_Out):
    name: str
    type: str
    nullable: bool | None = None
    primary_key: bool = False


class NameList(_Out):
    conn_id: str
    schema_: str | None = Field(default=None, alias="schema")
    items: list[str]


class ColumnList(_Out):
    conn_id: str
    schema_: str | None = Field(default=None, alias="schema")
    table: str
    items: list[ColumnOut]


class MappingSuggestRequest(_In):
    application: str = Field(min_length=1, max_length=64)
    entity: str = Field(min_length=1, max_length=64)
    entity_id: str = Field(min_length=1, max_length=64)
    columns: list[str] | None = Field(default=None, max_length=5000,
                                      description="the target table's columns; or give conn_id and table")
    conn_id: str | None = Field(default=None, min_length=1)
    schema_: str | None = Field(default=None, alias="schema")
    table: str | None = Field(default=None, min_length=1)


class MappingSuggestion(_Out):
    mappings: list[MappingDef]
    unmatched_columns: list[str] = Field(description="target columns no tag maps to, besides the entity ID column "
                                                     "(a partition field is among them)")
    key_column: str | None = Field(default=None, description="the column named like the entity ID: it holds the key")
    available_tags: list[str] = Field(description="tags keyed by the entity ID and granted to the application")


class DdlPreview(_Out):
    conn_id: str
    kind: str
    schema_: str | None = Field(default=None, alias="schema")
    table: str
    table_exists: bool | None = None
    statements: list[str]


class DdlDraftRequest(_In):
    service: ServiceDef


class DdlExecuteRequest(_In):
    statements: list[str] | None = Field(default=None, max_length=50,
                                         description="the (possibly edited) statements; default: the generated "
                                                     "ones")


class DdlDraftExecuteRequest(DdlExecuteRequest):
    service: ServiceDef


class DdlResult(_Out):
    conn_id: str
    schema_: str | None = Field(default=None, alias="schema")
    table: str
    executed: list[str]
    columns: list[ColumnOut]
    mappings: list[MappingDef] = Field(description="same-name mapping of the new table's columns")


# ---- preview of a run ---------------------------------------------------------------------------

class PreviewRequestBody(_In):
    """A service definition as the form holds it, previewed without being saved."""

    service: ServiceDef
    data_date: dt.date | None = Field(default=None, description="the data date; default T-1")
    sample: int = Field(default=10, ge=0, le=1000, description="rows of the sample")
