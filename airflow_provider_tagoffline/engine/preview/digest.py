"""Values in one canonical form per value type, and the row digest a streamed compare matches: drivers
return Decimal, float, str or int for the same value; equal values from either side digest alike."""

from __future__ import annotations

import contextlib
import datetime as dt
import operator
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from airflow_provider_tagoffline.value_types import parse_value_type


def _canon_string(v: Any) -> Any:
    return v if type(v) is str else str(v)


def _canon_int(v: Any) -> Any:
    return v if type(v) is int else int(v)


def _canon_float(v: Any) -> Any:
    return v if type(v) is float else float(v)


def _canon_bool(v: Any) -> Any:
    if isinstance(v, str):
        return v.strip().lower() in ("1", "t", "true", "y", "yes")
    return bool(v)


def _canon_date(v: Any) -> Any:
    return v.isoformat()[:10] if isinstance(v, (dt.date, dt.datetime)) else str(v)[:10]


def _canon_datetime(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day).isoformat(sep=" ")
    text = str(v).strip().replace("T", " ")
    with contextlib.suppress(ValueError):
        return dt.datetime.fromisoformat(text).replace(tzinfo=None).isoformat(sep=" ")
    return text


def _canon_decimal(scale: int) -> Callable[[Any], Any]:
    quantum = Decimal(1).scaleb(-scale)

    def canon(v: Any) -> Any:
        try:
            # ties away from zero, as PostgreSQL and MySQL round a numeric they store
            return (v if isinstance(v, Decimal) else Decimal(str(v))).quantize(quantum, rounding=ROUND_HALF_UP)
        except (InvalidOperation, ValueError):
            return str(v)
    return canon


def _canonical(value_type: str) -> Callable[[Any], Any]:
    vt = parse_value_type(value_type)
    if vt.name == "decimal":
        return _canon_decimal(vt.scale or 0)
    return {"bigint": _canon_int, "double": _canon_float, "boolean": _canon_bool, "date": _canon_date,
            "datetime": _canon_datetime}.get(vt.name, _canon_string)


def _same_kind(a: Any, b: Any) -> bool:
    """Whether values from two drivers compare (and hash) equal as they come: same Python type (bool and
    int alike: True == 1), and timestamps both naive or both aware. Decimals compare by value."""
    ta, tb = type(a), type(b)
    if ta in (bool, int) and tb in (bool, int):
        return True
    if ta is not tb:
        return False
    if ta is dt.datetime:
        return (a.tzinfo is None) == (b.tzinfo is None)
    return ta in (str, float, Decimal, dt.date)


def first_values(batch: list[Any], positions: list[int]) -> list[Any]:
    """The first non-NULL value at each position of ``batch`` (None where all are NULL)."""
    out: list[Any] = [None] * len(positions)
    for n, p in enumerate(positions):
        out[n] = next((row[p] for row in batch if row[p] is not None), None)
    return out


class Digest:
    """Entity ID and a digest of the compared values, the same for equal values from either side.

    Values of the same kind on both sides are hashed as they come (a tuple hash, in C); only a column
    whose drivers disagree (a date as text, a decimal as float, ...), and decimals, go through their
    canonical form.
    CPython hashes -1 like -2: the count of -1s joins the digest, so -1 → -2 is a change.
    """

    def __init__(self, value_types: list[str], extract_first: list[Any], live_first: list[Any]):
        # Decimals are always rounded to the tag's scale: the target rounds a wider warehouse value so
        # when it writes it, and would otherwise differ from it for ever after.
        fixes = [n for n, (e, lv) in enumerate(zip(extract_first, live_first, strict=True))
                 if e is None or lv is None or not _same_kind(e, lv)
                 or parse_value_type(value_types[n]).name == "decimal"]
        self.key_fix = _canonical(value_types[0]) if 0 in fixes else None
        self.fixes = [(n - 1, _canonical(value_types[n])) for n in fixes if n > 0]
        # only numbers can be -1 (a -1 count over every column costs a third of the hashing)
        numbers = [n - 1 for n, vt in enumerate(value_types)
                   if n > 0 and parse_value_type(vt).name in ("bigint", "double", "decimal")]
        self._numbers = operator.itemgetter(*numbers) if len(numbers) > 1 else None
        self._number = numbers[0] if len(numbers) == 1 else None

    def key(self, k: Any) -> Any:
        return k if self.key_fix is None or k is None else self.key_fix(k)

    def of(self, values: tuple[Any, ...]) -> int:
        if self.fixes:
            fixed = list(values)
            for n, f in self.fixes:
                if fixed[n] is not None:
                    fixed[n] = f(fixed[n])
            values = tuple(fixed)
        if self._numbers is not None:
            return hash((values, self._numbers(values).count(-1)))
        if self._number is not None:
            return hash((values, values[self._number] == -1))
        return hash(values)

