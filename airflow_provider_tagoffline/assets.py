"""The target table as an Airflow asset, named in one place: the rendered DAG declares it as the export
task's outlet and inlet (``rendering/factory.py``), the operator reads and writes its events
(``operators/tag_offline.py``) and the plugin asks Airflow which data date it holds (``service/held.py``).
Its own module so that the operator and the DAG factory both ask it without importing each other."""

from __future__ import annotations

from typing import Any

from airflow_provider_tagoffline.runspec import RunSpec


def target_asset_uri(spec: RunSpec) -> str:
    t = spec.target
    parts = [p for p in (t.schema_, t.table) if p]
    return f"tagoffline://{t.conn_id}/" + "/".join(parts)


def target_asset(spec: RunSpec) -> Any:
    """The target table as an Airflow asset: the export's outlet, and its inlet."""
    from airflow.sdk import Asset

    t = spec.target
    return Asset(name=f"tag_offline:{t.conn_id}:{'.'.join(p for p in (t.schema_, t.table) if p)}",
                 uri=target_asset_uri(spec))
