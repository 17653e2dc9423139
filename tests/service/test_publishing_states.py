"""Publishing rules that need no running scheduler: refusals per state, validation before any file
is written, and the timeout when Airflow never loads the DAG (real Airflow metadata DB, SQLite)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from service_data import ADMIN, base_service
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.catalog.repository import decide_grant
from airflow_provider_tagoffline.errors import Conflict, ValidationFailed
from airflow_provider_tagoffline.service import lifecycle, publishing


@pytest.fixture
def dags_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder outside every DAG bundle of this Airflow: nothing will ever parse it."""
    folder = tmp_path / "not_in_a_bundle"
    monkeypatch.setenv("AIRFLOW__TAG_OFFLINE__DAGS_FOLDER", str(folder))
    return folder


def test_a_draft_invalid_against_todays_catalog_is_refused_before_writing(session: Session, dags_folder: Path) -> None:
    lifecycle.create_service(session, ADMIN, base_service())
    decide_grant(session, ADMIN, "crm", "user", "gmv_30d", "revoke")
    with pytest.raises(ValidationFailed, match=r"mappings\[1\]\.tag: .*gmv_30d"):
        publishing.publish(session, ADMIN, "crm_user_tags")
    assert not dags_folder.exists() or not any(dags_folder.iterdir())
    assert lifecycle.get_service(session, "crm_user_tags").status == "editing"


def test_state_refusals(session: Session, dags_folder: Path) -> None:
    lifecycle.create_service(session, ADMIN, base_service())
    with pytest.raises(Conflict, match="only published or unpublish_failed services can be unpublished"):
        publishing.unpublish(session, ADMIN, "crm_user_tags")
    with pytest.raises(Conflict, match="cannot be backfilled: the service is editing; only published services can be "
                                       "backfilled"):
        publishing.backfill(session, ADMIN, "crm_user_tags")
    svc = lifecycle.get_service(session, "crm_user_tags")
    svc.status = "publishing"
    with pytest.raises(Conflict, match="cannot be published: the service is publishing; wait"):
        publishing.publish(session, ADMIN, "crm_user_tags")
    with pytest.raises(Conflict, match="cannot be deleted"):
        publishing.delete(session, ADMIN, "crm_user_tags")


def test_airflow_never_loading_the_dag_is_publish_failed_after_the_timeout(
        session: Session, dags_folder: Path, airflow_db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    lifecycle.create_service(session, ADMIN, base_service())
    outcome = publishing.publish(session, ADMIN, "crm_user_tags")
    assert outcome.status == "publishing"
    assert "in no DAG bundle of this Airflow" in outcome.message
    assert Path(outcome.dag_file or "").parent == dags_folder and Path(outcome.dag_file or "").is_file()
    svc = lifecycle.get_service(session, "crm_user_tags")
    assert publishing.refresh(session, svc) is False and svc.status == "publishing"  # within the timeout
    monkeypatch.setenv("AIRFLOW__TAG_OFFLINE__PUBLISH_TIMEOUT", "0")
    assert publishing.refresh(session, svc) is True
    assert svc.status == "publish_failed"
    assert svc.status_message == (f"Airflow did not load {Path(outcome.dag_file or '').name} within 0 s "
                                  "(is the dag-processor running?)")
    publishing.delete(session, ADMIN, "crm_user_tags")  # publish_failed: the file goes too
    assert not Path(outcome.dag_file or "").exists()


def test_backfill_limits_are_one_check() -> None:
    """One function holds a backfill's date rules; REST and the CLI reach it through publishing.backfill."""
    yesterday = dt.date(2026, 1, 10)
    assert publishing.backfill_dates(None, None, yesterday, "UTC") == (yesterday, yesterday)
    assert publishing.backfill_dates(dt.date(2026, 1, 1), None, yesterday, "UTC") == (dt.date(2026, 1, 1),) * 2
    first = yesterday - dt.timedelta(days=3659)  # 3660 data dates, the most
    assert publishing.backfill_dates(first, yesterday, yesterday, "UTC") == (first, yesterday)
    with pytest.raises(ValidationFailed, match=r"^end: a backfill covers at most 3660 data dates$"):
        publishing.backfill_dates(first - dt.timedelta(days=1), yesterday, yesterday, "UTC")
    with pytest.raises(ValidationFailed, match=r"^end: 2026-01-01 is before start 2026-01-02$"):
        publishing.backfill_dates(dt.date(2026, 1, 2), dt.date(2026, 1, 1), yesterday, "UTC")
    with pytest.raises(ValidationFailed, match=r"^end: 2026-01-11 is after yesterday \(2026-01-10 in Asia/Shanghai\); "
                                               r"later data dates are exported by the schedule$"):
        publishing.backfill_dates(None, dt.date(2026, 1, 11), yesterday, "Asia/Shanghai")


def test_a_publish_queued_behind_a_backlog_waits_while_airflow_keeps_parsing_the_folder() -> None:
    """publish_timeout counts Airflow's silence: 1,000 services published at once are parsed one after
    another for minutes (bench/bench_scale.py), and none of them may fail for waiting in that queue."""
    from airflow_provider_tagoffline.airflow_bridge import ParseState

    requested = dt.datetime(2026, 11, 30, 10, 0, 0)

    def state(parsed_ago: float | None, now: dt.datetime) -> ParseState:
        at = None if parsed_ago is None else now - dt.timedelta(seconds=parsed_ago)
        return ParseState(dag_known=False, is_stale=True, is_paused=None, doc_md=None, import_error=None,
                          import_error_at=None, folder_parsed_at=at)

    def after(seconds: float) -> dt.datetime:
        return requested + dt.timedelta(seconds=seconds)

    timed_out = publishing.publish_timed_out
    assert timed_out(after(100), requested, 120, state(None, after(100))) is None  # within the timeout
    # Past it, Airflow silent (no file of the folder parsed since the publish): the dag-processor is down.
    assert timed_out(after(130), requested, 120, state(None, after(130))) == \
        "within 120 s (is the dag-processor running?)"
    assert timed_out(after(130), requested, 120, state(200, after(130))) == \
        "within 120 s (is the dag-processor running?)"  # its last parse was before the publish
    assert timed_out(after(130), requested, 120, None) == "within 120 s (Airflow's database was not reachable)"
    # Past it, but the dag-processor parsed a file of the folder 5 s ago: a backlog, go on waiting.
    assert timed_out(after(130), requested, 120, state(5, after(130))) is None
    assert timed_out(after(1100), requested, 120, state(5, after(1100))) is None
    # Busy but silent on this file for ten timeouts: something keeps this one file out.
    assert timed_out(after(1201), requested, 120, state(5, after(1201))) == (
        "within 1200 s although the dag-processor kept parsing its folder (is the file excluded by an .airflowignore?)")
    # It stopped parsing (the last parse longer than a timeout ago): silence again.
    assert timed_out(after(400), requested, 120, state(130, after(400))) == \
        "within 120 s (is the dag-processor running?)"
