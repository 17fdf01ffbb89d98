"""Schemathesis over both OpenAPI documents, as a coordinator and as agency staff: shared by
the bounded fuzz test in the suite and bench/fuzz.py's long run. Counts cases and 5xx answers."""

from dataclasses import dataclass, field

import schemathesis
from hypothesis import HealthCheck, given, settings

DOCUMENTS = ("/hsds/openapi.json", "/api/v1/openapi.json")


@dataclass
class FuzzResult:
    cases: int = 0
    server_errors: list = field(default_factory=list)


def fuzz(app, tokens: dict[str, str], max_examples: int, *, derandomize: bool = True):
    """Run `max_examples` generated cases per operation, per document, per token holder."""
    result = FuzzResult()
    for path in DOCUMENTS:
        schema = schemathesis.openapi.from_wsgi(path, app)
        for found in schema.get_all_operations():
            operation = found.ok()
            for role, token in tokens.items():
                _fuzz_operation(operation, role, token, max_examples, derandomize, result)
    return result


def _fuzz_operation(operation, role, token, max_examples, derandomize, result) -> None:
    headers = {"Authorization": f"Bearer {token}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=max_examples,
        derandomize=derandomize,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        response = case.call(headers=headers)
        result.cases += 1
        if response.status_code >= 500:
            result.server_errors.append(
                (role, operation.label, response.status_code, case.as_curl_command())
            )

    run()
