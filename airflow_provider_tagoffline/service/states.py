"""Task status of a service and the actions each status allows (spec §3).

Each ``*_refusal`` says why a status does not allow an action, or None; ``refusal`` asks the one of
an action and says it as the whole message (``service 'x' cannot be published: ...``), the text the
CLI, the REST API (409, or 422 for an edit) and the web view's tooltips show alike.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Protocol, get_args


class TaskStatus(StrEnum):
    EDITING = "editing"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    PUBLISH_FAILED = "publish_failed"
    UNPUBLISHING = "unpublishing"
    OFFLINE = "offline"
    UNPUBLISH_FAILED = "unpublish_failed"


class ExecutionStatus(StrEnum):
    NONE = "none"
    QUEUED = "queued"
    WAITING = "waiting_for_data"  # deferred: a source partition of its data date is not there yet
    RUNNING = "running"
    RETRYING = "up_for_retry"  # the last try failed; Airflow tries again
    SUCCESS = "success"
    FAILED = "failed"


TRANSIENT = (TaskStatus.PUBLISHING, TaskStatus.UNPUBLISHING)

#: what one may do with a service (the REST API's ``actions`` and ``refusals`` name these)
ServiceAction = Literal["edit", "publish", "unpublish", "run", "backfill", "delete"]
SERVICE_ACTIONS: tuple[ServiceAction, ...] = get_args(ServiceAction)

#: "service 'x' cannot <...>"
_CANNOT: dict[ServiceAction, str] = {"edit": "be edited", "publish": "be published", "unpublish": "be unpublished",
                                     "run": "run", "backfill": "be backfilled", "delete": "be deleted"}


class ServiceState(Protocol):
    """What the state rules look at (a ``catalog.models.Service``)."""

    name: str
    status: str
    schedule_type: str
    ever_published: bool


def edit_refusal(status: str) -> str | None:
    """Why a service in ``status`` cannot be edited, or None."""
    if status in TRANSIENT:
        return f"the service is {status}; wait until it has finished"
    return None


def delete_refusal(status: str, ever_published: bool) -> str | None:
    """Why a service in ``status`` cannot be deleted, or None (spec §3: offline, publish_failed,
    or editing and never published)."""
    if status in (TaskStatus.OFFLINE, TaskStatus.PUBLISH_FAILED):
        return None
    if status == TaskStatus.EDITING and not ever_published:
        return None
    if status == TaskStatus.EDITING:
        return "the service has been published before; unpublish it (status offline) before deleting"
    return f"the service is {status}; only offline, publish_failed or never-published services can be deleted"


def publish_refusal(status: str) -> str | None:
    if status in TRANSIENT:
        return f"the service is {status}; wait until it has finished"
    return None


def unpublish_refusal(status: str) -> str | None:
    if status in (TaskStatus.PUBLISHED, TaskStatus.UNPUBLISH_FAILED):
        return None
    return f"the service is {status}; only published or unpublish_failed services can be unpublished"


#: a run exports one data date of a manual service; a backfill re-runs data dates of a recurring one
_RUNS = {"run": ("manual", "it runs on its schedule; use backfill for other data dates", "run"),
         "backfill": ("recurring", "use run for one data date", "be backfilled")}


def run_refusal(action: Literal["run", "backfill"], status: str, schedule_type: str) -> str | None:
    """Why a service cannot ``action`` (run or backfill) now: its schedule is for the other, or it is
    not published; None when it can."""
    schedule, otherwise, verb = _RUNS[action]
    if schedule_type != schedule:
        return f"the service is {schedule_type}: {otherwise}"
    if status != TaskStatus.PUBLISHED:
        return f"the service is {status}; only published services can {verb}"
    return None


def attention_refusal(action: ServiceAction, drift: str | None) -> str | None:
    """Why a service whose catalog changed under it (``drift``: the reason, from ``attention``) cannot
    publish, run or backfill; None for other actions or without drift."""
    if drift is None or action not in ("publish", "run", "backfill"):
        return None
    if action == "publish":
        return f"it needs attention: {drift}; fix the catalog or remove the tag from the mappings, then publish"
    return f"it needs attention: {drift}; fix the catalog or the service and republish"


def refusal(svc: ServiceState, action: ServiceAction, drift: str | None = None) -> str | None:
    """Why the state of ``svc`` does not allow ``action`` now, as the whole message; None when it does.
    ``drift``: why the catalog changed under it in a way ``action`` cannot go on with (``attention``)."""
    reason = {
        "edit": lambda: edit_refusal(svc.status),
        "publish": lambda: publish_refusal(svc.status),
        "unpublish": lambda: unpublish_refusal(svc.status),
        "run": lambda: run_refusal("run", svc.status, svc.schedule_type),
        "backfill": lambda: run_refusal("backfill", svc.status, svc.schedule_type),
        "delete": lambda: delete_refusal(svc.status, svc.ever_published),
    }[action]() or attention_refusal(action, drift)
    return None if reason is None else f"service {svc.name!r} cannot {_CANNOT[action]}: {reason}"
