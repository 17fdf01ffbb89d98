"""The referral screens: refer, dashboard, inbox, referral page, caseload, notifications.

Each page for the right role, full page vs htmx partial, the authorization matrix over every page
(the admin ones too) and every form, CSRF on every form, answering in place, the capacity switch,
the audit rows the pages write.
"""

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
from tests.referrals.matrix import ROLES, by_role, fill_in
from tests.referrals.pages import accept, field_error, htmx_headers, refer, text_of

# -- helpers -------------------------------------------------------------------------------


def _reload(db, model, record_id):
    db.session.expire_all()
    return db.session.get(model, record_id)


# -- every page, right role ------------------------------------------------------------------


def test_dashboard_lists_my_organizations_referrals(db, network, member, referral, signed_in):
    page = signed_in(network.coordinator_a).get("/referrals")
    html = text_of(page)
    assert page.status_code == 200
    assert "<html" in html
    assert "Maria Lopez" in html
    assert "Emergency food boxes" in html
    assert "Waiting for an answer" in html
    assert page.headers["Vary"].count("HX-Request") == 1


def test_dashboard_partial_is_the_list_alone(db, network, member, referral, signed_in):
    client = signed_in(network.coordinator_a)
    response = client.get("/referrals?q=maria", headers=htmx_headers("referral-list"))
    html = text_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="referral-list">')
    assert "<html" not in html
    assert "Maria Lopez" in html
    nothing = text_of(
        client.get("/referrals?q=nobody-like-this", headers=htmx_headers("referral-list"))
    )
    assert "Maria Lopez" not in nothing
    assert "No referrals here with these filters." in nothing


def test_dashboard_flags_overdue_and_offers_resend(db, network, member, signed_in):
    overdue = refer(db, network, member, need="Somewhere to sleep tonight")
    declined = refer(db, network, member, network.service_a2, need="Help with food stamps")
    stored = db.session.get(Referral, overdue.id)
    stored.due_at = utcnow() - timedelta(hours=3)
    services.decline(
        db.session.get(Referral, declined.id),
        db.session.get(User, network.staff_a.id),
        reason="no_capacity",
    )
    db.session.commit()
    client = signed_in(network.coordinator_a)
    html = text_of(client.get("/referrals?view=overdue"))
    assert "Somewhere to sleep tonight" in html
    assert "Help with food stamps" not in html
    assert '<span class="badge badge-bad">Overdue</span>' in html
    assert "overdue by 3 hours" in html
    assert re.search(r'href="/(search)?\?q=Somewhere\+to\+sleep\+tonight">Re-send elsewhere', html)
    closed = text_of(client.get("/referrals?view=closed"))
    assert "Declined · no capacity" in closed
    assert re.search(r'href="/(search)?\?q=Help\+with\+food\+stamps">Re-send elsewhere', closed)


def test_dashboard_closed_loop_rate_says_how_it_is_computed(db, network, member, signed_in):
    first = refer(db, network, member, need="Food")
    refer(db, network, member, network.service_a2, need="SNAP")
    accept(db, network, first)
    services.complete(
        db.session.get(Referral, first.id),
        db.session.get(User, network.staff_a.id),
        outcome="service_provided",
    )
    db.session.commit()
    html = text_of(signed_in(network.coordinator_a).get("/referrals"))
    assert '<span class="stat-number">50%</span>' in html
    assert "1 of 2 referrals sent in the last 90 days has an outcome recorded" in html
    assert "How this is computed" in html
    assert "still open (1)" in html


def test_dashboard_pages_and_filters(db, network, create_member, signed_in):
    people = [create_member(first_name=f"Person{n:02d}", last_name="Test") for n in range(22)]
    for person in people:
        refer(db, network, person, need=f"need of {person.first_name}")
    client = signed_in(network.coordinator_a)
    first = text_of(client.get("/referrals"))
    assert "22 referrals, showing 1–20." in first
    assert 'href="/referrals?page=2"' in first
    second = text_of(client.get("/referrals?page=2"))
    assert "showing 21–22" in second
    mine = text_of(client.get("/referrals?mine=1&q=Person03"))
    assert "1 referral." in mine
    assert signed_in(network.coordinator_a2).get("/referrals?mine=1").status_code == 200
    assert "No referrals here" in text_of(
        signed_in(network.coordinator_a2).get("/referrals?mine=1")
    )


def test_network_admin_dashboard_sees_every_organization(
    db, network, member, create_member, signed_in
):
    refer(db, network, member)
    other = create_member(network.coordinator_b, first_name="Lena", last_name="Berg")
    services.send_referral(
        db.session.get(User, network.coordinator_b.id),
        db.session.get(Member, other.id),
        db.session.get(Service, network.service_b.id),
        need="A bed",
    )
    db.session.commit()
    html = text_of(signed_in(network.admin).get("/referrals"))
    assert "Referrals in the network" in html
    assert "Maria Lopez" in html and "Lena Berg" in html
    only_b = text_of(signed_in(network.coordinator_b).get("/referrals"))
    assert "Lena Berg" in only_b and "Maria Lopez" not in only_b


# -- refer -----------------------------------------------------------------------------------


