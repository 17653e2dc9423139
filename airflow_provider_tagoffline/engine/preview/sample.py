"""The sample of a preview: the first rows of the extract, as JSON can carry them."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from airflow_provider_tagoffline.runspec import RunSpec


def sample_columns(spec: RunSpec) -> list[str]:
    part = spec.target.partition
    return [spec.target.key_column] + [o.column for o in spec.outputs] + ([part.column] if part else [])


def first_rows(spec: RunSpec, batches: Iterator[list[Any]], n: int) -> tuple[list[str], list[list[Any]]]:
    rows: list[list[Any]] = []
    for batch in batches:
        rows.extend(jsonable(r) for r in batch[: n - len(rows)])
        if len(rows) >= n:
            break
    close = getattr(batches, "close", None)
    if close is not None:
        close()  # stop the query: the rest is not needed
    return sample_columns(spec), rows


def jsonable(row: Any) -> list[Any]:
    out: list[Any] = []
    for v in row:
        if v is None or isinstance(v, (bool, int, str)):
            out.append(v)
        elif isinstance(v, float):
            out.append(v if math.isfinite(v) else str(v))
        elif isinstance(v, dt.datetime):
            out.append(v.isoformat(sep=" "))
        elif isinstance(v, (dt.date, Decimal)):
            out.append(str(v))
        elif isinstance(v, (bytes, bytearray, memoryview)):
            out.append(bytes(v).hex())
        else:
            out.append(str(v))
    return out

