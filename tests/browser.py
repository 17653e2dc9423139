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