def test_refer_page_shows_the_service_and_the_caseload(db, network, member, signed_in):
    stored = db.session.get(Service, network.service_a.id)
    stored.referral_capacity = "waitlist"
    db.session.commit()
    response = signed_in(network.coordinator_a).get(
        f"/referrals/new?service_id={network.service_a.id}"
    )
    html = text_of(response)
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
    response = client.get(url, headers=htmx_headers("member-choices"))
    html = text_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="member-choices"')
    assert "Tomas Reyes" in html and "No consent in force" in html
    assert "Maria Lopez" not in html
    assert "Tomas Other" not in html  # another organization's caseload
    # Without JavaScript the same search reloads the whole form.
    full = text_of(client.get(url))
    assert "<html" in full and "Tomas Reyes" in full


def test_refer_consent_section_follows_the_chosen_member(db, network, create_member, signed_in):
    without = create_member(first_name="Tomas", last_name="Reyes", consent=False)
    expired = create_member(first_name="Ida", last_name="Wells")
    consent = db.session.scalar(select(Consent).where(Consent.member_id == expired.id))
    consent.expires_on = date.today() - timedelta(days=3)
    db.session.commit()
    client = signed_in(network.coordinator_a)
    base = f"/referrals/new?service_id={network.service_a.id}"
    html = text_of(
        client.get(f"{base}&member_id={without.id}", headers=htmx_headers("consent-section"))
    )
    assert html.lstrip().startswith('<section id="consent-section"')
    assert "Tomas Reyes has no consent in force" in html
    assert 'name="consent_given"' in html
    html = text_of(
        client.get(f"{base}&member_id={expired.id}", headers=htmx_headers("consent-section"))
    )
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
    assert response.status_code == 303, text_of(response)
    referral = db.session.scalar(select(Referral).where(Referral.need == "Food this week"))
    assert response.headers["Location"] == f"/referrals/{referral.id}"
    assert referral.member.full_name == "Rosa Vega"
    assert referral.member.organization_id == network.coordination_a.id
    assert referral.consent.given_by == "Rosa Vega"  # left empty: the member gave it
    assert referral.consent.scope == ["first_name", "last_name", "phone"]
    assert referral.urgency == "urgent" and referral.status == "sent"
    page = text_of(signed_in(network.coordinator_a).get(response.headers["Location"]))
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
    html = text_of(response)
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
    assert field_error(text_of(response), "need") == "This is required."
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
    html = text_of(response)
    assert response.status_code == 400
    assert field_error(html, "first_name") == "This is required."
    assert "Enter a date as YYYY-MM-DD" in field_error(html, "birth_date")
    assert '<details id="new-member"' in html and "open" in html
    response = client.post(
        "/referrals/new", data={"service_id": str(network.service_a.id), "need": "Food"}
    )
    assert "Choose a member" in field_error(text_of(response), "member_id")
    assert db.session.scalar(select(func.count()).select_from(Member)) == 1  # nothing half-made


def test_refer_a_likely_duplicate_asks_to_confirm(db, network, member, referral, signed_in):
    client = signed_in(network.coordinator_a)
    data = {
        "service_id": str(network.service_a.id),
        "member_id": str(member.id),
        "need": "More food",
    }
    response = client.post("/referrals/new", data=data)
    html = text_of(response)
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
    page = text_of(client.get(f"/referrals/new?service_id={network.service_a.id}"))
    assert "is not accepting new referrals right now" in page
    response = client.post(
        "/referrals/new",
        data={"service_id": str(network.service_a.id), "member_id": str(member.id), "need": "x"},
    )
    assert response.status_code == 422
    assert "not accepting new referrals" in text_of(response)
    outside = text_of(client.get(f"/referrals/new?service_id={network.service_outside.id}"))
    assert "Referrals by email" in outside  # not in the network: it gets an email link


# -- the inbox -------------------------------------------------------------------------------


def test_inbox_tabs_and_rows(db, network, member, referral, create_member, signed_in):
    late = refer(db, network, create_member(first_name="Ida", last_name="Wells"), need="Late")
    db.session.get(Referral, late.id).due_at = utcnow() - timedelta(days=1)
    db.session.commit()
    client = signed_in(network.staff_a)
    html = text_of(client.get("/inbox"))
    assert f'id="referral-{referral.id}"' in html
    assert f'id="referral-{late.id}"' not in html  # overdue has its own tab
    assert re.search(r'aria-current="page"[^>]*>New <span class="tab-count">1</span>', html)
    assert re.search(r'class="tab-alert">Overdue <span class="tab-count">1</span>', html)
    # The member as consent allows: name and phone shared, birth date and address not.
    assert "Maria Lopez" in html and "(315) 555-0142" in html
    assert "12 Elm St" not in html
    assert not re.search(r"(?<![\w-])1979(?!\w)", html)  # the birth year (not inside an id)
    overdue = text_of(client.get("/inbox?tab=overdue"))
    assert f'id="referral-{late.id}"' in overdue and "overdue by" in overdue
    other_agency = text_of(signed_in(network.staff_b).get("/inbox"))
    assert "Maria Lopez" not in other_agency and "Nothing new." in other_agency


def test_inbox_partials(db, network, member, referral, signed_in):
    client = signed_in(network.staff_a)
    tabs = client.get("/inbox?tab=new", headers=htmx_headers("inbox-tabs"))
    assert text_of(tabs).lstrip().startswith('<nav id="inbox-tabs"')
    listing = client.get("/inbox?tab=accepted", headers=htmx_headers("inbox-list"))
    assert text_of(listing).lstrip().startswith('<div id="inbox-list">')
    assert "No accepted referrals" in text_of(listing)


