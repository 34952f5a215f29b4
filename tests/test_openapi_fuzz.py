"""Schemathesis over /api/v1/openapi.json: every operation, a few generated requests each
(deterministic), as an administrator of a hospital with every plugin. No answer may be a 5xx,
and every answer must match what the document says of it (status, content type, schema).

Bounded to stay quick on SQLite and PostgreSQL in CI; raise FUZZ_EXAMPLES locally to dig deeper.
"""
import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.testing import api_token, make_department, make_hospital, make_user

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
#: Calls that would end the run's own session rather than test anything: revoking tokens.
SKIPPED = {("DELETE", "/api/v1/auth/tokens/{token_id}"), ("DELETE", "/api/v1/auth/token")}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def fuzzed(app):
    with app.app_context():
        hospital = make_hospital("A", "甲医院", plugins=list(app.extensions["hcrm"].registry.names))
        make_department(hospital, "IM", "内科")
        make_user(hospital, "a_root", ("super_admin",))
    client = app.test_client()
    headers = api_token(client, "a_root")
    # Rows for the generated ids to find (small ids come up first): a patient with a visit.
    patient = client.post("/api/v1/patients", json={"name": "张三", "phone": "13812345678", "insurance_no": "HN1234567"},
                          headers=headers).get_json()
    visit = client.post(f"/api/v1/patients/{patient['id']}/visits", headers=headers,
                        json={"visit_at": "2024-05-01T09:00:00", "spending": "1280.50"}).get_json()
    known = {"patient_id": patient["id"], "visit_id": visit["id"], "name": "vip"}
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app), headers, known


def test_every_operation_answers_as_documented_and_never_5xx(fuzzed):
    schema, headers, known = fuzzed
    failures, operations, seen = [], 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        operations += 1

        names = set(re.findall(r"{(\w+)}", operation.path))
        # Generated ids mostly name no row: the same operation again on rows that exist.
        strategies = [operation.as_strategy()]
        if names and names <= set(known):
            strategies.append(operation.as_strategy(path_parameters={n: known[n] for n in names}))
        for strategy in strategies:
            @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case):
                seen.append(case.call_and_validate(headers=headers, checks=CHECKS).status_code)

            try:
                run()
            except Exception as exc:  # collect every operation's failure, then report them together
                failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:1500])
    assert sum(200 <= status < 300 for status in seen) > 20  # the requests reached rows, not only errors
    assert operations > 15
    assert failures == [], "\n\n".join(failures)
