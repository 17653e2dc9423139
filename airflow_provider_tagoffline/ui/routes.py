"""Serves the web view: the page for signed-in users (others go to Airflow's login), its assets."""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from airflow_provider_tagoffline.api.access import public, requires_signed_in_page
from airflow_provider_tagoffline.catalog.repository import Actor

router = APIRouter(prefix="/ui", include_in_schema=False)
STATIC = resources.files("airflow_provider_tagoffline") / "ui" / "static"
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, actor: Annotated[Actor | None, requires_signed_in_page()]) -> Response:
    if actor is None:
        from airflow.api_fastapi.app import get_auth_manager

        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), status_code=302)
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"),
                        headers={"Cache-Control": "no-store"})


@router.get("/static/{name}", dependencies=[public("the web view's script and style, no data")])
def asset(name: Annotated[str, Path(pattern=r"^[a-z]+\.(js|css)$")]) -> Response:
    if name not in ASSETS:
        return Response(status_code=404)
    return FileResponse(str(STATIC / name), media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})
