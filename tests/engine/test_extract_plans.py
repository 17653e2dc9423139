"""The extract plans without a server: a slice of the entity IDs filters every source, and only where
the engine can hash them. Every plan's rows against live warehouses: the warehouse conformance suite
(tests/conformance/warehouse.py); a family's own cases beside it (tests/dialects/<family>/)."""

from __future__ import annotations

import pytest

from airflow_provider_tagoffline.engine.extract import Slice, build_extract_query
from tests.conformance.warehouse import three_sources
from tests.run_data import D


def test_a_slice_filters_every_source_and_only_where_the_engine_can_hash() -> None:
    from airflow_provider_tagoffline.dialects import get_dialect

    spec = three_sources()
    q = build_extract_query(spec, get_dialect("duckdb"), D, frozenset({2}), part=Slice(4, 3))
    # every source's filter, the deduplicated one inside its ROW_NUMBER subquery
    for key in ('s0."user_id"', 's1."user_id"', 'd."uid"'):
        assert f"hash({key}) % 4 = ?" in q.sql, key
    assert q.params.count(3) == 3
    with pytest.raises(ValueError, match="cannot split the entity IDs"):
        build_extract_query(spec, get_dialect("postgres"), D, part=Slice(2, 0))
    with pytest.raises(ValueError, match="slice 2 of 2 does not exist"):
        Slice(2, 2)