def test_accept_in_place(db, network, member, referral, signed_in):
    client = signed_in(network.staff_a)
    response = client.post(
        f"/referrals/{referral.id}/accept", headers=htmx_headers(f"referral-{referral.id}")
    )
    html = text_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<li id="referral-{referral.id}"')
    assert 'hx-target="this" hx-swap="outerHTML"' in html
    assert "Accepted · awaiting outcome" in html
    assert "Record the outcome" in html  # the next step, in the same row
    assert response.headers["HX-Trigger"] == "referral-changed"
    assert _reload(db, Referral, referral.id).status == "accepted"


def test_decline_in_place_needs_a_reason(db, network, member, referral, signed_in):
    client = signed_in(network.staff_a)
    target = htmx_headers(f"referral-{referral.id}")
    response = client.post(f"/referrals/{referral.id}/decline", data={}, headers=target)
    html = text_of(response)
    assert response.status_code == 400
    assert html.lstrip().startswith(f'<li id="referral-{referral.id}"')
    assert "Choose one of" in field_error(html, f"decline-reason-{referral.id}")
    assert _reload(db, Referral, referral.id).status == "sent"
    response = client.post(
        f"/referrals/{referral.id}/decline",
        data={"reason": "no_capacity", "note": "Full until March"},
        headers=target,
    )
    assert response.status_code == 200
    assert "Declined · no capacity" in text_of(response)
    stored = _reload(db, Referral, referral.id)
    assert (stored.status, stored.decline_text) == ("declined", "Full until March")


def test_someone_else_acted_first_shows_the_conflict_in_place(
    db, network, member, referral, signed_in
):
    first = signed_in(network.staff_a)
    second = signed_in(network.agency_admin_a)
    target = htmx_headers(f"referral-{referral.id}")
    assert first.post(f"/referrals/{referral.id}/accept", headers=target).status_code == 200
    response = second.post(
        f"/referrals/{referral.id}/decline", data={"reason": "no_capacity"}, headers=target
    )
    html = text_of(response)
    assert response.status_code == 409
    assert html.lstrip().startswith(f'<li id="referral-{referral.id}"')
    assert "Cannot decline: this referral was already accepted by Dev Patel" in html
    assert "Accepted · awaiting outcome" in html  # the row shows where things stand now
    # Without JavaScript: the referral page, with the same message.
    page = second.post(f"/referrals/{referral.id}/accept", data={})
    assert page.status_code == 409
    assert "already accepted by Dev Patel" in text_of(page) and "<html" in text_of(page)


def test_record_the_outcome_in_place(db, network, member, referral, signed_in):
    accept(db, network, referral)
    client = signed_in(network.staff_a)
    target = htmx_headers(f"referral-{referral.id}")
    missing = client.post(
        f"/referrals/{referral.id}/complete", data={"outcome": "not_provided"}, headers=target
    )
    assert missing.status_code == 400
    assert field_error(text_of(missing), f"complete-note-{referral.id}") == "This is required."
    response = client.post(
        f"/referrals/{referral.id}/complete", data={"outcome": "service_provided"}, headers=target
    )
    assert response.status_code == 200
    assert "Closed · service provided" in text_of(response)
    assert _reload(db, Referral, referral.id).outcome == "service_provided"


