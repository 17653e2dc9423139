"""Errors shared by every entry point (CLI, REST API, web view, operator)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str  # dotted path, e.g. "mappings[1].codename" or "target.table"
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (drivers add hints and SQL below it), or its type."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


_QUOTED_VALUE = re.compile(r"'(?:[^'\\]|''|\\.)*(?:'|$)")


def redacted_first_line(exc: BaseException, limit: int = 300) -> str:
    """``first_line`` with every single-quoted value replaced by ``'…'``, at most ``limit`` characters:
    what a database error may tell a user about statements they shaped (no data, no file contents)."""
    return _QUOTED_VALUE.sub("'…'", first_line(exc))[:limit]


class TagOfflineError(Exception):
    """Base of the errors a user can act on (no traceback is shown for these)."""


class ValidationFailed(TagOfflineError):
    """Input that breaks one or more rules; nothing was written."""

    def __init__(self, errors: list[FieldError] | FieldError):
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))

    @classmethod
    def one(cls, field: str, message: str) -> ValidationFailed:
        return cls(FieldError(field, message))


class NotFound(TagOfflineError):
    def __init__(self, kind: str, key: str):
        self.kind, self.key = kind, key
        super().__init__(f"{kind} {key!r} does not exist")


class Conflict(TagOfflineError):
    """The action is not allowed in the current state (REST: 409)."""


class PermissionDenied(TagOfflineError):
    """The acting user may not do this (REST: 403)."""


class InUse(Conflict):
    """A catalog object cannot be deleted because something still uses it."""


class RunFailed(TagOfflineError):
    """An export run failed; the target is untouched (or fully swapped).

    ``report`` is the run report up to the failure (set by the engine's runner).
    """

    report: object = None


class WarehouseOutOfMemory(RunFailed):
    """The warehouse engine ran out of its memory limit in a statement of the run."""


class SourceNotReady(RunFailed):
    """A source has no rows for the data date yet (its partition is missing or not produced): a run
    waits for it instead of retrying blindly. ``missing`` says what, one phrase per source
    ("partition ds=20261130 of table dws_user_profile_d")."""

    def __init__(self, message: str, missing: list[str]):
        super().__init__(message)
        self.missing = list(missing)


class OlderDataDate(RunFailed):
    """A whole-table target holds a later data date than the run's: refused before anything is written
    (``data_date.older_refusal`` says why), unless the caller allows an older date."""

    def __init__(self, message: str, held: object, data_date: object):
        super().__init__(message)
        self.held, self.data_date = held, data_date
