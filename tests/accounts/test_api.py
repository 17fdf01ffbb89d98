"""The token API and the bearer-token decorator for JSON endpoints."""

from datetime import UTC, datetime, timedelta

import pytest
from flask import Blueprint, jsonify

from accounts.auth import api_auth_required, current_actor, user_org_id
from tests.fixtures_accounts import TEST_PASSWORD


def _token(client, email, password=TEST_PASSWORD):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password})


def test_good_credentials_get_a_token(client, dummy_coordinator):
    response = _token(client, dummy_coordinator.email)
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=11) < expires_at - datetime.now(UTC) <= timedelta(hours=12)
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["email"] == dummy_coordinator.email
    assert me.get_json()["role"] == "coordinator"
    assert me.get_json()["organization"]["kind"] == "coordination"


@pytest.mark.parametrize(
    "body",
    [
        None,
        "just a string",
        ["a", "list"],
        {"email": "a@example.org"},
        {"password": "something long"},
        {"email": 42, "password": "something long"},
        {"email": "a@example.org", "password": ""},
    ],
)
def test_bad_requests_get_a_400_that_says_what_to_send(client, body):
    if body is None:
        response = client.post(
            "/api/v1/auth/token", data="{not json", content_type="application/json"
        )
    else:
        response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request"
    assert "email" in error["message"] and "password" in error["message"]


def test_wrong_credentials_get_a_401(client, dummy_coordinator):
    for email, password in [
        (dummy_coordinator.email, "wrong password!!"),
        ("nobody@example.org", TEST_PASSWORD),
    ]:
        response = _token(client, email, password)
        assert response.status_code == 401
        assert response.get_json()["error"] == {
            "code": "unauthorized",
            "message": "Email or password is incorrect.",
        }
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_deactivated_accounts_get_a_403(client, create_user):
    user = create_user(active=False)
    response = _token(client, user.email)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "account_inactive"


def test_the_token_endpoint_needs_no_csrf_token(make_app, create_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    user = create_user()
    assert _token(app.test_client(), user.email).status_code == 200


def test_the_token_endpoint_is_rate_limited_with_the_login_page(make_app, create_user):
    app = make_app(RATELIMIT_ENABLED=True)
    user = create_user()
    client = app.test_client()
    for _ in range(3):
        assert _token(client, user.email, "wrong password!!").status_code == 401
    for _ in range(2):
        client.post("/login", data={"email": user.email, "password": "wrong password!!"})
    blocked = _token(client, user.email)
    assert blocked.status_code == 429
    assert blocked.get_json()["error"] == {
        "code": "too_many_requests",
        "message": "Too many sign-in attempts. Try again in a minute.",
    }


def test_missing_and_invalid_tokens_get_a_401_challenge(client):
    missing = client.get("/api/v1/auth/me")
    assert missing.status_code == 401
    assert missing.get_json()["error"]["code"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="wraparound"'
    for header in ["Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer ", "bearer"]:
        response = client.get("/api/v1/auth/me", headers={"Authorization": header})
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
    invalid = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer nonsense"})
    assert 'error="invalid_token"' in invalid.headers["WWW-Authenticate"]


def test_a_session_cookie_is_not_enough_for_the_api(client, dummy_coordinator, login):
    login(client, dummy_coordinator)
    assert client.get("/api/v1/auth/me").status_code == 401


def test_deleting_the_token_ends_it(client, dummy_coordinator, auth_headers):
    headers = auth_headers(dummy_coordinator)
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


@pytest.fixture
def role_api(app):
    """A JSON endpoint for agency people only, added before the app's first request."""
    api = Blueprint("role_api", __name__, url_prefix="/api/v1/test")

    @api.get("/agency-only")
    @api_auth_required("agency_staff", "agency_admin")
    def agency_only():
        actor = current_actor()
        return jsonify(user=str(actor.id), org=str(user_org_id(actor)))

    app.register_blueprint(api)
    return app


def test_the_wrong_role_gets_a_403(role_api, client, dummy_coordinator, auth_headers):
    response = client.get("/api/v1/test/agency-only", headers=auth_headers(dummy_coordinator))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert "coordinator" in response.get_json()["error"]["message"]


def test_the_right_role_sees_itself_and_its_organization(
    role_api, client, dummy_agency_staff, auth_headers
):
    response = client.get("/api/v1/test/agency-only", headers=auth_headers(dummy_agency_staff))
    assert response.status_code == 200
    assert response.get_json() == {
        "user": str(dummy_agency_staff.id),
        "org": str(dummy_agency_staff.organization_id),
    }
