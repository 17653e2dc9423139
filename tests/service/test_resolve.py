"""One resolver: which connection, family and dialect a service targets or reads
(``connections.resolve_target`` / ``resolve_warehouse``), as every surface asks it."""

from __future__ import annotations

import json

import pytest

from airflow_provider_tagoffline import connections
from airflow_provider_tagoffline.dialects import GENERIC, family_of_kind, kind_for_connection
from airflow_provider_tagoffline.errors import ValidationFailed


def test_a_target_is_its_connection_as_its_flavour(session: object) -> None:
    where = connections.resolve_target("crm_adb")
    assert (where.conn_id, where.kind, where.family.name, where.dialect.kind) == ("crm_adb", "adb_pg", "postgres",
                                                                                   "adb_pg")
    assert where.dialect.supports_partitions is False and not where.in_warehouse
    assert connections.resolve_target("crm_mysql").dialect.names_ignore_case is True


def test_the_warehouse_as_a_target_is_kind_warehouse_with_its_own_dialect(session: object) -> None:
    where = connections.resolve_target("tag_warehouse")
    assert (where.conn_id, where.kind, where.family.name, where.dialect.kind) == ("tag_warehouse", "warehouse",
                                                                                   "duckdb", "duckdb")
    assert where.in_warehouse
    assert connections.dialect_of_kind("warehouse").default_schema(None) == "main"
    assert connections.resolve_warehouse().family.name == "duckdb"


def test_connections_no_family_writes_are_refused_naming_the_field(session: object,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationFailed) as err:
        connections.resolve_target("crm_http")
    assert err.value.errors[0].field == "target.conn_id"
    assert err.value.errors[0].message == ("connection 'crm_http': connection type 'http' is not a supported "
                                           "target; supported: duckdb, mysql, oracle, postgres, postgresql, sqlite")
    # a warehouse no family claims is read the generic way, and is no target
    monkeypatch.setenv("AIRFLOW_CONN_TRINO_WH", json.dumps({"conn_type": "trino", "host": "trino.example"}))
    assert connections.resolve_warehouse("trino_wh").family is GENERIC
    with pytest.raises(ValidationFailed, match="the warehouse 'trino_wh' \\(trino\\) cannot be a target"):
        connections.resolve_target("trino_wh", warehouse_conn_id="trino_wh")


def test_flavours_and_their_aliases() -> None:
    assert kind_for_connection("mysql", {"flavor": "MariaDB"}) == "mysql"
    assert kind_for_connection("postgresql", {"flavor": "opengauss"}) == "opengauss"
    assert family_of_kind("greenplum").name == "postgres"
    with pytest.raises(ValueError, match="extra.flavor 'greenplum' does not fit a mysql connection; expected one "
                                         "of mysql, mariadb"):
        kind_for_connection("mysql", {"flavor": "greenplum"})
    with pytest.raises(ValueError, match="unsupported target kind 'db2'"):
        family_of_kind("db2")
