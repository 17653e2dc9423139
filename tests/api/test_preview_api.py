"""Preview over HTTP: a saved service and an unsaved draft, who may, bad input, nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from api_data import warehouse_rows

from tests.live import pg_connect

pytestmark = pytest.mark.airflow

NAME = "svc_preview_api"


def _target_tables(pg_dbs: dict[str, str]) -> list[str]:
    with pg_connect(pg_dbs["target"]) as conn:
        return sorted(r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE %s", [f"t_{NAME}%"]).fetchall())


@pytest.fixture(scope="module")
def saved(alice: Any, service_body: Any, pg_dbs: dict[str, str]) -> Any:
    body = service_body(NAME)
    assert alice.post("/services", json=body).status_code == 201
    assert alice.post(f"/services/{NAME}/ddl", json={}).status_code == 200
    yield body
    alice.delete(f"/services/{NAME}")


def test_preview_of_a_saved_service(alice: Any, saved: Any, pg_dbs: dict[str, str]) -> None:
    tables = _target_tables(pg_dbs)
    r = alice.get(f"/services/{NAME}/preview", params={"data_date": "2026-01-02", "sample": 2})
    assert r.status_code == 200, r.text
    p = r.json()
    expected = warehouse_rows("20260102")
    assert p["target_exists"] and p["columns"] == []
    assert p["rows"] == len(expected) and len(p["sample"]) == 2
    assert p["sample_columns"] == ["user_id", "gender", "gender_codename", "gmv_30d"]
    assert [s["partition"] for s in p["sources"]] == ["ds=20260102", "ds=20260102"]
    assert p["changes"] == {"live_rows": 0, "added": len(expected), "removed": 0, "changed": 0, "unchanged": 0,
                            "change_ratio": None, "compared_columns": ["user_id", "gender", "gender_codename",
                                                                       "gmv_30d"],
                            "method": "streamed entity IDs and row digests from both sides"}
    assert _target_tables(pg_dbs) == tables  # no stage table, nothing created


def test_who_may_preview(alice: Any, bob: Any, carol: Any, mallory: Any, saved: Any) -> None:
    assert bob.get(f"/services/{NAME}/preview", params={"data_date": "2026-01-02"}).status_code == 200
    for client, who in ((carol, "carol"), (mallory, "mallory")):
        r = client.get(f"/services/{NAME}/preview", params={"data_date": "2026-01-02"})
        assert r.status_code == 403
        message = r.json()["detail"][0]["message"]
        assert message == (f"user {who!r} is not an admin or member of application 'crm' and may not preview the "
                           "data of its services")
        # the list says it beforehand, word for word (the web view's tooltip)
        assert client.get(f"/services/{NAME}").json()["preview_refusal"] == message
    assert alice.get(f"/services/{NAME}").json()["preview_refusal"] is None


def test_bad_input_names_the_field(alice: Any, saved: Any) -> None:
    r = alice.get(f"/services/{NAME}/preview", params={"data_date": "2999-01-01"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "data_date"
    r = alice.get(f"/services/{NAME}/preview", params={"data_date": "yesterday"})
    assert r.status_code == 422
    r = alice.get(f"/services/{NAME}/preview", params={"sample": 5000})
    assert r.status_code == 422
    assert alice.get("/services/no_such_service/preview").status_code == 404


def test_preview_of_an_unsaved_draft(alice: Any, carol: Any, service_body: Any, pg_dbs: dict[str, str]) -> None:
    draft = service_body("svc_preview_draft", mappings=[{"tag": "gender", "value": "gender"},
                                                        {"tag": "gmv_30d", "value": "gmv_30d"}])
    tables = _target_tables(pg_dbs)
    r = alice.post("/services/preview", json={"service": draft, "data_date": "2026-01-03"})
    assert r.status_code == 200, r.text
    p = r.json()
    assert not p["target_exists"] and p["changes"] is None
    assert p["would_fail"][0].startswith("target table t_svc_preview_draft does not exist")
    assert p["rows"] == len(warehouse_rows("20260103"))
    assert sorted(row[0] for row in p["sample"]) == sorted(warehouse_rows("20260103"))
    assert alice.get("/services/svc_preview_draft").status_code == 404  # not saved
    assert _target_tables(pg_dbs) == tables
    # the draft is held to the catalog as a save would be: level is not granted to crm
    bad = service_body("svc_preview_draft", mappings=[{"tag": "level", "value": "level"}])
    r = alice.post("/services/preview", json={"service": bad})
    assert r.status_code == 422 and r.json()["detail"][0]["field"].startswith("mappings")
    assert carol.post("/services/preview", json={"service": draft}).status_code == 403
