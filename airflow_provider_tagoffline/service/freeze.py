"""Freeze a validated service and the catalog it uses into a RunSpec (a pure function)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_tagoffline.catalog.models import Lookup, Tag
from airflow_provider_tagoffline.runspec import (
    EntityKeySpec,
    GatesSpec,
    LookupSpec,
    NotifySpec,
    OutputSpec,
    PartitionSpec,
    RunSpec,
    ScheduleSpec,
    ServiceInfo,
    SourceSpec,
    TagSpec,
    TargetSpec,
)

if TYPE_CHECKING:  # a type only: validation asks attention, which asks freeze (no import circle)
    from airflow_provider_tagoffline.service.validation import ValidatedService


def freeze(v: ValidatedService, *, slug: str, version: int, warehouse_conn_id: str) -> RunSpec:
    """Everything a run needs, with no reference back to the catalog and no secrets."""
    d = v.definition
    tags_by_code = {t.code: t for t in v.tags}
    sources: list[SourceSpec] = []
    tag_specs: list[TagSpec] = []
    lookups: dict[str, LookupSpec] = {}
    outputs: list[OutputSpec] = []
    for m in d.mappings:
        tag = tags_by_code[m.tag]
        source = _source_of(tag)
        if source not in sources:
            sources.append(source)
        tag_specs.append(TagSpec(code=tag.code, name=tag.name, type=tag.value_type,
                                 source=sources.index(source), column=tag.source_column,
                                 lookup=tag.lookup.code if tag.lookup else None))
        if tag.lookup is not None and m.codename:
            lookups[tag.lookup.code] = _lookup_spec(tag.lookup)
        if m.value:
            outputs.append(OutputSpec(column=m.value, tag=tag.code, content="value", type=tag.value_type))
        if m.codename:
            outputs.append(OutputSpec(column=m.codename, tag=tag.code, content="codename", type="string"))
    t = d.target
    partition = None
    if t.partition is not None:
        field = t.partition.field[0] if isinstance(t.partition.field, list) else t.partition.field
        assert field
        partition = PartitionSpec(column=field, format=t.partition.format)
    return RunSpec(
        service=ServiceInfo(name=d.name, slug=slug, application=d.application, owner=d.owner,
                            description=d.description, version=version),
        entity_key=EntityKeySpec(entity=v.entity.code, code=v.entity_id.code, name=v.entity_id.name,
                                 type=v.entity_id.value_type),
        warehouse_conn_id=warehouse_conn_id,
        sources=sources,
        tags=tag_specs,
        lookups=lookups,
        outputs=outputs,
        target=TargetSpec(conn_id=t.conn_id, kind=v.target_kind, schema_=t.schema_, table=t.table,
                          key_column=t.key_column or d.entity_id, partition=partition,
                          load=t.load, wait_for_lock=v.wait_for_lock),
        gates=GatesSpec(**d.gates.model_dump()),
        schedule=ScheduleSpec(type=d.schedule.type, daily_at=d.schedule.daily_at, timezone=v.timezone,
                              wait_for_data=v.wait_for_data),
        pool=d.pool,
        queue=d.queue,
        notify=_notify_spec(v),
    )


def _notify_spec(v: ValidatedService) -> NotifySpec | None:
    n = v.definition.notify
    if n is None:
        return None
    return NotifySpec(conn_id=n.conn_id, to=list(n.to), events=list(n.events))


def _source_of(tag: Tag) -> SourceSpec:
    partition = None
    if tag.source_partition:
        partition = PartitionSpec(column=tag.source_partition,
                                  format=tag.source_partition_format or "yyyyMMdd")
    return SourceSpec(table=tag.source_table, key=tag.source_key, partition=partition)


def _lookup_spec(lookup: Lookup) -> LookupSpec:
    if lookup.kind == "inline":
        return LookupSpec(code=lookup.code, kind="inline", values={v.code: v.name for v in lookup.values})
    return LookupSpec(code=lookup.code, kind="table", table=lookup.source_table,
                      code_column=lookup.code_column, name_column=lookup.name_column)
