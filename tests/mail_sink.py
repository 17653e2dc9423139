"""A local SMTP server (aiosmtpd) keeping every mail it receives: what notification tests send to."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.live import free_port


class Sink:
    """aiosmtpd handler keeping every message it receives: (mail from, recipients, raw content)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@contextmanager
def running_sink() -> Iterator[tuple[Sink, int]]:
    """An SMTP server on 127.0.0.1 (a free port) for the duration; yields its sink and port."""
    from aiosmtpd.controller import Controller

    port = free_port()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()
