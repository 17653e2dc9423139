"""Server paths (the DAG file, the dags folder, a lock file, a traceback's file names) are shown to
Airflow admins only (issue 20, finding 5): they tell an ordinary user how the API server's host is
laid out. Who may see them is ``permissions.may_see_server_paths``; this module only hides them in
what the REST API returns — publish and run outcomes, a service's status message, its runs' errors,
audit details — keeping the file's name, which is no secret (it is derived from the service).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel

#: an absolute POSIX path of two parts or more, not inside a URL, a relative path or a date format
_ABSOLUTE = re.compile(r"(?<![\w:/.~-])/(?:[^\s'\"`,;:()<>\[\]{}|/]+/)+([^\s'\"`,;:()<>\[\]{}|/]*)")
HIDDEN = "…/"
_Model = TypeVar("_Model", bound=BaseModel)


def hide_in_text(text: str) -> str:
    """``text`` with each absolute path cut to ``…/<file name>``."""
    return _ABSOLUTE.sub(lambda m: HIDDEN + m.group(1), text)


def hide(value: Any) -> Any:
    """Every string inside ``value`` (dicts, lists) with its paths hidden."""
    if isinstance(value, str):
        return hide_in_text(value)
    if isinstance(value, dict):
        return {k: hide(v) for k, v in value.items()}
    if isinstance(value, list):
        return [hide(v) for v in value]
    return value


def hide_fields(model: _Model, *names: str, drop: tuple[str, ...] = ()) -> _Model:
    """A copy of ``model`` with the paths in ``names`` hidden and the fields ``drop`` emptied."""
    update: dict[str, Any] = {n: hide(getattr(model, n)) for n in names if getattr(model, n, None) is not None}
    update.update({n: None for n in drop})
    return model.model_copy(update=update)
