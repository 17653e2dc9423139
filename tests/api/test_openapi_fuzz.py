"""schemathesis against the plugin's OpenAPI document: no 5xx and no response outside the schema.

Runs on an API server of its own (its own databases and catalog), because generated requests
create, change and delete catalog objects and services with an admin's token.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture(scope="session")
def plugin_schema(fuzz_server: Any) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_server.base_url}/tag-offline/openapi.json")


def test_every_operation_answers_within_its_schema(plugin_schema: Any, fuzz_server: Any) -> None:
    # Driven operation by operation (schemathesis' pytest plugin does not run on pytest 9.2).
    headers = {"Authorization": f"Bearer {fuzz_server.token('admin')}"}
    failures: list[str] = []
    operations = 0
    for result in plugin_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None, phases=[Phase.explicit, Phase.generate])
        def check(case: Any) -> None:
            case.call_and_validate(base_url=f"{fuzz_server.base_url}/tag-offline", checks=CHECKS, headers=headers)

        try:
            check()
        except BaseException as exc:  # every operation runs; all failures are reported together
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert operations >= 30
    assert not failures, "\n\n".join(failures)
