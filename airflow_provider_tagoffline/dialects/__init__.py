"""Target dialects: one module per family, registered by target kind.

``get_dialect(kind)`` is the only entry point; callers never branch on the kind themselves.
"""

from __future__ import annotations

from airflow_provider_tagoffline.dialects.base import PARTITION_FORMATS, SWAP_SUFFIXES, DdlType, Dialect

_REGISTRY: dict[str, type[Dialect]] = {}

#: conn_type of an Airflow connection → default target kind; ``extra.flavor`` refines it
CONN_TYPE_KINDS = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "mysql": "mysql",
    "oracle": "oracle",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
}
#: flavours a connection may declare in ``extra.flavor``, per conn_type
FLAVORS = {
    "postgres": ("postgres", "greenplum", "adb_pg", "opengauss"),
    "mysql": ("mysql", "mariadb"),
}
TARGET_KINDS = ("postgres", "greenplum", "adb_pg", "opengauss", "mysql", "oracle", "sqlite", "duckdb", "warehouse")


def register(cls: type[Dialect]) -> type[Dialect]:
    for kind in cls.kinds:
        _REGISTRY[kind] = cls
    return cls


def _load_builtin() -> None:
    # Imported for their @register side effect.
    from airflow_provider_tagoffline.dialects.duckdb import dialect as _duckdb  # noqa: F401
    from airflow_provider_tagoffline.dialects.mysql import dialect as _mysql  # noqa: F401
    from airflow_provider_tagoffline.dialects.oracle import dialect as _oracle  # noqa: F401
    from airflow_provider_tagoffline.dialects.postgres import dialect as _postgres  # noqa: F401
    from airflow_provider_tagoffline.dialects.sqlite import dialect as _sqlite  # noqa: F401


def get_dialect(kind: str) -> Dialect:
    if not _REGISTRY:
        _load_builtin()
    try:
        return _REGISTRY[kind](kind)
    except KeyError:
        raise ValueError(f"unsupported target kind {kind!r}; supported: {', '.join(sorted(_REGISTRY))}") from None


def kind_for_connection(conn_type: str | None, extra: dict | None) -> str:
    """Target kind of an Airflow connection: its conn_type, refined by ``extra.flavor``."""
    ct = (conn_type or "").lower()
    if ct not in CONN_TYPE_KINDS:
        raise ValueError(
            f"connection type {conn_type!r} is not a supported target; supported: "
            + ", ".join(sorted(set(CONN_TYPE_KINDS)))
        )
    kind = CONN_TYPE_KINDS[ct]
    flavor = str((extra or {}).get("flavor") or "").lower()
    if flavor:
        allowed = FLAVORS.get(kind, (kind,))
        if flavor not in allowed:
            raise ValueError(
                f"extra.flavor {flavor!r} does not fit a {ct} connection; expected one of {', '.join(allowed)}"
            )
        kind = "mysql" if flavor == "mariadb" else flavor
    return kind


__all__ = [
    "FLAVORS",
    "PARTITION_FORMATS",
    "SWAP_SUFFIXES",
    "TARGET_KINDS",
    "DdlType",
    "Dialect",
    "get_dialect",
    "kind_for_connection",
    "register",
]
