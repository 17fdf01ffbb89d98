"""Staff management: agency admins manage their own agency, network admins any organization."""

import html as html_lib
from urllib.parse import urlsplit

import pytest

from tests.fixtures_accounts import TEST_PASSWORD


def _page(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


@pytest.fixture
def two_agencies(create_org, create_user):
    """Agencies A and B, each with an admin and a staff member."""
    a, b = create_org(name="Agency A"), create_org(name="Agency B")
    return {
        "a": a,
        "b": b,
        "admin_a": create_user(role="agency_admin", org=a, full_name="Ada Admin"),
        "staff_a": create_user(role="agency_staff", org=a, full_name="Abe Staff"),
        "admin_b": create_user(role="agency_admin", org=b, full_name="Bea Admin"),
        "staff_b": create_user(role="agency_staff", org=b, full_name="Bo Staff"),
    }


def test_an_agency_admin_sees_only_their_own_staff(client, login, two_agencies):
    login(client, two_agencies["admin_b"])
    response = client.get("/account/staff")
    html = _page(response)
    assert response.status_code == 200
    assert "Staff of Agency B" in html
    assert "Bo Staff" in html and "Bea Admin" in html
    assert "Abe Staff" not in html and "Ada Admin" not in html
    assert client.get(f"/account/staff?org={two_agencies['a'].id}").status_code == 404
    assert client.get("/account/staff?org=not-a-uuid").status_code == 404


def test_an_agency_admin_cannot_touch_another_agencys_staff(app, client, login, two_agencies):
    from accounts.models import User
    from extensions import db

    login(client, two_agencies["admin_b"])
    staff_a = two_agencies["staff_a"]
    for action in ("deactivate", "activate", "invite"):
        assert client.post(f"/account/staff/{staff_a.id}/{action}").status_code == 404
    with app.app_context():
        assert db.session.get(User, staff_a.id).active


def test_staff_and_coordinators_cannot_manage_staff(client, login, create_user, two_agencies):
    login(client, two_agencies["staff_a"])
    assert client.get("/account/staff").status_code == 403
    assert client.post(f"/account/staff/{two_agencies['staff_b'].id}/deactivate").status_code == 403


def test_deactivating_someone_stops_their_sign_in(app, client, login, two_agencies):
    login(client, two_agencies["admin_a"])
    staff = two_agencies["staff_a"]
    response = client.post(f"/account/staff/{staff.id}/deactivate")
    assert response.status_code == 303
    assert "Abe Staff's account is deactivated." in _page(client.get(response.headers["Location"]))
    other = app.test_client()
    refused = other.post("/login", data={"email": staff.email, "password": TEST_PASSWORD})
    assert "This account has been deactivated." in _page(refused)
    client.post(f"/account/staff/{staff.id}/activate")
    assert (
        other.post("/login", data={"email": staff.email, "password": TEST_PASSWORD}).status_code
        == 303
    )


def test_htmx_deactivation_returns_the_updated_row(htmx_client, login, two_agencies):
    login(htmx_client, two_agencies["admin_a"])
    staff = two_agencies["staff_a"]
    response = htmx_client.post(f"/account/staff/{staff.id}/deactivate")
    html = _page(response)
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<li id="staff-{staff.id}"')
    assert "deactivated" in html and "Reactivate" in html


def test_nobody_can_deactivate_themselves(client, htmx_client, login, two_agencies):
    admin = two_agencies["admin_a"]
    login(htmx_client, admin)
    response = htmx_client.post(f"/account/staff/{admin.id}/deactivate")
    assert response.status_code == 422
    assert "You can't deactivate your own account." in _page(response)
    assert htmx_client.get("/account").status_code == 200


def test_adding_someone_emails_them_a_link_to_choose_a_password(
    app, client, login, smtp_server, two_agencies
):
    login(client, two_agencies["admin_a"])
    form = _page(client.get("/account/staff"))
    assert '<option value="agency_staff">Agency staff</option>' in form
    assert "coordinator" not in form.split('id="role"')[1].split("</select>")[0]
    response = client.post(
        "/account/staff",
        data={"email": "New.Person@Example.org", "full_name": "New Person", "role": "agency_staff"},
    )
    assert response.status_code == 303
    listing = _page(client.get(response.headers["Location"]))
    assert "We're emailing new.person@example.org a link" in listing
    assert "invited, no password yet" in listing

    assert smtp_server.messages == []  # queued in the outbox with the account
    smtp_server.deliver()
    [message] = smtp_server.messages_to("new.person@example.org")
    assert "Ada Admin created a Wraparound account for you at Agency A" in message.get_content()
    path = urlsplit(smtp_server.last_link("new.person@example.org")).path
    newcomer = app.test_client()
    password = "a long new password here"
    saved = newcomer.post(path, data={"password": password, "confirm": password})
    assert saved.status_code == 303
    signed_in = newcomer.post(
        "/login", data={"email": "new.person@example.org", "password": password}
    )
    assert signed_in.status_code == 303
    assert "Agency A" in _page(newcomer.get("/account"))


def test_adding_someone_twice_or_badly_gives_messages(client, login, smtp_server, two_agencies):
    login(client, two_agencies["admin_a"])
    duplicate = client.post(
        "/account/staff",
        data={"email": two_agencies["staff_b"].email.upper(), "role": "agency_staff"},
    )
    assert duplicate.status_code == 422
    assert "already exists" in _page(duplicate)
    bad_email = client.post("/account/staff", data={"email": "nope", "role": "agency_staff"})
    assert 'id="email-error">Enter an email address like name@example.org.' in _page(bad_email)
    bad_role = client.post("/account/staff", data={"email": "x@example.org", "role": "admin"})
    assert bad_role.status_code == 422
    assert 'id="role-error"' in _page(bad_role)
    smtp_server.deliver()
    assert smtp_server.messages == []


def test_the_invitation_can_be_sent_again(client, login, smtp_server, create_user, two_agencies):
    invited = create_user(role="agency_staff", org=two_agencies["a"], password=None)
    login(client, two_agencies["admin_a"])
    response = client.post(f"/account/staff/{invited.id}/invite")
    assert response.status_code == 303
    smtp_server.deliver()
    assert len(smtp_server.messages_to(invited.email)) == 1


def test_a_mail_server_that_is_down_neither_fails_nor_loses_the_invitation(
    app, client, login, two_agencies
):
    from tests.fixtures_accounts import free_port

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    login(client, two_agencies["admin_a"])
    response = client.post(
        "/account/staff", data={"email": "lost@example.org", "role": "agency_staff"}
    )
    assert response.status_code == 303
    listing = _page(client.get(response.headers["Location"]))
    assert "We're emailing lost@example.org a link" in listing
    result = app.test_cli_runner().invoke(args=["referrals", "deliver"])
    assert "failed 1 (will retry)" in result.output  # still queued for the next run


def test_a_network_admin_can_manage_any_organization(
    client, login, dummy_admin, create_org, two_agencies
):
    coordination = create_org(kind="coordination", name="Health Home")
    login(client, dummy_admin)
    picker = _page(client.get("/account/staff"))
    assert "Agency A" in picker and "Agency B" in picker and "Health Home" in picker
    assert "Abe Staff" in _page(client.get(f"/account/staff?org={two_agencies['a'].id}"))
    form = _page(client.get(f"/account/staff?org={coordination.id}"))
    assert '<option value="coordinator">Coordinator</option>' in form
    response = client.post(f"/account/staff/{two_agencies['staff_b'].id}/deactivate")
    assert response.status_code == 303
