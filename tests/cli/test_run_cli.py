"""`tagoffline demo`, `run` and `service ddl`, as a user runs them (subprocesses, real files)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from command import demo_env, tagoffline


def test_demo_then_run_and_ddl(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    proc = tagoffline("demo", "--home", str(home), "--users", "3000", "--date", "2026-11-23")
    assert proc.returncode == 0, proc.stderr
    assert "SUCCESS: crm_user_tags data date 2026-11-23 -> demo_target:user_tags" in proc.stdout
    assert "rows read 3000, written 3000" in proc.stdout
    # 14 days of data up to the date exported, so a backfill of the days before works
    assert "for 14 data dates, 2026-11-10 to 2026-11-23" in proc.stdout
    assert "Opening DuckDB" not in proc.stdout  # hook chatter stays out of the CLI's output
    db = sqlite3.connect(home / "target.db")
    assert db.execute("SELECT COUNT(*), COUNT(gmv_30d), COUNT(DISTINCT level_codename) FROM user_tags").fetchone() \
        == (3000, 2700, 5)
    assert db.execute("SELECT gender, gender_codename FROM user_tags WHERE user_id = 2").fetchone() == ("M", "Male")
    db.close()

    # A second demo: the catalog is unchanged and the export replaces the table again.
    again = tagoffline("demo", "--home", str(home), "--users", "3000", "--date", "2026-11-23", "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["status"] == "success" and report["rows_written"] == 3000 and report["recovery"] == []

    env = demo_env(home)
    # every entity ID of the demo keys a tag (the form's tag picker is never empty)
    catalog = tagoffline("catalog", "export", env=env)
    assert catalog.returncode == 0 and "code: mobile_city" in catalog.stdout and "id: mobile\n" in catalog.stdout
    # The table records the 2026-11-23 the demo exported: with no Airflow database anywhere near, `run`
    # refuses an older date before writing anything, and --allow-older lets it through.
    no_airflow = {**env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://nobody@127.0.0.1:9/none"}
    refused = tagoffline("run", "crm_user_tags", "--date", "2026-11-22", env=no_airflow)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "error: target demo_target:user_tags holds data date 2026-11-23; data date 2026-11-22 is older and would "
        "roll it back: refused, the table is untouched (allow_older runs it anyway)")
    assert "target holds data date 2026-11-23 (run tagoffline-demo__" in refused.stdout
    held = "SELECT data_date, run_id FROM _tagoffline_held WHERE table_name = 'user_tags'"
    assert sqlite3.connect(home / "target.db").execute(held).fetchone()[0] == "2026-11-23"
    run = tagoffline("run", "crm_user_tags", "--date", "2026-11-22", "--allow-older", "--json", env=no_airflow)
    assert run.returncode == 0, run.stderr
    assert (json.loads(run.stdout)["data_date"], json.loads(run.stdout)["held_before"]) == ("2026-11-22", "2026-11-23")
    recorded = sqlite3.connect(home / "target.db").execute(held).fetchone()
    assert recorded[0] == "2026-11-22" and recorded[1].startswith("tagoffline-run__")

    missing = tagoffline("run", "crm_user_tags", "--date", "2026-01-01", "--allow-older", env=env)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "error: no rows for data date 2026-01-01 in dws_user_profile_d partition ds=20260101, dws_user_trade_d "
        "partition dt=2026-01-01 (partition missing or not produced yet); the target is untouched"]

    ddl = tagoffline("service", "ddl", "crm_user_tags", env=env)
    assert ddl.returncode == 0, ddl.stderr
    assert ddl.stdout.startswith('CREATE TABLE "user_tags" (\n  "user_id" INTEGER NOT NULL,')
    assert '"gmv_30d" TEXT' in ddl.stdout and 'PRIMARY KEY ("user_id")' in ddl.stdout

    # --execute creates the table on an empty target, and refuses when it exists.
    fresh = {**env, "AIRFLOW_CONN_DEMO_TARGET": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "new.db")})}
    created = tagoffline("service", "ddl", "crm_user_tags", "--execute", env=fresh)
    assert created.returncode == 0, created.stderr
    assert sqlite3.connect(tmp_path / "new.db").execute("SELECT COUNT(*) FROM user_tags").fetchone() == (0,)
    exists = tagoffline("service", "ddl", "crm_user_tags", "--execute", env=fresh)
    assert exists.returncode == 1
    assert exists.stderr.strip() == "error: table user_tags already exists on connection 'demo_target'"

    # --sql: an edited statement is parsed and rendered again, or refused in one line before anything runs.
    edited = tmp_path / "edited.sql"
    edited.write_text("create table user_tags (user_id integer primary key, gender text, note text);\n"
                      "drop table victim;\n", encoding="utf-8")
    other = {**env, "AIRFLOW_CONN_DEMO_TARGET": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "o.db")})}
    refused = tagoffline("service", "ddl", "crm_user_tags", "--execute", "--sql", str(edited), env=other)
    assert refused.returncode == 1 and refused.stderr.strip() == (
        "error: statements[0] (statement 2): DROP TABLE is not allowed: only one CREATE TABLE of the target "
        "'user_tags'")
    assert not (tmp_path / "o.db").exists() or sqlite3.connect(tmp_path / "o.db").execute(
        "SELECT COUNT(*) FROM sqlite_master").fetchone() == (0,)
    edited.write_text("create table user_tags (user_id integer primary key, gender text, note text)", encoding="utf-8")
    made = tagoffline("service", "ddl", "crm_user_tags", "--execute", "--sql", str(edited), "--json", env=other)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["statements"] == [
        'CREATE TABLE "user_tags" (\n  "user_id" INTEGER NOT NULL,\n  "gender" TEXT,\n  "note" TEXT,\n'
        '  PRIMARY KEY ("user_id")\n)']
    edited.write_bytes(b"create table user_tags (note text COMMENT '\xff')")
    not_utf8 = tagoffline("service", "ddl", "crm_user_tags", "--sql", str(edited), env=other)
    assert not_utf8.returncode == 1
    assert not_utf8.stderr.strip() == f"error: file: {edited} is not UTF-8 text (invalid start byte at byte 43)"
