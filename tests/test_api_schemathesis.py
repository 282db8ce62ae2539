"""Schemathesis against /api/v1/openapi.json, in-process on the WSGI app: no 500, every response as described.

Every operation of the description gets a bounded number of cases (positive and negative data, on real and
generated references), sent with an agent's token, a requester's token or none. The checks: no server error,
a documented status code, the documented content type, the documented headers and the documented body schema.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm.core.extensions import db
from crm.core.services import create_api_token, user_by_email
from tests.demo_dataset import demo_data  # noqa: F401 - the module's fixture

#: Cases per operation (each drawn from positive or negative data, deterministic).
CASES_PER_OPERATION = 50
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
#: Who calls: mostly an agent; a requester (the staff operations answer 403), a portal account (a laboratory
#: director: projects and amounts of the portal) and nobody (401).
CALLERS = ["agent", "agent", "agent", "requester", "portal", "portal", None]
ACCOUNTS = {"agent": "agent@guichet.example", "requester": "julie.fontaine@univ-exemple.fr",
            "portal": "claire.delorme@univ-exemple.fr"}


def _real_values(operation) -> dict:
    """Path values that name something: demo tickets and portal projects."""
    from crm.projects.models import Project
    from tickets.models import Ticket

    if "{reference}" not in operation.path:
        return {}
    model = Project if "/portal/" in operation.path else Ticket
    return {"reference": list(db.session.scalars(sa.select(model.reference).order_by(model.id).limit(5)))}


def _fuzz(operation, label, strategies, tokens, failures, cases, statuses) -> None:
    """Hypothesis draws the cases of one operation; failures are collected, not raised (all are reported)."""

    @settings(max_examples=CASES_PER_OPERATION, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(strategies), caller=st.sampled_from(CALLERS))
    def run(case, caller):
        cases[label] += 1
        headers = {"Authorization": f"Bearer {tokens[caller]}"} if caller else {}
        try:
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            statuses[response.status_code] += 1
        except FailureGroup as group:
            failures.append(f"{label} ({caller or 'anonyme'}): " + "; ".join(
                f"{type(f).__name__}: {f.title}" for f in group.exceptions) + f"\n  {case.as_curl_command()}")
        except Exception as error:  # noqa: BLE001 - an exception escaping a view is a 500 in production
            db.session.rollback()
            failures.append(f"{label} ({caller or 'anonyme'}): {type(error).__name__}: {str(error)[:300]}"
                            f"\n  {case.as_curl_command()}")

    run()


@pytest.mark.usefixtures("demo_data")
def test_the_api_answers_as_its_openapi_description_says(app):
    tokens = {key: create_api_token(user_by_email(email), "schemathesis")[1] for key, email in ACCOUNTS.items()}
    db.session.commit()  # kept by the error responses, which roll back what the test did not commit
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    cases: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    started = time.perf_counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        strategies = [operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
        real = _real_values(operation)
        if real:
            strategies += [operation.as_strategy(mode, path_parameters={"reference": value})
                           for value in real["reference"] for mode in (GenerationMode.POSITIVE,
                                                                       GenerationMode.NEGATIVE)]
        _fuzz(operation, label, strategies, tokens, failures, cases, statuses)

    print(f"\nschemathesis : {len(operations)} opérations, {sum(cases.values())} cas en "
          f"{time.perf_counter() - started:.1f} s ; statuts {dict(sorted(statuses.items()))}")
    assert len(operations) >= 11 and min(cases.values()) >= CASES_PER_OPERATION // 2
    assert not failures, f"{len(failures)} écarts :\n" + "\n".join(failures)


@pytest.mark.parametrize("path, field", [("/api/v1/portal/projects", "Project"),
                                          ("/api/v1/portal/indicators", "Indicators")])
def test_amounts_are_described_as_the_decimal_strings_they_are(client, path, field):
    spec = client.get("/api/v1/openapi.json").get_json()
    for name in ("paid", "remaining"):
        assert spec["components"]["schemas"][field]["properties"][name]["type"] == "string"
        assert spec["components"]["schemas"][field]["properties"][name]["format"] == "decimal"


def test_every_error_is_a_documented_problem_and_nothing_is_left_to_a_default(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert "default" not in responses, (method, path)
            assert {"401", "422"} <= set(responses), (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]] \
                        if "$ref" in response else response
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
