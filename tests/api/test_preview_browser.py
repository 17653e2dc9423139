"""The preview dialog in a real browser (chromium through Playwright, the session's Airflow with the
plugin): from the list for a saved service, from the form for the definition being edited (not
saved), and disabled with its reason for a user who may not see the data. One screenshot:
docs/screenshots/preview.png (or $TAGOFFLINE_SCREENSHOTS)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser import shot, signed_in_page
from playwright.sync_api import Browser, Locator, Page, expect

from tests.live import pg_connect

pytestmark = pytest.mark.airflow

NAME = "预览_客户标签"
TABLE = "t_preview_browser"


@pytest.fixture(scope="module")
def service(alice: Any, service_body: Any, pg_dbs: dict[str, str]) -> Iterator[str]:
    body = service_body(NAME)
    body["target"]["table"] = TABLE
    assert alice.post("/services", json=body).status_code == 201, body
    assert alice.post(f"/services/{NAME}/ddl", json={}).status_code == 200
    # The live table as someone left it: a too-narrow code-name column, an unmapped column, and rows
    # of an older day (user 1 the same, user 2 different, user 9 gone from the warehouse, user 3 new).
    with pg_connect(pg_dbs["target"]) as conn:
        conn.execute(f"ALTER TABLE {TABLE} ALTER COLUMN gender_codename TYPE varchar(4), ADD COLUMN note text")
        conn.execute(f"INSERT INTO {TABLE} (user_id, gender, gender_codename, gmv_30d) VALUES "
                     "(1, 'M', 'Male', 10.50), (2, 'F', 'Fem', 9.99), (9, 'M', 'Male', 1.00)")
    yield NAME
    alice.delete(f"/services/{NAME}")
    with pg_connect(pg_dbs["target"]) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")


def _preview_button(browser: Browser, api_server: Any, user: str, service: str) -> tuple[Page, Locator]:
    """The list of services as ``user`` sees it, searched for ``service``; and its row's preview button."""
    page = signed_in_page(browser, api_server, user)
    page.goto(f"{api_server.base_url}/tag-offline/ui/")
    page.get_by_role("searchbox", name="Search name").fill(service)
    return page, page.locator(f"tr[data-service='{service}'] button[data-action='preview']")


def test_preview_from_the_list(browser: Browser, api_server: Any, service: str) -> None:
    page, button = _preview_button(browser, api_server, "alice", service)
    expect(button).to_be_enabled()
    button.click()
    dialog = page.locator("dialog#dialog")
    expect(dialog).to_be_visible()
    dialog.locator("#pv-date").fill("2026-01-02")
    dialog.locator("#pv-load").click()
    changes = dialog.locator("#preview-changes")
    expect(changes).to_contain_text("+1 added")
    expect(changes).to_contain_text("−1 removed")
    expect(changes).to_contain_text("~1 changed")
    expect(changes).to_contain_text("1 unchanged")
    expect(changes).to_contain_text("of 3 live rows")
    # each difference on its own row, with the exact column
    expect(dialog.locator("tr[data-kind='length'][data-column='gender_codename']")).to_contain_text(
        "2 value(s) longer than 4 characters (longest 6, entity ID ")  # users 2 and 3: Female
    expect(dialog.locator("tr[data-kind='length'][data-column='gender_codename']")).to_contain_text(
        "character varying(4)")
    expect(dialog.locator("tr[data-kind='extra'][data-column='note']")).to_be_visible()
    # a value too long for its column fails the load
    expect(dialog.locator("#preview-verdict")).to_contain_text("A run for this data date would fail.")
    expect(dialog.locator("#preview-problems")).to_have_text("column gender_codename: length (below)")
    expect(dialog.locator("#preview-sample tbody tr")).to_have_count(3)
    expect(dialog.locator("#preview-sample thead th")).to_have_text(["user_id", "gender", "gender_codename", "gmv_30d"])
    shot(page, "preview", full_page=False)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    page.context.close()


def test_preview_of_the_form_before_saving(browser: Browser, api_server: Any, alice: Any, service: str) -> None:
    version = alice.get(f"/services/{service}").json()["version"]
    page = signed_in_page(browser, api_server, "alice")
    page.goto(f"{api_server.base_url}/tag-offline/ui/#/edit/{service}")
    expect(page.locator("#mapping tbody tr")).to_have_count(2)
    # drop the code name from the mapping, unsaved: the preview shows the form, not the stored service
    page.locator("#mapping tr[data-mapping='gender'] input[data-output='codename']").uncheck()
    page.locator("#preview-draft").click()
    dialog = page.locator("dialog#dialog")
    expect(dialog.locator("h2")).to_contain_text("(not saved)")
    dialog.locator("#pv-date").fill("2026-01-02")
    dialog.locator("#pv-load").click()
    expect(dialog.locator("#preview-sample thead th")).to_have_text(["user_id", "gender", "gmv_30d"])
    expect(dialog.locator("tr[data-kind='extra'][data-column='gender_codename']")).to_be_visible()
    # without the code name, nothing is too long: a run of the form as it is would succeed
    expect(dialog.locator("#preview-verdict")).to_contain_text("A run for this data date would succeed.")
    dialog.get_by_role("button", name="Close").click()
    page.context.close()
    assert alice.get(f"/services/{service}").json()["version"] == version  # nothing saved


def test_who_may_not_sees_why(browser: Browser, api_server: Any, service: str) -> None:
    page, button = _preview_button(browser, api_server, "carol", service)
    expect(button).to_be_disabled()
    expect(button).to_have_attribute("title", "user 'carol' is not an admin or member of application 'crm' and "
                                              "may not preview the data of its services")
    page.context.close()
