"""Any other warehouse reached through an Airflow DB-API hook (Trino, Hive, Snowflake, ...).

Not registered by kind: built per connection from what its hook and driver declare — identifier
quoting from the hook's ``escape_word_format``, the parameter marker from the driver module's DB-API
``paramstyle`` — and the ANSI SQL the extract needs (joins, UNION, GROUP BY, ROW_NUMBER). No
physical row order: among duplicate IDs one row is kept, and the run counts them.
"""

from __future__ import annotations

import sys
from typing import Any

from airflow_provider_tagoffline.contract.dialect import Dialect

#: DB-API paramstyles whose positional marker the extract can use (pyformat drivers take %s too)
PARAMSTYLES = {"qmark": "qmark", "format": "format", "pyformat": "format"}


class GenericDialect(Dialect):
    """ANSI SQL, double quotes and ``?`` until ``generic_dialect`` builds one from a connection."""


def driver_paramstyle(dbapi_conn: Any) -> str | None:
    """The DB-API ``paramstyle`` of the module a connection object comes from (or its parents)."""
    module = type(dbapi_conn).__module__
    while module:
        style = getattr(sys.modules.get(module), "paramstyle", None)
        if isinstance(style, str):
            return style
        module = module.rpartition(".")[0]
    return None


def generic_dialect(kind: str, escape_word_format: str, paramstyle: str) -> Dialect:
    """A dialect for ``kind`` quoting like ``escape_word_format`` (``"{}"``, ```{}```)."""
    quote = escape_word_format[0] if len(escape_word_format) == 4 and escape_word_format[1:3] == "{}" \
        and escape_word_format[0] == escape_word_format[3] else '"'
    # Engines that quote with backticks (Hive, Spark SQL, Databricks, Impala) call text STRING and
    # refuse VARCHAR without a length outside a table definition.
    attrs = {"quote_char": quote, "paramstyle": PARAMSTYLES[paramstyle],
             "text_type": "STRING" if quote == "`" else "VARCHAR"}
    return type("GenericDialect", (GenericDialect,), attrs)(kind, "generic")
