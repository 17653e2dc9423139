"""A PostgreSQL warehouse's CSV stream abandoned mid-way is ended before its connection is used
again (issue #14: the reload after duplicates found alongside the load waited forever).

With a PostgreSQL warehouse the runner loads optimistically while the duplicate checks run on a
second connection; a source that turns out to repeat IDs makes it drop that load and load again,
deduplicated, on the same warehouse connection. The first ``COPY ... TO STDOUT`` must be stopped
and its connection freed by then, whether the target gave up mid-stream or not.

Checked against the code before the fix (pytest-timeout at 90 s): the MariaDB case hung — its
feeder thread's exception keeps the stream alive in a reference cycle, so nothing closed it — while
the PostgreSQL target's case got away with it (reference counting happened to close the stream).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.engine import faults
from airflow_provider_tagoffline.runs import run_export
from airflow_provider_tagoffline.runspec import RunSpec
from tests.live import pg_conn_json, pg_connect, pg_database
from tests.run_data import D, LiveTarget

pytestmark = [pytest.mark.postgres, pytest.mark.mysql]

#: big enough that the first COPY is still streaming when the target gives up on it (at 1 MB
#: chunks, a prefetch depth of 4 holds well under a tenth of it)
IDS = 400_000
DS = D.strftime("%Y%m%d")


@pytest.fixture
def big_pg_warehouse(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Three sources of about IDS IDs each, every one repeating some IDs for D."""
    with pg_database() as name:
        with pg_connect(name) as conn:
            for i, (table, col) in enumerate((("s_profile", "city"), ("s_orders", "orders"), ("s_visits", "visits"))):
                conn.execute(f"CREATE TABLE {table} (user_id bigint, {col} text, ds text)")
                conn.execute(f"INSERT INTO {table} SELECT g + {i * 1000}, 'v' || (g %% 97), %s "
                             f"FROM generate_series(1, {IDS}) g", [DS])
                # every 1000th ID twice, the later row's value differs
                conn.execute(f"INSERT INTO {table} SELECT g + {i * 1000}, 'last', %s "
                             f"FROM generate_series(1, {IDS}, 1000) g", [DS])
                conn.execute(f"ANALYZE {table}")
        monkeypatch.setenv("AIRFLOW_CONN_TOT_BIG_WH", pg_conn_json(name))
        yield name


def _spec(kind: str) -> RunSpec:
    part = {"column": "ds", "format": "yyyyMMdd"}
    cols = [("s_profile", "city"), ("s_orders", "orders"), ("s_visits", "visits")]
    return RunSpec.model_validate({
        "service": {"name": "abandoned", "slug": "abandoned", "application": "crm", "owner": "alice", "version": 1},
        "entity_key": {"entity": "user", "code": "user_id", "name": "User ID", "type": "bigint"},
        "warehouse_conn_id": "tot_big_wh",
        "sources": [{"table": t, "key": "user_id", "partition": part} for t, _ in cols],
        "tags": [{"code": c, "name": c, "type": "string", "source": i, "column": c} for i, (_, c) in enumerate(cols)],
        "outputs": [{"column": c, "tag": c, "content": "value", "type": "string"} for _, c in cols],
        "target": {"conn_id": "tot_target", "kind": kind, "table": "user_tags", "key_column": "user_id"},
        "gates": {}, "schedule": {"type": "manual", "timezone": "UTC"},
    })


@pytest.mark.timeout(240)
@pytest.mark.parametrize("live_target", ["mysql", "postgres"], indirect=True)
@pytest.mark.parametrize("target_gives_up", [True, False], ids=["target-gives-up-mid-stream", "whole-stream-loaded"])
def test_reload_after_duplicates_does_not_wait_for_the_first_copy(big_pg_warehouse: str, live_target: LiveTarget,
                                                                  target_gives_up: bool, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _spec(live_target.kind)
    live_target.execute(*create_table_sql(spec, live_target.kind))
    marker = tmp_path / "fail-once"
    if target_gives_up:
        # The target fails after the first chunk, the COPY still streaming (the optimistic load of
        # a source with duplicates fails so on a target that refuses a repeated key as it loads).
        marker.touch()
        monkeypatch.setenv(faults.FAIL_ENV, f"mid_stream:{marker}")
    report = run_export(spec, D)
    assert not marker.exists()  # the fault fired, if asked for
    assert report.duplicates_replaced == 3 * len(range(1, IDS + 1, 1000))
    assert report.rows_written == IDS + 2000  # the IDs of the three sources, each once
    # the last row of a repeated ID wins: the duplicates were really removed, not loaded twice
    assert live_target.rows("SELECT city, orders, visits FROM user_tags WHERE user_id = 2001") == [
        ("last", "last", "last")]
    assert live_target.rows("SELECT count(*) FROM user_tags") == [(IDS + 2000,)]
    # nothing of the first load is left behind on the warehouse: no COPY still running there
    with pg_connect() as admin:
        busy = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active'",
                             [big_pg_warehouse]).fetchone()
    assert busy == (0,)
