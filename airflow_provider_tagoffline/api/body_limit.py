"""Request bodies over ``MAX_BODY_BYTES`` get 413 before anything parses them (issue 20, finding 5).

The largest legitimate body is a catalog file applied over REST (a lookup holds at most 10,000 pairs:
about 0.5 MB of JSON); 1 MiB leaves room for it and nothing the API needs is larger. A declared
``Content-Length`` over the limit is refused without reading a byte; a body without one (chunked) is
counted as it streams and refused as soon as it passes the limit. What is read below the limit is
handed on unchanged.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_tagoffline.api.errors import error_response
from airflow_provider_tagoffline.errors import FieldError

MAX_BODY_BYTES = 1024 * 1024


def too_large_message(limit: int = MAX_BODY_BYTES) -> str:
    return f"the request body is larger than {limit} bytes ({limit // 1024} KiB), the most this API reads"


class BodyLimit:
    """ASGI middleware of the plugin's app."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # the client went away: the app sees it as it would have
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(413, [FieldError("", too_large_message(self.limit))],
                             headers={"Connection": "close"})(scope, receive, send)
