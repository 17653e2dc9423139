"""Preview (plan) of a run for one data date (spec §3 "preview"): what the run would find and change,
reading the warehouse and the live target and writing nothing.

    columns  the DDL diff between the mapping and the live table: missing / extra columns, types that
             cannot hold a tag, values too long or too wide for their column (with the column)
    sources  rows and duplicate IDs of each source for D (the run's own source checks)
    rows     what the extract returns for D: the rows the run would write, a sample of them
    changes  against the live table (or partition D): rows added / removed / changed by entity ID,
             and the change ratio and gates the run would see
    holds    the data date a whole table holds (the run's own reading) and whether D would be refused

How the live table is compared: where the target *is* the warehouse, one aggregate query joins the
extract with the live table inside the engine; otherwise both sides are streamed, each row reduced
to its entity ID and a digest of its values in one canonical form per value type (drivers return
Decimal, float, str or int for the same value), the live side held as an ID → digest map (the only
memory that grows with the table: about 100 bytes a row).

Nothing is written: no lock, no recovery, no stage table; the target's session is made read-only
where the family can (``Target.read_only_statements``).

One module a concern: ``plan.py`` the steps (``preview``), ``columns.py`` the DDL diff and values too
wide for their column, ``compare.py`` the compare with the live table, ``digest.py`` the canonical
values it digests, ``sample.py`` the sample, ``result.py`` what it returns (``Preview``).
"""

from __future__ import annotations

from airflow_provider_tagoffline.engine.preview.columns import column_diff
from airflow_provider_tagoffline.engine.preview.plan import DEFAULT_SAMPLE, MAX_SAMPLE, failure, preview
from airflow_provider_tagoffline.engine.preview.result import Changes, ColumnDiff, Preview, SourceRows

__all__ = ["DEFAULT_SAMPLE", "MAX_SAMPLE", "Changes", "ColumnDiff", "Preview", "SourceRows", "column_diff", "failure",
           "preview"]
