"""Reading any other warehouse: ``fetchmany`` through its Airflow hook's DB-API connection, with a
dialect built from what the hook and the driver declare."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from airflow_provider_tagoffline.dialects.generic.connect import sql_hook
from airflow_provider_tagoffline.dialects.generic.dialect import PARAMSTYLES, driver_paramstyle, generic_dialect
from airflow_provider_tagoffline.engine.warehouse import Reader
from airflow_provider_tagoffline.errors import RunFailed, first_line

if TYPE_CHECKING:
    from airflow_provider_tagoffline.connections import Resolved


class GenericReader(Reader):
    @classmethod
    def open(cls, where: Resolved) -> Reader:
        hook = sql_hook(where.conn_id, where.connection)
        try:
            conn = hook.get_conn()
        except Exception as exc:
            first = first_line(exc)
            raise RunFailed(f"cannot connect to {where.conn_id!r} ({where.connection.conn_type}): {first}") from None
        style = driver_paramstyle(conn)
        if style not in PARAMSTYLES:
            with contextlib.suppress(Exception):
                conn.close()
            raise RunFailed(f"warehouse connection {where.conn_id!r}: its driver's parameter style {style!r} is "
                            f"not supported; supported: {', '.join(PARAMSTYLES)}")
        return cls(conn, where.conn_id, generic_dialect(where.kind, hook.escape_word_format, style))
