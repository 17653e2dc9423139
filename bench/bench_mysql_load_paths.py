"""Bench: the two MySQL/MariaDB bulk paths on the same rows — LOAD DATA LOCAL INFILE against
multi-row INSERTs (mysqlclient's executemany rewrites INSERT ... VALUES into multi-row statements).

    .venv/bin/python -m bench.bench_mysql_load_paths [USERS]      (default 1,000,000)

The engine uses LOAD DATA and falls back to multi-row INSERTs only where the server refuses local
infile; the last line is the ratio insert_seconds / load_data_seconds (> 1: LOAD DATA is faster).
"""

from __future__ import annotations

import os
import sys
import time

from bench.common import TAGS, build_duckdb_warehouse, mysql_database, target_ddl_mysql, tmpdir
from tests.live import MYSQL_HOST, MYSQL_PASSWORD, MYSQL_PORT, MYSQL_USER

COLS = ["user_id"] + [c for c, _, _, _ in TAGS]


def main() -> None:
    import duckdb
    import MySQLdb

    users = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    folder = tmpdir()
    build_duckdb_warehouse(str(folder / "wh.duckdb"), users)
    duck = duckdb.connect(str(folder / "wh.duckdb"))
    select = f"SELECT {', '.join(COLS)} FROM dws_user_tags_d"
    duck.execute(f"COPY ({select.replace('vip', 'vip::INT AS vip')}) TO '{folder / 'rows.csv'}' "
                 "(FORMAT csv, HEADER false, FORCE_QUOTE *, NULLSTR 'NULL')")
    rows = [tuple(int(v) if isinstance(v, bool) else v for v in r) for r in duck.execute(select).fetchall()]
    duck.close()
    with mysql_database() as db:
        con = MySQLdb.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, password=MYSQL_PASSWORD, database=db,
                              charset="utf8mb4", local_infile=1, autocommit=True)
        cur = con.cursor()
        cur.execute(target_ddl_mysql("load_data"))
        cur.execute(target_ddl_mysql("multi_insert"))
        start = time.perf_counter()
        cur.execute(f"LOAD DATA LOCAL INFILE '{folder / 'rows.csv'}' INTO TABLE load_data CHARACTER SET utf8mb4 "
                    "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY '\\n' "
                    f"({', '.join(COLS)})")
        load_data = time.perf_counter() - start
        sql = f"INSERT INTO multi_insert ({', '.join(COLS)}) VALUES ({', '.join(['%s'] * len(COLS))})"
        con.autocommit(False)
        start = time.perf_counter()
        for i in range(0, len(rows), 5000):
            cur.executemany(sql, rows[i:i + 5000])
        con.commit()
        inserts = time.perf_counter() - start
        con.close()
    print(f"LOAD DATA LOCAL INFILE: {load_data:6.2f} s ({users / load_data:,.0f} rows/s)")
    print(f"multi-row INSERT      : {inserts:6.2f} s ({users / inserts:,.0f} rows/s), 5,000 rows per executemany")
    print(f"ratio insert/LOAD DATA: {inserts / load_data:.2f} (LOAD DATA is the engine's path when > 1)")


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    main()
