"""Warehouses without a path of their own (Trino, Hive, Snowflake, ...): read through the
connection's Airflow DB-API hook with a dialect built from what the hook and driver declare.

The live end-to-end run of this path is SQLite's case of the warehouse suite
(``tests/conformance/warehouse.py``); no Trino or Hive server runs here, so their shapes are checked at
the SQL level below.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_tagoffline.connections import resolve_warehouse
from airflow_provider_tagoffline.dialects.generic.dialect import driver_paramstyle, generic_dialect
from airflow_provider_tagoffline.engine.extract import build_extract_query, source_check_sql
from airflow_provider_tagoffline.engine.warehouse import Warehouse
from airflow_provider_tagoffline.errors import RunFailed
from tests.run_data import make_spec

D = dt.date(2026, 11, 23)


def test_trino_like_engines_quote_with_double_quotes_and_bind_with_qmarks() -> None:
    trino = generic_dialect("trino", '"{}"', "qmark")
    q = build_extract_query(make_spec("sqlite", "t"), trino, D)
    assert ' FROM (SELECT * FROM "profile" s0 WHERE s0."user_id" IS NOT NULL AND s0."ds" = ?) s0 FULL JOIN ' in q.sql
    assert 'CASE CAST(s0."gender" AS VARCHAR) WHEN ? THEN ?' in q.sql
    check = source_check_sql(trino, make_spec("sqlite", "t").sources[0], D)
    assert check.sql.endswith('FROM "profile" s WHERE s."user_id" IS NOT NULL AND s."ds" = ? GROUP BY s."user_id") g')


def test_hive_like_engines_quote_with_backticks_and_call_text_string() -> None:
    hive = generic_dialect("hiveserver2", "`{}`", "pyformat")
    q = build_extract_query(make_spec("sqlite", "t"), hive, D, frozenset({0}))
    assert "FULL JOIN (SELECT * FROM `trade` s1 WHERE s1.`user_id` IS NOT NULL AND s1.`dt` = %s) s1" in q.sql
    assert "CASE CAST(s0.`gender` AS STRING) WHEN %s THEN %s" in q.sql
    # no physical row order: ROW_NUMBER keeps one row per ID, whichever the engine gives first
    assert "ROW_NUMBER() OVER (PARTITION BY d.`user_id`) AS tagoffline_rn" in q.sql
    assert hive.qualify_dotted("dws.user_profile") == "`dws`.`user_profile`"


def test_the_parameter_style_comes_from_the_driver_module() -> None:
    conn = sqlite3.connect(":memory:")
    assert driver_paramstyle(conn) == "qmark"
    conn.close()

    class Opaque:  # defined in this test module, which declares no DB-API paramstyle
        pass

    assert driver_paramstyle(Opaque()) is None


def test_a_connection_type_without_a_hook_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TRINO", json.dumps({"conn_type": "trino", "host": "trino.example"}))
    with pytest.raises(RunFailed, match=r"warehouse connection 'tot_trino' \(trino\) has no Airflow hook here "
                                        r"\(is its provider installed\?\)"):
        Warehouse(resolve_warehouse("tot_trino"))


def test_a_hook_that_does_not_speak_sql_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TOT_FILES", json.dumps({"conn_type": "fs", "extra": {"path": "/tmp"}}))
    with pytest.raises(RunFailed, match=r"^warehouse connection 'tot_files' \(fs\): FSHook is not a DB-API "
                                        r"\(SQL\) hook$"):
        Warehouse(resolve_warehouse("tot_files"))


def test_a_driver_with_named_parameters_is_refused_before_any_query(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # python-oracledb binds :name; the extract binds positionally.
    # A real SQLite connection stands in for such a driver, only its declared style is changed.
    import airflow_provider_tagoffline.dialects.generic.warehouse as warehouse_module

    monkeypatch.setenv("AIRFLOW_CONN_TOT_NAMED", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "w.db")}))
    monkeypatch.setattr(warehouse_module, "driver_paramstyle", lambda conn: "named")
    with pytest.raises(RunFailed, match=r"^warehouse connection 'tot_named': its driver's parameter style 'named' "
                                        r"is not supported; supported: qmark, format, pyformat$"):
        Warehouse(resolve_warehouse("tot_named"))
