"""Issue 10, must show: schemathesis over /hsds/openapi.json and /api/v1/openapi.json, as a
coordinator and as agency staff, on PostgreSQL, derandomized: no 5xx. bench/fuzz.py runs longer."""

import pytest

pytest.importorskip("schemathesis")

from tests.web.fuzzing import fuzz  # noqa: E402

CASES_PER_OPERATION = 4  # 33 operations x 2 roles: ~260 cases (194 with 3)


def test_fuzzing_both_openapi_documents_finds_no_server_error(
    app, database_url, api, network, referral
):
    if not database_url.startswith("postgresql"):
        pytest.skip("the fuzz run is on PostgreSQL (the database that refused NUL with a 500)")
    tokens = {
        "coordinator": api.headers(network.coordinator_a)["Authorization"].split()[1],
        "agency staff": api.headers(network.staff_a)["Authorization"].split()[1],
    }
    result = fuzz(app, tokens, CASES_PER_OPERATION)
    assert result.cases >= 200
    assert result.server_errors == []
