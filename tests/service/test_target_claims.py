"""Claims are data (issue 20, finding 1; docs/target-grants.md "Claims"): a target place is held by the
service whose ``TargetClaim`` row has its key, whoever is older; the store's UNIQUE constraint decides
between two saves at once (live PostgreSQL below); changing the target moves the claim in the same
transaction; deleting a service frees its place."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from service_data import ADMIN, CATALOG, CONNECTIONS, base_service
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog import store
from airflow_provider_tagoffline.catalog.apply import apply_catalog
from airflow_provider_tagoffline.catalog.models import TargetClaim
from airflow_provider_tagoffline.errors import ValidationFailed
from airflow_provider_tagoffline.service import lifecycle, publishing
from airflow_provider_tagoffline.yaml_io import parse_catalog

HELD = "is the target of service '{}' (application {}); a table belongs to one service"


def claims(session: Session) -> dict[str, tuple[str | None, str]]:
    session.flush()
    return {c.service.name: (c.schema_name, c.table_name) for c in session.scalars(sa.select(TargetClaim))}


def on(table: str, name: str, **changes: Any) -> dict[str, Any]:
    return base_service(name=name, target={"conn_id": "crm_pg", "schema": "crm", "table": table,
                                           "load": "overwrite"}, **changes)


def test_an_older_service_cannot_take_a_younger_ones_place(session: Session) -> None:
    """The finding as written: m_old exists first; a4 then takes a4_tags; m_old edited onto a4_tags."""
    lifecycle.create_service(session, ADMIN, on("m_tags", "m_old"))
    lifecycle.create_service(session, ADMIN, on("a4_tags", "svc_a4"))
    with pytest.raises(ValidationFailed) as err:
        lifecycle.update_service(session, ADMIN, "m_old", on("a4_tags", "m_old"))
    assert {e.field: e.message for e in err.value.errors} == {
        "target.table": f"table 'crm.a4_tags' on connection 'crm_pg' {HELD.format('svc_a4', 'crm')}"}
    lifecycle.update_service(session, ADMIN, "svc_a4", on("a4_tags", "svc_a4", description="still mine"))
    assert claims(session) == {"m_old": ("crm", "m_tags"), "svc_a4": ("crm", "a4_tags")}


def test_changing_the_target_frees_the_old_place_in_the_same_transaction(session: Session) -> None:
    lifecycle.create_service(session, ADMIN, on("first", "mover"))
    lifecycle.update_service(session, ADMIN, "mover", on("second", "mover"))
    assert claims(session) == {"mover": ("crm", "second")}
    lifecycle.create_service(session, ADMIN, on("first", "taker"))  # the old place is free at once
    assert claims(session) == {"mover": ("crm", "second"), "taker": ("crm", "first")}


def test_deleting_a_service_frees_its_place(session: Session) -> None:
    lifecycle.create_service(session, ADMIN, on("t", "gone"))
    with pytest.raises(ValidationFailed, match="is the target of service 'gone'"):
        lifecycle.create_service(session, ADMIN, on("t", "next"))
    lifecycle.delete_service(session, ADMIN, "gone")
    lifecycle.create_service(session, ADMIN, on("t", "next"))
    assert claims(session) == {"next": ("crm", "t")}


def test_the_partition_scheme_is_recorded_with_the_claim(session: Session) -> None:
    lifecycle.create_service(session, ADMIN, base_service(target={
        "conn_id": "crm_pg", "schema": "crm", "table": "p", "load": "overwrite",
        "partition": {"field": "ds", "format": "yyyy-MM-dd"}}))
    (row,) = session.scalars(sa.select(TargetClaim)).all()
    assert (row.conn_id, row.schema_name, row.table_name, row.partition_field, row.partition_format) == \
        ("crm_pg", "crm", "p", "ds", "yyyy-MM-dd")
    assert row.database == "postgres/db/5432/crm" and len(row.place_key) == 64


def test_a_service_without_a_claim_takes_its_free_place_when_published(session: Session, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A service the migration left without a claim (its place was another's): refused while the place is
    held, and holds it at its next publish once it is free."""
    monkeypatch.setenv("AIRFLOW__TAG_OFFLINE__DAGS_FOLDER", str(tmp_path / "dags"))
    monkeypatch.setattr(publishing.af, "locate", lambda _path: None)
    lifecycle.create_service(session, ADMIN, on("shared", "holder"))
    lifecycle.create_service(session, ADMIN, on("own", "sharer"))
    sharer = lifecycle.get_service(session, "sharer")
    sharer.claim = None  # as the migration leaves a younger sharer (delete-orphan removes the row)
    sharer.target_table, sharer.definition = "shared", on("shared", "sharer")
    session.flush()
    with pytest.raises(ValidationFailed, match="is the target of service 'holder'"):
        publishing.publish(session, ADMIN, "sharer")
    lifecycle.delete_service(session, ADMIN, "holder")
    publishing.publish(session, ADMIN, "sharer")
    assert claims(session) == {"sharer": ("crm", "shared")}


