"""Every error of the `tagoffline` CLI is one line (`error: ...`, exit 1), as a user runs it: bad files, NaN in
a service file on SQLite and PostgreSQL catalog stores, a store that refuses a write or is not there, an
error nobody planned for. A traceback only with TAGOFFLINE_DEBUG=1; never SQL or its parameters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "tagoffline"
EXAMPLES = Path(str(resources.files("airflow_provider_tagoffline") / "examples"))
NAN_SERVICE = (EXAMPLES / "service.yaml").read_text().replace("max_change_ratio: 0.5", "max_change_ratio: .nan")


def tagoffline(store_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": store_url,
                               "AIRFLOW_CONN_CRM_MYSQL": json.dumps({"conn_type": "mysql", "host": "db"}), **env})


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr.rstrip("\n")


@pytest.fixture
def sqlite_store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    assert tagoffline(url, "db", "migrate").returncode == 0
    return url


def test_a_file_that_is_not_utf8(sqlite_store: str, tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("name: café\n".encode("latin-1"))
    utf16 = tmp_path / "utf16.yaml"
    utf16.write_text("name: x\n", encoding="utf-16")
    for command in ("service", "catalog"):
        assert one_error_line(tagoffline(sqlite_store, command, "apply", str(latin1))) == \
            f"error: file: {latin1} is not UTF-8 text (invalid continuation byte at byte 9)"
    assert one_error_line(tagoffline(sqlite_store, "service", "apply", str(utf16))) == \
        f"error: file: {utf16} is not UTF-8 text (invalid start byte at byte 0)"


def test_yaml_that_does_not_parse_is_one_line(sqlite_store: str, tmp_path: Path) -> None:
    control = tmp_path / "control.yaml"
    control.write_text("name: a\x01b\n")
    assert one_error_line(tagoffline(sqlite_store, "service", "apply", str(control))) == \
        f"error: file: {control}: not valid YAML (character #x0001 at position 7: special characters are not allowed)"
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert one_error_line(tagoffline(sqlite_store, "catalog", "apply", str(deep))) == \
        f"error: file: {deep}: not valid YAML (nested too deeply)"


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_nan_in_a_service_file_is_one_line_on_every_store(store: str, sqlite_store: str, request: pytest.FixtureRequest,
                                                          tmp_path: Path) -> None:
    url = sqlite_store if store == "sqlite" else request.getfixturevalue("pg_url")
    if store == "postgres":
        assert tagoffline(url, "db", "migrate").returncode == 0
    assert tagoffline(url, "catalog", "apply", str(EXAMPLES / "catalog.yaml")).returncode == 0
    bad = tmp_path / "service.yaml"
    for value in (".nan", ".inf", "-.inf"):
        bad.write_text(NAN_SERVICE.replace(".nan", value))
        assert one_error_line(tagoffline(url, "service", "apply", str(bad))) == \
            "error: gates.max_change_ratio: must be a finite number"
    listing = tagoffline(url, "service", "list", "--json")
    assert listing.returncode == 0 and json.loads(listing.stdout)["total"] == 0
    ok = tagoffline(url, "service", "apply", str(EXAMPLES / "service.yaml"))
    assert ok.returncode == 0, ok.stderr


@pytest.mark.postgres
def test_a_store_that_refuses_a_write_prints_no_sql_or_parameters(pg_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    assert tagoffline(pg_url, "db", "migrate").returncode == 0
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:  # stands for any refusal of the database: a constraint, a full disk, a grant
        conn.execute(sa.text("ALTER TABLE tagoffline_application ADD CONSTRAINT tot_no_refusal "
                             "CHECK (name NOT LIKE '%refused-by-db%')"))
    engine.dispose()
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("applications:\n  - {code: crm, name: 'secret-value refused-by-db', admins: [alice]}\n")
    line = one_error_line(tagoffline(pg_url, "catalog", "apply", str(catalog)))
    assert line.startswith("error: database error (CheckViolation): new row for relation "
                           '"tagoffline_application" violates check constraint "tot_no_refusal"'), line
    for leak in ("INSERT", "[SQL", "parameters", "secret-value", "Failing row"):
        assert leak not in line


def test_a_store_that_is_not_there(tmp_path: Path) -> None:
    from tests.live import pg_url

    url = pg_url("tot_no_such_db", driver="psycopg")
    line = one_error_line(tagoffline(url, "service", "list"))
    assert line.startswith("error: database error (OperationalError): ") and 'database "tot_no_such_db"' in line
    assert one_error_line(tagoffline("not a url", "service", "list")) == \
        "error: database error (ArgumentError): Could not parse SQLAlchemy URL from given URL string"


def test_an_unexpected_error_is_one_line_and_a_traceback_only_on_request(sqlite_store: str, tmp_path: Path) -> None:
    missing = tmp_path / "no_such_dir" / "catalog.yaml"
    assert one_error_line(tagoffline(sqlite_store, "catalog", "export", "-o", str(missing))) == \
        f"error: {missing}: No such file or directory"
    debug = tagoffline(sqlite_store, "catalog", "export", "-o", str(missing), TAGOFFLINE_DEBUG="1")
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert "FileNotFoundError" in debug.stderr

    # A bug nobody planned for, injected into the real entry point: its first line, never a traceback.
    script = ("import sys; from airflow_provider_tagoffline.cli import main, service_cmd\n"
              "def broken(*a, **k): raise KeyError('first line\\nsecond line')\n"
              "service_cmd.lifecycle.list_services = broken\n"
              "sys.argv = ['tagoffline', 'service', 'list']; main.main()\n")
    env = {**os.environ, "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN": sqlite_store}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert one_error_line(proc) == ("error: unexpected KeyError: 'first line\\nsecond line' "
                                    "(set TAGOFFLINE_DEBUG=1 to see the traceback)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**env, "TAGOFFLINE_DEBUG": "1"})
    assert proc.returncode == 1 and "Traceback (most recent call last)" in proc.stderr and "KeyError" in proc.stderr


def test_a_command_that_says_it_failed_exits_non_zero(tmp_path: Path) -> None:
    """typer.Exit(1) from a command (db check on a store not migrated, a failed publish or unpublish)
    is the process's exit code: scripts and CI steps rely on it. Click outside standalone mode returns
    that code instead of raising it; run_app passes it on."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    proc = tagoffline(url, "db", "check")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "needs `tagoffline db migrate`" in proc.stdout + proc.stderr
    assert tagoffline(url, "db", "migrate").returncode == 0
    assert tagoffline(url, "db", "check").returncode == 0


