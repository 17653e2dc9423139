"""How Airflow's own doors see a service (spec §6): the Airflow roles of its application, and the access
record its export task checks. Pure: the export task imports it without the catalog.

**Roles.** ``[tag_offline] application_roles`` maps an application to Airflow roles: comma-separated
role names, ``{application}`` standing for the application's code (default ``tag_offline_{application}``:
application ``crm`` → role ``tag_offline_crm``; ``none`` maps to no role). A published DAG carries
``access_control`` for these roles (``dag_access_control``), which the FAB auth manager enforces on
Airflow's UI and REST API; other auth managers ignore it.

**The access record.** Airflow's doors let through whoever the auth manager allows (under
SimpleAuthManager, any ``user``), and a DAG run carries only who triggered it. So the plugin writes, per
published service, who may start its runs and who may allow an older data date (``service/permissions.py``
decides; ``service/access_records.py`` writes) into an Airflow Variable (``record_key``), and the export
task refuses, before it opens the target, a manual run or a backfill whose triggering user is not there
(``run_refusal``). Scheduled runs are the service's own. The runs the plugin starts itself are sealed in
the record (run id → triggering user + conf, ``run_seal``), so its callers get through whoever the record
names; a cleared run keeps its triggering user, so a cleared run's ``allow_older`` is not honoured.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

#: the default of ``[tag_offline] application_roles``
DEFAULT_ROLES = "tag_offline_{application}"
NO_ROLES = "none"
#: what an application's roles may do with its DAGs: see, trigger, clear, pause (FAB's DAG-level resources)
ROLE_ACCESS: dict[str, frozenset[str]] = {
    "DAGs": frozenset({"can_read", "can_edit"}),
    "DAG Runs": frozenset({"can_read", "can_create", "can_delete"}),
}
#: Airflow Variable holding a service's access record: tag_offline__<slug>__access
RECORD_PREFIX, RECORD_SUFFIX = "tag_offline__", "__access"
#: runs someone chose to start (the others, scheduled and asset-triggered, are the service's own)
CHOSEN_RUN_TYPES = ("manual", "backfill")
#: how many runs the plugin vouched for a record keeps (the newest)
PLUGIN_RUNS_KEPT = 500


class BadRoleMapping(ValueError):
    """``[tag_offline] application_roles`` cannot name a role for this application."""


def application_roles(template: str, application: str) -> tuple[str, ...]:
    """The Airflow roles of ``application`` under the mapping ``template`` (see the module docstring)."""
    if template.strip().lower() == NO_ROLES:
        return ()
    roles: list[str] = []
    for part in template.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            role = part.format(application=application)
        except (KeyError, IndexError, ValueError) as exc:
            raise BadRoleMapping(f"[tag_offline] application_roles: {part!r} is not a role name; only "
                                 f"{{application}} may stand in it ({exc})") from None
        if len(role) > 64 or any(c in role for c in "\n\r\t"):
            raise BadRoleMapping(f"[tag_offline] application_roles: {role!r} is not a role name (at most 64 "
                                 "characters, one line)")
        if role not in roles:
            roles.append(role)
    return tuple(roles)


def dag_access_control(roles: tuple[str, ...] | list[str] | None) -> dict[str, dict[str, set[str]]] | None:
    """The DAG's ``access_control``: each role may see, trigger, clear and pause it; None without roles."""
    if not roles:
        return None
    return {role: {resource: set(actions) for resource, actions in ROLE_ACCESS.items()} for role in roles}


# ---- the access record -----------------------------------------------------------------------------

def record_key(slug: str) -> str:
    return f"{RECORD_PREFIX}{slug}{RECORD_SUFFIX}"


@dataclass(frozen=True)
class AirflowAdmins:
    """The users Airflow's auth manager calls admins, as far as it can list them."""

    names: tuple[str, ...] = ()
    #: every user is an admin (SimpleAuthManager's ``simple_auth_manager_all_admins``)
    everyone: bool = False
    #: the auth manager lists its users (SimpleAuthManager, FAB); otherwise ``names`` is empty
    listed: bool = True
    #: which auth manager said it, for the refusal's message
    source: str = ""


