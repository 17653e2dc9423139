"""Serves the web view: the page for signed-in users (others go to Airflow's login), its assets."""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

router = APIRouter(prefix="/ui", include_in_schema=False)
STATIC = resources.files("airflow_provider_tagoffline") / "ui" / "static"
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> Response:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import resolve_user_from_token

    token = request.cookies.get("_token")
    if not token and request.headers.get("authorization", "").lower().startswith("bearer "):
        token = request.headers["authorization"].split(" ", 1)[1]
    try:
        await resolve_user_from_token(token)
    except HTTPException:
        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), status_code=302)
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"),
                        headers={"Cache-Control": "no-store"})


@router.get("/static/{name}")
def asset(name: Annotated[str, Path(pattern=r"^[a-z]+\.(js|css)$")]) -> Response:
    if name not in ASSETS:
        return Response(status_code=404)
    return FileResponse(str(STATIC / name), media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})
