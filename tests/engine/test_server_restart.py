"""Faults survived (spec §6, issue #21): the target server restarted in the middle of a run, at each
phase — a private PostgreSQL 15 cluster this module starts itself (``tests/pg_cluster.py``), so the
shared server is never touched.

The restart is ``pg_ctl restart -m immediate``: every session cut as in a crash, WAL replayed at
start. A reader polling the live table fails only while the server is down (nothing can read a
stopped server); every answer it gets is the whole old or the whole new table. The run fails with
a clear error and cleans up on a new connection; the next run completes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_kit import LiveReader, PausedRun, assert_nothing_left, live_table_of_the_day_before
from pg_cluster import PrivateCluster, missing

from airflow_provider_tagoffline.runs import run_export
from tests.run_data import EXPECTED_D, D, LiveTarget
from tests.run_data import target_content as content

pytestmark = [pytest.mark.slow]

#: where the server restarts, in run order (``engine/faults.py`` says where each is)
PHASES = ("recovery", "extract", "during_load", "index", "gates", "inside_swap", "after_swap")
#: the step the run's error names: where its next statement fails
STEP = {"recovery": "preflight", "extract": "extract and load", "during_load": "extract and load",
        "index": "index build", "gates": "gates", "inside_swap": "swap"}
#: a reader reconnecting every 20 ms may fail this long after the restart returned (its last try
#: may have begun before)
RECONNECT_GRACE = 1.0


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivateCluster]:
    why = missing()
    if why:
        pytest.skip(why)
    cluster = PrivateCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def restartable_target(private_pg: PrivateCluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LiveTarget, str]]:
    """A database of the private cluster as connection ``tot_target``, and its name."""
    import psycopg

    database = private_pg.create_database()
    url = private_pg.url(database)
    target = LiveTarget("postgres", "tot_target", private_pg.conn_json(database), lambda: psycopg.connect(url))
    monkeypatch.setenv("AIRFLOW_CONN_TOT_TARGET", target.conn_json)
    yield target, database
    private_pg.drop_database(database)


@pytest.mark.parametrize("phase", PHASES)
def test_target_server_restarted(restartable_target: tuple[LiveTarget, str], private_pg: PrivateCluster, phase: str,
                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t, database = restartable_target
    spec, old = live_table_of_the_day_before(t, phase)

    with LiveReader(t.connect).polling() as reader:
        with PausedRun(spec, D, phase, tmp_path, monkeypatch) as run:
            down = time.monotonic()
            private_pg.restart()
            up = time.monotonic()
            print(f"figures: server down and up again in {up - down:.2f} s")
            run.resume()
        after = content(t)
    reader.assert_whole(old, EXPECTED_D)
    outside = [f for f in reader.failures if not down <= f[0] <= up + RECONNECT_GRACE]
    assert outside == [], f"reads failed while the server was up: {outside}"

    if phase == "after_swap":  # the swap had committed: only the lock went with the server
        assert run.report is not None and run.report.status == "success"
        assert after == EXPECTED_D
    else:
        assert f"lost the connection to the target 'tot_target' during {STEP[phase]}: " in run.failure
        assert after == old  # the restart rolled the open transaction back, or came before the swap
    assert_nothing_left(t, database)  # cleaned up on a new connection once the server was back

    report = run_export(spec, D)
    assert report.recovery == []
    assert content(t) == EXPECTED_D
    assert_nothing_left(t, database)
