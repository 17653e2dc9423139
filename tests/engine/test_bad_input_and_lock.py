"""Bad input gets a clear error before anything is written; two runs never write one target at once."""

from __future__ import annotations

import json
import re
import threading

import pytest

from airflow_provider_tagoffline.connections import resolve_connection
from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.dialects import make_target
from airflow_provider_tagoffline.dialects.mysql import target as mysql
from airflow_provider_tagoffline.dialects.postgres import target as postgres
from airflow_provider_tagoffline.engine.targets import filelock as filelock_module
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runs import run_export
from airflow_provider_tagoffline.runspec import RunSpec
from tests.run_data import EXPECTED_D, D, LiveTarget, make_spec
from tests.run_data import target_content as content

pytestmark = [pytest.mark.postgres, pytest.mark.mysql]


@pytest.mark.parametrize("live_target", ["postgres", "mysql", "duckdb"], indirect=True)
def test_a_column_type_that_cannot_hold_the_tag(live_target: LiveTarget) -> None:
    t = live_target
    ddl = create_table_sql(make_spec(t.kind, t.conn_id), t.kind)
    # gmv is decimal(18,2): an integer column of 32 bits cannot hold it, nor level (bigint).
    narrowed = ddl[0].replace('"level" bigint', '"level" integer').replace("`level` bigint", "`level` int") \
        .replace('"level" BIGINT', '"level" INTEGER').replace('"gmv" numeric(18,2)', '"gmv" numeric(10,2)') \
        .replace("`gmv` decimal(18,2)", "`gmv` decimal(10,2)").replace('"gmv" DECIMAL(18,2)', '"gmv" DECIMAL(10,2)')
    assert narrowed != ddl[0]
    t.execute(narrowed)
    with pytest.raises(RunFailed) as err:
        run_export(make_spec(t.kind, t.conn_id), D)
    message = str(err.value)
    assert "column 'level'" in message and "cannot hold tag 'level' (value) of type bigint" in message
    assert "column 'gmv'" in message and "is narrower than decimal(18,2)" in message
    assert t.rows("SELECT COUNT(*) FROM user_tags")[0][0] == 0
    assert not [n for n in t.tables() if "_dpfx_" in n]


@pytest.mark.parametrize("live_target", ["sqlite"], indirect=True)
def test_a_source_table_that_does_not_exist(live_target: LiveTarget) -> None:
    t = live_target
    spec = make_spec(t.kind, t.conn_id)
    t.execute(*create_table_sql(spec, t.kind))
    data = spec.to_dict()
    data["sources"][1]["table"] = "trade_missing"
    with pytest.raises(RunFailed, match=r"source table 'trade_missing' cannot be read from the warehouse "
                                        r"'tot_warehouse': Catalog Error: Table with name trade_missing "):
        run_export(RunSpec.model_validate(data), D)
    assert t.rows("SELECT COUNT(*) FROM user_tags")[0][0] == 0


@pytest.mark.parametrize("live_target", ["sqlite"], indirect=True)
def test_an_unparseable_data_date(live_target: LiveTarget) -> None:
    with pytest.raises(RunFailed, match=r"data date '2026-13-01' is not a date \(YYYY-MM-DD\)"):
        run_export(make_spec(live_target.kind, live_target.conn_id), "2026-13-01")


@pytest.mark.parametrize("live_target", ["postgres", "mysql", "sqlite"], indirect=True)
def test_a_second_run_waits_for_the_lock_and_gives_up_clearly(live_target: LiveTarget,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    t = live_target
    spec = make_spec(t.kind, t.conn_id)
    t.execute(*create_table_sql(spec, t.kind))
    monkeypatch.setattr(postgres, "LOCK_WAIT_SECONDS", 1)
    monkeypatch.setattr(mysql, "LOCK_WAIT_SECONDS", 1)
    monkeypatch.setattr(filelock_module, "DEFAULT_WAIT_SECONDS", 1)
    where = resolve_connection(t.conn_id)
    conn, kind = where.open(), where.kind
    holder = make_target(spec.target, conn, kind)
    with holder.lock():  # another run holds the target
        with pytest.raises(RunFailed, match=r"another run is writing user_tags"):
            run_export(spec, D)
    holder.close()
    assert t.rows("SELECT COUNT(*) FROM user_tags")[0][0] == 0

    # Two runs started together: both succeed, one after the other, never interleaved.
    monkeypatch.setattr(postgres, "LOCK_WAIT_SECONDS", 60)
    monkeypatch.setattr(mysql, "LOCK_WAIT_SECONDS", 60)
    monkeypatch.setattr(filelock_module, "DEFAULT_WAIT_SECONDS", 60)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_export(spec, D)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert content(t) == EXPECTED_D
    assert not [n for n in t.tables() if "_dpfx_" in n]


@pytest.mark.parametrize("live_target", ["postgres", "mysql"], indirect=True)
def test_every_spelling_of_one_table_takes_one_lock(live_target: LiveTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock is keyed on the table the server resolves, not on the service's spelling: a run for `user_tags`
    with the schema unset and one for `public.user_tags` (PostgreSQL) or `<database>.user_tags` (MySQL) exclude
    each other; the same name in another schema is another table and does not wait."""
    t = live_target
    unset = make_spec(t.kind, t.conn_id)
    explicit_schema = "public" if t.kind == "postgres" else json.loads(t.conn_json)["schema"]
    explicit = make_spec(t.kind, t.conn_id, schema=explicit_schema)
    t.execute(*create_table_sql(unset, t.kind))
    monkeypatch.setattr(postgres, "LOCK_WAIT_SECONDS", 1)
    monkeypatch.setattr(mysql, "LOCK_WAIT_SECONDS", 1)
    where = resolve_connection(t.conn_id)
    conn, kind = where.open(), where.kind
    for held, run, name in ((unset, explicit, f"{explicit_schema}.user_tags"), (explicit, unset, "user_tags")):
        holder = make_target(held.target, conn, kind)
        with holder.lock():
            with pytest.raises(RunFailed, match=rf"another run is writing {re.escape(name)} "):
                run_export(run, D)
    assert t.rows("SELECT COUNT(*) FROM user_tags")[0][0] == 0
    if t.kind == "postgres":
        other = make_spec(t.kind, t.conn_id, schema="other")
        t.execute("CREATE SCHEMA other", *create_table_sql(other, t.kind))
        with make_target(other.target, conn, kind).lock():
            run_export(unset, D)  # not blocked
        assert content(t) == EXPECTED_D
    conn.close()
