"""Every error of the REST API as one JSON shape: ``{"detail": [{"field", "message"}], "status"}``.

``field`` is a dotted path into the request (``target.table``, ``mappings[1].codename``, a query
parameter's name) or ``""`` when the error is about the request as a whole. The mapping of the
package's errors (``airflow_provider_tagoffline/errors.py``):

==================  ======
ValidationFailed    422
NotFound            404
Conflict, InUse     409
PermissionDenied    403
other user errors   400
==================  ======

Request bodies and parameters that do not fit the declared shapes come back as 422 with the same
field paths and messages as the CLI's (``service/validation.pydantic_errors``). Authentication
errors of Airflow's ``GetUserDep`` (401, 403) keep their status and get the same shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_tagoffline.errors import (
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    TagOfflineError,
    ValidationFailed,
)
from airflow_provider_tagoffline.service.validation import _loc, _msg

log = logging.getLogger(__name__)

#: parts of a request location that are not part of the field path
_LOCATION_ROOTS = ("body", "query", "path", "header", "cookie")


def error_body(status: int, errors: list[FieldError]) -> dict[str, Any]:
    return {"detail": [{"field": e.field, "message": e.message} for e in errors], "status": status}


def error_response(status: int, errors: list[FieldError], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, errors), status_code=status, headers=headers)


def status_of(exc: TagOfflineError) -> int:
    explicit = getattr(exc, "http_status", None)
    if isinstance(explicit, int):
        return explicit
    if isinstance(exc, ValidationFailed):
        return 422
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, PermissionDenied):
        return 403
    return 400


def request_errors(exc: RequestValidationError) -> list[FieldError]:
    """FastAPI's request validation errors as FieldErrors, in the CLI's wording."""
    out = []
    for e in exc.errors():
        loc = tuple(e.get("loc", ()))
        if loc and loc[0] in _LOCATION_ROOTS:
            loc = loc[1:]
        if e.get("type") == "json_invalid":
            out.append(FieldError("", "the request body is not valid JSON"))
            continue
        out.append(FieldError(_loc(loc), _msg(e)))
    return out or [FieldError("", "invalid request")]


async def _tagoffline_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TagOfflineError)
    if isinstance(exc, ValidationFailed):
        return error_response(422, exc.errors)
    return error_response(status_of(exc), [FieldError("", str(exc))])


async def _request_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, request_errors(exc))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if isinstance(detail, list):
        errors = [FieldError(str(d.get("field", "")), str(d.get("message", d))) if isinstance(d, dict)
                  else FieldError("", str(d)) for d in detail]
    else:
        errors = [FieldError("", str(detail))]
    return error_response(exc.status_code, errors, headers=getattr(exc, "headers", None))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return error_response(500, [FieldError("", f"internal error ({type(exc).__name__}); see the API server log")])


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TagOfflineError, _tagoffline_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
