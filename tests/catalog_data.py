"""The test catalogs' common shape: the entity ``user`` (IDs ``user_id``, a bigint, and ``mobile``, a
string) and the inline lookup ``gender_codes`` its ``gender`` tag decodes. Each suite adds its own
applications, other tags and grants (tests/api/conftest.py, tests/service/service_data.py)."""

from __future__ import annotations

from typing import Any

GENDER_CODES = {"code": "gender_codes", "name": "Gender", "values": {"M": "Male", "F": "Female"}}


def gender_tag(table: str) -> dict[str, Any]:
    """The tag ``gender`` (decoded by ``gender_codes``) from column ``gender`` of ``table``, partitioned by ``ds``."""
    return {"code": "gender", "name": "Gender", "type": "string", "id": "user_id", "lookup": "gender_codes",
            "source": {"table": table, "key": "user_id", "column": "gender", "partition": "ds"}}


def user_catalog(applications: list[dict[str, Any]], tags: list[dict[str, Any]], grants: list[dict[str, Any]],
                 target_grants: list[dict[str, Any]]) -> dict[str, Any]:
    """A catalog document of the entity ``user`` holding ``tags``, with the lookup ``gender_codes``."""
    return {
        "applications": applications,
        "lookups": [GENDER_CODES],
        "entities": [{"code": "user", "name": "User",
                      "ids": [{"code": "user_id", "name": "User ID", "type": "bigint"},
                              {"code": "mobile", "name": "Mobile", "type": "string"}],
                      "tags": tags}],
        "grants": grants,
        "target_grants": target_grants,
    }
