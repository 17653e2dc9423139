"""Tag value types (spec §2): string, bigint, double, decimal(p,s), boolean, date, datetime."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DECIMAL = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
SIMPLE_TYPES = ("string", "bigint", "double", "boolean", "date", "datetime")


@dataclass(frozen=True)
class ValueType:
    name: str  # one of SIMPLE_TYPES or "decimal"
    precision: int | None = None
    scale: int | None = None

    def __str__(self) -> str:
        if self.name == "decimal":
            return f"decimal({self.precision},{self.scale})"
        return self.name


def parse_value_type(text: str) -> ValueType:
    """Parse a value type; raises ValueError with a message fit for the user."""
    t = str(text).strip().lower()
    if t in SIMPLE_TYPES:
        return ValueType(t)
    m = _DECIMAL.match(t)
    if m:
        p, s = int(m.group(1)), int(m.group(2))
        if not 1 <= p <= 38:
            raise ValueError(f"decimal precision must be between 1 and 38, got {p}")
        if s > p:
            raise ValueError(f"decimal scale {s} is larger than its precision {p}")
        return ValueType("decimal", p, s)
    raise ValueError(
        f"unknown value type {text!r}; expected one of string, bigint, double, decimal(p,s), "
        "boolean, date, datetime"
    )


def normalize_value_type(text: str) -> str:
    return str(parse_value_type(text))
