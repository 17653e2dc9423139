"""A real browser for the web view and Airflow's own UI: Debian's chromium driven by Playwright,
signed in to the test stack's Airflow with a user's JWT in the ``_token`` cookie (as Airflow's login
page sets it). Screenshots go to docs/screenshots/ (or $TAGOFFLINE_SCREENSHOTS)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("TAGOFFLINE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("TAGOFFLINE_SCREENSHOTS",
                                  Path(__file__).resolve().parents[1] / "docs" / "screenshots"))
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@contextmanager
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/install.sh installs Debian's chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield b
        finally:
            b.close()


def signed_in_page(browser: Browser, api_server: Any, user: str, **context: Any) -> Page:
    context = {"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN", **context}
    ctx = browser.new_context(**context)
    ctx.add_cookies([{"name": "_token", "value": api_server.token(user), "url": api_server.base_url}])
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    return page


def shot(page: Page, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def fill_new_service(page: Page, name: str, application: str, table: str, conn_id: str = "crm_pg",
                     schema: str | None = None, owner: str | None = None, manual: bool = False,
                     tags: tuple[str, ...] = ("gender",)) -> None:
    """Fill the new-service form (open at ``#/new``): ``name`` in ``application`` (``owner`` if given),
    the entity ``user`` keyed by ``user_id`` (run by hand if ``manual``), writing ``table`` of
    ``conn_id`` (in ``schema`` if given), with ``tags`` picked."""
    page.fill("#name", name)
    page.select_option("#application", application)
    if owner:
        page.fill("#owner", owner)
    page.select_option("#entity", "user")
    page.select_option("#entity_id", "user_id")
    if manual:
        page.check("#schedule_manual")
    page.select_option("#conn_id", conn_id)
    if schema:
        page.select_option("#schema", schema)
    page.fill("#table", table)
    for tag in tags:
        page.check(f"#tag-picker input[data-tag={tag}]")
