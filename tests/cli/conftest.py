"""The CLI run in-process, as the ``tagoffline`` command runs it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_tagoffline.cli.main import main


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run the CLI in-process against a fresh SQLite store (not migrated yet), as user ``tester``, with
    a MariaDB connection ``crm_mysql`` whose password must never show; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN", f"sqlite:///{tmp_path / 'catalog.db'}")
    monkeypatch.setenv("AIRFLOW_CONN_CRM_MYSQL", "mysql://crm:s3cret@127.0.0.1:3306/crm")
    monkeypatch.setenv("TAGOFFLINE_USER", "tester")

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["tagoffline", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run
