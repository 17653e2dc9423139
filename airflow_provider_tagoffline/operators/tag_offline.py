"""``TagOfflineOperator``: one export run of a published service, inside an Airflow task.

Thin by design: the run spec arrives frozen in the DAG file; the engine does the work
(``engine/runner.run_export``) and the run report is the return value (XCom ``return_value``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_tagoffline.engine.runner import DEFAULT_BATCH_SIZE


class TagOfflineOperator(BaseOperator):
    """Export data date ``data_date`` (``YYYY-MM-DD``, templated) of ``run_spec`` into its target.

    :param run_spec: the frozen run specification (``RunSpec.to_dict()``), connection ids only
    :param data_date: the data date D; templated, by default the DAG run's data interval start
    :param batch_size: rows per fetch from the warehouse's server-side cursor
    """

    template_fields: Sequence[str] = ("data_date",)
    ui_color = "#e8f4ea"

    def __init__(self, *, run_spec: dict[str, Any], data_date: str = "{{ ds }}",
                 batch_size: int = DEFAULT_BATCH_SIZE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_spec = run_spec
        self.data_date = data_date
        self.batch_size = batch_size

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_tagoffline.engine.runner import run_export
        from airflow_provider_tagoffline.errors import RunFailed

        try:
            report = run_export(self.run_spec, self.data_date, batch_size=self.batch_size, echo=self.log.info)
        except RunFailed as exc:
            if exc.report is not None:
                self.log.error("%s", exc.report.summary())  # type: ignore[attr-defined]
            raise
        return report.to_dict()