# ---- two saves at once, live PostgreSQL -------------------------------------------------------------

@pytest.fixture
def pg_store(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN", pg_url)
    for conn_id, conn in CONNECTIONS.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    store.downgrade(pg_url)
    store.migrate(pg_url)
    with store.session_scope(pg_url) as s:
        apply_catalog(s, ADMIN, parse_catalog(CATALOG))
    yield pg_url


def _waiting_on_a_lock(url: str, deadline: float) -> None:
    """Until another session of this database waits for a lock (the second insert of one key)."""
    engine = sa.create_engine(url)
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                waiting = conn.scalar(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                              "current_database() AND wait_event_type = 'Lock'"))
            if waiting:
                return
            time.sleep(0.05)
        raise AssertionError("the second save never waited on the first one's claim")
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_two_saves_onto_one_free_place_at_once_cannot_both_win(pg_store: str) -> None:
    """Both saves read the place as free (neither claim is committed); the UNIQUE key makes the second
    wait for the first and then refuses it, naming the winner. No read-then-write decides."""
    outcome: dict[str, Any] = {}
    with Session(store.get_engine(pg_store)) as one:
        lifecycle.create_service(one, ADMIN, on("race", "racer_one"))  # flushed, not committed

        def second() -> None:
            try:
                with store.session_scope(pg_store) as two:
                    lifecycle.create_service(two, ADMIN, on("race", "racer_two"))
                outcome["result"] = "created"
            except ValidationFailed as exc:
                outcome["result"] = {e.field: e.message for e in exc.errors}
            except Exception as exc:  # pragma: no cover - reported by the assertion below
                outcome["result"] = repr(exc)

        racer = threading.Thread(target=second)
        racer.start()
        _waiting_on_a_lock(pg_store, time.monotonic() + 60)
        one.commit()
    racer.join(60)
    assert not racer.is_alive()
    assert outcome["result"] == {
        "target.table": f"table 'crm.race' on connection 'crm_pg' {HELD.format('racer_one', 'crm')}"}
    with store.session_scope(pg_store) as s:
        assert claims(s) == {"racer_one": ("crm", "race")}
        assert s.scalar(sa.text("SELECT count(*) FROM tagoffline_service WHERE name = 'racer_two'")) == 0


@pytest.mark.postgres
def test_many_threads_saving_onto_one_place_leave_exactly_one_holder(pg_store: str) -> None:
    """Eight creates and eight moves released together at a barrier: exactly one service holds the place."""
    with store.session_scope(pg_store) as s:
        for i in range(8):
            lifecycle.create_service(s, ADMIN, on(f"own_{i}", f"mover_{i}"))
    barrier = threading.Barrier(16, timeout=60)
    results: list[str] = []

    def save(i: int, move: bool) -> None:
        try:
            with store.session_scope(pg_store) as s:
                barrier.wait()
                if move:
                    lifecycle.update_service(s, ADMIN, f"mover_{i}", on("contested", f"mover_{i}"))
                else:
                    lifecycle.create_service(s, ADMIN, on("contested", f"creator_{i}"))
            results.append("won")
        except ValidationFailed as exc:
            assert [e.field for e in exc.errors] == ["target.table"], exc.errors
            results.append("refused")

    threads = [threading.Thread(target=save, args=(i, move)) for i in range(8) for move in (False, True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == ["refused"] * 15 + ["won"]
    with store.session_scope(pg_store) as s:
        holders = [name for name, (_, table) in claims(s).items() if table == "contested"]
        assert len(holders) == 1
