"""Every route of the plugin's FastAPI app declares the right it needs, in one place (``api/access.py``,
issue 20): this lists them all with their declared permission, fails on a route with none (or two),
and keeps the table of docs/security.md equal to the list."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from airflow_provider_tagoffline.api import access
from airflow_provider_tagoffline.api.app import create_app

DOC = Path(__file__).parents[1] / "docs" / "security.md"
BEGIN, END = "<!-- routes: begin (tests/test_route_permissions.py) -->", "<!-- routes: end -->"


def declared(route: APIRoute) -> list[str]:
    """The permissions ``route`` declares: its ``dependencies=[...]`` and its parameters' ``Depends``."""
    return [p for dep in route.dependant.dependencies if (p := getattr(dep.call, access.PERMISSION, None))]


def route_list(routes: list[BaseRoute]) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    """(method, path, permission) of each API route; the routes without one; the other routes' paths."""
    listed, missing, others = [], [], []
    for route in routes:
        if not isinstance(route, APIRoute):
            others.append(getattr(route, "path", repr(route)))
            continue
        found = declared(route)
        for method in sorted(route.methods):
            if len(found) != 1:
                missing.append(f"{method} {route.path}: {found or 'nothing declared'}")
            else:
                listed.append((method, route.path, found[0]))
    return sorted(listed, key=lambda r: (r[1], r[0])), missing, others


def markdown(listed: list[tuple[str, str, str]]) -> str:
    rows = [f"| `{m} /tag-offline{p}` | {perm} |" for m, p, perm in listed]
    return "\n".join(["| route | who may call it |", "|---|---|", *rows])


def test_every_route_declares_exactly_one_permission() -> None:
    listed, missing, others = route_list(create_app().routes)
    assert missing == []
    assert sorted(others) == sorted(access.PUBLIC_ROUTES)  # FastAPI's own pages, each with its reason
    assert len(listed) > 50
    by_route = {(m, p): perm for m, p, perm in listed}
    # spot checks of the kinds of declaration
    assert by_route[("GET", "/services")] == "any authenticated Airflow user"
    assert by_route[("POST", "/services/{name}/publish")].startswith("manages the service in the path")
    assert by_route[("PUT", "/catalog/lookups/{code}")].startswith("Airflow admin")
    assert "permissions.require_creator, on the body" in by_route[("POST", "/services")]
    assert by_route[("GET", "/ui/static/{name}")].startswith("anyone:")


def test_the_finder_fails_on_a_route_without_a_declaration() -> None:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/open")
    def open_route() -> None:
        return None

    @app.get("/guarded", dependencies=[access.requires_authenticated()])
    def guarded() -> None:
        return None

    listed, missing, _ = route_list(app.routes)
    assert missing == ["GET /open: nothing declared"]
    assert listed == [("GET", "/guarded", "any authenticated Airflow user")]


def test_docs_security_lists_every_route_as_declared() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END in text
    documented = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    expected = markdown(route_list(create_app().routes)[0])
    assert documented == expected, "regenerate: python tests/test_route_permissions.py"


if __name__ == "__main__":  # rewrite the table of docs/security.md from the app
    table = markdown(route_list(create_app().routes)[0])
    text = DOC.read_text(encoding="utf-8")
    DOC.write_text(re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _m: f"{BEGIN}\n{table}\n{END}", text,
                          flags=re.S), encoding="utf-8")