def test_forward_in_place_and_without_javascript(db, network, member, referral, signed_in):
    client = signed_in(network.staff_a)
    page = text_of(client.get("/inbox"))
    assert f'id="forward-q-{referral.id}"' in page  # the picker's search box, nothing listed yet
    assert 'name="service_id"' not in page
    # Without JavaScript: the search box's GET form brings the referral page back with matches.
    found = text_of(client.get(f"/referrals/{referral.id}?forward_q=emergency"))
    assert f'type="radio" id="forward-service-{referral.id}-1" name="service_id"' in found
    assert f'value="{network.service_b.id}"' in found
    response = client.post(
        f"/referrals/{referral.id}/forward",
        data={"service_id": str(network.service_b.id), "note": "They have room"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/referrals/{referral.id}"
    stored = _reload(db, Referral, referral.id)
    assert stored.status == "forwarded"
    assert stored.forwarded_to.receiving_org_id == network.agency_b.id
    shelter = text_of(signed_in(network.staff_b).get("/inbox"))
    assert f'id="referral-{stored.forwarded_to_id}"' in shelter


def test_plain_post_redirects_back_to_the_inbox(db, network, member, referral, signed_in):
    response = signed_in(network.staff_a).post(
        f"/referrals/{referral.id}/accept", data={"next": "/inbox"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/inbox"
    evil = signed_in(network.staff_a).post(
        f"/referrals/{referral.id}/complete",
        data={"outcome": "service_provided", "next": "https://evil.example/"},
    )
    assert evil.headers["Location"] == f"/referrals/{referral.id}"


def test_capacity_switch_changes_what_search_shows(db, network, signed_in, client):
    staff = signed_in(network.staff_a)
    page = text_of(staff.get("/inbox"))
    assert f'id="capacity-{network.service_a.id}"' in page
    assert f'id="capacity-{network.service_b.id}"' not in page  # another agency's
    response = staff.post(
        f"/services/{network.service_a.id}/capacity",
        data={"referral_capacity": "waitlist"},
        headers=htmx_headers(f"capacity-{network.service_a.id}"),
    )
    html = text_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<form id="capacity-{network.service_a.id}"')
    assert "Saved: searches now show “Waitlist”" in html
    api = client.get(f"/api/v1/services/{network.service_a.id}").get_json()
    assert api["referral_capacity"] == "waitlist"
    response = staff.post(
        f"/services/{network.service_a.id}/capacity", data={"referral_capacity": "not_accepting"}
    )
    assert response.status_code == 303
    public = text_of(client.get(f"/services/{network.service_a.id}"))
    assert "Not accepting new referrals right now." in public
    bad = staff.post(
        f"/services/{network.service_a.id}/capacity",
        data={"referral_capacity": "maybe"},
        headers=htmx_headers(f"capacity-{network.service_a.id}"),
    )
    assert bad.status_code == 400 and "Unknown value" in text_of(bad)
    assert _reload(db, Service, network.service_a.id).referral_capacity == "not_accepting"


# -- the referral page -----------------------------------------------------------------------


def test_referral_page_for_each_side(db, network, member, referral, signed_in):
    coordinator = text_of(signed_in(network.coordinator_a).get(f"/referrals/{referral.id}"))
    assert "Maria Lopez" in coordinator and "12 Elm St, Apt 3" in coordinator  # the full record
    assert "Cancel the referral" in coordinator and ">Accept<" not in coordinator
    assert "Write to Northside Food Pantry" in coordinator
    staff = text_of(signed_in(network.staff_a).get(f"/referrals/{referral.id}"))
    assert "Maria Lopez" in staff and "12 Elm St" not in staff  # only what consent allows
    assert "Shown as far as the member's consent allows." in staff
    assert ">Accept<" in staff and "Decline…" in staff and "Forward…" in staff
    assert "Cancel the referral" not in staff
    admin = text_of(signed_in(network.admin).get(f"/referrals/{referral.id}"))
    assert "What you can do" not in admin and "Write to" not in admin


def test_referral_page_timeline(db, network, member, referral, signed_in):
    services.decline(
        db.session.get(Referral, referral.id),
        db.session.get(User, network.staff_a.id),
        reason="other",
        text="We only serve families with children",
    )
    db.session.commit()
    html = text_of(signed_in(network.coordinator_a).get(f"/referrals/{referral.id}"))
    history = html[html.index('id="history-title"') :]
    assert "Sent" in history and "Ana Ortiz" in history
    assert "Declined" in history and "(sent → declined)" in history and "Dev Patel" in history
    assert "We only serve families with children" in history
    # Where to send it next: the next best services, and the directory search for the need.
    assert "Next best services" in html
    assert re.search(r'href="/(search)?\?q=Groceries[^"]*">Search the directory yourself', html)


def test_revoked_consent_hides_the_member_from_the_agency(db, network, member, referral, signed_in):
    consent = db.session.scalar(select(Consent).where(Consent.member_id == member.id))
    response = signed_in(network.coordinator_a).post(
        f"/members/{member.id}/consents/{consent.id}/revoke"
    )
    assert response.status_code == 303
    staff = text_of(signed_in(network.staff_a).get(f"/referrals/{referral.id}"))
    assert "Maria" not in staff and "555-0142" not in staff
    assert "consent does not allow sharing their details now" in staff


def test_revoking_consent_says_which_waiting_referrals_it_cancels(db, network, member, signed_in):
    for service in (network.service_a, network.service_b):
        refer(db, network, member, service)
    accept(db, network, refer(db, network, member, network.service_a2))
    consent = db.session.scalar(select(Consent).where(Consent.member_id == member.id))
    coordinator = signed_in(network.coordinator_a)
    before = text_of(coordinator.get(f"/members/{member.id}"))
    assert "Revoking it also cancels the 2 referrals still waiting for an agency" in before

    response = coordinator.post(f"/members/{member.id}/consents/{consent.id}/revoke")

    assert response.status_code == 303
    after = text_of(coordinator.get(response.headers["Location"]))
    assert "Consent revoked." in after
    assert "2 referrals still waiting for an agency&#39;s answer were cancelled" in after
    assert after.count("Cancelled · the member revoked their consent") == 2
    assert "Accepted · awaiting outcome" in after
    assert "Revoking it also cancels" not in after
    inbox = text_of(signed_in(network.staff_a).get("/inbox?tab=closed"))
    assert inbox.count("Cancelled · the member revoked their consent") == 1  # agency A's one


def test_messages_post_in_place_and_notify_the_other_side(db, network, member, referral, signed_in):
    staff = signed_in(network.staff_a)
    target = htmx_headers(f"thread-{referral.id}")
    empty = staff.post(f"/referrals/{referral.id}/messages", data={"body": "  "}, headers=target)
    assert empty.status_code == 400
    assert field_error(text_of(empty), f"message-body-{referral.id}") == "This is required."
    coordinator = signed_in(network.coordinator_a)
    before = text_of(coordinator.get("/notifications"))  # reads the "sent" notices, if any
    assert "Notifications" in before
    response = staff.post(
        f"/referrals/{referral.id}/messages",
        data={"body": "Can she come Tuesday at 10?"},
        headers=target,
    )
    html = text_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<section id="thread-{referral.id}"')
    assert "Can she come Tuesday at 10?" in html and "Dev Patel" in html
    header = text_of(coordinator.get("/members"))
    assert re.search(
        r'id="notifications-link"[^>]*>Notifications&nbsp;<span class="badge[^"]*"[^>]*>1<', header
    )
    plain = coordinator.post(f"/referrals/{referral.id}/messages", data={"body": "Yes, thanks"})
    assert plain.status_code == 303
    assert plain.headers["Location"] == f"/referrals/{referral.id}#thread-{referral.id}"
    assert db.session.scalar(select(func.count()).select_from(ReferralMessage)) == 2


def test_notifications_page_marks_them_read(db, network, member, referral, signed_in):
    client = signed_in(network.staff_a)
    header = text_of(client.get("/inbox"))
    assert re.search(r'Notifications&nbsp;<span class="badge[^"]*"[^>]*>1<', header)
    page = text_of(client.get("/notifications"))
    assert "New urgent referral to Emergency food boxes from Central Health Home" in page
    assert '<span class="badge badge-area">New</span>' in page
    assert f'href="/referrals/{referral.id}"' in page
    unread = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == network.staff_a.id, Notification.read_at.is_(None))
    )
    assert db.session.scalar(unread) == 0
    again = text_of(client.get("/notifications"))
    assert '<span class="badge badge-area">New</span>' not in again
    assert re.search(r'id="notifications-link"[^>]*>Notifications</a>', again)  # no badge


# -- the caseload ----------------------------------------------------------------------------


def test_caseload_search_and_pages(db, network, create_member, signed_in):
    for n in range(21):
        create_member(first_name=f"Ana{n:02d}", last_name="Zed", consent=n % 2 == 0)
    create_member(first_name="Tomas", last_name="Reyes", phone="315-555-7788")
    create_member(network.coordinator_b, first_name="Tomas", last_name="Other")
    client = signed_in(network.coordinator_a)
    html = text_of(client.get("/members"))
    assert "22 members, showing 1–20." in html
    assert "Reyes, Tomas" in html  # sorted by last name: R before Z
    assert "Other, Tomas" not in html
    by_phone = client.get("/members?q=555-7788", headers=htmx_headers("member-list"))
    assert text_of(by_phone).lstrip().startswith('<div id="member-list">')
    assert "Reyes, Tomas" in text_of(by_phone) and "1 member." in text_of(by_phone)
    page_two = text_of(client.get("/members?page=2"))
    assert "showing 21–22" in page_two
    rows = re.findall(r">(Zed, Ana\d+)</a>.*?(No consent in force|Consent until)", page_two, re.S)
    assert rows == [("Zed, Ana19", "No consent in force"), ("Zed, Ana20", "Consent until")]
    assert html.count("No consent in force") == 9  # Ana01, Ana03, ... Ana17


def test_add_a_member_with_consent(db, network, signed_in):
    client = signed_in(network.coordinator_a)
    form = text_of(client.get("/members/new"))
    assert 'name="consent_given"' in form and 'name="first_name"' in form
    bad = client.post(
        "/members/new",
        data={"first_name": "Rosa", "last_name": "", "email": "not-an-email"},
    )
    assert bad.status_code == 400
    assert field_error(text_of(bad), "last_name") == "This is required."
    assert "Enter an email address" in field_error(text_of(bad), "email")
    response = client.post(
        "/members/new",
        data={
            "first_name": "Rosa",
            "last_name": "Vega",
            "consent_given": "1",
            "consent_given_by": "Luis Vega (father)",
            "consent_method": "written",
            "consent_scope": ["first_name", "last_name"],
        },
    )
    assert response.status_code == 303
    member = db.session.scalar(select(Member).where(Member.first_name == "Rosa"))
    assert response.headers["Location"] == f"/members/{member.id}"
    assert [c.given_by for c in member.consents] == ["Luis Vega (father)"]
    page = text_of(client.get(response.headers["Location"]))
    assert '<span class="badge badge-ok">In force</span>' in page and "Luis Vega (father)" in page


def test_member_page_consent_record_and_revoke(db, network, member, referral, signed_in):
    client = signed_in(network.coordinator_a)
    page = text_of(client.get(f"/members/{member.id}"))
    assert "Maria Lopez" in page and '<span class="badge badge-ok">In force</span>' in page
    assert f'href="/referrals/{referral.id}"' in page  # referral history
    unticked = client.post(
        f"/members/{member.id}/consents",
        data={"consent_method": "verbal", "consent_scope": "first_name"},
    )
    assert unticked.status_code == 400
    assert "Tick the box" in field_error(text_of(unticked), "consent_given")
    wrong = client.post(
        f"/members/{member.id}/consents",
        data={"consent_given": "1", "consent_method": "verbal", "consent_expires_on": "2001-01-01"},
    )
    assert wrong.status_code == 400
    html = text_of(wrong)
    assert "List the fields" in field_error(html, "consent_scope")
    assert "already have expired" in field_error(html, "consent_expires_on")
    ok = client.post(
        f"/members/{member.id}/consents",
        data={"consent_given": "1", "consent_method": "electronic", "consent_scope": "phone"},
    )
    assert ok.status_code == 303
    consents = db.session.scalars(select(Consent).where(Consent.member_id == member.id)).all()
    assert len(consents) == 2
    for consent in consents:
        client.post(f"/members/{member.id}/consents/{consent.id}/revoke")
    page = text_of(client.get(f"/members/{member.id}"))
    assert "No consent in force" in page and page.count("Revoked") == 2
    wrong_consent = client.post(f"/members/{member.id}/consents/{uuid.uuid4()}/revoke")
    assert wrong_consent.status_code == 404


# -- the audit log ---------------------------------------------------------------------------


def test_pages_write_audit_rows(db, network, member, referral, signed_in):
    signed_in(network.staff_a).get(f"/referrals/{referral.id}")
    signed_in(network.staff_a).post(f"/referrals/{referral.id}/accept")
    signed_in(network.coordinator_a).get(f"/members/{member.id}")
    signed_in(network.coordinator_a).get("/referrals")
    rows = db.session.execute(
        select(AuditLog.actor_id, AuditLog.action, AuditLog.object_type, AuditLog.detail).where(
            AuditLog.object_id.in_([referral.id, member.id])
        )
    ).all()
    seen = {(r.actor_id, r.action, r.object_type, (r.detail or {}).get("via")) for r in rows}
    staff, coordinator = network.staff_a.id, network.coordinator_a.id
    assert (staff, "view", "referral", "page") in seen
    assert (staff, "view", "member", "page:referral") in seen
    assert (staff, "accept", "referral", None) in seen
    assert (coordinator, "view", "member", "page") in seen
    assert (coordinator, "view", "referral", "page:dashboard") in seen
    assert (coordinator, "view", "member", "page:dashboard") in seen


# -- who may open what -----------------------------------------------------------------------

SIGNED_IN = by_role(200, 200, 200, 200, 200, 200, 302)
ANYONE = by_role(200, 200, 200, 200, 200, 200, 200)  # public pages: signed in or not
COORDINATORS = by_role(200, 200, 403, 403, 403, 403, 302)
ADMIN_ONLY = by_role(403, 403, 403, 403, 403, 200, 302)
AGENCY_A_ACTS = by_role(403, 404, 303, 404, 303, 403, 302)
SENDER_ONLY = by_role(303, 404, 403, 403, 403, 403, 302)
EMAIL_LINK = "/referrals/{referral}/link/"  # a referral by email link: re-send, revoke

# page -> (records it needs, method, path, form, expected status per role). The records belong to
# coordination org A (member, consent) and are sent to agency A (service_a).
PAGES = {
    "dashboard": (None, "GET", "/referrals", None, by_role(200, 200, 403, 403, 403, 200, 302)),
    "dashboard list": (
        None,
        "GET",
        "/referrals?view=overdue",
        None,
        by_role(200, 200, 403, 403, 403, 200, 302),
    ),
    "refer form": (None, "GET", "/referrals/new?service_id={service}", None, COORDINATORS),
    "referral page": (
        "sent",
        "GET",
        "/referrals/{referral}",
        None,
        by_role(200, 404, 200, 404, 200, 200, 302),
    ),
    "inbox": (None, "GET", "/inbox", None, by_role(403, 403, 200, 200, 200, 403, 302)),
    "caseload": (None, "GET", "/members", None, COORDINATORS),
    "new member form": (None, "GET", "/members/new", None, COORDINATORS),
    "member page": (
        "member",
        "GET",
        "/members/{member}",
        None,
        by_role(200, 404, 403, 403, 403, 403, 302),
    ),
    "edit member form": (
        "member",
        "GET",
        "/members/{member}/edit",
        None,
        by_role(200, 404, 403, 403, 403, 403, 302),
    ),
    "dashboard csv": (
        "sent",
        "GET",
        "/referrals.csv?view=waiting",
        None,
        by_role(200, 200, 403, 403, 403, 200, 302),
    ),
    "inbox csv": (
        "sent",
        "GET",
        "/inbox.csv?tab=new",
        None,
        by_role(403, 403, 200, 200, 200, 403, 302),
    ),
    "notifications": (None, "GET", "/notifications", None, SIGNED_IN),
    "audit log": (None, "GET", "/admin/audit", None, ADMIN_ONLY),
    "audit csv": (None, "GET", "/admin/audit.csv", None, ADMIN_ONLY),
    "listing claims": (None, "GET", "/admin/claims", None, ADMIN_ONLY),  # decisions: tests/admin
    "claim form": (None, "GET", "/services/{outside_service}/claim", None, ANYONE),
    "claim sent": (None, "GET", "/services/{outside_service}/claim/sent", None, ANYONE),
    "claim a listing": (
        None,
        "POST",
        "/services/{outside_service}/claim",
        {"name": "Rita Moreno", "email": "rita.{role}@clinic.example.org"},
        by_role(303, 303, 303, 303, 303, 303, 303),  # public: the admin decides (tests/admin)
    ),
    "response windows": (
        None,
        "GET",
        "/account/response-windows?org={agency}",
        None,
        by_role(403, 403, 403, 403, 200, 200, 302),
    ),
    "save response windows": (
        None,
        "POST",
        "/account/response-windows?org={agency}",
        {
            "emergency_window_hours": "6",
            "urgent_window_business_days": "2",
            "response_window_business_days": "5",
        },
        by_role(403, 403, 403, 403, 303, 303, 302),
    ),
    "send referral": (
        "member",
        "POST",
        "/referrals/new",
        {"service_id": "{service}", "member_id": "{member}", "need": "Food"},
        by_role(303, 404, 403, 403, 403, 403, 302),
    ),
    "add member": (
        None,
        "POST",
        "/members/new",
        {"first_name": "Lee", "last_name": "Chan"},
        by_role(303, 303, 403, 403, 403, 403, 302),
    ),
    "edit member": (
        "member",
        "POST",
        "/members/{member}/edit",
        {"first_name": "Lee", "last_name": "Chan", "phone": "315 555 0100"},
        by_role(303, 404, 403, 403, 403, 403, 302),
    ),
    "record consent": (
        "member",
        "POST",
        "/members/{member}/consents",
        {"consent_given": "1", "consent_method": "verbal", "consent_scope": "first_name"},
        by_role(303, 404, 403, 403, 403, 403, 302),
    ),
    "member updates (contact consent)": (
        "member",
        "POST",
        "/members/{member}/contact",
        {"contact_by": "email"},
        by_role(303, 404, 403, 403, 403, 403, 302),
    ),
    "revoke consent": (
        "member",
        "POST",
        "/members/{member}/consents/{consent}/revoke",
        {},
        by_role(303, 404, 403, 403, 403, 403, 302),
    ),
    "accept": ("sent", "POST", "/referrals/{referral}/accept", {}, AGENCY_A_ACTS),
    "decline": (
        "sent",
        "POST",
        "/referrals/{referral}/decline",
        {"reason": "no_capacity"},
        AGENCY_A_ACTS,
    ),
    "forward": (
        "sent",
        "POST",
        "/referrals/{referral}/forward",
        {"service_id": "{other_service}"},
        AGENCY_A_ACTS,
    ),
    "record outcome": (
        "accepted",
        "POST",
        "/referrals/{referral}/complete",
        {"outcome": "service_provided"},
        AGENCY_A_ACTS,
    ),
    "cancel": (
        "sent",
        "POST",
        "/referrals/{referral}/cancel",
        {"reason": "sent_in_error"},
        by_role(303, 404, 403, 404, 403, 403, 302),
    ),
    "message": (
        "sent",
        "POST",
        "/referrals/{referral}/messages",
        {"body": "Hello"},
        by_role(303, 404, 303, 404, 303, 403, 302),
    ),
    "re-send the email link": ("emailed", "POST", EMAIL_LINK + "resend", {}, SENDER_ONLY),
    "withdraw the email link": ("emailed", "POST", EMAIL_LINK + "revoke", {}, SENDER_ONLY),
    "send the member a new status link": (
        "sent",
        "POST",
        "/referrals/{referral}/member-link",
        {},
        SENDER_ONLY,
    ),
    "send to the next best service": (
        "declined",
        "POST",
        "/referrals/{referral}/resend",
        {"service_id": "{other_service}"},
        SENDER_ONLY,
    ),
    "assign to a colleague": (
        "sent",
        "POST",
        "/referrals/{referral}/assign",
        {"assignee_id": "{agency_admin}"},
        AGENCY_A_ACTS,
    ),
    "internal note": (
        "sent",
        "POST",
        "/referrals/{referral}/notes",
        {"body": "Called twice, no answer"},
        AGENCY_A_ACTS,
    ),
    "forward picker search": (
        "sent",
        "GET",
        "/referrals/{referral}/forward-services?forward_q=emergency",
        None,
        by_role(403, 404, 303, 404, 303, 403, 302),
    ),
    "inbox, assigned to me": (
        None,
        "GET",
        "/inbox?tab=mine",
        None,
        by_role(403, 403, 200, 200, 200, 403, 302),
    ),
    "inbox csv, assigned to me": (
        "sent",
        "GET",
        "/inbox.csv?tab=mine",
        None,
        by_role(403, 403, 200, 200, 200, 403, 302),
    ),
    # Listing edits: agency A's admins and network admins; staff only with the editor right
    # (tests/accounts/test_listing_edit.py tries that and more roles).
    "edit service listing": (
        None,
        "GET",
        "/services/{service}/edit",
        None,
        by_role(403, 403, 403, 403, 200, 200, 302),
    ),
    "listing hours form": (
        None,
        "GET",
        "/services/{service}/hours",
        None,
        by_role(403, 403, 403, 403, 200, 200, 302),
    ),
    "save listing hours": (
        None,
        "POST",
        "/services/{service}/hours",
        {"MO_0_opens": "10:00", "MO_0_closes": "14:00"},
        by_role(403, 403, 403, 403, 303, 303, 302),
    ),
    "capacity": (
        "sent",
        "POST",
        "/services/{service}/capacity",
        {"referral_capacity": "waitlist"},
        by_role(403, 403, 303, 403, 303, 303, 302),
    ),
}


@pytest.mark.parametrize("name", PAGES)
def test_authorization_matrix(name, network, matrix_records, signed_in):
    needs, method, path, form, expected = PAGES[name]
    values = matrix_records(needs)
    for role in ROLES:
        if method == "POST":
            values = matrix_records(
                needs
            )  # fresh: an earlier role's change must not decide this one
        client = signed_in(network.people[role])
        values["role"] = role  # e.g. a claimant's email per role: a second claim is a 409
        url = fill_in(path, values)
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data=fill_in(form, values))
        response.close()  # a streamed download (CSV) ends here, not when collected
        assert response.status_code == expected[role], (role, response.status_code, url)
        if role == "anonymous" and expected[role] == 302:
            assert response.headers["Location"].startswith("/login?next=")


def test_partials_check_access_too(db, network, member, referral, create_member, signed_in):
    """An htmx region asked for directly gives away nothing the page would not."""
    target = htmx_headers(f"referral-{referral.id}")
    assert (
        signed_in(network.staff_b)
        .post(f"/referrals/{referral.id}/accept", headers=target)
        .status_code
        == 404
    )
    thread = htmx_headers(f"thread-{referral.id}")
    assert (
        signed_in(network.coordinator_b)
        .post(f"/referrals/{referral.id}/messages", data={"body": "hi"}, headers=thread)
        .status_code
        == 404
    )
    assert (
        signed_in(network.staff_a)
        .get("/referrals?q=maria", headers=htmx_headers("referral-list"))
        .status_code
        == 403
    )
    # Another organization's member asked for in the refer form's consent region: not shown.
    html = text_of(
        signed_in(network.coordinator_b).get(
            f"/referrals/new?service_id={network.service_a.id}&member_id={member.id}",
            headers=htmx_headers("consent-section"),
        )
    )
    assert "Maria" not in html
    anonymous = signed_in(None).post(f"/referrals/{referral.id}/accept", headers=target)
    assert anonymous.status_code == 401 and anonymous.headers["HX-Redirect"].startswith("/login")
    assert _reload(db, Referral, referral.id).status == "sent"


# -- CSRF ------------------------------------------------------------------------------------

POST_FORMS = {name: spec for name, spec in PAGES.items() if spec[1] == "POST"}
ACTS_AS = {
    "send referral": "coordinator_a",
    "add member": "coordinator_a",
    "edit member": "coordinator_a",
    "record consent": "coordinator_a",
    "revoke consent": "coordinator_a",
    "member updates (contact consent)": "coordinator_a",
    "cancel": "coordinator_a",
    "message": "coordinator_a",
    "re-send the email link": "coordinator_a",
    "withdraw the email link": "coordinator_a",
    "send to the next best service": "coordinator_a",
    "save response windows": "agency_admin_a",
    "send the member a new status link": "coordinator_a",
    "save listing hours": "agency_admin_a",
}


def _csrf_login(client, user) -> str:
    """Sign in through the protected form; return the new session's token (from hx-headers)."""
    page = text_of(client.get("/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    data = {"email": user.email, "password": "correct horse battery staple", "csrf_token": token}
    response = client.post("/login", data=data)
    assert response.status_code == 303, text_of(response)
    after = text_of(client.get("/notifications"))
    return re.search(r'"X-CSRFToken": "([^"]+)"', after)[1]


@pytest.mark.parametrize("name", POST_FORMS)
def test_every_form_needs_the_csrf_token(name, make_app, network, matrix_records):
    needs, _method, path, form, _expected = POST_FORMS[name]
    protected = make_app(WTF_CSRF_ENABLED=True)
    client = protected.test_client()
    token = _csrf_login(client, network.people[ACTS_AS.get(name, "staff_a")])
    values = {**matrix_records(needs), "role": "csrf"}
    url, data = fill_in(path, values), fill_in(form, values)
    refused = client.post(url, data=data)
    assert refused.status_code == 400
    assert "CSRF token is missing" in text_of(refused)
    htmx_refused = client.post(url, data=data, headers={"HX-Request": "true"})
    assert htmx_refused.status_code == 400
    # The token from the page (form field or htmx header) lets the same request through.
    accepted = client.post(url, data=data, headers={"X-CSRFToken": token})
    assert accepted.status_code == 303, text_of(accepted)


def test_notifications_badge_is_polled(db, network, member, referral, signed_in):
    response = signed_in(network.staff_a, htmx=True).get("/notifications/badge")
    html = text_of(response)
    assert html.lstrip().startswith('<a id="notifications-link"')
    assert 'hx-trigger="every 60s"' in html and ">1<" in html
    assert signed_in(None, htmx=True).get("/notifications/badge").status_code == 204


def test_refer_form_starts_with_someone_new_for_an_empty_caseload(network, signed_in):
    html = text_of(
        signed_in(network.coordinator_b).get(f"/referrals/new?service_id={network.service_a.id}")
    )
    assert re.search(r'id="member-new" name="member_id" value="new" checked', html)
    assert '<details id="new-member" class="new-member" open' in html


def test_forward_needs_a_service(db, network, member, referral, signed_in):
    target = htmx_headers(f"referral-{referral.id}")
    for chosen in ("", str(uuid.uuid4()), "not-an-id", str(network.service_a.id)):
        response = signed_in(network.staff_a).post(
            f"/referrals/{referral.id}/forward", data={"service_id": chosen}, headers=target
        )
        assert response.status_code == 400, chosen
        assert field_error(text_of(response), f"forward-service-{referral.id}")
    assert _reload(db, Referral, referral.id).status == "sent"
