"""Issue 10, items 1 and 5: text with control characters, JSON nested too deeply or not valid
Unicode is refused with a 400 before any view runs, on every endpoint and both databases."""

import json

import pytest

NUL = "\u0000"


def _json_error(response) -> dict:
    assert response.status_code == 400, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == "invalid_input", body
    return body["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/hsds/organizations?search=%00",
        "/hsds/taxonomies?search=%00",
        "/hsds/services?search=a%00b",
        "/hsds/taxonomy_terms?search=%01",
        "/api/v1/services?category=%00",
        "/api/v1/services?q=%1b",
        "/hsds/services/%00",
        "/api/v1/services/%00",
    ],
)
def test_control_characters_in_public_queries_are_refused(client, path):
    error = _json_error(client.get(path))
    assert "control character" in error["message"]


def test_the_refusal_names_the_parameter(client):
    error = _json_error(client.get("/hsds/organizations?search=%00"))
    assert error["parameter"] == "search"


def test_nul_in_the_token_request_is_refused(client):
    response = client.post("/api/v1/auth/token", json={"email": f"a{NUL}@b.c", "password": "x"})
    assert _json_error(response)["parameter"] == "email"


def test_nul_in_member_names_is_refused(api, network):
    body = {"first_name": f"Ma{NUL}ria", "last_name": "Lopez"}
    response = api.post("/api/v1/members", network.coordinator_a, body)
    assert _json_error(response)["parameter"] == "first_name"


def test_nul_in_a_referral_need_and_note_is_refused(api, network, member, referral):
    body = {
        "member_id": str(member.id),
        "service_id": str(network.service_a.id),
        "need": f"Food{NUL}",
    }
    _json_error(api.post("/api/v1/referrals", network.coordinator_a, body))
    note = {"note": f"see you{NUL}"}
    _json_error(api.post(f"/api/v1/referrals/{referral.id}/accept", network.staff_a, note))
    message = {"body": f"hello{NUL}"}
    _json_error(api.post(f"/api/v1/referrals/{referral.id}/messages", network.staff_a, message))


def test_nested_keys_and_values_are_checked(api, network):
    body = {"first_name": "M", "last_name": "L", "consent": {"given_by": f"x{NUL}"}}
    error = _json_error(api.post("/api/v1/members", network.coordinator_a, body))
    assert error["parameter"] == "consent.given_by"


def test_tabs_and_newlines_are_text(api, network, referral):
    response = api.post(
        f"/api/v1/referrals/{referral.id}/messages",
        network.staff_a,
        {"body": "two lines:\r\n\tfirst\n\tsecond"},
    )
    assert response.status_code in (200, 201), response.get_json()


@pytest.mark.parametrize(
    "path, data",
    [
        ("/login", {"email": f"a{NUL}@b.c", "password": "x"}),
        ("/password/forgot", {"email": f"a{NUL}@b.c"}),
    ],
)
def test_control_characters_in_public_forms_give_a_400_page(client, path, data):
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert "control character" in response.get_data(as_text=True)


def test_control_characters_in_signed_in_forms_give_a_400_page(signed_in, network, referral):
    coordinator = signed_in(network.coordinator_a)
    new_member = {"first_name": f"M{NUL}", "last_name": "L"}
    assert coordinator.post("/members/new", data=new_member).status_code == 400
    message = {"body": f"hi{NUL}"}
    assert coordinator.post(f"/referrals/{referral.id}/messages", data=message).status_code == 400
    assert coordinator.get("/members?q=%00").status_code == 400
    assert coordinator.get("/members/%00").status_code in (400, 404)


def test_carriage_returns_are_allowed_in_forms_not_in_query_strings(client):
    assert client.post("/password/forgot", data={"email": "a@b.c\r\n"}).status_code != 400
    _json_error(client.get("/hsds/organizations?search=a%0db"))


def test_a_refused_sign_in_still_counts_toward_the_limit(make_app):
    app = make_app(RATELIMIT_ENABLED=True)
    client = app.test_client()
    email = f"a{NUL}@b.c"
    for _ in range(5):
        assert client.post("/login", data={"email": email, "password": "x"}).status_code == 400
    assert client.post("/login", data={"email": email, "password": "x"}).status_code == 429
    for _ in range(15):
        client.post("/api/v1/auth/token", json={"email": f"{_}{NUL}@b.c", "password": "x"})
    blocked = client.post("/api/v1/auth/token", json={"email": "c@d.e", "password": "x"})
    assert blocked.status_code == 429


# -- item 5: JSON that is too deep, not Unicode, or of the wrong shape ----------------------


def _raw(client, path: str, text: str, headers=None):
    return client.post(path, data=text, content_type="application/json", headers=headers or {})


def test_json_nested_100k_deep_is_refused(client):
    deep = "[" * 100_000 + "]" * 100_000
    error = _json_error(_raw(client, "/api/v1/auth/token", deep))
    assert "nested" in error["message"]


def test_json_deeper_than_the_limit_is_refused(api, network):
    deep = {"first_name": "M", "last_name": "L", "consent": {}}
    cursor = deep["consent"]
    for _ in range(40):
        cursor["x"] = {}
        cursor = cursor["x"]
    error = _json_error(api.post("/api/v1/members", network.coordinator_a, deep))
    assert "nested" in error["message"]


def test_json_a_little_nested_is_fine(api, network):
    body = {"first_name": "M", "last_name": "L"}
    assert api.post("/api/v1/members", network.coordinator_a, body).status_code == 201


def test_a_lone_surrogate_is_refused(client, api, network):
    text = json.dumps({"email": "\ud800@x.org", "password": "x"})
    assert "\\ud800" in text
    _json_error(_raw(client, "/api/v1/auth/token", text))
    body = json.dumps({"first_name": "\udfff", "last_name": "L"})
    _json_error(_raw(client, "/api/v1/members", body, api.headers(network.coordinator_a)))


def test_consent_scope_items_must_be_text(api, network):
    body = {
        "first_name": "M",
        "last_name": "L",
        "consent": {"given_by": "Maria", "method": "verbal", "scope": [["first_name"]]},
    }
    response = api.post("/api/v1/members", network.coordinator_a, body)
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:300]
    assert "consent.scope" in response.get_json()["error"]["fields"]
