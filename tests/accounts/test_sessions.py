"""Server-side sessions: a copied session cookie stops working once the session is ended.

Each test signs in, copies the `session` cookie to a second client (an attacker, or a device
left behind), ends the session some way, and replays the copy.
"""

from datetime import timedelta

import pytest

from tests.fixtures_accounts import TEST_PASSWORD

NEW_PASSWORD = "a brand new long password"


def _session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


@pytest.fixture
def replay(app):
    """`replay(client)`: a new client carrying a copy of `client`'s session cookie."""

    def copy(client):
        other = app.test_client()
        other.set_cookie("session", _session_cookie(client))
        return other

    return copy


def _signed_out(client, path: str = "/account") -> bool:
    response = client.get(path)
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_copied_cookie_works_while_the_session_lasts(client, dummy_coordinator, login, replay):
    login(client, dummy_coordinator)
    assert replay(client).get("/account").status_code == 200


def test_a_copied_cookie_stops_working_after_sign_out(client, dummy_coordinator, login, replay):
    login(client, dummy_coordinator)
    copy = replay(client)
    client.post("/logout")
    assert _signed_out(copy)
    assert _signed_out(copy, "/members")


def test_a_copied_cookie_never_authenticates_the_api(client, dummy_coordinator, login, replay):
    login(client, dummy_coordinator)
    copy = replay(client)
    client.post("/logout")
    response = copy.get("/api/v1/members")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


@pytest.fixture
def two_devices(app, client, dummy_coordinator, login, replay):
    """The coordinator signed in on `client`, then on another device: that device, and a copy of
    `client`'s session cookie."""
    other_device = app.test_client()
    login(client, dummy_coordinator)
    login(other_device, dummy_coordinator)
    return other_device, replay(client)


