"""The referral screens: refer, dashboard, inbox, referral page, caseload, notifications, audit log.

Each page for the right role, full page vs htmx partial, the authorization matrix over every page
and every form, CSRF on every form, answering in place, the capacity switch, the audit filters.
"""

import csv
import io
import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from accounts.models import User
from directory.models import Service
from extensions import utcnow
from referrals import services
from referrals.models import AuditLog, Consent, Member, Notification, Referral, ReferralMessage

ROLES = [
    "coordinator_a",
    "coordinator_b",
    "staff_a",
    "staff_b",
    "agency_admin_a",
    "admin",
    "anonymous",
]


def _row(*codes):
    return dict(zip(ROLES, codes, strict=True))


# -- helpers -------------------------------------------------------------------------------


@pytest.fixture
def signed_in(app, login):
    """`signed_in(user, htmx=False)`: a test client signed in as `user` (None: anonymous)."""
    clients = {}

    def make(user, htmx: bool = False):
        key = (user.id if user is not None else None, htmx)
        if key not in clients:
            client = app.test_client()
            if user is not None:
                login(client, user)
            if htmx:
                client.environ_base["HTTP_HX_REQUEST"] = "true"
            clients[key] = client
        return clients[key]

    return make


def _text(response) -> str:
    return response.get_data(as_text=True)


def _htmx(target: str) -> dict:
    return {"HX-Request": "true", "HX-Target": target}


def _field_error(html: str, name: str) -> str:
    match = re.search(
        rf'<p class="field-error" id="{re.escape(name)}-error"[^>]*>([^<]+)</p>', html
    )
    assert match, f"no error shown next to {name!r}"
    return match[1]


def _reload(db, model, record_id):
    db.session.expire_all()
    return db.session.get(model, record_id)


def _refer(db, network, member, service=None, **values) -> Referral:
    """Send a referral through the service layer (committed), as coordinator A."""
    referral = services.send_referral(
        db.session.get(User, network.coordinator_a.id),
        db.session.get(Member, member.id),
        db.session.get(Service, (service or network.service_a).id),
        need=values.pop("need", "Groceries for a family of four"),
        urgency=values.pop("urgency", "urgent"),
        **values,
    )
    db.session.commit()
    return referral


def _accept(db, network, referral):
    services.accept(db.session.get(Referral, referral.id), db.session.get(User, network.staff_a.id))
    db.session.commit()


@pytest.fixture
def member(create_member):
    return create_member()


@pytest.fixture
def referral(db, network, member):
    return _refer(db, network, member)


# -- every page, right role ------------------------------------------------------------------


def test_dashboard_lists_my_organizations_referrals(db, network, member, referral, signed_in):
    page = signed_in(network.coordinator_a).get("/referrals")
    html = _text(page)
    assert page.status_code == 200
    assert "<html" in html
    assert "Maria Lopez" in html
    assert "Emergency food boxes" in html
    assert "Waiting for an answer" in html
    assert page.headers["Vary"].count("HX-Request") == 1


def test_dashboard_partial_is_the_list_alone(db, network, member, referral, signed_in):
    client = signed_in(network.coordinator_a)
    response = client.get("/referrals?q=maria", headers=_htmx("referral-list"))
    html = _text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="referral-list">')
    assert "<html" not in html
    assert "Maria Lopez" in html
    nothing = _text(client.get("/referrals?q=nobody-like-this", headers=_htmx("referral-list")))
    assert "Maria Lopez" not in nothing
    assert "No referrals here with these filters." in nothing


def test_dashboard_flags_overdue_and_offers_resend(db, network, member, signed_in):
    overdue = _refer(db, network, member, need="Somewhere to sleep tonight")
    declined = _refer(db, network, member, network.service_a2, need="Help with food stamps")
    stored = db.session.get(Referral, overdue.id)
    stored.due_at = utcnow() - timedelta(hours=3)
    services.decline(
        db.session.get(Referral, declined.id),
        db.session.get(User, network.staff_a.id),
        reason="no_capacity",
    )
    db.session.commit()
    client = signed_in(network.coordinator_a)
    html = _text(client.get("/referrals?view=overdue"))
    assert "Somewhere to sleep tonight" in html
    assert "Help with food stamps" not in html
    assert '<span class="badge badge-bad">Overdue</span>' in html
    assert "overdue by 3 hours" in html
    assert re.search(r'href="/(search)?\?q=Somewhere\+to\+sleep\+tonight">Re-send elsewhere', html)
    closed = _text(client.get("/referrals?view=closed"))
    assert "Declined · no capacity" in closed
    assert re.search(r'href="/(search)?\?q=Help\+with\+food\+stamps">Re-send elsewhere', closed)


