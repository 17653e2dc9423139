"""What a caller may do with a service now, and why not (``permissions.service_actions``): per state of
spec §3, per role of spec §6; and each reason is, word for word, the refusal the action itself answers
with, so the web view's tooltip says what clicking would say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from service_data import ADMIN, base_service
from sqlalchemy.orm import Session

from airflow_provider_tagoffline.api.errors import status_of
from airflow_provider_tagoffline.catalog.models import Service
from airflow_provider_tagoffline.catalog.repository import Actor
from airflow_provider_tagoffline.errors import TagOfflineError, ValidationFailed
from airflow_provider_tagoffline.service import lifecycle, permissions, publishing
from airflow_provider_tagoffline.service.states import SERVICE_ACTIONS

NAME = "crm_user_tags"

# status, ever published → what a manager may do (recurring service; a manual one runs instead of backfilling)
ALLOWED = {
    ("editing", False): ["edit", "publish", "delete"],
    ("editing", True): ["edit", "publish"],
    ("publishing", True): [],
    ("published", True): ["edit", "publish", "unpublish", "backfill"],
    ("publish_failed", False): ["edit", "publish", "delete"],
    ("unpublishing", True): [],
    ("offline", True): ["edit", "publish", "delete"],
    ("unpublish_failed", True): ["edit", "publish", "unpublish"],
}


@pytest.fixture
def dags_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "not_in_a_bundle"
    monkeypatch.setenv("AIRFLOW__TAG_OFFLINE__DAGS_FOLDER", str(folder))
    return folder


def _service(session: Session, status: str, ever_published: bool, **changes: Any) -> Service:
    lifecycle.create_service(session, ADMIN, base_service(owner="bob", **changes))
    svc = lifecycle.get_service(session, NAME)
    svc.status, svc.ever_published = status, ever_published
    session.flush()
    return svc


@pytest.mark.parametrize(("status", "ever_published"), list(ALLOWED))
def test_actions_per_state(session: Session, status: str, ever_published: bool) -> None:
    svc = _service(session, status, ever_published)
    choices = permissions.service_actions(Actor("alice"), svc)
    assert choices.allowed == ALLOWED[status, ever_published]
    assert set(choices.refusals) == set(SERVICE_ACTIONS) - set(choices.allowed), "each action is in one of them"
    assert all(why.startswith(f"service {NAME!r} cannot ") for why in choices.refusals.values())


def test_the_reasons_of_an_editing_recurring_service(session: Session) -> None:
    svc = _service(session, "editing", True)
    assert permissions.service_actions(ADMIN, svc).refusals == {
        "unpublish": f"service {NAME!r} cannot be unpublished: the service is editing; only published or "
                     "unpublish_failed services can be unpublished",
        "run": f"service {NAME!r} cannot run: the service is recurring: it runs on its schedule; use backfill for "
               "other data dates",
        "backfill": f"service {NAME!r} cannot be backfilled: the service is editing; only published services can be "
                    "backfilled",
        "delete": f"service {NAME!r} cannot be deleted: the service has been published before; unpublish it (status "
                  "offline) before deleting",
    }


def test_a_published_manual_service_runs_and_is_not_backfilled(session: Session) -> None:
    svc = _service(session, "published", True, schedule={"type": "manual"})
    choices = permissions.service_actions(Actor("bob"), svc)
    assert choices.allowed == ["edit", "publish", "unpublish", "run"]
    assert choices.refusals["backfill"] == (f"service {NAME!r} cannot be backfilled: the service is manual: use run "
                                            "for one data date")


@pytest.mark.parametrize(("who", "manages"), [
    (ADMIN, True),  # an Airflow admin
    (Actor("alice"), True),  # an admin of the application
    (Actor("bob"), True),  # a member who owns the service
    (Actor("rita"), False),  # an admin of another application
    (Actor("mallory"), False),  # no application at all
])
def test_actions_per_role(session: Session, who: Actor, manages: bool) -> None:
    svc = _service(session, "published", True)
    choices = permissions.service_actions(who, svc)
    if manages:
        assert choices.allowed == ALLOWED["published", True]
        return
    assert choices.allowed == []
    assert choices.refusals == {
        a: f"user {who.username!r} may not {a} service {NAME!r}: only Airflow admins, admins of application 'crm' "
           "and the owner (a member of it) may" for a in SERVICE_ACTIONS}


def test_a_member_manages_only_the_services_they_own(session: Session) -> None:
    lifecycle.create_service(session, ADMIN, base_service(owner="alice"))
    choices = permissions.service_actions(Actor("bob"), lifecycle.get_service(session, NAME))
    assert choices.allowed == [] and choices.refusals["edit"].startswith("user 'bob' may not edit service")


def _attempt(session: Session, actor: Actor, action: str) -> TagOfflineError:
    """Do ``action`` through the service layer (as the CLI and the REST API do); the error it raises."""
    calls = {
        "edit": lambda: lifecycle.update_service(session, actor, NAME, base_service(owner="bob", description="x")),
        "publish": lambda: publishing.publish(session, actor, NAME),
        "unpublish": lambda: publishing.unpublish(session, actor, NAME),
        "run": lambda: publishing.run(session, actor, NAME),
        "backfill": lambda: publishing.backfill(session, actor, NAME),
        "delete": lambda: publishing.delete(session, actor, NAME),
    }
    with pytest.raises(TagOfflineError) as err:
        calls[action]()
    return err.value


@pytest.mark.parametrize(("status", "ever_published"), list(ALLOWED))
@pytest.mark.parametrize("who", ["bob", "mallory"])
def test_each_reason_is_the_refusal_the_action_answers_with(session: Session, dags_folder: Path, status: str,
                                                            ever_published: bool, who: str) -> None:
    svc = _service(session, status, ever_published)
    actor = Actor(who)
    refusals = permissions.service_actions(actor, svc).refusals
    for action, reason in refusals.items():
        error = _attempt(session, actor, action)
        said = error.errors[0].message if isinstance(error, ValidationFailed) else str(error)
        assert said == reason, action
        assert status_of(error) == (403 if who == "mallory" else 422 if action == "edit" else 409)
    assert lifecycle.get_service(session, NAME).status == status  # nothing was done
    assert not dags_folder.exists()
