"""One-click create table (spec §3): the target's ``CREATE TABLE``, generated or edited, never run as text.

``design`` turns a run spec into a ``TableDesign`` (columns, key, comments, partition column);
``render`` writes a design as the statements of the target's dialect; ``parse`` reads a user's
edited statements back into a design, accepting only a ``CREATE TABLE`` of the service's target
with column definitions (and comments on it); ``execute`` runs rendered statements one per call
with the driver's multi-statement support off. So what reaches the database is always our own
rendering of checked values: quoted identifiers, listed types with numbers, quoted literals.
"""

from __future__ import annotations

from airflow_provider_tagoffline.create_table.design import design_for
from airflow_provider_tagoffline.create_table.render import render
from airflow_provider_tagoffline.dialects import get_dialect
from airflow_provider_tagoffline.runspec import RunSpec


def create_table_sql(spec: RunSpec, dialect_kind: str) -> list[str]:
    """The generated ``CREATE TABLE`` (and comment statements) of a service's target on ``dialect_kind``."""
    dialect = get_dialect(dialect_kind)
    return render(design_for(spec, dialect), dialect)