def test_dashboard_closed_loop_rate_says_how_it_is_computed(db, network, member, signed_in):
    first = _refer(db, network, member, need="Food")
    _refer(db, network, member, network.service_a2, need="SNAP")
    _accept(db, network, first)
    services.complete(
        db.session.get(Referral, first.id),
        db.session.get(User, network.staff_a.id),
        outcome="service_provided",
    )
    db.session.commit()
    html = _text(signed_in(network.coordinator_a).get("/referrals"))
    assert '<span class="stat-number">50%</span>' in html
    assert "1 of 2 referrals sent in the last 90 days has an outcome recorded" in html
    assert "How this is computed" in html
    assert "still open (1)" in html


def test_dashboard_pages_and_filters(db, network, create_member, signed_in):
    people = [create_member(first_name=f"Person{n:02d}", last_name="Test") for n in range(22)]
    for person in people:
        _refer(db, network, person, need=f"need of {person.first_name}")
    client = signed_in(network.coordinator_a)
    first = _text(client.get("/referrals"))
    assert "22 referrals, showing 1–20." in first
    assert 'href="/referrals?page=2"' in first
    second = _text(client.get("/referrals?page=2"))
    assert "showing 21–22" in second
    mine = _text(client.get("/referrals?mine=1&q=Person03"))
    assert "1 referral." in mine
    assert signed_in(network.coordinator_a2).get("/referrals?mine=1").status_code == 200
    assert "No referrals here" in _text(signed_in(network.coordinator_a2).get("/referrals?mine=1"))


def test_network_admin_dashboard_sees_every_organization(
    db, network, member, create_member, signed_in
):
    _refer(db, network, member)
    other = create_member(network.coordinator_b, first_name="Lena", last_name="Berg")
    services.send_referral(
        db.session.get(User, network.coordinator_b.id),
        db.session.get(Member, other.id),
        db.session.get(Service, network.service_b.id),
        need="A bed",
    )
    db.session.commit()
    html = _text(signed_in(network.admin).get("/referrals"))
    assert "Referrals in the network" in html
    assert "Maria Lopez" in html and "Lena Berg" in html
    only_b = _text(signed_in(network.coordinator_b).get("/referrals"))
    assert "Lena Berg" in only_b and "Maria Lopez" not in only_b


# -- refer -----------------------------------------------------------------------------------


def test_refer_page_shows_the_service_and_the_caseload(db, network, member, signed_in):
    stored = db.session.get(Service, network.service_a.id)
    stored.referral_capacity = "waitlist"
    db.session.commit()
    response = signed_in(network.coordinator_a).get(
        f"/referrals/new?service_id={network.service_a.id}"
    )
    html = _text(response)
    assert response.status_code == 200
    assert "Emergency food boxes" in html and "Northside Food Pantry" in html
    assert '<span class="badge badge-warn">Waitlist</span>' in html
    assert f'value="{member.id}"' in html and "Maria Lopez" in html
    assert "Consent on file" in html
    # Sensible defaults: routine urgency, verbal consent, a year, the usual fields ticked.
    assert re.search(r'name="urgency" value="routine" checked', html)
    assert re.search(r'name="consent_method" value="verbal" checked', html)
    assert re.search(r'name="consent_scope" value="phone" checked', html)
    assert not re.search(r'name="consent_scope" value="address" checked', html)


def test_refer_page_without_a_service_sends_to_the_directory(network, signed_in):
    response = signed_in(network.coordinator_a).get("/referrals/new")
    assert response.status_code == 302
    assert response.headers["Location"] in ("/", "/search")
    missing = signed_in(network.coordinator_a).get(f"/referrals/new?service_id={uuid.uuid4()}")
    assert missing.status_code == 404


def test_refer_member_search_answers_with_the_picker_alone(db, network, create_member, signed_in):
    create_member(first_name="Maria", last_name="Lopez")
    create_member(first_name="Tomas", last_name="Reyes", consent=False)
    create_member(network.coordinator_b, first_name="Tomas", last_name="Other")
    client = signed_in(network.coordinator_a)
    url = f"/referrals/new?service_id={network.service_a.id}&member_q=tom"
    response = client.get(url, headers=_htmx("member-choices"))
    html = _text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="member-choices"')
    assert "Tomas Reyes" in html and "No consent in force" in html
    assert "Maria Lopez" not in html
    assert "Tomas Other" not in html  # another organization's caseload
    # Without JavaScript the same search reloads the whole form.
    full = _text(client.get(url))
    assert "<html" in full and "Tomas Reyes" in full


def test_refer_consent_section_follows_the_chosen_member(db, network, create_member, signed_in):
    without = create_member(first_name="Tomas", last_name="Reyes", consent=False)
    expired = create_member(first_name="Ida", last_name="Wells")
    consent = db.session.scalar(select(Consent).where(Consent.member_id == expired.id))
    consent.expires_on = date.today() - timedelta(days=3)
    db.session.commit()
    client = signed_in(network.coordinator_a)
    base = f"/referrals/new?service_id={network.service_a.id}"
    html = _text(client.get(f"{base}&member_id={without.id}", headers=_htmx("consent-section")))
    assert html.lstrip().startswith('<section id="consent-section"')
    assert "Tomas Reyes has no consent in force" in html
    assert 'name="consent_given"' in html
    html = _text(client.get(f"{base}&member_id={expired.id}", headers=_htmx("consent-section")))
    assert "Ida Wells has no consent in force (it expired on" in html


