"""Same-site writes: a state-changing request that authenticates with the Airflow UI's cookie must
come from the web view itself.

Airflow's SimpleAuthManager sets the ``_token`` cookie from JavaScript without ``SameSite``, so a
browser may attach it to a form POST from any other site. A request that writes (POST, PUT, PATCH,
DELETE) and carries no ``Authorization: Bearer`` header is therefore refused with 403, before any
body is read or any endpoint runs, unless:

* it carries the ``X-Tag-Offline-Client`` header, which only the web view's ``fetch`` helper sends
  (a cross-site form cannot set headers; a cross-site ``fetch`` with one needs a CORS preflight
  that the API server does not grant), and
* when the browser sends them: ``Sec-Fetch-Site`` is ``same-origin`` and ``Origin`` is the
  server's own origin (``[api] base_url`` when set, else the request's scheme and host).

Bearer-token clients (the CLI's users, scripts, other services) are not affected: a page of
another site cannot make a browser send a bearer token.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from airflow_provider_tagoffline.api.errors import error_response
from airflow_provider_tagoffline.errors import FieldError

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CLIENT_HEADER = "X-Tag-Offline-Client"
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased, without a default port (as browsers send it)."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6
    try:
        port = parts.port
    except ValueError:
        return ""
    if port is not None and str(port) != _DEFAULT_PORTS.get(scheme):
        host += f":{port}"
    return f"{scheme}://{host}" if scheme and host else ""


def server_origin(request: Request) -> str:
    """The origin the web view is served from: ``[api] base_url`` when set, else this request's."""
    from airflow.configuration import conf

    base_url = conf.get("api", "base_url", fallback=None)
    return origin_of(base_url) if base_url else origin_of(str(request.url))


def has_bearer(request: Request) -> bool:
    """Whether Airflow's ``get_user`` will authenticate the request by its bearer token."""
    scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
    return scheme.lower() == "bearer" and bool(credentials)


def write_refusal(request: Request) -> str | None:
    """Why this request may not write, or None. Only cookie-authenticated writes are checked; a request
    with no credential at all goes on to get Airflow's 401."""
    if (request.method not in STATE_CHANGING or has_bearer(request)
            or COOKIE_NAME_JWT_TOKEN not in request.cookies):
        return None
    if not request.headers.get(CLIENT_HEADER):
        return (f"a write authenticated by the Airflow UI's cookie must come from the Tag Offline web view "
                f"(the {CLIENT_HEADER} header is missing); API clients send Authorization: Bearer <token>")
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site != "same-origin":
        return f"a cross-site write is refused (Sec-Fetch-Site: {fetch_site})"
    origin = request.headers.get("origin")
    if origin is not None:
        own = server_origin(request)
        if origin_of(origin) != own or not own:
            return f"a write from origin {origin!r} is refused; only the web view's own origin {own!r} may write"
    return None


class SameSiteWrites:
    """ASGI middleware of the plugin's app: answers a refused write with 403 in the API's error shape."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in STATE_CHANGING:
            problem = write_refusal(Request(scope))
            if problem:
                await error_response(403, [FieldError("", problem)])(scope, receive, send)
                return
        await self.app(scope, receive, send)
