"""The registry of database families: the one list of them; every other list is derived from it.

A family is one package under ``dialects/`` declaring ``FAMILY`` (``contract/family.py`` says what
it holds). An Airflow connection belongs to the family claiming its conn_type, as the kind its
``extra.flavor`` names; a warehouse no family claims is read through the generic family (any
DB-API hook). Callers ask the family or its dialect and never branch on a kind themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_tagoffline.contract.connection import WAREHOUSE
from airflow_provider_tagoffline.contract.dialect import PARTITION_FORMATS, SWAP_SUFFIXES, DdlType, Dialect
from airflow_provider_tagoffline.contract.family import Family
from airflow_provider_tagoffline.dialects import duckdb, generic, mysql, oracle, postgres, spark, sqlite

if TYPE_CHECKING:
    from airflow_provider_tagoffline.engine.targets.base import Target
    from airflow_provider_tagoffline.runspec import TargetSpec

#: every family, in the order they are listed to users
FAMILIES: tuple[Family, ...] = (
    postgres.FAMILY,
    mysql.FAMILY,
    oracle.FAMILY,
    sqlite.FAMILY,
    duckdb.FAMILY,
    spark.FAMILY,
)
#: any other warehouse reached through an Airflow DB-API hook (never a target)
GENERIC: Family = generic.FAMILY

#: what a service's target may be: every kind of every family that can be a target, and the warehouse
TARGET_KINDS: tuple[str, ...] = tuple(k for f in FAMILIES if f.target for k in f.kinds) + (WAREHOUSE,)
#: the Airflow conn_types of target connections
TARGET_CONN_TYPES: tuple[str, ...] = tuple(sorted(ct for f in FAMILIES if f.target for ct in f.conn_types))


def family_of_connection(conn_type: str | None) -> Family | None:
    """The family claiming Airflow connections of ``conn_type``; None when none does."""
    return next((f for f in FAMILIES if f.claims(conn_type)), None)


def family_of_kind(kind: str) -> Family:
    family = next((f for f in FAMILIES if kind in f.kinds), None)
    if family is None:
        raise ValueError(f"unsupported target kind {kind!r}; supported: "
                         f"{', '.join(sorted(k for k in TARGET_KINDS if k != WAREHOUSE))}")
    return family


def get_dialect(kind: str) -> Dialect:
    """The dialect of a family kind (``postgres``, ``greenplum``, ``mysql``, ...)."""
    return family_of_kind(kind).dialect_for(kind)


def make_target(spec: TargetSpec, conn: Any, kind: str) -> Target:
    """The target object of family kind ``kind`` on the open connection ``conn`` (``warehouse`` resolved
    by the caller; a run gets it from ``Resolved.target``)."""
    return family_of_kind(kind).make_target(spec, conn, kind)


def kind_for_connection(conn_type: str | None, extra: Mapping[str, Any] | None) -> str:
    """Target kind of an Airflow connection: its family, refined by ``extra.flavor``."""
    family = family_of_connection(conn_type)
    if family is None or family.target is None:
        raise ValueError(f"connection type {conn_type!r} is not a supported target; supported: "
                         + ", ".join(TARGET_CONN_TYPES))
    return family.kind_of(conn_type, extra)


__all__ = [
    "FAMILIES",
    "GENERIC",
    "PARTITION_FORMATS",
    "SWAP_SUFFIXES",
    "TARGET_CONN_TYPES",
    "TARGET_KINDS",
    "WAREHOUSE",
    "DdlType",
    "Dialect",
    "Family",
    "family_of_connection",
    "family_of_kind",
    "get_dialect",
    "kind_for_connection",
    "make_target",
]
