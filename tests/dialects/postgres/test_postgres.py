"""PostgreSQL: the conformance suites of a target and of a warehouse (tests/conformance/), and what its
table comments and its one-click create table's attacks look like."""

from __future__ import annotations

import pytest

from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runs import run_export
from tests.conformance.changes import ChangesSuite, changes_spec
from tests.conformance.snapshots import SnapshotsSuite, names, old_and_new, rows
from tests.conformance.target import TargetSuite, create_target
from tests.conformance.warehouse import WarehouseSuite
from tests.conformance.warehouse_diff import WarehouseDiffSuite
from tests.run_data import D_PREV, EXPECTED_D, D, LiveTarget, make_spec
from tests.run_data import target_content as content


class TestPostgresTarget(TargetSuite):
    family = "postgres"
    comment_sql = "SELECT obj_description('user_tags'::regclass, 'pg_class')"
    set_comment_sql = "COMMENT ON TABLE user_tags IS E'{}'"
    comment_backslash_escapes = True
    ddl_attacks = (
        "CREATE TABLE t_new (a text DEFAULT '\\'); DROP TABLE victim; --')",
        "CREATE TABLE t_new (a int); COPY (SELECT 'import os') TO '{out}/x.py'",
        "CREATE TABLE t_new AS SELECT pg_read_file('/etc/hostname') AS a",
        "CREATE TABLE t_new (a text DEFAULT pg_read_file('/etc/hostname'))",
        "CREATE TABLE t_new (a text DEFAULT $$x$$); DROP TABLE victim",
        "CREATE TABLE t_new (a text /* ; DROP TABLE victim; */)",
    )


    def test_a_swap_keeps_the_tables_storage_parameters(self, live_target: LiveTarget) -> None:
        """LIKE copies no storage parameter: a table set to leave room for in-place updates (fillfactor) would
        lose it at the first swap, whichever load mode swaps."""
        t = live_target
        create_target(t)
        t.execute("ALTER TABLE user_tags SET (fillfactor = 70, autovacuum_enabled = false, "
                  "toast.autovacuum_enabled = false)")
        storage = ("SELECT c.reloptions, t.reloptions FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid "
                   "WHERE c.oid = 'user_tags'::regclass")
        before = t.rows(storage)
        assert before == [(["fillfactor=70", "autovacuum_enabled=false"], ["autovacuum_enabled=false"])]
        run_export(make_spec(t.kind, t.conn_id), D_PREV)
        assert t.rows(storage) == before
        run_export(changes_spec(t), D)  # a changes service's first run swaps from an UNLOGGED stage
        assert t.rows(storage) == before and content(t) == EXPECTED_D


def test_storage_parameters_are_parsed_and_quoted_not_pasted() -> None:
    from airflow_provider_tagoffline.dialects import make_target
    from airflow_provider_tagoffline.runspec import TargetSpec

    t = make_target(TargetSpec(conn_id="c", kind="postgres", table="a", key_column="k"), None, "postgres")
    assert t.storage_parameters_sql([], []) == ""
    assert t.storage_parameters_sql(["fillfactor=90"], ["autovacuum_enabled=false"]) == (
        " WITH (fillfactor = '90', toast.autovacuum_enabled = 'false')")
    assert t.storage_parameters_sql(["x=1'); DROP TABLE v; --"], []) == " WITH (x = '1''); DROP TABLE v; --')"
    with pytest.raises(RunFailed, match="storage parameter"):
        t.storage_parameters_sql(["fillfactor) ; DROP TABLE v; --=1"], [])


class TestPostgresChanges(ChangesSuite):
    family = "postgres"
    row_locks = True


class TestPostgresWarehouse(WarehouseSuite):
    family = "postgres"


class TestPostgresWarehouseDiff(WarehouseDiffSuite):
    family = "postgres"


