"""OpenLineage facets of one export run, from its frozen run spec and its report (pure).

The operator hands them to Airflow's OpenLineage provider (``get_openlineage_facets_on_*``), whose
listener sends the START / COMPLETE / FAIL events through the configured transport. What a run
reads and writes is known from the spec alone, so nothing here parses SQL:

* inputs: each source table of the warehouse, and each table lookup whose code names are written
  (an inline lookup is a literal of the spec, no dataset); with its partition for the data date
  (``subset``) and, once run, its row count for that date (``inputStatistics``);
* the output: the target table with its columns (``schema``), the partition written (``subset``),
  the rows written (``outputStatistics``, COMPLETE only) and **column lineage**: the key column ←
  every source's ID column, a value column ← its tag's column, a code-name column ← the lookup
  table's name column (and the codes it was matched on), or ← the tag's column through an inline
  lookup; the sources' partition columns filter the whole dataset.

Dataset names follow OpenLineage's naming spec as each family's dialect says
(``Dialect.lineage_namespace`` / ``lineage_name``: ``postgres://host:5432`` + ``db.schema.table``,
``mysql://host:3306`` + ``db.table``, ...).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from airflow_provider_tagoffline.engine.extract import format_date
from airflow_provider_tagoffline.runspec import PartitionSpec, RunSpec


@dataclass(frozen=True)
class Naming:
    """How one connection names its tables in OpenLineage: the family's dialect and the connection."""

    dialect: Any
    connection: Any

    @property
    def namespace(self) -> str:
        return str(self.dialect.lineage_namespace(self.connection))

    def name(self, table: str, schema: str | None = None) -> str:
        return str(self.dialect.lineage_name(self.connection, table, schema))


