"""Verification: "Everything here is still correct" sets the listing's assured date; listings
nobody verified for LISTING_STALE_DAYS are flagged on the agency's page and for network admins,
the agency admins are reminded once a month by the sweep, and the public page says how long ago
in words.

In the network fixture no listing was ever verified: agency A (Eve is its agency admin) runs
two services, agency B one (no agency admin), and the legal clinic's listing has no agency.
"""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from accounts import listings
from accounts.outbox import OutboxEmail
from directory.models import Service
from directory.verification import network_today, verified_words
from extensions import utcnow
from referrals.models import AuditLog
from tests.referrals.matrix import ROLES, by_role
from tests.referrals.pages import text_of

TODAY = date(2026, 6, 15)


@pytest.mark.parametrize(
    ("days_ago", "words", "caution"),
    [
        (0, "verified today", False),
        (1, "verified yesterday", False),
        (5, "verified 5 days ago", False),
        (7, "verified 7 days ago", False),
        (20, "verified 2 weeks ago", False),
        (65, "verified 2 months ago", False),
        (179, "verified 5 months ago", False),
        (181, "verified 6 months ago", True),
        (365, "not verified for over a year", True),
        (800, "not verified for over a year", True),
    ],
)
def test_how_long_ago_in_words(days_ago, words, caution):
    said = verified_words(TODAY - timedelta(days=days_ago), TODAY)
    assert (said.words, said.caution) == (words, caution)


def test_never_verified_is_said_with_caution():
    said = verified_words(None, TODAY)
    assert (said.words, said.caution) == ("not verified yet", True)


def _set_assured(db, service, days_ago: int | None):
    row = db.session.get(Service, service.id)
    row.assured_date = None if days_ago is None else network_today() - timedelta(days=days_ago)
    db.session.commit()


def _trust(html: str) -> str:
    match = re.search(r'<div class="listing-trust".*?</div>', html, re.S)
    assert match, "no listing-trust block on the page"
    return match[0]


def test_the_public_page_says_when_it_was_verified(db, network, client):
    _set_assured(db, network.service_a, 65)
    block = _trust(text_of(client.get(f"/services/{network.service_a.id}")))
    assert "Last verified:" in block and ">verified 2 months ago</time>" in block
    assert "verified-caution" not in block and "out of date" not in block
    _set_assured(db, network.service_a, 400)
    block = _trust(text_of(client.get(f"/services/{network.service_a.id}")))
    assert '<p class="verified-caution">' in block
    assert ">not verified for over a year</time>" in block
    assert "Some details may be out of date: call before you go." in block


def test_only_the_people_who_run_a_listing_see_the_verify_button(db, network, signed_in):
    url = f"/services/{network.service_a.id}"
    button = "Everything here is still correct"
    for role in ("anonymous", "coordinator_a", "staff_b"):
        block = _trust(text_of(signed_in(network.people[role]).get(url)))
        assert button not in block, role
        assert "Something wrong? Suggest a fix" in block, role
    for role in ("staff_a", "agency_admin_a", "admin"):
        assert button in _trust(text_of(signed_in(network.people[role]).get(url))), role


