"""The JSON API publishes its OpenAPI description, and it names every /api/v1 route we serve."""

import re


def test_the_api_openapi_document_is_served_and_covers_every_route(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    assert document["servers"][0]["url"].endswith("/api/v1")
    documented = set(document["paths"])
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api_docs.openapi":
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule[len("/api/v1") :])
            if "{action}" in path:
                continue  # the referral actions are listed one path each
            served.add(path)
    assert served <= documented, served - documented
    for item in document["paths"].values():
        for operation in item.values():
            codes = set(operation["responses"])
            assert codes & {"200", "201", "204"}
            assert "400" in codes or "401" in codes


def test_error_responses_use_the_error_schema(client):
    document = client.get("/api/v1/openapi.json").get_json()
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    referral = document["paths"]["/referrals"]["post"]["responses"]
    assert {"400", "401", "404", "409", "422"} <= set(referral)
