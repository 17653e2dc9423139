"""Grants, comments and index names of the live table survive the swap (PostgreSQL, MariaDB)."""

from __future__ import annotations

import uuid

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.engine.targets.held import split_comment
from airflow_provider_tagoffline.runs import run_export
from tests.live import mysql_connect, pg_connect
from tests.run_data import D_PREV, D, LiveTarget, make_spec

pytestmark = [pytest.mark.postgres, pytest.mark.mysql]


def _metadata_pg(t: LiveTarget, role: str) -> dict:
    return {
        "select": t.rows("SELECT has_table_privilege(%s, 'user_tags', 'SELECT')", [role])[0][0],
        "update": t.rows("SELECT has_table_privilege(%s, 'user_tags', 'UPDATE')", [role])[0][0],
        "table_comment": t.rows("SELECT obj_description('user_tags'::regclass, 'pg_class')")[0][0],
        "column_comment": t.rows("SELECT col_description('user_tags'::regclass, 2)")[0][0],
        "indexes": t.rows("SELECT indexname, regexp_replace(indexdef, 'INDEX \\S+ ON', 'INDEX ON') FROM pg_indexes "
                          "WHERE tablename = 'user_tags' ORDER BY 1"),
        "constraints": t.rows("SELECT conname, contype FROM pg_constraint WHERE conrelid = 'user_tags'::regclass "
                              "ORDER BY 1"),
    }


def _metadata_mysql(t: LiveTarget, user: str) -> dict:
    grants = t.rows(f"SHOW GRANTS FOR '{user}'@'localhost'")
    return {
        "grants": sorted(g[0] for g in grants if "user_tags" in g[0]),
        "table_comment": t.rows("SELECT table_comment FROM information_schema.tables WHERE table_schema = DATABASE() "
                                "AND table_name = 'user_tags'")[0][0],
        "column_comment": t.rows("SELECT column_comment FROM information_schema.columns WHERE table_schema = "
                                 "DATABASE() AND table_name = 'user_tags' AND column_name = 'gender'")[0][0],
        "indexes": t.rows("SELECT index_name, column_name FROM information_schema.statistics WHERE table_schema = "
                          "DATABASE() AND table_name = 'user_tags' ORDER BY 1, 2"),
    }


@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
def test_grants_comments_and_indexes_survive(live_target: LiveTarget) -> None:
    t = live_target
    spec = make_spec(t.kind, t.conn_id)
    t.execute(*create_table_sql(spec, t.kind))
    who = f"tot_reader_{uuid.uuid4().hex[:8]}"
    if t.kind == "postgres":
        with pg_connect() as admin:
            admin.execute(f'CREATE ROLE "{who}"')
        t.execute("CREATE INDEX user_tags_level_idx ON user_tags (level)",
                  "CREATE UNIQUE INDEX user_tags_nick_uq ON user_tags (nick, user_id) WHERE nick IS NOT NULL",
                  f'GRANT SELECT, UPDATE ON user_tags TO "{who}"',
                  "COMMENT ON TABLE user_tags IS 'tags for the CRM ''daily'''")
    else:
        admin = mysql_connect()
        with admin.cursor() as cur:
            cur.execute(f"CREATE USER '{who}'@'localhost'")
        admin.close()
        db = t.rows("SELECT DATABASE()")[0][0]
        t.execute("CREATE INDEX user_tags_level_idx ON user_tags (level)",
                  f"GRANT SELECT, UPDATE ON `{db}`.`user_tags` TO '{who}'@'localhost'",
                  "ALTER TABLE user_tags COMMENT = 'tags for the CRM ''daily'''")
    try:
        meta = _metadata_pg if t.kind == "postgres" else _metadata_mysql
        before = meta(t, who)
        run_export(spec, D_PREV)
        run_export(spec, D)  # twice: index names must stay stable, not drift run after run
        after = meta(t, who)
        # the comment's last line is now the data date it holds: the user's text above it, word for word
        user_text, record = split_comment(after.pop("table_comment"))
        assert (user_text, record and record.data_date) == (before.pop("table_comment"), D)
        assert after == before
        assert user_text == "tags for the CRM 'daily'"
        assert after["column_comment"] == "性别"
        if t.kind == "postgres":
            assert after["select"] and after["update"]
            assert [i[0] for i in after["indexes"]] == ["user_tags_level_idx", "user_tags_nick_uq", "user_tags_pk"]
        else:
            assert any("SELECT, UPDATE" in g for g in after["grants"]), after["grants"]
    finally:
        if t.kind == "postgres":
            t.execute(f'DROP OWNED BY "{who}"')
            with pg_connect() as admin:
                admin.execute(f'DROP ROLE IF EXISTS "{who}"')
        else:
            admin = mysql_connect()
            with admin.cursor() as cur:
                cur.execute(f"DROP USER IF EXISTS '{who}'@'localhost'")
            admin.close()
