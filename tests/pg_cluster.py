"""A private PostgreSQL 15 cluster a test may restart: ``initdb`` into a folder of its own, served on
a free port (TCP on 127.0.0.1 and a socket in that folder), so the shared server is never touched.

PostgreSQL refuses to run as root: when the tests do, every command runs as the ``postgres`` OS user
(``runuser``), who owns the folder. Started once per test session (``initdb`` takes ~2-7 s here),
stopped and removed at its end.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.live import free_port

BIN = Path(os.environ.get("TAGOFFLINE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"


def missing() -> str | None:
    """Why a private cluster cannot run here, or None."""
    if not (BIN / "initdb").exists():
        return f"no {BIN / 'initdb'} (PostgreSQL 15 server binaries; set TAGOFFLINE_TEST_PG_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return f"running as root and there is no {OS_USER!r} OS user to run PostgreSQL as"
    return None


class PrivateCluster:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="tot-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.folder, OS_USER)
        self._run(BIN / "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")

    def _run(self, *command: str | Path) -> None:
        args = [str(c) for c in command]
        if os.geteuid() == 0:
            args = ["runuser", "-u", OS_USER, "--", *args]
        done = subprocess.run(args, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed: {done.stderr or done.stdout}\n{log}")

    def _pg_ctl(self, action: str, *options: str) -> None:
        # fsync off: the restarts here cut processes, not power; it spares a sync of the data folder
        # at every start after an immediate stop (3-4 s here)
        server = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(BIN / "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", server, "-w", "-t", "60",
                  *options, action)

    def start(self) -> None:
        self._pg_ctl("start")

    def restart(self, mode: str = "immediate") -> None:
        """Stop the server (``immediate``: as a crash, every session cut, WAL replayed at start) and
        start it again; returns when it accepts connections."""
        self._pg_ctl("restart", "-m", mode)

    def remove(self) -> None:
        try:
            self._pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    # ---- databases -------------------------------------------------------------------------------
    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def conn_json(self, dbname: str) -> str:
        """An Airflow connection (AIRFLOW_CONN_* JSON) to ``dbname`` of this cluster."""
        return json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": self.port, "login": "postgres",
                           "schema": dbname})

    def create_database(self) -> str:
        import psycopg

        name = f"tot_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
