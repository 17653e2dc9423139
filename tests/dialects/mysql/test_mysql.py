"""MariaDB/MySQL: the conformance suites of a target and of a warehouse (tests/conformance/), and its
own case: string codes of another collation join on their text."""

from __future__ import annotations

import pytest

from airflow_provider_tagoffline.connections import resolve_connection, resolve_warehouse
from airflow_provider_tagoffline.engine.extract import LookupJoin, build_extract_query
from airflow_provider_tagoffline.engine.warehouse import Warehouse
from tests.conformance.target import TargetSuite
from tests.conformance.warehouse import WarehouseSuite, add_test_rows, rows_of, three_sources
from tests.run_data import D


class TestMysqlTarget(TargetSuite):
    family = "mysql"
    comment_sql = ("SELECT table_comment FROM information_schema.tables WHERE table_schema = DATABASE() "
                   "AND table_name = 'user_tags'")
    set_comment_sql = "ALTER TABLE user_tags COMMENT = '{}'"
    comment_backslash_escapes = True
    rename_swap = True
    ddl_attacks = (
        "CREATE TABLE t_new (a int COMMENT 'x\\\\'); DROP TABLE victim; -- ')",
        "CREATE TABLE t_new (a int) /*!50000 ; DROP TABLE victim */",
        "CREATE TABLE t_new (a text DEFAULT (LOAD_FILE('/etc/hostname')))",
        "CREATE TABLE t_new (a int) ENGINE=CONNECT table_type=CSV file_name='{out}/x.py'",
        "SELECT 'import os' INTO OUTFILE '{out}/x.py'",
    )


class TestMysqlWarehouse(WarehouseSuite):
    family = "mysql"
    row_order = False


@pytest.mark.parametrize("warehouse_conn", ["mysql"], indirect=True)
def test_mysql_string_codes_of_another_collation_join_on_their_text(warehouse_conn: str) -> None:
    # Compared as they are, two columns of different collations fail ("Illegal mix of collations").
    add_test_rows(warehouse_conn)
    where = resolve_connection("tot_wh")
    conn = where.open()
    try:
        cur = conn.cursor()
        cur.execute("ALTER TABLE dim_channel MODIFY code varchar(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        cur.execute("ALTER TABLE visits MODIFY channel varchar(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        cur.close()
    finally:
        conn.close()
    spec = three_sources()
    wh = Warehouse(resolve_warehouse("tot_wh"))
    try:
        native = wh.native_lookups(spec)
        assert native == frozenset()
        rows = rows_of(wh, build_extract_query(spec, wh.dialect, D, frozenset(range(3)), native_lookups=native))
        with pytest.raises(Exception, match="Illegal mix of collations"):  # what a native join would do
            rows_of(wh, build_extract_query(spec, wh.dialect, D, frozenset(range(3)),
                                          native_lookups=frozenset({LookupJoin("ch", 2, "channel")})))
    finally:
        wh.close()
    assert {r[0]: r[-1] for r in rows}[8] == "App"


