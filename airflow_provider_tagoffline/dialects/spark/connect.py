"""Opening Spark SQL / Hive: Airflow's ``HiveServer2Hook`` (apache-airflow-providers-apache-hive).

Its DB-API connection is PyHive's, over the Thrift protocol of HiveServer2: authentication
(``extra.auth_mechanism``: NONE, LDAP, CUSTOM, KERBEROS) and the database (the connection's schema)
come from the Airflow connection; secrets never leave it.
"""

from __future__ import annotations

from typing import Any


def open_connection(conn_id: str, conn: Any, kind: str, read_only: bool) -> Any:
    from airflow.providers.apache.hive.hooks.hive import HiveServer2Hook

    # HiveServer2 sessions only read what the extract asks; there is no read-only mode to set.
    return HiveServer2Hook(hiveserver2_conn_id=conn_id).get_conn()
