"""Quality gates on a live target: a failed gate names its figures and leaves the live table as it was."""

from __future__ import annotations

import pytest

from airflow_provider_tagoffline.create_table import create_table_sql
from airflow_provider_tagoffline.errors import RunFailed
from airflow_provider_tagoffline.runs import run_export
from tests.run_data import EXPECTED_D, OUTPUT_COLUMNS, D, LiveTarget, make_spec
from tests.run_data import target_content as content


@pytest.mark.parametrize("live_target", ["sqlite", "postgres"], indirect=True)
def test_null_ratio_and_min_rows_gates(live_target: LiveTarget) -> None:
    live_target.execute(*create_table_sql(make_spec(live_target.kind, live_target.conn_id), live_target.kind))
    run_export(make_spec(live_target.kind, live_target.conn_id), D)
    before = content(live_target)
    gmv = OUTPUT_COLUMNS.index("gmv")
    ratio = sum(1 for r in EXPECTED_D if r[gmv] is None) / len(EXPECTED_D)
    assert 0 < ratio < 1

    spec = make_spec(live_target.kind, live_target.conn_id, gates={"max_null_ratio": {"gmv": ratio / 2}})
    with pytest.raises(RunFailed, match=rf"tag 'gmv': {ratio:.1%} NULL values in column 'gmv', more than "
                                        rf"gates.max_null_ratio = {ratio / 2:.1%}"):
        run_export(spec, D)
    run_export(make_spec(live_target.kind, live_target.conn_id, gates={"max_null_ratio": {"gmv": ratio}}), D)

    spec = make_spec(live_target.kind, live_target.conn_id, gates={"min_rows": len(EXPECTED_D) + 1})
    with pytest.raises(RunFailed, match=rf"{len(EXPECTED_D)} rows is below gates.min_rows = {len(EXPECTED_D) + 1}"):
        run_export(spec, D)
    assert content(live_target) == before
    assert not [n for n in live_target.tables() if "_dpfx_" in n]
