"""What a service's notification says (pure): which event a run's outcome is, and the mail of it.

The mail carries the first lines of the run report (``RunReport.summary``), so the reader sees the
reason (the gate that failed and its figures, or the one-line error) without opening Airflow; the
log's address follows. The report is plain text placed in HTML escaped: a service name, a tag or
an error message is shown, never interpreted (no Jinja rendering either: the notifier has no
template fields, see ``operators/notifier.py``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, fields
from typing import Any

from airflow_provider_tagoffline.engine.report import RunReport

#: how many lines of the run report a mail shows
REPORT_LINES = 8
_TITLES = {"failure": "failed", "gate_failure": "stopped by a quality gate", "success": "succeeded"}


def event_of(succeeded: bool, report: dict[str, Any] | None) -> str:
    """``success``; ``gate_failure`` when a quality gate refused the data (the live table untouched);
    else ``failure``."""
    if succeeded:
        return "success"
    return "gate_failure" if (report or {}).get("gates_failed") else "failure"


def report_lines(report: dict[str, Any], limit: int = REPORT_LINES) -> list[str]:
    """The first ``limit`` lines of a report dict's summary (a report from another version: what fits)."""
    known = {f.name for f in fields(RunReport)}
    try:
        text = RunReport(**{k: v for k, v in report.items() if k in known}).summary()
    except TypeError:  # a partial report (a refusal before the engine ran): the figures it has
        text = "\n".join(f"{k}: {v}" for k, v in report.items() if v not in (None, "", [], {}))
    return text.splitlines()[:limit]


@dataclass(frozen=True)
class Mail:
    subject: str
    html: str


def mail_for(*, service: str, event: str, data_date: str | None, report: dict[str, Any] | None, dag_id: str,
             run_id: str, try_number: int | None = None, log_url: str | None = None, error: str | None = None) -> Mail:
    """The notification of one run's outcome."""
    when = f" for data date {data_date}" if data_date else ""
    subject = f"[tag offline] {service}: {_TITLES[event]}{when}"
    lines = report_lines(report) if report else []
    if not lines:  # the task failed before (or without) a report: Airflow's exception says why
        lines = [f"{_TITLES[event].upper()}: {service}{when}"] + ([f"  error: {error}"] if error else [])
    attempt = f", try {try_number}" if try_number else ""
    body = [f"<p>Tag offline service <b>{html.escape(service)}</b> {html.escape(_TITLES[event])}"
            f"{html.escape(when)}.</p>",
            "<pre>" + html.escape("\n".join(lines)) + "</pre>",
            f"<p>Airflow DAG <code>{html.escape(dag_id)}</code>, run <code>{html.escape(run_id)}</code>"
            f"{html.escape(attempt)}.</p>"]
    if log_url:
        body.append(f'<p><a href="{html.escape(log_url, quote=True)}">The task log in Airflow</a></p>')
    return Mail(subject=subject, html="\n".join(body))
