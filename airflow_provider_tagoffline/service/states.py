"""Task status of a service and the actions each status allows (spec §3)."""

from __future__ import annotations

from enum import StrEnum


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
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


TRANSIENT = (TaskStatus.PUBLISHING, TaskStatus.UNPUBLISHING)


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