def test_verifying_stops_the_flag_and_records_who(db, network, signed_in):
    staff = signed_in(network.staff_a)
    page = text_of(staff.get("/listings"))
    assert "2 listings need verifying." in page
    assert page.count("Needs verifying") == 2
    response = staff.post(
        f"/services/{network.service_a.id}/verify",
        data={"next": f"/services/{network.service_a.id}"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/services/{network.service_a.id}"
    db.session.expire_all()
    service = db.session.get(Service, network.service_a.id)
    assert service.assured_date == network_today()
    assert service.assurer_email == network.staff_a.email
    audited = db.session.scalars(
        select(AuditLog).where(AuditLog.object_type == "service", AuditLog.object_id == service.id)
    ).all()
    assert [(row.action, row.actor_id) for row in audited] == [("update", network.staff_a.id)]
    page = text_of(staff.get("/listings"))
    assert "1 listing needs verifying." in page and page.count("Needs verifying") == 1
    assert "Verified today" in page
    assert ">verified today</time>" in text_of(staff.get(f"/services/{network.service_a.id}"))


def test_the_agency_inbox_flags_its_stale_listings_until_verified(db, network, signed_in):
    staff = signed_in(network.staff_a)
    assert "2 of your listings need verifying." in text_of(staff.get("/inbox"))
    for service in (network.service_a, network.service_a2):
        staff.post(f"/services/{service.id}/verify", data={"next": "/listings"})
    assert "need verifying" not in text_of(staff.get("/inbox"))


def test_a_listing_verified_long_ago_is_stale_again(db, network, signed_in, app):
    _set_assured(db, network.service_a, 100)
    _set_assured(db, network.service_a2, 181)
    page = text_of(signed_in(network.agency_admin_a).get("/listings"))
    assert "1 listing needs verifying." in page
    app.config["LISTING_STALE_DAYS"] = 90
    page = text_of(signed_in(network.agency_admin_a).get("/listings"))
    assert "2 listings need verifying." in page


def test_network_admins_see_every_stale_listing(db, network, signed_in):
    _set_assured(db, network.service_a, 3)
    page = text_of(signed_in(network.admin).get("/listings"))
    assert "3 listings need verifying." in page
    rows = re.findall(r'<tr id="stale-([0-9a-f-]+)">', page)
    assert set(rows) == {
        str(network.service_a2.id),
        str(network.service_b.id),
        str(network.service_outside.id),
    }
    assert "No agency in the network" in page and "Harbor House Shelter" in page


def test_who_may_verify_what(db, network, signed_in):
    service = network.service_a
    got = {}
    for role in ROLES:
        _set_assured(db, service, None)
        got[role] = signed_in(network.people[role]).post(f"/services/{service.id}/verify")
        db.session.expire_all()
        verified = db.session.get(Service, service.id).assured_date is not None
        assert verified == (got[role].status_code == 303), role
    assert {role: response.status_code for role, response in got.items()} == VERIFY
    assert got["anonymous"].headers["Location"].startswith("/login?next=")


VERIFY = by_role(403, 403, 303, 403, 303, 303, 302)


# -- the monthly reminder ----------------------------------------------------------------------


def _emails_to(db, address: str) -> list[OutboxEmail]:
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxEmail).where(func.lower(OutboxEmail.to_address) == address.lower())
    ).all()


def _sweep(app) -> str:
    result = app.test_cli_runner().invoke(args=["referrals", "sweep"])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_sweep_reminds_agency_admins_once_a_month_until_verified(db, app, network):
    eve = network.agency_admin_a.email
    output = _sweep(app)
    assert "2 agency(ies) reminded of listings to verify" in output
    (email,) = _emails_to(db, eve)
    assert email.subject == "Please check 2 listings of Northside Food Pantry"
    assert "- Emergency food boxes\n- SNAP application help" in email.body
    assert "/listings" in email.body
    # Agency B has no agency admin to remind; staff are not emailed.
    assert _emails_to(db, network.staff_a.email) == []
    assert _emails_to(db, network.staff_b.email) == []
    # The same month: no second reminder.
    assert "0 agency(ies) reminded" in _sweep(app)
    assert len(_emails_to(db, eve)) == 1
    # A month later, still not verified: one more.
    month_later = utcnow() + timedelta(days=31)
    assert listings.sweep_stale_reminders(month_later) != []
    db.session.commit()
    assert len(_emails_to(db, eve)) == 2
    # Verified: no more reminders, however long it waits (within the stale window).
    for service in (network.service_a, network.service_a2):
        _set_assured(db, service, 0)
    assert network.agency_a.id not in listings.sweep_stale_reminders(month_later + timedelta(40))
    db.session.commit()
    assert len(_emails_to(db, eve)) == 2


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_sweeps_racing_send_one_reminder(db, network, on_two_hosts, hold_threads_before):
    # Both sweeps have read the same agencies before either claims one: the real race.
    hold_threads_before(lambda sql: sql.startswith("UPDATE network_organization"))
    runs, errors = on_two_hosts(listings.sweep_stale_reminders)
    assert errors == []
    reminded = [agency for run in runs for agency in run]
    assert sorted(map(str, reminded)) == sorted(
        {str(network.agency_a.id), str(network.agency_b.id)}
    )
    assert len(_emails_to(db, network.agency_admin_a.email)) == 1
