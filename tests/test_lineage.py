"""OpenLineage of an export run: the facets built from the run spec and report (``lineage.py``), and
the event Airflow's OpenLineage provider sends for a real run (``airflow dags test``, file transport)
— the same run mailing its success to a local SMTP sink (``notify.events: [success]``)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.dialects import get_dialect
from airflow_provider_tagoffline.lineage import Naming, lineage_of
from airflow_provider_tagoffline.rendering.factory import dag_id_for
from airflow_provider_tagoffline.rendering.render import write_dag_file
from airflow_provider_tagoffline.runspec import RunSpec
from tests.mail_sink import Sink
from tests.run_data import EXPECTED_D, LiveTarget, _postgres_target, make_spec

# run_data's specs read the session's DuckDB warehouse (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("warehouse_env")

D = dt.date(2026, 11, 23)
PARTITION = {"column": "ds", "format": "yyyyMMdd"}


def conn(**kw: Any) -> SimpleNamespace:
    return SimpleNamespace(**{"host": None, "port": None, "schema": None, "login": None, "conn_id": "c",
                              "extra_dejson": {}, **kw})


def as_json(obj: Any) -> Any:
    from openlineage.client.serde import Serde

    return json.loads(Serde.to_json(obj))


WAREHOUSE = Naming(get_dialect("duckdb"), conn(host="/data/dw/warehouse.duckdb"))


# ---- names per database (OpenLineage's naming spec where it has one) -------------------------------------
@pytest.mark.parametrize(("kind", "connection", "schema", "table", "namespace", "name"), [
    ("postgres", conn(host="pg.example", schema="crm", login="u"), "app", "user_tags",
     "postgres://pg.example:5432", "crm.app.user_tags"),
    ("postgres", conn(host="pg.example", port=6432, schema="crm"), None, "user_tags",
     "postgres://pg.example:6432", "crm.public.user_tags"),
    ("greenplum", conn(host="gp", schema="dw"), None, "t", "postgres://gp:5432", "dw.public.t"),
    ("mysql", conn(host="my.example", schema="crm"), None, "user_tags", "mysql://my.example:3306", "crm.user_tags"),
    ("oracle", conn(host="ora", login="app", extra_dejson={"service_name": "ORCL"}), None, "T",
     "oracle://ora:1521", "orcl.APP.T"),
    ("sqlite", conn(host="/srv/app.db"), None, "user_tags", "sqlite:///srv/app.db", "user_tags"),
    ("duckdb", conn(host="/srv/app.duckdb"), None, "user_tags", "duckdb:///srv/app.duckdb", "app.main.user_tags"),
])
def test_dataset_names_per_database(kind: str, connection: Any, schema: str | None, table: str, namespace: str,
                                    name: str) -> None:
    naming = Naming(get_dialect(kind), connection)
    assert (naming.namespace, naming.name(table, schema)) == (namespace, name)


def test_a_dotted_warehouse_table_keeps_its_schema() -> None:
    pg = Naming(get_dialect("postgres"), conn(host="dw", schema="dwh"))
    assert pg.name("dws.user_profile") == "dwh.dws.user_profile"
    assert pg.name("other_db.dws.user_profile") == "other_db.dws.user_profile"
    assert WAREHOUSE.name("dws.user_profile") == "warehouse.dws.user_profile"
    assert Naming(get_dialect("mysql"), conn(host="m", schema="crm")).name("dim.levels") == "dim.levels"


# ---- the facets ----------------------------------------------------------------------------------------
def facets(report: dict[str, Any] | None, partition: dict | None = PARTITION) -> Any:
    spec = make_spec("postgres", "tot_target", schema="app", partition=partition)
    target = Naming(get_dialect("postgres"), conn(host="pg.example", schema="crm"))
    return lineage_of(spec, D, report, warehouse=WAREHOUSE, target=target)


def test_inputs_are_the_sources_and_the_table_lookup_with_their_partitions_and_rows() -> None:
    report = {"status": "success", "rows_written": 7, "bytes_written": None,
              "sources": [{"table": "profile", "rows": 8}, {"table": "trade", "rows": 6}]}
    ol = as_json(facets(report))
    inputs = {i["name"]: i for i in ol["inputs"]}
    assert list(inputs) == ["warehouse.main.profile", "warehouse.main.trade", "warehouse.main.dim_level"]
    assert {i["namespace"] for i in ol["inputs"]} == {"duckdb:///data/dw/warehouse.duckdb"}
    profile, trade, dim = inputs.values()
    assert profile["inputFacets"]["inputStatistics"]["rowCount"] == 8
    assert trade["inputFacets"]["inputStatistics"]["rowCount"] == 6
    assert profile["inputFacets"]["subset"]["inputCondition"]["partitions"] == [
        {"dimensions": {"ds": "20261123"}, "identifier": "ds=20261123"}]
    assert trade["inputFacets"]["subset"]["inputCondition"]["partitions"][0]["dimensions"] == {"dt": "2026-11-23"}
    assert [f["name"] for f in profile["facets"]["schema"]["fields"]] == ["user_id", "gender", "level", "nick", "ds"]
    assert [f["name"] for f in dim["facets"]["schema"]["fields"]] == ["level_code", "level_name"]
    assert "inputFacets" not in dim or not dim["inputFacets"]  # a lookup has no partition, no count


def test_the_output_has_its_partition_row_count_and_schema() -> None:
    ol = as_json(facets({"status": "success", "rows_written": 7, "bytes_written": 1234, "sources": []}))
    (out,) = ol["outputs"]
    assert (out["namespace"], out["name"]) == ("postgres://pg.example:5432", "crm.app.user_tags")
    assert out["outputFacets"]["outputStatistics"] == {**out["outputFacets"]["outputStatistics"], "rowCount": 7,
                                                       "size": 1234}
    assert out["outputFacets"]["subset"]["outputCondition"]["partitions"][0]["dimensions"] == {"ds": "20261123"}
    schema = [(f["name"], f["type"]) for f in out["facets"]["schema"]["fields"]]
    assert schema[0] == ("user_id", "bigint") and schema[-1] == ("ds", "string")
    assert ("gmv", "decimal(18,2)") in schema and ("gender_name", "string") in schema


def test_no_row_count_before_the_run_nor_for_a_failed_one() -> None:
    assert "outputStatistics" not in as_json(facets(None))["outputs"][0].get("outputFacets", {})
    failed = {"status": "failed", "rows_written": 0, "gates_failed": ["min_rows"], "sources": []}
    assert "outputStatistics" not in as_json(facets(failed))["outputs"][0].get("outputFacets", {})
    whole = as_json(facets(None, partition=None))["outputs"][0]
    assert "subset" not in whole.get("outputFacets", {})


def test_column_lineage_of_key_values_and_code_names() -> None:
    cl = as_json(facets(None))["outputs"][0]["facets"]["columnLineage"]

    def sources(column: str) -> list[tuple[str, str, str, str]]:
        return [(f["name"].rsplit(".", 1)[1], f["field"], f["transformations"][0]["type"],
                 f["transformations"][0]["subtype"]) for f in cl["fields"][column]["inputFields"]]

    # the key: every source's ID column
    assert sources("user_id") == [("profile", "user_id", "DIRECT", "IDENTITY"),
                                  ("trade", "user_id", "DIRECT", "IDENTITY")]
    # a value: its tag's column
    assert sources("gmv") == [("trade", "gmv", "DIRECT", "IDENTITY")]
    assert sources("nick") == [("profile", "nick", "DIRECT", "IDENTITY")]
    # a code name from a table lookup: the lookup's name column, joined on the tag's code
    assert sources("level_name") == [("dim_level", "level_name", "DIRECT", "IDENTITY"),
                                     ("profile", "level", "INDIRECT", "JOIN"),
                                     ("dim_level", "level_code", "INDIRECT", "JOIN")]
    # a code name from an inline lookup: the tag's code, transformed
    assert sources("gender_name") == [("profile", "gender", "DIRECT", "TRANSFORMATION")]
    # every target column but the partition has its lineage; the sources' partitions filter the dataset
    assert set(cl["fields"]) == {"user_id", "gender", "gender_name", "level", "level_name", "nick", "gmv",
                                 "last_login", "vip", "birthday", "score"}
    assert [(f["name"], f["field"], f["transformations"][0]["subtype"]) for f in cl["dataset"]] == [
        ("warehouse.main.profile", "ds", "FILTER"), ("warehouse.main.trade", "dt", "FILTER")]


# ---- a real run: the event Airflow's OpenLineage listener sends ------------------------------------------
@pytest.mark.airflow
def test_a_run_in_airflow_emits_lineage_with_columns_and_row_count(
        airflow_db: None, pg_target_db: str, duckdb_warehouse: str, smtp_sink: tuple[Sink, int], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    target: LiveTarget = _postgres_target(pg_target_db)
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TARGET", target.conn_json)
    sink, port = smtp_sink
    monkeypatch.setenv("AIRFLOW_CONN_TOT_SMTP", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"from_email": "airflow@example.com", "disable_ssl": True, "disable_tls": True}}))
    spec = RunSpec.model_validate({**make_spec("postgres", "tot_target", partition=PARTITION).to_dict(),
                                   "notify": {"conn_id": "tot_smtp", "to": ["ops@example.com"],
                                              "events": ["success"]}})
    db = target.connect()
    with db.cursor() as cur:
        for sql in create_table_sql(spec, "postgres"):
            cur.execute(sql)
    db.commit()
    db.close()
    write_dag_file(spec, tmp_path / "dags")
    events = tmp_path / "openlineage.jsonl"
    env = {"AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"),
           "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events),
                                                          "append": True}),
           "AIRFLOW__OPENLINEAGE__NAMESPACE": "tagoffline_test"}
    proc = subprocess.run([str(Path(sys.executable).parent / "airflow"), "dags", "test",
                           dag_id_for(spec.service.slug), "2026-11-24T00:00:00+00:00"],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sent = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    task = [e for e in sent if e["job"]["name"].endswith(".export")]
    assert [e["eventType"] for e in task] == ["START", "COMPLETE"], [e["eventType"] for e in sent]
    complete = task[-1]
    host, port = json.loads(target.conn_json)["host"], json.loads(target.conn_json)["port"]
    (out,) = complete["outputs"]
    assert (out["namespace"], out["name"]) == (f"postgres://{host}:{port}", f"{pg_target_db}.public.user_tags")
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == len(EXPECTED_D)
    assert out["outputFacets"]["subset"]["outputCondition"]["partitions"][0]["dimensions"] == {"ds": "20261123"}
    warehouse_ns = f"duckdb://{os.path.realpath(duckdb_warehouse)}"
    assert [(i["namespace"], i["name"]) for i in complete["inputs"]] == [
        (warehouse_ns, "warehouse.main.profile"), (warehouse_ns, "warehouse.main.trade"),
        (warehouse_ns, "warehouse.main.dim_level")]
    rows = {i["name"]: i["inputFacets"].get("inputStatistics", {}).get("rowCount") for i in complete["inputs"]}
    assert rows["warehouse.main.profile"] > 0 and rows["warehouse.main.trade"] > 0
    lineage = out["facets"]["columnLineage"]["fields"]
    assert [(f["name"], f["field"]) for f in lineage["level_name"]["inputFields"]][0] == (
        "warehouse.main.dim_level", "level_name")
    assert [(f["name"], f["field"]) for f in lineage["user_id"]["inputFields"]] == [
        ("warehouse.main.profile", "user_id"), ("warehouse.main.trade", "user_id")]
    # the success, mailed with the report's first lines
    assert len(sink.messages) == 1
    mail = email.message_from_bytes(sink.messages[0][2], policy=email.policy.default)
    assert mail["Subject"] == "[tag offline] 用户标签 test: succeeded for data date 2026-11-23"
    body = next(p for p in mail.walk() if p.get_content_type() == "text/html").get_content()
    assert "SUCCESS: 用户标签 test data date 2026-11-23 -&gt; tot_target:user_tags" in body
    assert f"written {len(EXPECTED_D)}" in body
    if os.environ.get("TAGOFFLINE_LINEAGE_EVENT"):  # docs/lineage.md shows this event, trimmed
        Path(os.environ["TAGOFFLINE_LINEAGE_EVENT"]).write_text(json.dumps(complete, indent=2, ensure_ascii=False))
