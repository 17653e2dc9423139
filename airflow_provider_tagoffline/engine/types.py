"""Tag value types against target column types: the preflight check.

``classify`` turns a column type read from the database into a family of types the preflight
compares with the tag's type. Which column type a value gets when a table is created is each
database family's own (``Dialect.column_types``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from airflow_provider_tagoffline.value_types import parse_value_type


@dataclass(frozen=True)
class ColumnType:
    """A target column's type as read from the database, classified."""

    raw: str
    family: str  # text | integer | float | decimal | boolean | date | datetime | any | other
    bits: int | None = None  # integers: storage size
    precision: int | None = None
    scale: int | None = None


_INT_BITS = {"tinyint": 8, "smallint": 16, "int2": 16, "mediumint": 24, "int": 32, "integer": 32, "int4": 32,
             "bigint": 64, "int8": 64, "hugeint": 128, "ubigint": 64, "uinteger": 32}
_TEXT = ("char", "varchar", "character varying", "character", "text", "tinytext", "mediumtext", "longtext",
         "varchar2", "nvarchar2", "nchar", "clob", "nclob", "string", "bpchar", "enum", "json", "jsonb", "uuid")
_FLOAT = ("double", "double precision", "float8", "float", "real", "float4", "binary_double", "binary_float")


def classify(raw: str, precision: int | None = None, scale: int | None = None) -> ColumnType:
    """Family of a column type name as databases report it (information_schema, PRAGMA, ...)."""
    t = raw.strip().lower()
    base = re.sub(r"\(.*\)", "", t).replace(" unsigned", "").strip()
    m = re.search(r"\((\d+)\s*(?:,\s*(\d+))?\)", t)
    if m and precision is None:
        precision = int(m.group(1))
        scale = int(m.group(2)) if m.group(2) else 0
    if base == "tinyint" and precision == 1:
        return ColumnType(raw, "boolean")
    if base in ("boolean", "bool"):
        return ColumnType(raw, "boolean")
    if base in _INT_BITS:
        return ColumnType(raw, "integer", bits=_INT_BITS[base])
    if base in ("numeric", "decimal", "number", "dec"):
        if precision is None:  # PostgreSQL numeric, Oracle NUMBER: any number, exactly
            return ColumnType(raw, "decimal", precision=None, scale=None)
        return ColumnType(raw, "decimal", precision=precision, scale=scale or 0)
    if base in _FLOAT:
        return ColumnType(raw, "float")
    if base == "date":
        return ColumnType(raw, "date")
    if base.startswith("timestamp") or base in ("datetime", "datetime2"):
        return ColumnType(raw, "datetime")
    if base in _TEXT or base.startswith(("varchar", "char", "nvarchar")):
        return ColumnType(raw, "text", precision=precision)
    return ColumnType(raw, "other")


def incompatibility(value_type: str, col: ColumnType) -> str | None:
    """Why a column of type ``col`` cannot hold values of ``value_type``, or ``None``."""
    vt = parse_value_type(value_type)
    fam = col.family
    if fam in ("any", "text"):
        return None  # text columns hold any value's text form; SQLite columns hold anything
    if vt.name == "string":
        return f"a string needs a text column, not {fam}"
    if vt.name == "bigint":
        if fam == "integer" and (col.bits or 0) >= 64:
            return None
        if fam == "integer":
            return f"a {col.bits}-bit integer column cannot hold every bigint"
        if fam == "decimal" and (col.scale is None or (col.precision or 0) - (col.scale or 0) >= 19):
            return None
        return f"a bigint needs a 64-bit integer column, not {fam}"
    if vt.name == "double":
        return None if fam in ("float", "decimal") else f"a double needs a floating-point column, not {fam}"
    if vt.name == "decimal":
        assert vt.precision is not None and vt.scale is not None
        if fam == "decimal":
            if col.scale is None:
                return None
            p, s = col.precision or 0, col.scale or 0
            if p - s < vt.precision - vt.scale or s < vt.scale:
                return f"decimal({p},{s}) is narrower than decimal({vt.precision},{vt.scale})"
            return None
        if fam == "float":
            return None  # the user's choice: approximate but complete
        return f"a decimal needs a decimal or floating-point column, not {fam}"
    if vt.name == "boolean":
        return None if fam in ("boolean", "integer", "decimal") else f"a boolean needs a boolean column, not {fam}"
    if vt.name == "date":
        return None if fam in ("date", "datetime") else f"a date needs a date column, not {fam}"
    if vt.name == "datetime":
        if fam == "datetime":
            return None
        if fam == "date":  # Oracle's DATE holds a time: its target classifies it as datetime
            return "a date column would drop the time of day"
        return f"a datetime needs a timestamp column, not {fam}"
    return None
