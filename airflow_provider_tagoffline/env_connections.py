"""An Airflow connection read from its ``AIRFLOW_CONN_<ID>`` variable as Airflow reads it, without Airflow.

Importing Airflow (``import airflow``: its configuration, settings and ORM set-up) is all that
``airflow version`` does and costs as much as the rest of ``tagoffline run`` together
(``docs/performance.md``, CLI startup). Where no secrets backend is configured, Airflow's answer for a
connection whose variable is set is that variable, parsed by its ``Connection.from_json`` or
``from_uri``; this module parses it the same way (``tests/test_env_connections.py`` compares both on
every form), so a process that has not loaded Airflow (the CLI) resolves its connections without it.

Anything this module is not sure to read as Airflow would (a secrets backend, a team-scoped id, a value
Airflow would reject or read with a warning, a field it does not know) returns None: the caller asks
Airflow, which answers or fails in its own words. Airflow's masking of a connection's secrets concerns
its own log output, which a process that has not loaded Airflow has none of.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from airflow_provider_tagoffline import config

#: Airflow's ``CONN_ENV_PREFIX`` (``airflow.secrets.environment_variables``)
PREFIX = "AIRFLOW_CONN_"
#: Airflow's team separator: ``AIRFLOW_CONN__<TEAM>___<ID>`` (multi-team mode); such ids go to Airflow
TEAM_SEP = "___"
#: Airflow's key for a non-flat ``extra`` in a URI's query
EXTRA_KEY = "__extra__"


@dataclass(frozen=True)
class EnvConnection:
    """The fields of Airflow's ``Connection`` (``airflow.sdk.definitions.connection``) that a service uses."""

    conn_id: str
    conn_type: str | None = None
    description: str | None = None
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    port: int | None = None
    extra: str | None = None

    @property
    def extra_dejson(self) -> dict[str, Any]:
        # lookup() admits only an extra that is a JSON object
        return json.loads(self.extra) if self.extra else {}

    def get_hook(self, *, hook_params: dict[str, Any] | None = None) -> Any:
        """The connection's Airflow hook: Airflow's own connection of the same id makes it."""
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(self.conn_id).get_hook(hook_params=hook_params)


def lookup(conn_id: str) -> EnvConnection | None:
    """``conn_id`` read from its variable as Airflow would read it; None when Airflow must answer."""
    value = os.environ.get(PREFIX + conn_id.upper())
    if not value or not value.strip() or TEAM_SEP in conn_id or config.secrets_backend_configured():
        return None
    try:
        value = value.strip()
        conn = from_json(value, conn_id) if value[0] == "{" else from_uri(value, conn_id)
        if conn.extra and not isinstance(json.loads(conn.extra), dict):
            return None
    except (ValueError, TypeError):  # Airflow raises its own error, or logs one and reads the extra as {}
        return None
    return conn


def _normalize_conn_type(conn_type: str) -> str:
    if conn_type == "postgresql":
        return "postgres"
    return conn_type.replace("-", "_") if "-" in conn_type else conn_type


_FIELDS = {f.name for f in fields(EnvConnection)} - {"conn_id"}


def from_json(value: str, conn_id: str) -> EnvConnection:
    """Airflow's ``Connection.from_json``; a ValueError for anything Airflow would not build as given."""
    kwargs = json.loads(value)
    if not isinstance(kwargs, dict) or not set(kwargs) <= _FIELDS:
        raise ValueError("not the fields of a connection")  # e.g. "uri": Airflow's own path
    extra = kwargs.pop("extra", None)
    if extra:
        kwargs["extra"] = extra if isinstance(extra, str) else json.dumps(extra)
    conn_type = kwargs.pop("conn_type", None)
    if conn_type:
        kwargs["conn_type"] = _normalize_conn_type(conn_type)
    port = kwargs.pop("port", None)
    if port:
        kwargs["port"] = int(port)
    return EnvConnection(conn_id=conn_id, **kwargs)


def _hostname(parts: Any) -> str:
    """Airflow's ``_parse_netloc_to_hostname``: the host as written where it holds a path."""
    hostname = unquote(parts.hostname or "")
    if "/" in hostname:
        hostname = parts.netloc
        if "@" in hostname:
            hostname = hostname.rsplit("@", 1)[1]
        if ":" in hostname:
            hostname = hostname.split(":", 1)[0]
        hostname = unquote(hostname)
    return hostname


def from_uri(uri: str, conn_id: str) -> EnvConnection:
    """Airflow's ``Connection.from_uri``; a ValueError where Airflow raises."""
    schemes = uri.count("://")
    if schemes > 2:
        raise ValueError("invalid connection string")
    host_with_protocol = schemes == 2
    parts = urlsplit(uri)
    conn_type = parts.scheme
    rest = uri.replace(f"{conn_type}://", ("" if host_with_protocol else "//"))
    if host_with_protocol:
        first = rest.split("://", 1)[0]
        if "@" in first or ":" in first:
            raise ValueError("invalid connection string")
    parts = urlsplit(rest)
    protocol = parts.scheme if host_with_protocol else None
    host = _hostname(parts)
    quoted_schema = parts.path[1:]
    extra = None
    if parts.query:
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        extra = query[EXTRA_KEY] if EXTRA_KEY in query else json.dumps(query)
    return EnvConnection(
        conn_id=conn_id,
        conn_type=_normalize_conn_type(conn_type),
        host=f"{protocol}://{host}" if host and protocol else host,
        schema=unquote(quoted_schema) if quoted_schema else quoted_schema,
        login=unquote(parts.username) if parts.username else parts.username,
        password=unquote(parts.password) if parts.password else parts.password,
        port=parts.port,  # a ValueError for a port out of range, as in Airflow
        extra=extra,
    )