def lineage_of(spec: RunSpec, day: dt.date | None, report: dict[str, Any] | None, *,
               warehouse: Naming, target: Naming) -> Any:
    """The ``OperatorLineage`` of a run of ``spec`` for data date ``day``: inputs, output, column
    lineage, and, with the run's ``report`` (its ``to_dict()``), the row counts."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=_inputs(spec, day, report, warehouse), outputs=[_output(spec, day, report, warehouse,
                                                                                         target)])


# ---- inputs -------------------------------------------------------------------------------------------
def _inputs(spec: RunSpec, day: dt.date | None, report: dict[str, Any] | None, warehouse: Naming) -> list[Any]:
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.facet_v2 import input_statistics_input_dataset as stats
    from openlineage.client.facet_v2 import schema_dataset

    rows = _source_rows(report)
    inputs = []
    for i, source in enumerate(spec.sources):
        columns = [source.key] + [t.column for t in spec.tags if t.source == i]
        if source.partition is not None:
            columns.append(source.partition.column)
        facets: dict[str, Any] = {"schema": schema_dataset.SchemaDatasetFacet(
            fields=[schema_dataset.SchemaDatasetFacetFields(name=c) for c in dict.fromkeys(columns)])}
        input_facets: dict[str, Any] = {}
        if source.partition is not None and day is not None:
            input_facets["subset"] = _partition_subset(source.partition, day, output=False)
        if source.table in rows:
            input_facets["inputStatistics"] = stats.InputStatisticsInputDatasetFacet(rowCount=rows[source.table])
        inputs.append(InputDataset(namespace=warehouse.namespace, name=warehouse.name(source.table),
                                   facets=facets, inputFacets=input_facets))
    for lookup in _table_lookups(spec):
        assert lookup.table and lookup.code_column and lookup.name_column
        inputs.append(InputDataset(namespace=warehouse.namespace, name=warehouse.name(lookup.table), facets={
            "schema": schema_dataset.SchemaDatasetFacet(fields=[
                schema_dataset.SchemaDatasetFacetFields(name=lookup.code_column),
                schema_dataset.SchemaDatasetFacetFields(name=lookup.name_column)])}))
    return inputs


def _source_rows(report: dict[str, Any] | None) -> dict[str, int]:
    """Rows each source held for the data date, as the run counted them."""
    out: dict[str, int] = {}
    for s in (report or {}).get("sources") or []:
        if isinstance(s, dict) and isinstance(s.get("rows"), int):
            out[str(s.get("table"))] = s["rows"]
    return out


def _table_lookups(spec: RunSpec) -> list[Any]:
    """The table lookups the run reads (the frozen spec holds only those whose code names are written)."""
    seen: dict[str, Any] = {}
    for lookup in spec.lookups.values():
        if lookup.kind == "table" and lookup.table and lookup.table not in seen:
            seen[lookup.table] = lookup
    return list(seen.values())


# ---- the output ---------------------------------------------------------------------------------------
def _output(spec: RunSpec, day: dt.date | None, report: dict[str, Any] | None, warehouse: Naming,
            target: Naming) -> Any:
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import output_statistics_output_dataset as stats
    from openlineage.client.facet_v2 import schema_dataset

    t = spec.target
    fields = [schema_dataset.SchemaDatasetFacetFields(name=t.key_column, type=spec.entity_key.type,
                                                      description=f"entity ID {spec.entity_key.code}")]
    fields += [schema_dataset.SchemaDatasetFacetFields(
        name=o.column, type=o.type, description=f"{'code name' if o.content == 'codename' else 'value'} of tag "
                                                f"{o.tag} ({spec.tag(o.tag).name})") for o in spec.outputs]
    if t.partition is not None:
        fields.append(schema_dataset.SchemaDatasetFacetFields(name=t.partition.column, type="string",
                                                              description=f"data date ({t.partition.format})"))
    facets: dict[str, Any] = {"schema": schema_dataset.SchemaDatasetFacet(fields=fields),
                              "columnLineage": column_lineage(spec, warehouse)}
    output_facets: dict[str, Any] = {}
    if t.partition is not None and day is not None:
        output_facets["subset"] = _partition_subset(t.partition, day, output=True)
    if report is not None and report.get("status") == "success":
        output_facets["outputStatistics"] = stats.OutputStatisticsOutputDatasetFacet(
            rowCount=int(report.get("rows_written") or 0), size=report.get("bytes_written"))
    return OutputDataset(namespace=target.namespace, name=target.name(t.table, t.schema_), facets=facets,
                         outputFacets=output_facets)


def column_lineage(spec: RunSpec, warehouse: Naming) -> Any:
    """Where each target column comes from (``ColumnLineageDatasetFacet``)."""
    from openlineage.client.facet_v2 import column_lineage_dataset as cl

    ns = warehouse.namespace

    def field(table: str, column: str, kind: str, subtype: str, description: str) -> Any:
        return cl.InputField(namespace=ns, name=warehouse.name(table), field=column,
                             transformations=[cl.Transformation(type=kind, subtype=subtype,
                                                                description=description, masking=False)])

    fields: dict[str, Any] = {spec.target.key_column: cl.Fields(
        inputFields=[field(s.table, s.key, "DIRECT", "IDENTITY", f"entity ID {spec.entity_key.code}")
                     for s in spec.sources],
        transformationDescription=f"entity ID {spec.entity_key.code}: the IDs of every source", transformationType=
        "IDENTITY")}
    for o in spec.outputs:
        tag = spec.tag(o.tag)
        source = spec.sources[tag.source]
        if o.content == "value":
            fields[o.column] = cl.Fields(
                inputFields=[field(source.table, tag.column, "DIRECT", "IDENTITY", f"tag {tag.code}")],
                transformationDescription=f"value of tag {tag.code}", transformationType="IDENTITY")
            continue
        lookup = spec.lookups[tag.lookup] if tag.lookup else None
        if lookup is not None and lookup.kind == "table":
            assert lookup.table and lookup.name_column and lookup.code_column
            inputs = [field(lookup.table, lookup.name_column, "DIRECT", "IDENTITY",
                            f"code name from lookup {lookup.code}"),
                      field(source.table, tag.column, "INDIRECT", "JOIN",
                            f"tag {tag.code}'s code matched to {lookup.code_column}"),
                      field(lookup.table, lookup.code_column, "INDIRECT", "JOIN", f"code of lookup {lookup.code}")]
            how = f"code name of tag {tag.code}: {lookup.name_column} of lookup table {lookup.table} by code"
        else:
            code = lookup.code if lookup is not None else tag.lookup
            inputs = [field(source.table, tag.column, "DIRECT", "TRANSFORMATION",
                            f"code of tag {tag.code} mapped by inline lookup {code}")]
            how = f"code name of tag {tag.code}: inline lookup {code}"
        # transformationType is IDENTITY or MASKED only (deprecated for the transformations above)
        fields[o.column] = cl.Fields(inputFields=inputs, transformationDescription=how)
    filters = [field(s.table, s.partition.column, "INDIRECT", "FILTER", "the data date's partition")
               for s in spec.sources if s.partition is not None]
    return cl.ColumnLineageDatasetFacet(fields=fields, dataset=filters)


def _partition_subset(partition: PartitionSpec, day: dt.date, *, output: bool) -> Any:
    from openlineage.client.facet_v2 import base_subset_dataset as subset

    value = format_date(day, partition.format)
    condition = subset.PartitionSubsetCondition(partitions=[subset.Partition(
        dimensions={partition.column: value}, identifier=f"{partition.column}={value}")])
    if output:
        return subset.OutputSubsetOutputDatasetFacet(outputCondition=condition)
    return subset.InputSubsetInputDatasetFacet(inputCondition=condition)
