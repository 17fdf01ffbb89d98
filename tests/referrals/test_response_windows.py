"""Response windows by urgency: an emergency is due in hours (around the clock), an urgent
referral in one business day, a routine one in the agency's window; agency admins and network
admins set their organization's windows on a page; deadlines read in the network's time zone."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from accounts.models import NetworkOrganization, User
from directory.models import Service
from referrals import deadlines, services
from referrals.models import Member, OutboxEmail, Referral
from tests.referrals.matrix import ROLES, by_role
from tests.referrals.pages import field_error, text_of

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def _network_calendar(app):
    """New York, no holidays, whatever the environment says."""
    app.config.update(DEFAULT_TIMEZONE="America/New_York", REFERRAL_HOLIDAYS="")


def _local(*args) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


FRIDAY_4PM = _local(2026, 3, 13, 16, 0)  # Friday 13 March 2026 (after the DST change on the 8th)


def _send(db, network, member, *, urgency: str, at: datetime = FRIDAY_4PM, service=None):
    referral = services.send_referral(
        db.session.get(User, network.coordinator_a.id),
        db.session.get(Member, member.id),
        db.session.get(Service, (service or network.service_a).id),
        need="A bed tonight",
        urgency=urgency,
        now=at.astimezone(UTC),
    )
    db.session.commit()
    return referral


def _set_windows(db, organization, **values) -> None:
    stored = db.session.get(NetworkOrganization, organization.id)
    for name, value in values.items():
        setattr(stored, name, value)
    db.session.commit()


# -- the deadlines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("urgency", "windows", "holidays", "sent", "due"),
    [
        # An emergency: 4 clock hours by default, or the agency's own number.
        ("emergency", {}, "", FRIDAY_4PM, _local(2026, 3, 13, 20, 0)),
        ("emergency", {"emergency_window_hours": 6}, "", FRIDAY_4PM, _local(2026, 3, 13, 22, 0)),
        # ... counted through the night, the weekend and holidays alike.
        ("emergency", {}, "2026-03-14", _local(2026, 3, 13, 22), _local(2026, 3, 14, 2, 0)),
        # Urgent: one business day, so Friday's is due on Monday (not Tuesday, as routine).
        ("urgent", {}, "", FRIDAY_4PM, _local(2026, 3, 16, 16, 0)),
        ("urgent", {}, "2026-03-16", FRIDAY_4PM, _local(2026, 3, 17, 16, 0)),  # Monday off
        ("urgent", {"urgent_window_business_days": 2}, "", FRIDAY_4PM, _local(2026, 3, 17, 16)),
    ],
    ids=["emergency", "emergency-6h", "emergency-weekend", "urgent", "urgent-holiday", "urgent-2d"],
)
def test_the_deadline_follows_the_urgency(
    app, db, network, create_member, urgency, windows, holidays, sent, due
):
    app.config["REFERRAL_HOLIDAYS"] = holidays
    _set_windows(db, network.agency_a, **windows)
    referral = _send(db, network, create_member(), urgency=urgency, at=sent)
    assert referral.due_at == due


def test_a_routine_referral_uses_the_agency_window_across_the_weekend(db, network, create_member):
    member = create_member()
    to_a = _send(db, network, member, urgency="routine")  # agency A: 2 business days
    to_b = _send(db, network, member, urgency="routine", service=network.service_b)  # B: 3
    assert to_a.due_at == _local(2026, 3, 17, 16, 0)
    assert to_b.due_at == _local(2026, 3, 18, 16, 0)


def test_a_forwarded_emergency_gets_the_new_agencys_hours(db, network, create_member):
    _set_windows(db, network.agency_b, emergency_window_hours=2)
    referral = _send(db, network, create_member(), urgency="emergency")
    forwarded = services.forward(
        db.session.get(Referral, referral.id),
        db.session.get(User, network.staff_a.id),
        db.session.get(Service, network.service_b.id),
        now=_local(2026, 3, 13, 17, 0).astimezone(UTC),
    )
    db.session.commit()
    assert forwarded.urgency == "emergency"
    assert forwarded.due_at == _local(2026, 3, 13, 19, 0)


def test_response_due_picks_the_rule_for_each_urgency(app, db, network):
    agency = db.session.get(NetworkOrganization, network.agency_b.id)  # routine window: 3 days
    sent = FRIDAY_4PM.astimezone(UTC)
    due = {u: deadlines.response_due(agency, sent, u) for u in ("emergency", "urgent", "routine")}
    assert due == {
        "emergency": _local(2026, 3, 13, 20, 0),
        "urgent": _local(2026, 3, 16, 16, 0),
        "routine": _local(2026, 3, 18, 16, 0),
    }


def test_the_sweep_flags_an_emergency_once_its_hours_pass(db, network, create_member):
    referral = _send(db, network, create_member(), urgency="emergency")
    before = _local(2026, 3, 13, 19, 59).astimezone(UTC)
    assert services.sweep_overdue(before) == []
    after = _local(2026, 3, 13, 20, 1).astimezone(UTC)
    assert services.sweep_overdue(after) == [referral.id]
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).overdue


def test_the_windows_are_checked_by_the_database(db, network):
    from sqlalchemy.exc import IntegrityError

    for name, value in (
        ("emergency_window_hours", 0),
        ("emergency_window_hours", 73),
        ("urgent_window_business_days", 11),
    ):
        with pytest.raises(IntegrityError):
            _set_windows(db, network.agency_a, **{name: value})
        db.session.rollback()


# -- the deadline as people read it ----------------------------------------------------------


def test_the_deadline_reads_in_the_network_zone(app, db, network, create_member, signed_in):
    referral = _send(db, network, create_member(), urgency="emergency")
    html = text_of(signed_in(network.staff_a).get(f"/referrals/{referral.id}"))
    assert "Fri 13 Mar, 8:00 PM EDT" in html
    email = db.session.scalars(
        select(OutboxEmail).where(OutboxEmail.to_address == network.staff_a.email)
    ).one()
    assert "Fri 13 Mar, 8:00 PM EDT" in email.body
    app.config["DEFAULT_TIMEZONE"] = "America/Chicago"
    html = text_of(signed_in(network.staff_a).get(f"/referrals/{referral.id}"))
    assert "Fri 13 Mar, 7:00 PM CDT" in html


def test_the_refer_form_says_when_the_agency_should_answer(db, network, create_member, signed_in):
    member = create_member()
    response = signed_in(network.coordinator_a).post(
        "/referrals/new",
        data={
            "service_id": str(network.service_a.id),
            "member_id": str(member.id),
            "need": "A bed tonight",
            "urgency": "emergency",
        },
        follow_redirects=True,
    )
    due = db.session.scalars(select(Referral.due_at)).one()
    assert due - datetime.now(UTC) < timedelta(hours=4, minutes=1)
    shown = f"should answer by {deadlines.format_deadline(due)}"
    assert re.search(r"by [A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2}, \d{1,2}:\d\d [AP]M E[SD]T", shown)
    assert shown in text_of(response)


# -- the settings page -----------------------------------------------------------------------


def _page_of(network) -> str:
    return f"/account/response-windows?org={network.agency_a.id}"


GOOD = {
    "emergency_window_hours": "6",
    "urgent_window_business_days": "2",
    "response_window_business_days": "5",
}


def test_an_agency_admin_saves_their_windows(db, network, signed_in):
    client = signed_in(network.agency_admin_a)
    page = text_of(client.get("/account/response-windows"))
    assert "Response windows" in page and "Northside Food Pantry" in page
    assert 'value="4"' in page and 'value="1"' in page and 'value="2"' in page
    saved = client.post("/account/response-windows", data=GOOD)
    assert saved.status_code == 303
    assert "Saved" in text_of(client.get(saved.headers["Location"]))
    db.session.expire_all()
    agency = db.session.get(NetworkOrganization, network.agency_a.id)
    assert (
        agency.emergency_window_hours,
        agency.urgent_window_business_days,
        agency.response_window_business_days,
    ) == (6, 2, 5)


def test_a_network_admin_sets_any_agencys_windows(db, network, signed_in):
    client = signed_in(network.admin)
    picker = text_of(client.get("/account/response-windows"))
    assert "Harbor House Shelter" in picker and "Central Health Home" not in picker
    saved = client.post(f"/account/response-windows?org={network.agency_b.id}", data=GOOD)
    assert saved.status_code == 303
    db.session.expire_all()
    assert db.session.get(NetworkOrganization, network.agency_b.id).emergency_window_hours == 6
    # A coordination organization has no response windows.
    assert (
        client.get(f"/account/response-windows?org={network.coordination_a.id}").status_code == 404
    )


# Each field's refused values and the range its error names.
REFUSED = {
    "emergency_window_hours": (("0", "100"), "from 1 to 72 hours"),
    "urgent_window_business_days": (("soon",), "from 1 to 10 business days"),
    "response_window_business_days": (("", "2.5"), "from 1 to 30 business days"),
}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [(field, value, message) for field, (values, message) in REFUSED.items() for value in values],
)
def test_bad_values_are_refused_with_a_message_and_kept(
    db, network, signed_in, field, value, message
):
    client = signed_in(network.agency_admin_a)
    response = client.post(_page_of(network), data={**GOOD, field: value})
    html = text_of(response)
    assert response.status_code == 422
    assert message in field_error(html, field)
    for name, kept in {**GOOD, field: value}.items():  # what was typed stays in the form
        assert re.search(rf'<input[^>]*name="{name}"[^>]*value="{re.escape(kept)}"', html), name
    db.session.expire_all()
    agency = db.session.get(NetworkOrganization, network.agency_a.id)
    assert (agency.emergency_window_hours, agency.response_window_business_days) == (4, 2)


WINDOWS_PAGE = by_role(403, 403, 403, 403, 200, 200, 302)
WINDOWS_SAVE = by_role(403, 403, 403, 403, 303, 303, 302)


@pytest.mark.parametrize(("method", "expected"), [("GET", WINDOWS_PAGE), ("POST", WINDOWS_SAVE)])
def test_who_may_open_and_save_the_windows(db, network, signed_in, method, expected):
    for role in ROLES:
        client = signed_in(network.people[role])
        if method == "GET":
            response = client.get(_page_of(network))
        else:
            response = client.post(_page_of(network), data=GOOD)
        assert response.status_code == expected[role], (role, response.status_code)
        if role == "anonymous":
            assert response.headers["Location"].startswith("/login?next=")


def test_another_agencys_admin_cannot_see_or_change_the_windows(
    db, network, create_user, signed_in
):
    admin_b = create_user(role="agency_admin", org=network.agency_b)
    client = signed_in(admin_b)
    assert client.get(_page_of(network)).status_code == 404
    assert client.post(_page_of(network), data=GOOD).status_code == 404
    db.session.expire_all()
    assert db.session.get(NetworkOrganization, network.agency_a.id).emergency_window_hours == 4


def test_the_form_needs_the_csrf_token(make_app, network):
    protected = make_app(WTF_CSRF_ENABLED=True)
    client = protected.test_client()
    login_page = text_of(client.get("/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page)[1]
    data = {
        "email": network.agency_admin_a.email,
        "password": "correct horse battery staple",
        "csrf_token": token,
    }
    assert client.post("/login", data=data).status_code == 303
    refused = client.post("/account/response-windows", data=GOOD)
    assert refused.status_code == 400
    page = text_of(client.get("/account/response-windows"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    accepted = client.post("/account/response-windows", data={**GOOD, "csrf_token": token})
    assert accepted.status_code == 303


def test_the_staff_and_account_pages_link_to_the_windows(network, signed_in):
    client = signed_in(network.agency_admin_a)
    for page in ("/account/staff", "/account"):
        assert 'href="/account/response-windows' in text_of(client.get(page))
    assert 'href="/account/response-windows' not in text_of(
        signed_in(network.staff_a).get("/account")
    )


# -- the command line ------------------------------------------------------------------------


def test_create_org_takes_the_windows(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "accounts",
            "create-org",
            "Night Shelter",
            "--kind",
            "agency",
            "--response-window",
            "3",
            "--emergency-window",
            "8",
            "--urgent-window",
            "2",
        ]
    )
    assert result.exit_code == 0, result.output
    org_id = result.output.strip().splitlines()[-1]
    org = db.session.get(NetworkOrganization, uuid.UUID(org_id))
    assert (
        org.emergency_window_hours,
        org.urgent_window_business_days,
        org.response_window_business_days,
    ) == (8, 2, 3)
    refused = runner.invoke(
        args=["accounts", "create-org", "Other", "--kind", "agency", "--emergency-window", "0"]
    )
    assert refused.exit_code != 0


def test_set_windows_changes_an_agency_from_the_command_line(app, db, network):
    runner = app.test_cli_runner()
    agency_id = str(network.agency_a.id)
    result = runner.invoke(args=["accounts", "set-windows", agency_id, "--emergency-window", "2"])
    assert result.exit_code == 0, result.output
    assert "emergency 2 hours, urgent 1 business day, routine 2 business days" in result.output
    db.session.expire_all()
    assert db.session.get(NetworkOrganization, network.agency_a.id).emergency_window_hours == 2
    for args in (
        [agency_id, "--urgent-window", "11"],
        [str(network.coordination_a.id), "--urgent-window", "2"],
        ["not-an-id"],
    ):
        assert runner.invoke(args=["accounts", "set-windows", *args]).exit_code != 0
    db.session.expire_all()
    assert db.session.get(NetworkOrganization, network.agency_a.id).urgent_window_business_days == 1