@pytest.mark.parametrize(("args", "usage", "message"), [
    (("run", "--x"), "Usage: tagoffline run [OPTIONS]", "Error: No such option: --x"),
    (("service", "list", "--jsn"), "Usage: tagoffline service list [OPTIONS]",
     "Error: No such option: --jsn (Possible options: --json)"),
    (("nosuch",), "Usage: tagoffline [OPTIONS] COMMAND [ARGS]...", "Error: No such command 'nosuch'."),
    (("service", "apply"), "Usage: tagoffline service apply [OPTIONS]", "Error: Missing argument"),
])
def test_a_usage_error_is_clicks_own_with_exit_code_2(tmp_path: Path, args: tuple[str, ...], usage: str,
                                                       message: str) -> None:
    """As every click CLI: the command's usage, the hint to its --help, the message; exit 2. Never an
    "unexpected" error (typer vendors click, so its errors are not ``click.ClickException``)."""
    proc = tagoffline(f"sqlite:///{tmp_path / 'none.db'}", *args)
    assert (proc.returncode, proc.stdout) == (2, ""), (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(usage), proc.stderr
    assert lines[1] == f"Try '{usage.split(' [')[0].removeprefix('Usage: ')} --help' for help.", proc.stderr
    assert lines[-1].startswith(message) and "unexpected" not in proc.stderr, proc.stderr
