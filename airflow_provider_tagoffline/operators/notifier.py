"""``RunNotifier``: a service's notification, as Airflow's task callback (``BaseNotifier``).

Rendered into the DAG by ``rendering/factory.py`` as the export task's ``on_failure_callback`` /
``on_success_callback`` when the service asks (``notify.events``): Airflow calls it once a run is over
(a failure after its last retry). It reads the run's report from XCom (``report`` for a failure,
the return value for a success), decides the event (``notifications.event_of``) and sends the mail
of ``notifications.mail_for`` through the SMTP provider's ``SmtpHook`` over the service's Airflow
connection: the server, its login and TLS stay in the connection, the DAG file holds its id only.

Why not the SMTP provider's ``SmtpNotifier``: its subject and body are Jinja templates rendered
with the task's context, and a report holds text from users and data (service names, error
messages): rendered, ``{{ ... }}`` in them would run. Ours has no template fields; it sends
through the same hook.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseNotifier


class RunNotifier(BaseNotifier):
    """Mail the outcome of an export run to the service's recipients."""

    template_fields = ()  # nothing rendered: the mail holds user text

    def __init__(self, *, service: str, conn_id: str, to: list[str], events: list[str],
                 succeeded: bool) -> None:
        super().__init__()
        #: whether this is the success callback (else the failure one)
        self.succeeded = succeeded
        self.service = service
        self.conn_id = conn_id
        self.to = list(to)
        self.events = list(events)

    def notify(self, context: Any) -> None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        from airflow_provider_tagoffline import connections, notifications
        from airflow_provider_tagoffline.errors import first_line
        from airflow_provider_tagoffline.operators.tag_offline import FAILURE_REPORT_KEY

        ti = context["ti"]
        report = _pull(ti, None if self.succeeded else FAILURE_REPORT_KEY)
        event = notifications.event_of(self.succeeded, report)
        if event not in self.events:
            self.log.info("no notification: the service is told on %s, this run is %s", ", ".join(self.events),
                          event)
            return
        exc = context.get("exception")
        run = context.get("dag_run")
        mail = notifications.mail_for(
            service=self.service, event=event, data_date=(report or {}).get("data_date"), report=report,
            dag_id=str(getattr(ti, "dag_id", "")), run_id=str(getattr(ti, "run_id", getattr(run, "run_id", ""))),
            try_number=getattr(ti, "try_number", None), log_url=getattr(ti, "log_url", None),
            error=first_line(exc) if isinstance(exc, BaseException) else None)
        sender = connections.notification_sender(self.conn_id)
        with SmtpHook(smtp_conn_id=self.conn_id) as smtp:
            smtp.send_email_smtp(to=self.to, from_email=sender, subject=mail.subject, html_content=mail.html)
        self.log.info("notified %s of %s: %s", ", ".join(self.to), event, mail.subject)


def _pull(ti: Any, key: str | None) -> dict[str, Any] | None:
    try:
        value = ti.xcom_pull(task_ids=ti.task_id, key=key or "return_value")
    except Exception:  # a run that never reached the engine has no report
        return None
    return value if isinstance(value, dict) else None
