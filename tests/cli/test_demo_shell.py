"""A new user's second shell after `tagoffline demo`: the demo prints the lines that point it at the
demo's catalog, and a shell without them is told so by a read-only command, which creates no stray
catalog store in ~/airflow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def clean_shell(home: Path) -> dict[str, str]:
    """A fresh login's environment: no AIRFLOW_* or TAGOFFLINE_* variables, its own HOME (~/airflow is there)."""
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "USER", "LOGNAME", "TMPDIR")}
    return {**keep, "HOME": str(home), "PATH": f"{BIN}{os.pathsep}/usr/bin:/bin"}


def test_the_demo_says_how_another_shell_reaches_it_and_a_bare_shell_is_told(tmp_path: Path) -> None:
    home, user_home = tmp_path / "demo", tmp_path / "user"
    user_home.mkdir()
    demo = subprocess.run([str(BIN / "tagoffline"), "demo", "--home", str(home), "--users", "500", "--date",
                           "2026-11-23"], capture_output=True, text=True, timeout=300,
                          env={**clean_shell(user_home)})
    assert demo.returncode == 0, demo.stderr
    said = demo.stdout.splitlines()
    start = next(i for i, line in enumerate(said) if line.startswith("To reach this demo from another shell"))
    exports = [line.strip() for line in said[start + 1:] if line.startswith("  export ")]
    assert [e.split("=", 1)[0] for e in exports] == [
        "export AIRFLOW_HOME", "export AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN",
        "export AIRFLOW__TAG_OFFLINE__WAREHOUSE_CONN_ID", "export AIRFLOW_CONN_TAG_WAREHOUSE",
        "export AIRFLOW_CONN_DEMO_TARGET"]
    assert (home / "env.sh").read_text().splitlines() == exports

    # a new shell without them: told where it looked and what to do; nothing created in ~/airflow
    bare = subprocess.run([str(BIN / "tagoffline"), "service", "show", "crm_user_tags"], capture_output=True,
                          text=True, timeout=120, env=clean_shell(user_home), cwd=tmp_path)
    assert bare.returncode == 1
    store = user_home / "airflow" / "tag_offline.db"
    assert bare.stderr.strip() == (
        f"error: no catalog store at sqlite:///{store} (the default in AIRFLOW_HOME={user_home / 'airflow'}, as "
        "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN is not set); point this shell at yours: export "
        "AIRFLOW__TAG_OFFLINE__SQL_ALCHEMY_CONN=... (and AIRFLOW_HOME=...; `tagoffline demo` prints both for its "
        "catalog), or create a new one here with `tagoffline db migrate`")
    assert not store.exists() and not (user_home / "airflow").exists(), list(user_home.rglob("*"))

    # the printed lines, pasted into a shell, reach the demo's catalog (and the copy in env.sh the same)
    for script in ("\n".join(exports), f". {home / 'env.sh'}"):
        shown = subprocess.run(["bash", "-c", f"{script}\ntagoffline service show crm_user_tags --json"],
                               capture_output=True, text=True, timeout=120, env=clean_shell(user_home))
        assert shown.returncode == 0, shown.stderr
        assert '"name": "crm_user_tags"' in shown.stdout
    assert not (user_home / "airflow").exists()
