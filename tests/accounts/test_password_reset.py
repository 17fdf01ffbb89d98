"""Password reset by email, end to end through a real SMTP server on loopback."""

import html as html_lib
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from tests.fixtures_accounts import TEST_PASSWORD

NEW_PASSWORD = "purple elephant kitchen lamp"


def _page(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def _ask_for_link(client, email: str):
    response = client.post("/password/forgot", data={"email": email})
    assert response.status_code == 200
    assert "Check your email" in _page(response)
    return response


def _path(link: str) -> str:
    return urlsplit(link).path


def test_a_reset_link_works_once(client, smtp_server, dummy_coordinator, login):
    _ask_for_link(client, dummy_coordinator.email)
    smtp_server.deliver()  # account emails wait in the outbox
    [message] = smtp_server.messages_to(dummy_coordinator.email)
    assert message["Subject"] == "Reset your Wraparound password"
    assert message["From"].addresses[0].addr_spec == "no-reply@wraparound.local"
    link = smtp_server.last_link(dummy_coordinator.email)
    assert link.startswith("http://127.0.0.1:5000/password/reset/")

    form = client.get(_path(link))
    assert form.status_code == 200
    assert form.headers["Referrer-Policy"] == "no-referrer"
    assert dummy_coordinator.email in _page(form)

    saved = client.post(_path(link), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert saved.status_code == 303
    assert "Your password is saved." in _page(client.get(saved.headers["Location"]))

    again = client.get(_path(link))
    assert again.status_code == 410
    assert "This link has already been used." in _page(again)
    reused = client.post(
        _path(link), data={"password": "another password 123", "confirm": "another password 123"}
    )
    assert reused.status_code == 410

    wrong_old = client.post(
        "/login", data={"email": dummy_coordinator.email, "password": TEST_PASSWORD}
    )
    assert "Email or password is incorrect." in _page(wrong_old)
    login(client, dummy_coordinator, password=NEW_PASSWORD)


def test_an_expired_link_is_refused(app, client, smtp_server, dummy_coordinator):
    from accounts.models import AuthToken
    from extensions import db, utcnow

    _ask_for_link(client, dummy_coordinator.email)
    smtp_server.deliver()  # account emails wait in the outbox
    link = smtp_server.last_link(dummy_coordinator.email)
    with app.app_context():
        token = db.session.scalar(
            select(AuthToken).where(AuthToken.user_id == dummy_coordinator.id)
        )
        assert utcnow() + timedelta(minutes=59) < token.expires_at <= utcnow() + timedelta(hours=1)
        token.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = client.get(_path(link))
    assert response.status_code == 410
    assert "This link has expired. Ask for a new one." in _page(response)
    response = client.post(_path(link), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 410


def test_a_made_up_link_is_refused(client):
    response = client.get("/password/reset/not-a-real-token")
    assert response.status_code == 410
    assert "This link is not valid." in _page(response)
    assert 'href="/password/forgot"' in _page(response)


def test_the_new_password_must_follow_the_policy(client, smtp_server, dummy_coordinator):
    _ask_for_link(client, dummy_coordinator.email)
    smtp_server.deliver()  # account emails wait in the outbox
    path = _path(smtp_server.last_link())
    short = client.post(path, data={"password": "short", "confirm": "short"})
    assert short.status_code == 200
    assert "Use at least 12 characters (this one has 5)." in _page(short)
    mismatch = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert "The two passwords are not the same." in _page(mismatch)
    # The link still works after those mistakes.
    assert (
        client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code
        == 303
    )


def test_the_answer_is_the_same_for_unknown_addresses(client, smtp_server, dummy_coordinator):
    def main(response) -> str:
        # The <main> content: the page chrome holds a CSRF token that is timestamped.
        return _page(response).split("<main", 1)[1].split("</main>", 1)[0]

    known = main(_ask_for_link(client, dummy_coordinator.email))
    smtp_server.deliver()  # account emails wait in the outbox
    unknown = main(_ask_for_link(client, "nobody-here@example.org"))
    smtp_server.deliver()  # account emails wait in the outbox
    assert "Check your email" in known
    assert known.replace(dummy_coordinator.email, "X") == unknown.replace(
        "nobody-here@example.org", "X"
    )
    assert len(smtp_server.messages) == 1


def test_deactivated_accounts_get_no_link(client, smtp_server, create_user):
    user = create_user(active=False)
    _ask_for_link(client, user.email)
    smtp_server.deliver()  # account emails wait in the outbox
    assert smtp_server.messages == []


def test_a_malformed_address_gets_a_message(client, smtp_server):
    response = client.post("/password/forgot", data={"email": "not an address"})
    assert "Enter an email address like name@example.org." in _page(response)
    assert smtp_server.messages == []


def test_a_mail_server_that_is_down_does_not_break_the_page(app, client, dummy_coordinator):
    from tests.fixtures_accounts import free_port

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nothing listens there
    response = _ask_for_link(client, dummy_coordinator.email)
    assert response.status_code == 200


def test_a_new_link_makes_earlier_ones_unusable_once_used(client, smtp_server, dummy_coordinator):
    _ask_for_link(client, dummy_coordinator.email)
    smtp_server.deliver()  # account emails wait in the outbox
    first = _path(smtp_server.last_link())
    _ask_for_link(client, dummy_coordinator.email)
    smtp_server.deliver()  # account emails wait in the outbox
    second = _path(smtp_server.last_link())
    assert first != second
    assert (
        client.post(second, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code
        == 303
    )
    assert client.get(first).status_code == 410


def test_resetting_ends_other_sessions_and_api_tokens(
    app, client, smtp_server, dummy_coordinator, login, api_token
):
    other_device = app.test_client()
    login(other_device, dummy_coordinator)
    token = api_token(dummy_coordinator)
    _ask_for_link(client, dummy_coordinator.email)
    smtp_server.deliver()  # account emails wait in the outbox
    path = _path(smtp_server.last_link())
    client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert other_device.get("/account").status_code == 302
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


def test_reset_requests_are_rate_limited(make_app, create_user, smtp_server):
    limited = make_app(RATELIMIT_ENABLED=True, **smtp_server.config)
    user = create_user()
    client = limited.test_client()
    for _ in range(3):
        assert client.post("/password/forgot", data={"email": user.email}).status_code == 200
    blocked = client.post("/password/forgot", data={"email": user.email})
    assert blocked.status_code == 429
    assert "Too many password reset requests." in _page(blocked)
    smtp_server.deliver()
    assert len(smtp_server.messages) == 3