def test_a_password_change_ends_other_sessions_and_keeps_this_one(client, two_devices):
    other_device, copy = two_devices
    response = client.post(
        "/account/password",
        data={"current_password": TEST_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 303
    assert client.get("/account").status_code == 200
    assert _signed_out(other_device)
    assert _signed_out(copy)  # the cookie from before the change is not this session any more


def test_a_password_change_ends_sessions_even_if_changed_back(
    app, client, dummy_coordinator, login, replay
):
    login(client, dummy_coordinator)
    copy = replay(client)
    for current, new in ((TEST_PASSWORD, NEW_PASSWORD), (NEW_PASSWORD, TEST_PASSWORD)):
        response = client.post(
            "/account/password",
            data={"current_password": current, "password": new, "confirm": new},
        )
        assert response.status_code == 303
    assert _signed_out(copy)


def test_deactivation_ends_sessions_for_good(client, login, replay, two_agencies_staff):
    admin, staff = two_agencies_staff
    staff_client = client.application.test_client()
    login(staff_client, staff)
    copy = replay(staff_client)
    login(client, admin)
    assert client.post(f"/account/staff/{staff.id}/deactivate").status_code == 303
    assert client.post(f"/account/staff/{staff.id}/activate").status_code == 303
    # Reactivated: they sign in again, but the sessions from before stay ended.
    assert _signed_out(staff_client)
    assert _signed_out(copy)


@pytest.fixture
def two_agencies_staff(create_org, create_user):
    agency = create_org("Sessions Agency")
    admin = create_user(role="agency_admin", org=agency)
    staff = create_user(role="agency_staff", org=agency, full_name="Sam Staff")
    return admin, staff


def test_signing_out_everywhere_ends_all_of_ones_own_sessions(
    client, dummy_coordinator, login, two_devices
):
    other_device, copy = two_devices
    assert "Sign out everywhere" in client.get("/account").get_data(as_text=True)
    response = client.post("/account/sessions/revoke")
    assert response.status_code == 303
    assert "/login" in response.headers["Location"]
    for device in (client, other_device, copy):
        assert _signed_out(device)
    login(client, dummy_coordinator)  # signing in again works


def test_signing_out_everywhere_needs_a_post(client, dummy_coordinator, login):
    login(client, dummy_coordinator)
    assert client.get("/account/sessions/revoke").status_code == 405
    assert client.get("/account").status_code == 200


def test_an_admin_can_sign_a_staff_member_out_everywhere(client, login, two_agencies_staff):
    admin, staff = two_agencies_staff
    staff_client = client.application.test_client()
    login(staff_client, staff)
    login(client, admin)
    page = client.get("/account/staff").get_data(as_text=True)
    assert f"/account/staff/{staff.id}/sessions/revoke" in page
    response = client.post(f"/account/staff/{staff.id}/sessions/revoke")
    assert response.status_code == 303
    assert _signed_out(staff_client)
    assert client.get("/account").status_code == 200  # the admin's own session goes on
    login(staff_client, staff)  # still active: they can sign in again


def test_staff_cannot_sign_others_out(client, login, create_user, two_agencies_staff):
    admin, staff = two_agencies_staff
    admin_client = client.application.test_client()
    login(admin_client, admin)
    login(client, staff)
    assert client.post(f"/account/staff/{admin.id}/sessions/revoke").status_code == 403
    outsider = create_user(role="agency_admin")
    login(client, outsider)
    assert client.post(f"/account/staff/{staff.id}/sessions/revoke").status_code in (403, 404)
    assert admin_client.get("/account").status_code == 200


def _age_sessions(app, user, **changes) -> None:
    from sqlalchemy import update

    from accounts.models import UserSession
    from extensions import db

    with app.app_context():
        db.session.execute(
            update(UserSession).where(UserSession.user_id == user.id).values(changes)
        )
        db.session.commit()


def test_an_idle_session_expires(app, client, dummy_coordinator, login):
    from extensions import utcnow

    login(client, dummy_coordinator)
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    _age_sessions(app, dummy_coordinator, last_seen_at=utcnow() - idle)
    assert _signed_out(client)


def test_a_session_in_use_is_kept_alive(app, client, dummy_coordinator, login):
    from extensions import utcnow

    login(client, dummy_coordinator)
    almost_idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 1)
    _age_sessions(app, dummy_coordinator, last_seen_at=utcnow() - almost_idle)
    assert client.get("/account").status_code == 200  # seen now: the idle clock starts again
    _age_sessions_by(app, dummy_coordinator, almost_idle)
    assert client.get("/account").status_code == 200


def _age_sessions_by(app, user, delta: timedelta) -> None:
    from sqlalchemy import select

    from accounts.models import UserSession
    from extensions import db

    with app.app_context():
        for record in db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)):
            record.last_seen_at -= delta
        db.session.commit()


def test_a_session_ends_after_session_hours_even_in_use(app, client, dummy_coordinator, login):
    from extensions import utcnow

    login(client, dummy_coordinator)
    _age_sessions(app, dummy_coordinator, expires_at=utcnow() - timedelta(seconds=1))
    assert _signed_out(client)


def test_session_hours_sets_the_absolute_expiry(make_app, create_user, login):
    from sqlalchemy import select

    from accounts.models import UserSession
    from extensions import db

    app = make_app(PERMANENT_SESSION_LIFETIME=timedelta(hours=3))
    user = create_user()
    client = app.test_client()
    login(client, user)
    with app.app_context():
        record = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
        assert record.expires_at - record.created_at == timedelta(hours=3)
        assert record.ip == "127.0.0.1"
        assert record.revoked_at is None


def test_the_cookie_carries_no_session_secret_in_the_clear(app, client, dummy_coordinator, login):
    from sqlalchemy import select

    from accounts.models import UserSession
    from extensions import db

    login(client, dummy_coordinator)
    with client.session_transaction() as session:
        raw = session["sid"]
    with app.app_context():
        hashes = db.session.scalars(select(UserSession.token_hash)).all()
    assert raw not in hashes and len(hashes) == 1
