"""Data the API tests' warehouse holds, shared by the fixture that builds it and the tests."""

from __future__ import annotations

WAREHOUSE_DATES = ("20260101", "20260102", "20260103")
#: the API stack's users and their Airflow roles (SimpleAuthManager), and their passwords
USERS = {"admin": "admin", "alice": "user", "bob": "user", "carol": "viewer", "mallory": "user", "oscar": "op"}
PASSWORDS = {u: f"{u}-pw" for u in USERS}
#: the password of connection crm_pg: no answer of the API may ever hold it
PG_TARGET_PASSWORD = "s3cret-never-shown"


def warehouse_rows(ds: str) -> dict[int, tuple[str, int, str | None]]:
    """user_id -> (gender, level, gmv_30d) in the warehouse for partition ``ds``: level is the day."""
    day = int(ds[-2:])
    rows: dict[int, tuple[str, int, str | None]] = {1: ("M", day, "10.50"), 2: ("F", day, None)}
    if day >= 2:
        rows[3] = ("F", day, f"{day}.25")
    return rows
