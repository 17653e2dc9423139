"""Layers import downwards (docs/architecture.md): the catalog store is below the service layer, so no
module of ``catalog/`` (its migrations included) imports from ``service/`` — at the top or inside a
function; only an ``if TYPE_CHECKING:`` block may name a type of it."""

from __future__ import annotations

import ast
from pathlib import Path

import airflow_provider_tagoffline

PACKAGE = Path(airflow_provider_tagoffline.__file__).parent
SERVICE = "airflow_provider_tagoffline.service"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_outside_type_checking(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import not under ``if TYPE_CHECKING:``; relative ones resolved by name."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:  # the else branch runs
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            found.extend((node.lineno, f"{module}.{a.name}" if module else a.name) for a in node.names)
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_the_finder_sees_function_level_imports_and_skips_type_checking() -> None:
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a.service import x\n"
              "def f():\n    from airflow_provider_tagoffline.service import permissions\n"
              "    import airflow_provider_tagoffline.service.attention\n")
    modules = [m for _, m in imports_outside_type_checking(ast.parse(source))]
    assert modules == ["typing.TYPE_CHECKING", "airflow_provider_tagoffline.service.permissions",
                       "airflow_provider_tagoffline.service.attention"]


def test_the_catalog_imports_nothing_from_the_service_layer() -> None:
    offenders = {}
    files = sorted((PACKAGE / "catalog").rglob("*.py"))
    assert any("migrations" in p.parts for p in files)  # the migrations are read too
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bad = [f"{line}: {m}" for line, m in imports_outside_type_checking(tree)
               if m == SERVICE or m.startswith(SERVICE + ".")]
        if bad:
            offenders[str(path.relative_to(PACKAGE))] = bad
    assert offenders == {}