@pytest.mark.postgres
@pytest.mark.parametrize(("kind", "version"), [("postgres", 130000), ("greenplum", None)])
def test_the_older_row_hashes_are_order_free_and_see_a_value_change(pg_target_db: str, kind: str,
                                                                    version: int | None) -> None:
    """PostgreSQL 11-13 and the flavours hash the row's text instead (run here on the local server's SQL)."""
    from airflow_provider_tagoffline.dialects import make_target
    from airflow_provider_tagoffline.dialects.postgres.target import PostgresTarget
    from airflow_provider_tagoffline.runspec import TargetSpec
    from tests.live import pg_connect

    with pg_connect(pg_target_db) as conn:
        conn.execute("CREATE TABLE a (k bigint, s text, f double precision, n numeric(9, 2))")
        conn.execute("INSERT INTO a VALUES (1, '', 0, 0), (2, NULL, NULL, NULL), (3, 'x,y', 1.5, -0.01)")
        conn.execute("CREATE TABLE b AS SELECT * FROM a ORDER BY k DESC")
        t = make_target(TargetSpec(conn_id="c", kind=kind, table="a", key_column="k"), conn, kind)
        assert isinstance(t, PostgresTarget)
        t.server_version = version
        digest = t._digest(lambda: t.digest_sql("a", ["k", "s", "f", "n"]))
        assert digest.rows == 3 and t._digest(lambda: t.digest_sql("b", ["k", "s", "f", "n"])) == digest
        for change in ("s = NULL WHERE k = 1", "s = '' WHERE k = 2", "f = NULL WHERE k = 1", "n = NULL WHERE k = 1",
                       "n = -0.02 WHERE k = 3", "s = 'x' WHERE k = 3"):
            conn.execute("DELETE FROM b")
            conn.execute("INSERT INTO b SELECT * FROM a")
            conn.execute(f"UPDATE b SET {change}")
            assert t._digest(lambda: t.digest_sql("b", ["k", "s", "f", "n"])) != digest, change


@pytest.mark.postgres
def test_a_table_with_a_type_without_a_hash_is_digested_by_its_text(pg_target_db: str) -> None:
    """json (like xml and point) has no extended hash: the row's text is hashed, and the session stays usable."""
    from airflow_provider_tagoffline.dialects import make_target
    from airflow_provider_tagoffline.dialects.postgres.target import PostgresTarget
    from airflow_provider_tagoffline.runspec import TargetSpec
    from tests.live import pg_connect

    with pg_connect(pg_target_db, autocommit=False) as conn:
        conn.execute("CREATE TABLE a (k bigint, j json, s text)")
        conn.execute("""INSERT INTO a VALUES (1, '{"a": 1}', ''), (2, NULL, NULL)""")
        t = make_target(TargetSpec(conn_id="c", kind="postgres", table="a", key_column="k"), conn, "postgres")
        assert isinstance(t, PostgresTarget)
        with conn.transaction():  # as inside a run's transaction
            digest = t.table_digest("a", ["k", "j", "s"])
            assert not t.typed_row_hash and digest.rows == 2
            assert "hash_record_extended" not in t.row_hash_sql("l", ["k"])
            conn.execute("UPDATE a SET s = NULL WHERE k = 1")
            assert t.table_digest("a", ["k", "j", "s"]) != digest


class TestPostgresSnapshots(SnapshotsSuite):
    family = "postgres"

    def test_its_tables_are_logged(self, scratch: str) -> None:
        """A crash empties an UNLOGGED table while the state row still says what it holds."""
        wh, snaps = self.open()
        key, columns = names()
        old, new = old_and_new(wh)
        snaps.rebuild(old, key, columns, "a1", "sig")
        snaps.diff(new, key, columns, "b2")
        cur = wh.conn.cursor()
        for table in (snaps.sql.snapshot, snaps.sql.pending, snaps.sql.state):
            cur.execute("SELECT relpersistence FROM pg_class WHERE oid = %s::regclass", [table.replace("%%", "%")])
            assert cur.fetchone() == ("p",), table
        cur.close()
        wh.close()

    def test_the_snapshot_keeps_a_key_index_and_asks_autovacuum_to_tidy_it(self, scratch: str) -> None:
        """The sample and the promotion reach a few keys through it; a rebuild beside the current snapshot (and
        its index) gets an index of its own, named by the server, whatever the earlier ones were named."""
        wh, snaps = self.open()
        key, columns = names()
        old, new = old_and_new(wh)
        cur = wh.conn.cursor()

        def key_indexes() -> list[str]:
            cur.execute("SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass",
                        [snaps.sql.snapshot.replace("%%", "%")])
            return [d for (d,) in cur.fetchall()]

        for write in ("a1", "a2", "a3"):
            snaps.rebuild(old, key, columns, write, "sig")
            (index,) = key_indexes()
            assert index.endswith("USING btree (tagoffline_key)")
        snaps.diff(new, key, columns, "b2")
        snaps.promote("b2")
        assert len(key_indexes()) == 1 and self.snapshot_rows(wh, snaps) == rows(wh, new)
        # autovacuum tidies it after a day's promotion (its dead row versions: 0.5%), not the next diff's scan
        cur.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [snaps.sql.snapshot.replace("%%", "%")])
        assert cur.fetchone() == (["autovacuum_vacuum_scale_factor=0.005"],)
        cur.close()
        wh.close()