def test_refer_someone_new_with_consent_in_one_step(db, network, signed_in):
    response = signed_in(network.coordinator_a).post(
        "/referrals/new",
        data={
            "service_id": str(network.service_a.id),
            "member_id": "new",
            "first_name": "Rosa",
            "last_name": "Vega",
            "phone": "315-555-0199",
            "consent_given": "1",
            "consent_method": "verbal",
            "consent_scope": ["first_name", "last_name", "phone"],
            "consent_expires_on": (date.today() + timedelta(days=365)).isoformat(),
            "need": "Food this week",
            "urgency": "urgent",
        },
    )
    assert response.status_code == 303, _text(response)
    referral = db.session.scalar(select(Referral).where(Referral.need == "Food this week"))
    assert response.headers["Location"] == f"/referrals/{referral.id}"
    assert referral.member.full_name == "Rosa Vega"
    assert referral.member.organization_id == network.coordination_a.id
    assert referral.consent.given_by == "Rosa Vega"  # left empty: the member gave it
    assert referral.consent.scope == ["first_name", "last_name", "phone"]
    assert referral.urgency == "urgent" and referral.status == "sent"
    page = _text(signed_in(network.coordinator_a).get(response.headers["Location"]))
    assert "Referral sent to Emergency food boxes" in page


def test_refer_without_consent_says_so_and_writes_nothing(db, network, create_member, signed_in):
    person = create_member(first_name="Tomas", last_name="Reyes", consent=False)
    data = {
        "service_id": str(network.service_a.id),
        "member_id": str(person.id),
        "need": "Food",
    }
    client = signed_in(network.coordinator_a)
    response = client.post("/referrals/new", data=data)
    html = _text(response)
    assert response.status_code == 422
    assert "No consent to share this member" in html
    assert 'name="consent_given"' in html
    assert 'value="Food"' in html  # what was typed is kept
    assert db.session.scalar(select(func.count()).select_from(Referral)) == 0
    # Recording consent in the same form sends it.
    data |= {"consent_given": "1", "consent_method": "written", "consent_scope": "first_name"}
    assert client.post("/referrals/new", data=data).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Referral)) == 1


def test_refer_errors_are_shown_next_to_fields(db, network, member, signed_in):
    client = signed_in(network.coordinator_a)
    response = client.post(
        "/referrals/new",
        data={"service_id": str(network.service_a.id), "member_id": str(member.id), "need": " "},
    )
    assert response.status_code == 400
    assert _field_error(_text(response), "need") == "This is required."
    response = client.post(
        "/referrals/new",
        data={
            "service_id": str(network.service_a.id),
            "member_id": "new",
            "first_name": "",
            "last_name": "Vega",
            "birth_date": "31/12/1980",
            "need": "Food",
        },
    )
    html = _text(response)
    assert response.status_code == 400
    assert _field_error(html, "first_name") == "This is required."
    assert "Enter a date as YYYY-MM-DD" in _field_error(html, "birth_date")
    assert '<details id="new-member"' in html and "open" in html
    response = client.post(
        "/referrals/new", data={"service_id": str(network.service_a.id), "need": "Food"}
    )
    assert "Choose a member" in _field_error(_text(response), "member_id")
    assert db.session.scalar(select(func.count()).select_from(Member)) == 1  # nothing half-made


def test_refer_a_likely_duplicate_asks_to_confirm(db, network, member, referral, signed_in):
    client = signed_in(network.coordinator_a)
    data = {
        "service_id": str(network.service_a.id),
        "member_id": str(member.id),
        "need": "More food",
    }
    response = client.post("/referrals/new", data=data)
    html = _text(response)
    assert response.status_code == 409
    assert "Already referred." in html
    assert f'href="/referrals/{referral.id}"' in html
    assert 'name="confirm_duplicate" value="1"' in html
    assert "Send another referral" in html
    assert db.session.scalar(select(func.count()).select_from(Referral)) == 1
    confirmed = client.post("/referrals/new", data=data | {"confirm_duplicate": "1"})
    assert confirmed.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Referral)) == 2


def test_refer_to_a_service_not_accepting(db, network, member, signed_in):
    stored = db.session.get(Service, network.service_a.id)
    stored.referral_capacity = "not_accepting"
    db.session.commit()
    client = signed_in(network.coordinator_a)
    page = _text(client.get(f"/referrals/new?service_id={network.service_a.id}"))
    assert "is not accepting new referrals right now" in page
    response = client.post(
        "/referrals/new",
        data={"service_id": str(network.service_a.id), "member_id": str(member.id), "need": "x"},
    )
    assert response.status_code == 422
    assert "not accepting new referrals" in _text(response)
    outside = _text(client.get(f"/referrals/new?service_id={network.service_outside.id}"))
    assert "is not part of the referral network yet" in outside
