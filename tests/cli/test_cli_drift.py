"""`tagoffline catalog apply --dry-run` names the published services each change would affect, and
`service list` / `service show` / `run` say `needs attention` once it is applied (in-process CLI,
real SQLite store; the service's live version is set as publish + Airflow's parse leave it)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from test_cli import EXAMPLES

from airflow_provider_tagoffline.catalog import store
from airflow_provider_tagoffline.service import lifecycle


def make_live(name: str) -> None:
    with store.session_scope() as s:
        svc = lifecycle.get_service(s, name)
        spec = lifecycle.freeze_service(s, name).to_dict()
        svc.published_version, svc.published_spec, svc.live_spec = svc.version, spec, spec
        svc.status, svc.ever_published = "published", True


def test_dry_run_lists_the_affected_services_and_list_shows_them(cli, tmp_path: Path) -> None:
    assert cli("db", "migrate")[0] == 0
    assert cli("catalog", "apply", str(EXAMPLES / "catalog.yaml"))[0] == 0
    assert cli("service", "apply", str(EXAMPLES / "service.yaml"))[0] == 0
    make_live("crm_user_tags")
    code, out, _ = cli("service", "list")
    assert code == 0 and "needs attention" not in out

    catalog = yaml.safe_load((EXAMPLES / "catalog.yaml").read_text())
    tags = {t["code"]: t for t in catalog["entities"][0]["tags"]}
    tags["gender"]["type"] = "bigint"
    tags["gmv_30d"]["source"]["partition"] = "stat_date"
    catalog["grants"][0]["expires"] = "2020-01-01"
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(catalog, allow_unicode=True))

    code, out, err = cli("catalog", "apply", str(changed), "--dry-run")
    assert code == 0, err
    assert out.splitlines() == [
        "  update    tag          user.gender (type)",
        "            -> crm_user_tags would need attention: tag user.gender was retyped from string to bigint",
        "  update    tag          user.gmv_30d (source)",
        "            -> crm_user_tags would need attention: the partition column of tag user.gmv_30d was renamed "
        "from ds to stat_date",
        "  update    grant        crm:user.gender (expires)",
        "            -> crm_user_tags would need attention: tag user.gender: grant to application 'crm' expired on "
        "2020-01-01",
        "  update    grant        crm:user.gmv_30d (expires)",
        "            -> crm_user_tags would need attention: tag user.gmv_30d: grant to application 'crm' expired on "
        "2020-01-01",
        out.splitlines()[-1],
    ]
    assert out.splitlines()[-1].startswith("would create 0, would update 4, unchanged ")
    code, out, _ = cli("catalog", "apply", str(changed), "--dry-run", "--json")
    items = {i["key"]: i for i in json.loads(out)["items"]}
    assert items["user.gender"]["affects"] == [
        {"service": "crm_user_tags", "reason": "tag user.gender was retyped from string to bigint"}]
    assert items["crm"]["affects"] == [] and items["user.gender"]["clears"] == []
    code, out, _ = cli("service", "list")
    assert "needs attention" not in out  # the dry runs wrote nothing

    assert cli("catalog", "apply", str(changed))[0] == 0
    code, out, _ = cli("service", "list")
    assert "published (needs attention)" in out
    assert ("crm_user_tags needs attention: tag user.gender was retyped from string to bigint (and 3 more changes)"
            in out.splitlines())
    code, out, _ = cli("service", "show", "crm_user_tags", "--json")
    assert len(json.loads(out)["attention_reasons"]) == 4
    code, _, err = cli("run", "crm_user_tags", "--date", "2026-01-02")
    assert code == 1 and err.startswith("error: service 'crm_user_tags' needs attention: tag user.gender was "
                                        "retyped from string to bigint (and 3 more); ")
    assert len(err.strip().splitlines()) == 1

    # the original file again: the dry run says it would clear them
    code, out, _ = cli("catalog", "apply", str(EXAMPLES / "catalog.yaml"), "--dry-run")
    assert ("            -> crm_user_tags would no longer need attention: tag user.gender was retyped from string "
            "to bigint") in out.splitlines()