@dataclass(frozen=True)
class AccessRecord:
    """Who may start a service's runs outside its schedule: catalog users (``run``, ``allow_older``) and
    Airflow admins (who may do both)."""

    service: str
    application: str
    run: tuple[str, ...]
    allow_older: tuple[str, ...]
    admins: AirflowAdmins = field(default_factory=AirflowAdmins)
    #: run id → ``run_seal`` of its triggering user and conf: the runs the plugin started (or a backfill of the
    #: plugin started again) after checking its caller itself — the ``tagoffline`` CLI's OS user, an admin of
    #: an auth manager that cannot list its admins are known to the record only this way
    plugin_runs: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"service": self.service, "application": self.application, "run": list(self.run),
                           "allow_older": list(self.allow_older),
                           "airflow_admins": {"names": list(self.admins.names), "everyone": self.admins.everyone,
                                              "listed": self.admins.listed, "source": self.admins.source},
                           "plugin_runs": self.plugin_runs},
                          sort_keys=True, ensure_ascii=False)

    def vouching(self, runs: dict[str, str]) -> AccessRecord:
        """This record, also naming ``runs`` (run id → ``run_seal``) as the plugin's own, the newest kept."""
        merged = {**self.plugin_runs, **runs}
        kept = dict(list(merged.items())[-PLUGIN_RUNS_KEPT:])
        return AccessRecord(self.service, self.application, self.run, self.allow_older, self.admins, kept)

    @classmethod
    def from_json(cls, text: str | dict[str, Any]) -> AccessRecord:
        data = json.loads(text) if isinstance(text, str) else text
        admins = data.get("airflow_admins") or {}
        return cls(service=str(data["service"]), application=str(data["application"]),
                   run=tuple(data.get("run") or ()), allow_older=tuple(data.get("allow_older") or ()),
                   admins=AirflowAdmins(tuple(admins.get("names") or ()), bool(admins.get("everyone")),
                                        bool(admins.get("listed", True)), str(admins.get("source") or "")),
                   plugin_runs={str(k): str(v) for k, v in (data.get("plugin_runs") or {}).items()})

    def airflow_admin(self, user: str) -> bool:
        return self.admins.everyone or user in self.admins.names


def run_seal(user: str | None, conf: dict[str, Any] | None, clear_number: int = 0) -> str:
    """What the plugin vouches for in a run it started: who Airflow says triggered it, with which conf, cleared
    how many times. A run made again under the same id (a run can be deleted and created anew) passes only as
    the very same run, and a run the plugin's backfill ran again (Airflow clears it) only until someone clears
    it once more."""
    said: dict[str, Any] = {"user": user, "conf": conf or {}}
    if clear_number:
        said["clear_number"] = clear_number
    canonical = json.dumps(said, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def run_refusal(record: AccessRecord, run_type: str, user: str | None, allow_older: bool,
                clear_number: int = 0, run_id: str | None = None, conf: dict[str, Any] | None = None) -> str | None:
    """Why the export must not start a run of ``run_type`` triggered by ``user`` (one line), or None.

    Scheduled and asset-triggered runs are the service's own; a manual run or a backfill needs a user who
    may run the service, and ``allow_older`` a user who may allow it, or to be a run the plugin started
    (``plugin_runs``: the plugin checked its caller itself, sealed with the run's ``clear_number``). Any other
    cleared run (re-run by someone Airflow does not name to the task: whoever may clear it) keeps its
    triggering user, so its ``allow_older`` is not honoured: rolling a table back takes a new run."""
    if run_type not in CHOSEN_RUN_TYPES:
        return None
    what = "backfill" if run_type == "backfill" else "manual run"
    svc, app = record.service, record.application
    if run_id is not None and record.plugin_runs.get(run_id) == run_seal(user, conf, clear_number):
        return None  # the plugin started it (or its backfill ran it again), for a caller it checked
    if allow_older and clear_number > 0:
        return (f"refused: this {what} of service {svc!r} asks for an older data date (allow_older) and was cleared "
                f"to run again, by someone the task cannot tell; trigger a new run to export an older data date; "
                f"the target is untouched")
    if not user:
        return (f"refused: this {what} of service {svc!r} names no triggering user, and only Airflow admins, "
                f"admins of application {app!r} and the service's owner may start one; the target is untouched")
    if record.airflow_admin(user):
        return None
    unlisted = ("" if record.admins.listed else
                f" ({record.admins.source or 'this auth manager'} cannot list its admins: make Airflow admins "
                f"admins of the application to let them)")
    if user not in record.run:
        return (f"refused: user {user!r} may not run service {svc!r} (only Airflow admins, admins of application "
                f"{app!r} and the service's owner may){unlisted}; this {what} was let in by Airflow, the target "
                f"is untouched")
    if allow_older and user not in record.allow_older:
        return (f"refused: user {user!r} may not allow an older data date (allow_older) for service {svc!r} (only "
                f"Airflow admins and admins of application {app!r} may){unlisted}; the target is untouched")
    return None
