"""The engine's tests run run_data's specs, which read the session's DuckDB warehouse."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _warehouse(warehouse_env: None) -> None:
    """Connection ``tot_warehouse`` for every test here (tests/conftest.py)."""
