"""Run rendered create-table statements on a target: the only place one-click create table writes."""

from __future__ import annotations

from airflow_provider_tagoffline.connections import resolve_target
from airflow_provider_tagoffline.errors import Conflict, RunFailed, ValidationFailed, redacted_first_line
from airflow_provider_tagoffline.runspec import TargetSpec


def create_on_target(target: TargetSpec, conn_id: str, statements: list[str]) -> None:
    """Create the target table on ``conn_id`` with ``statements`` (from ``render``, never user text).

    409 when the table exists already; a refusal of the database comes back as its first line with
    quoted values redacted (a user's edit must not turn error messages into a way to read data).
    """
    where = resolve_target(conn_id)
    try:
        conn = where.open()
    except RunFailed as exc:
        raise ValidationFailed.one("target.conn_id", str(exc)) from None
    t = where.target(target, conn)
    try:
        try:
            exists = t.exists(t.live)
        except Exception as exc:
            raise ValidationFailed.one("target.conn_id", f"cannot read connection {conn_id!r}: "
                                                         f"{redacted_first_line(exc)}") from None
        if exists:
            raise Conflict(f"table {t.display_name} already exists on connection {conn_id!r}")
        try:
            t.create_table(statements)
        except Exception as exc:
            raise ValidationFailed.one("statements", f"the database refused it: {redacted_first_line(exc)}") from None
    finally:
        t.close()
