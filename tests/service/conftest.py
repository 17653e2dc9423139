"""A migrated SQLite catalog store holding service_data.CATALOG, with its connections set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_data import ADMIN, CATALOG, CONNECTIONS
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog import store
from airflow_provider_tagoffline.catalog.apply import apply_catalog
from airflow_provider_tagoffline.catalog.repository import Actor, decide_grant, request_grant
from airflow_provider_tagoffline.yaml_io import parse_catalog


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    monkeypatch.setenv("AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN", url)
    monkeypatch.setenv("AIRFLOW__TAG_OFFLINE__WAREHOUSE_CONN_ID", "tag_warehouse")
    monkeypatch.setenv("AIRFLOW_CONN_TAG_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": "/tmp/wh.duckdb"}))
    for conn_id, conn in CONNECTIONS.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    store.migrate(url)
    with store.session_scope(url) as s:
        apply_catalog(s, ADMIN, parse_catalog(CATALOG))
        # "secret": requested by crm and rejected by an admin
        request_grant(s, Actor("bob", False), "crm", "user", "secret")
        decide_grant(s, ADMIN, "crm", "user", "secret", "reject")
        s.commit()
        yield s
