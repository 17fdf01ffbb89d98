"""Signing in and out through the pages: messages, sessions, CSRF, rate limits, role checks."""

import html as html_lib
import re

import pytest
from flask import Blueprint
from flask_login import login_required

from accounts.auth import login_required_roles
from tests.fixtures_accounts import TEST_PASSWORD


def _page(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def test_login_page_has_labelled_fields_and_a_reset_link(client):
    response = client.get("/login")
    html = _page(response)
    assert response.status_code == 200
    assert re.search(r'<label for="email">Email</label>', html)
    assert re.search(r'<label for="password">Password</label>', html)
    assert 'autocomplete="current-password"' in html
    assert 'href="/password/forgot"' in html


def test_signing_in_lands_on_a_page_and_shows_who_is_signed_in(client, dummy_coordinator):
    response = client.post(
        "/login", data={"email": dummy_coordinator.email.upper(), "password": TEST_PASSWORD}
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"], follow_redirects=True)
    html = _page(page)
    assert "Signed in as Casey Coordinator" in html
    assert "Sign out" in html
    account = _page(client.get("/account"))
    assert dummy_coordinator.email in account
    assert "Coordinator" in account


def test_sign_in_records_the_time(app, client, dummy_coordinator, login):
    from accounts.models import User
    from extensions import db

    login(client, dummy_coordinator)
    with app.app_context():
        assert db.session.get(User, dummy_coordinator.id).last_login_at is not None


def test_wrong_password_says_so_without_saying_which_part(client, dummy_coordinator):
    wrong = client.post(
        "/login", data={"email": dummy_coordinator.email, "password": "not the password!"}
    )
    unknown = client.post(
        "/login", data={"email": "nobody@example.org", "password": "not the password!"}
    )
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert "Email or password is incorrect." in _page(response)
        assert 'role="alert"' in _page(response)
    assert client.get("/account").status_code == 302  # still anonymous


def test_empty_fields_get_messages_next_to_them(client):
    response = client.post("/login", data={"email": "", "password": ""})
    html = _page(response)
    assert 'id="email-error">Enter your email address.' in html
    assert 'id="password-error">Enter your password.' in html
    assert 'aria-describedby="email-error"' in html


def test_a_deactivated_user_cannot_sign_in(client, create_user):
    user = create_user(role="agency_staff", active=False)
    response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 200
    assert "This account has been deactivated." in _page(response)
    assert client.get("/account").status_code == 302


def test_a_user_deactivated_while_signed_in_is_signed_out(app, client, create_user, login):
    from accounts.models import User
    from extensions import db

    user = create_user(role="agency_staff")
    login(client, user)
    assert client.get("/account").status_code == 200
    with app.app_context():
        db.session.get(User, user.id).active = False
        db.session.commit()
    assert client.get("/account").status_code == 302


def test_a_user_without_a_password_cannot_sign_in(client, create_user):
    user = create_user(password=None)
    response = client.post("/login", data={"email": user.email, "password": ""})
    assert "Enter your password." in _page(response)
    response = client.post("/login", data={"email": user.email, "password": "anything at all"})
    assert "Email or password is incorrect." in _page(response)


def test_next_is_followed_only_within_the_site(client, dummy_coordinator):
    for target in [
        "/account?tab=1",
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
    ]:
        response = client.post(
            "/login",
            data={"email": dummy_coordinator.email, "password": TEST_PASSWORD, "next": target},
        )
        assert response.status_code == 303
        location = response.headers["Location"]
        if target == "/account?tab=1":
            assert location == target
        else:
            assert location.startswith("/") and not location.startswith("//"), location
            assert "evil" not in location and "javascript" not in location
            assert "Set-Cookie" not in location
        client.post("/logout")


def test_sign_in_starts_a_new_session(client, dummy_coordinator, login):
    with client.session_transaction() as session:
        session["planted"] = "by someone before sign-in"
    login(client, dummy_coordinator)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.permanent
        assert session["_user_id"] == str(dummy_coordinator.id)


def test_session_cookie_is_httponly_lax_and_expires(client, dummy_coordinator):
    response = client.post(
        "/login", data={"email": dummy_coordinator.email, "password": TEST_PASSWORD}
    )
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Expires=" in cookie


def test_sign_out_is_a_post_and_ends_the_session(client, dummy_coordinator, login):
    login(client, dummy_coordinator)
    assert client.get("/logout").status_code == 405
    response = client.post("/logout")
    assert response.status_code == 303
    assert "You're signed out." in _page(client.get(response.headers["Location"]))
    assert client.get("/account").status_code == 302


def test_changing_the_password_signs_out_other_sessions(app, client, dummy_coordinator, login):
    other_device = app.test_client()
    login(client, dummy_coordinator)
    login(other_device, dummy_coordinator)
    new_password = "a brand new long password"
    response = client.post(
        "/account/password",
        data={
            "current_password": TEST_PASSWORD,
            "password": new_password,
            "confirm": new_password,
        },
    )
    assert response.status_code == 303
    assert client.get("/account").status_code == 200  # this session stays
    assert other_device.get("/account").status_code == 302  # the other one is signed out
    client.post("/logout")
    login(client, dummy_coordinator, password=new_password)


def test_changing_the_password_needs_the_current_one(client, dummy_coordinator, login):
    login(client, dummy_coordinator)
    response = client.post(
        "/account/password",
        data={"current_password": "wrong wrong wrong", "password": "x" * 5, "confirm": "x" * 5},
    )
    assert response.status_code == 422
    assert "Your current password is not correct." in _page(response)


def test_csrf_token_is_required_when_csrf_is_on(make_app, create_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    user = create_user()
    refused = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
    assert refused.status_code == 400
    assert "CSRF" in _page(refused)
    form = _page(client.get("/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    accepted = client.post(
        "/login", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert accepted.status_code == 303


def test_too_many_failed_attempts_for_one_email_are_refused(make_app, create_user):
    app = make_app(RATELIMIT_ENABLED=True)
    user = create_user()
    client = app.test_client()
    for _ in range(5):
        response = client.post("/login", data={"email": user.email, "password": "wrong guess!!"})
        assert response.status_code == 200
    blocked = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
    assert blocked.status_code == 429
    assert "Too many sign-in attempts. Try again in a minute." in _page(blocked)
    assert int(blocked.headers["Retry-After"]) <= 60
    # Another account from the same address is not blocked by the per-email limit.
    other = create_user()
    response = client.post("/login", data={"email": other.email, "password": TEST_PASSWORD})
    assert response.status_code == 303


def test_too_many_failed_attempts_from_one_address_are_refused(make_app, create_user):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT_PER_IP="5 per minute")
    client = app.test_client()
    for number in range(5):
        response = client.post(
            "/login", data={"email": f"guess{number}@example.org", "password": "wrong guess!!"}
        )
        assert response.status_code == 200
    blocked = client.post("/login", data={"email": "guess9@example.org", "password": "x"})
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in _page(blocked)


def test_successful_sign_ins_do_not_use_up_the_limit(make_app, create_user):
    app = make_app(RATELIMIT_ENABLED=True)
    user = create_user()
    client = app.test_client()
    for _ in range(7):
        response = client.post("/login", data={"email": user.email, "password": TEST_PASSWORD})
        assert response.status_code == 303
        client.post("/logout")


# -- role decorators on pages ----------------------------------------------------------------


@pytest.fixture
def role_pages(app):
    """Two pages guarded by the decorator, added to the test app before its first request."""
    pages = Blueprint("role_pages", __name__)

    @pages.get("/test/coordinators")
    @login_required_roles("coordinator")
    def coordinators_only():
        return "for coordinators"

    @pages.get("/test/anyone-signed-in")
    @login_required_roles()
    def anyone():
        return "for anyone signed in"

    @pages.get("/test/flask-login")
    @login_required
    def plain_flask_login():
        return "plain flask-login"

    app.register_blueprint(pages)
    return app


def test_anonymous_visitors_are_sent_to_sign_in_and_back(role_pages, client, dummy_coordinator):
    response = client.get("/test/coordinators?member=42")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/test/coordinators?member%3D42"
    form = _page(client.get(response.headers["Location"]))
    assert 'value="/test/coordinators?member=42"' in form
    signed_in = client.post(
        "/login",
        data={
            "email": dummy_coordinator.email,
            "password": TEST_PASSWORD,
            "next": "/test/coordinators?member=42",
        },
    )
    assert signed_in.headers["Location"] == "/test/coordinators?member=42"
    assert _page(client.get("/test/coordinators?member=42")) == "for coordinators"


def test_flask_login_required_also_sends_people_to_sign_in(role_pages, client):
    response = client.get("/test/flask-login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/test/flask-login"


def test_htmx_requests_from_anonymous_visitors_get_a_redirect_header(role_pages, htmx_client):
    response = htmx_client.get("/test/coordinators")
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login?next=")


def test_the_wrong_role_gets_a_403_page(role_pages, client, dummy_agency_staff, login):
    login(client, dummy_agency_staff)
    response = client.get("/test/coordinators")
    assert response.status_code == 403
    assert "agency staff" in _page(response)
    assert client.get("/test/anyone-signed-in").status_code == 200


def test_unknown_roles_are_a_programming_error():
    with pytest.raises(ValueError, match="unknown roles"):
        login_required_roles("coordinater")
