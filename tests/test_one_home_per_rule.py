"""Where things live, read from the package's source: Airflow's internals only in airflow_bridge.py,
permission decisions only in service/permissions.py (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import airflow_provider_tagoffline

PACKAGE = Path(airflow_provider_tagoffline.__file__).parent
#: ORM models, sessions on the metadata database, internal helpers: they change between minor versions
AIRFLOW_INTERNALS = ("airflow.models", "airflow.utils.session", "airflow.api.common")


def _modules() -> dict[str, ast.Module]:
    return {str(p.relative_to(PACKAGE)): ast.parse(p.read_text(encoding="utf-8"))
            for p in sorted(PACKAGE.rglob("*.py")) if "migrations" not in p.parts}


def _imports(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):  # function-level imports too: that is where Airflow is imported
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_only_the_bridge_touches_airflow_internals() -> None:
    outside = {path: sorted(m for m in _imports(tree) if m.startswith(AIRFLOW_INTERNALS))
               for path, tree in _modules().items() if path != "airflow_bridge.py"}
    assert {path: found for path, found in outside.items() if found} == {}
    assert any(m.startswith(AIRFLOW_INTERNALS) for m in _imports(_modules()["airflow_bridge.py"]))


def test_only_permissions_decides_who_may_do_what() -> None:
    """Nothing else refuses a caller (raises PermissionDenied) or looks at whether they are an admin,
    except to say who they are: auth.py sets it, /me reports it, Actor declares it."""
    refusing, asking = set(), set()
    for path, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None and "PermissionDenied" in ast.dump(node.exc):
                refusing.add(path)
            if isinstance(node, ast.Attribute) and node.attr == "is_admin":
                asking.add(path)
    assert refusing == {"service/permissions.py"}
    assert asking - {"service/permissions.py"} <= {"api/auth.py", "api/routes_helpers.py"}
