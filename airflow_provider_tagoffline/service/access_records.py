"""The access records the export task checks (``airflow_access.py``): per published service, who may start
its runs by hand and who may allow an older data date (``permissions.run_access``), and the Airflow admins
the auth manager can name (``airflow_admins.py``).

Written with the attention records (``service/records.py``): at publish, when Airflow loaded a
version, at unpublish (removed), after every catalog change (applications' admins and members change
through the catalog), after an edit of a service (its owner), and just before the plugin triggers a run
or a backfill itself, so the record holds what the catalog and the auth manager say at that moment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from airflow_provider_tagoffline.airflow_access import AccessRecord, AirflowAdmins, record_key, run_seal
from airflow_provider_tagoffline.catalog.models import Service
from airflow_provider_tagoffline.service import permissions

log = logging.getLogger(__name__)


def current_admins() -> AirflowAdmins:
    """The Airflow admins the auth manager names now; none (said in the log) when it cannot be asked."""
    from airflow_provider_tagoffline.airflow_admins import airflow_admins

    try:
        return airflow_admins()
    except Exception as exc:
        log.warning("cannot list Airflow's admins for the access records (only catalog users may run): %s", exc)
        return AirflowAdmins(listed=False, source=f"the auth manager ({type(exc).__name__})")


def is_live(svc: Service) -> bool:
    """A version of ``svc`` Airflow may run: the live one, or the one being published."""
    return bool(svc.live_spec or (svc.published_spec and svc.status == "publishing"))


DESCRIPTION = "access record of a tag offline service: who may start its runs (written by the plugin)"


def _stored(keys: list[str]) -> dict[str, str]:
    from airflow_provider_tagoffline import airflow_bridge as af

    try:
        return af.get_variables(keys)
    except Exception as exc:  # Airflow unreachable: the write will fail the same way, and say so
        log.info("cannot read the stored access records: %s", exc)
        return {}


def records(services: Iterable[Service], admins: AirflowAdmins | None = None,
            stored: dict[str, str] | None = None) -> dict[str, str | None]:
    """The access record of each service (Variable key → JSON, or None to remove it), keeping the runs the
    plugin vouched for from the ``stored`` records (default: read from Airflow)."""
    services = list(services)
    live = [s for s in services if is_live(s)]
    if admins is None and live:
        admins = current_admins()
    if stored is None:
        stored = _stored([record_key(s.slug) for s in live]) if live else {}
    out: dict[str, str | None] = {}
    for svc in services:
        key = record_key(svc.slug)
        if not is_live(svc):
            out[key] = None
            continue
        run, older = permissions.run_access(svc)
        record = AccessRecord(svc.name, svc.application.code, tuple(run), tuple(older), admins or AirflowAdmins())
        if key in stored:
            try:
                record = record.vouching(AccessRecord.from_json(stored[key]).plugin_runs)
            except (ValueError, KeyError, TypeError):
                pass  # an unreadable record is replaced
        out[key] = record.to_json()
    return out


def vouch(svc: Service, runs: dict[str, tuple[str | None, dict[str, Any] | None, int]]) -> None:
    """Name ``runs`` (run id → triggering user, conf and clear number, as Airflow holds them) in the access record of
    ``svc`` as runs the plugin started after checking its caller itself — whoever the record names or not (the
    CLI's OS user, an admin of an auth manager that cannot list them; a run of another user a backfill of the
    plugin starts again). The record says what the catalog says now, too. Airflow unreachable: raised (no run
    is started unvouched)."""
    from airflow_provider_tagoffline import airflow_bridge as af

    key = record_key(svc.slug)
    text = records([svc])[key]
    if text is None:
        return
    seals = {run_id: run_seal(user, conf, cleared) for run_id, (user, conf, cleared) in runs.items()}
    af.set_variables({key: AccessRecord.from_json(text).vouching(seals).to_json()}, DESCRIPTION)


def roles_to_publish(application: str) -> list[str] | None:
    """The Airflow roles a service of ``application`` gives access to its DAG (``[tag_offline]
    application_roles``), when the auth manager enforces a DAG's ``access_control`` (FAB); None otherwise.
    ValidationFailed on the ``application`` field, before anything is written, for a mapping that names no
    role or a role the auth manager does not have (Airflow would refuse the DAG with an import error)."""
    from airflow_provider_tagoffline import airflow_bridge as af
    from airflow_provider_tagoffline import config
    from airflow_provider_tagoffline.airflow_access import BadRoleMapping, application_roles
    from airflow_provider_tagoffline.errors import ValidationFailed

    try:
        existing = af.role_names()
    except Exception as exc:  # no metadata database here: the DAG gets no per-DAG access, said in the log
        log.warning("cannot read the auth manager's roles: the DAG of a service of %r gets no access_control: %s",
                    application, exc)
        return None
    if existing is None:
        return None
    try:
        roles = application_roles(config.application_roles(), application)
    except BadRoleMapping as exc:
        raise ValidationFailed.one("application", str(exc)) from None
    missing = [r for r in roles if r not in existing]
    if missing:
        names = ", ".join(repr(r) for r in missing)
        raise ValidationFailed.one("application", (
            f"application {application!r} maps to Airflow role{'s' if len(missing) > 1 else ''} {names} "
            f"([tag_offline] application_roles), which the auth manager does not have: create "
            f"{'them' if len(missing) > 1 else 'it'} (Security → Roles, or `airflow roles create "
            f"{' '.join(missing)}`) and add the application's users, or change the mapping"))
    return list(roles)
