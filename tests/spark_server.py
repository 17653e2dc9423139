"""A real Spark SQL warehouse for tests and benches: the Spark Thrift Server from PyPI's pyspark.

pyspark ships ``spark-hive-thriftserver``: ``spark-submit --class ...HiveThriftServer2`` serves
Spark SQL over the HiveServer2 protocol, in local mode, with an embedded Derby metastore and a
warehouse folder of its own (Hive-format tables, ``PARTITIONED BY``). It needs Java (17 here).
Started once per test session (about 20–30 s, ~0.7 GB), ended with its whole process group.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.live import free_port

THRIFT_SERVER = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def java_missing() -> str | None:
    """Why the server cannot start here, or None."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no java on PATH (the Spark Thrift Server needs a JVM; Java 17 works)"
    return None


@dataclass
class SparkThriftServer:
    home: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    started_in: float = 0.0

    @property
    def conn_json(self) -> str:
        import json

        return json.dumps({"conn_type": "hiveserver2", "host": "127.0.0.1", "port": self.port, "login": "tagoffline",
                           "schema": "default", "extra": {"auth_mechanism": "NONE"}})

    def log_tail(self, n: int = 4000) -> str:
        log = self.home / "thriftserver.log"
        return log.read_text(errors="replace")[-n:] if log.exists() else ""

    def start(self, timeout: float = 240, memory: str = "1g") -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        spark = spark_home()
        args = [str(spark / "bin" / "spark-submit"), "--class", THRIFT_SERVER, "--master", "local[2]",
                "--driver-memory", memory,
                "--conf", "spark.ui.enabled=false",
                "--conf", f"spark.sql.warehouse.dir={self.home / 'warehouse'}",
                "--conf", f"spark.driver.extraJavaOptions=-Dderby.system.home={self.home}",
                "--conf", "spark.hadoop.javax.jdo.option.ConnectionURL="
                          f"jdbc:derby:;databaseName={self.home / 'metastore_db'};create=true",
                "--conf", "spark.sql.shuffle.partitions=4",
                "--hiveconf", f"hive.server2.thrift.port={self.port}",
                "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1",
                "spark-internal"]
        env = {**os.environ, "SPARK_HOME": str(spark), "SPARK_LOCAL_IP": "127.0.0.1",
               "SPARK_LOG_DIR": str(self.home), "SPARK_PID_DIR": str(self.home)}
        t0 = time.monotonic()
        with open(self.home / "thriftserver.log", "wb") as log:
            self.proc = subprocess.Popen(args, cwd=self.home, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = t0 + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Spark Thrift Server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if "HiveThriftServer2 started" in self.log_tail(20_000) and self._answers():
                self.started_in = time.monotonic() - t0
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Spark Thrift Server did not start in {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.5)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def connect(self) -> Any:
        """A PyHive connection to the server."""
        from pyhive import hive

        return hive.connect(host="127.0.0.1", port=self.port, username="tagoffline", auth="NONE")

    def rss_mb(self) -> float:
        """Resident memory of the server's JVM (the process group), in MB."""
        total = 0
        if self.proc is None:
            return 0.0
        for pid in subprocess.run(["pgrep", "-g", str(self.proc.pid)], capture_output=True, text=True).stdout.split():
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            except (OSError, StopIteration):
                continue
        return total / 1024

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None


def start_server(home: Path) -> SparkThriftServer:
    server = SparkThriftServer(home=home, port=free_port())
    server.start()
    return server
