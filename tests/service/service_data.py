"""Test data of the service tests: a catalog exercising every rule, target connections of each
kind (passwords included, to prove none leaks), and a valid service to vary."""

from __future__ import annotations

from typing import Any

from airflow_provider_tagoffline.catalog.repository import Actor
from tests.catalog_data import gender_tag, user_catalog

CATALOG: dict[str, Any] = user_catalog(
    applications=[{"code": "crm", "name": "CRM", "admins": ["alice"], "members": ["bob"]},
                  {"code": "risk", "name": "Risk", "admins": ["rita"]}],
    tags=[
        gender_tag("dws_profile"),
        {"code": "gmv_30d", "name": "GMV", "type": "decimal(18,2)", "id": "user_id",
         "source": {"table": "dws_trade", "key": "user_id", "column": "gmv_30d", "partition": "dt",
                    "format": "yyyy-MM-dd"}},
        {"code": "old_tag", "name": "Old", "type": "bigint", "id": "user_id",
         "source": {"table": "dws_profile", "key": "user_id", "column": "old"}},
        {"code": "secret", "name": "Secret", "type": "string", "id": "user_id",
         "source": {"table": "dws_profile", "key": "user_id", "column": "secret"}},
        {"code": "city", "name": "City", "type": "string", "id": "mobile",
         "source": {"table": "dws_mobile", "key": "mobile", "column": "city"}},
    ],
    grants=[{"application": "crm", "entity": "user", "tags": ["gender", "gmv_30d", "city"]},
            {"application": "crm", "entity": "user", "tags": ["old_tag"], "expires": "2020-01-01"}],
    # crm writes its own connections (crm_pg only in two schemas); risk is granted none
    target_grants=[{"application": "crm", "conn_id": "crm_pg", "schemas": ["crm", "public"]},
                   *({"application": "crm", "conn_id": c} for c in ("crm_mysql", "crm_ora", "crm_adb", "crm_lite"))],
)

CONNECTIONS = {
    "crm_pg": {"conn_type": "postgres", "host": "db", "login": "crm", "password": "pg-s3cret", "schema": "crm"},
    "crm_mysql": {"conn_type": "mysql", "host": "db", "login": "crm", "password": "my-s3cret", "schema": "crm"},
    "crm_ora": {"conn_type": "oracle", "host": "db", "login": "crm", "password": "ora-s3cret"},
    "crm_adb": {"conn_type": "postgres", "host": "db", "extra": {"flavor": "adb_pg"}},
    "crm_lite": {"conn_type": "sqlite", "host": "/tmp/crm.db"},
    # the database of crm_pg again (another login, the host in capitals), and the file of crm_lite
    "crm_pg_alias": {"conn_type": "postgres", "host": "DB", "port": 5432, "login": "rival", "schema": "crm"},
    "crm_pg_6432": {"conn_type": "postgres", "host": "db", "port": 6432, "login": "crm", "schema": "crm"},
    "crm_lite_alias": {"conn_type": "sqlite", "host": "/tmp/./crm.db"},
    "crm_http": {"conn_type": "http", "host": "example.com"},
}

ADMIN = Actor.system("admin")


def base_service(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "crm_user_tags", "application": "crm", "owner": "alice", "entity": "user", "entity_id": "user_id",
        "description": "Daily user tags", "schedule": {"type": "recurring", "daily_at": "02:30",
                                                       "timezone": "Asia/Shanghai"},
        "target": {"conn_id": "crm_pg", "schema": "crm", "table": "user_tags", "load": "overwrite"},
        "mappings": [{"tag": "gender", "value": "gender", "codename": "gender_name"},
                     {"tag": "gmv_30d", "value": "gmv_30d"}],
    }
    data.update(changes)
    return data
