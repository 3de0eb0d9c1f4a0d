"""The API fuzzed from its own OpenAPI document (schemathesis), signed in as a viewer: no
input, however odd, makes it answer with a server error or outside its documented schema."""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from common_outcomes.web.security import SESSION_COOKIE

EXAMPLES = 40


def test_the_api_never_fails_on_any_input(app: FastAPI) -> None:
    token = app.state.site.state.sign_in("viewer@example.org", "a long synthetic passphrase",
                                         "fuzz")
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 4

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call(headers={"Cookie": f"{SESSION_COOKIE}={token}"})
            case.validate_response(response)

        fuzz()
