"""Listings that stay true (issue 12), in real Chromium on 360-px phones: an agency admin
changes a phone number and the hours; the public service page shows them; a member of the
public suggests fixes without JavaScript; the agency dismisses one with a reason and accepts
the other, saves the edit form filled in from it, and the History page shows the change linked
to the suggestion; a network admin restores an earlier value. On the way the same agency admin
works a referral (the "Assigned to me" tab, internal notes, the forward picker) and the member
reads their status link. axe-core checks every page visited, and each form with its errors."""

import re
import time

import pytest

from referrals.models import Referral
from tests.directory.factories import make_taxonomy_term
from tests.e2e.axe import assert_accessible
from tests.e2e.test_referral_loop import PHONE, _no_sideways_scroll, _sign_in
from tests.referrals.pages import refer_with_status_link

pytestmark = pytest.mark.browser

NEW_PHONE = "(315) 555-0142"
SUGGESTED_PHONE = "(315) 555-0199"
SATURDAYS = "Open on Saturdays too"


def _check(page) -> None:
    """Every page: fits the phone, no serious or critical accessibility violation."""
    _no_sideways_scroll(page)
    assert_accessible(page)


@pytest.fixture
def upkeep(db, network, create_member) -> dict:
    """Agency A's food boxes at a Syracuse site, a "Food pantry" category, and a referral to
    them for Maria, who agreed to hear how it goes by email."""
    make_taxonomy_term(db, name="Food pantry", code="BD-1800.2000")
    referral = refer_with_status_link(db, network, create_member, preferred_language="English")
    service = network.service_a
    return {"service": service.id, "organization": service.organization_id, "referral": referral}


def _suggest(page, kind: str, correction: str) -> None:
    """Send a fix through the public form, as a person would (slower than a bot)."""
    page.get_by_label(kind).check()
    page.get_by_label("What should it say?").fill(correction)
    time.sleep(1.2)  # a person takes longer than SUGGEST_MIN_SECONDS to type it
    page.get_by_role("button", name="Send the fix").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Thank you for the fix"
    _check(page)


def _suggestion(page, text: str):
    """The suggestion in the queue that says `text`."""
    return page.locator("li.claim").filter(has_text=text)


def _save(page, button: str) -> None:
    """Save a listing form in place (htmx) and wait for the note saying so."""
    page.get_by_role("button", name=button).click()
    page.get_by_text(re.compile(r"Saved \d+ change")).wait_for()


def _refused(page, label: str, value: str, button: str, field: str) -> None:
    """Fill in a wrong value: the form says what is wrong next to the field, still accessible."""
    page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name=button).click()
    page.locator(f"#{field}-error").wait_for()
    assert page.get_by_label(label, exact=True).get_attribute("aria-invalid") == "true"
    _check(page)


def test_an_agency_keeps_its_listing_true_and_works_its_referrals(
    app, db, live_server, browser, smtp_server, network, upkeep
):
    base = live_server.url
    app.config["PUBLIC_BASE_URL"] = base
    app.config["SUGGEST_MIN_SECONDS"] = 1
    service_page = f"{base}/services/{upkeep['service']}"
    referral = upkeep["referral"]
    agency = browser.new_context(viewport=PHONE)
    public = browser.new_context(viewport=PHONE, java_script_enabled=False)
    admin = browser.new_context(viewport=PHONE)
    try:
        eve = agency.new_page()
        eve.set_default_timeout(10_000)
        _sign_in(eve, base, network.agency_admin_a)
        eve.wait_for_url(f"{base}/inbox")
        _check(eve)

        # The inbox: take the referral, read it under "Assigned to me".
        row = eve.locator(f"#referral-{referral.id}")
        row.get_by_label("Assigned to").select_option(label="Eve Moreau (me)")
        row.get_by_role("button", name="Assign the referral to Emergency food boxes").click()
        eve.get_by_role("link", name="Assigned to me 1").click()
        eve.wait_for_url("**/inbox?*")
        assert "Maria" in eve.locator(f"#referral-{referral.id}").inner_text()
        _check(eve)

        # The referral page: an internal note, then the forward picker searching as she types.
        eve.goto(f"{base}/referrals/{referral.id}")
        notes = eve.locator(f"#notes-{referral.id}")
        notes.get_by_label("Add an internal note").fill("Maria prefers a morning pickup.")
        notes.get_by_role("button", name="Save note").click()
        eve.locator(f"#notes-{referral.id}").get_by_text(
            "Maria prefers a morning pickup."
        ).wait_for()
        _check(eve)
        eve.get_by_text("Forward…").click()
        eve.get_by_label("Find the service").press_sequentially("shelter", delay=30)
        eve.get_by_label("Emergency shelter beds").wait_for()
        _check(eve)

        # Back in the inbox she accepts it, which emails Maria her status link.
        eve.goto(f"{base}/inbox?tab=mine")
        eve.locator(f"#referral-{referral.id}").get_by_role("button", name="Accept").click()
        eve.locator(f"#referral-{referral.id}").get_by_text(
            "Accepted · awaiting outcome"
        ).wait_for()
        _check(eve)

        # Maria's status link, from her email, on a phone without JavaScript.
        smtp_server.deliver()
        maria = public.new_page()
        maria.set_default_timeout(10_000)
        maria.goto(smtp_server.last_link("maria.lopez@example.net"))
        assert maria.get_by_role("heading", level=1).inner_text() == "Your referral"
        _check(maria)

        # The listing: every edit form, a new phone number and new Monday hours.
        eve.goto(service_page)
        eve.get_by_role("link", name="Edit this listing").click()
        eve.wait_for_url(f"**/services/{upkeep['service']}/edit")
        _check(eve)
        eve.get_by_label("Add categories").press_sequentially("pantry", delay=30)
        eve.get_by_label("Food pantry").wait_for()  # the picker's matches, searched as she types
        _check(eve)
        eve.get_by_label("Food pantry").check()
        eve.get_by_label("Phone numbers").fill(NEW_PHONE)
        _save(eve, "Save the service")
        _check(eve)
        organization_form = f"{base}/listings/{upkeep['organization']}/edit"
        eve.goto(organization_form)
        _check(eve)
        _refused(eve, "Phone numbers", "555-01", "Save the organization", "phones")
        eve.get_by_role("link", name="Hours of Emergency food boxes").click()
        eve.wait_for_url("**/hours")
        _check(eve)
        monday = eve.locator("#day-MO")
        monday.get_by_label("Opens", exact=True).fill("17:00")
        monday.get_by_label("Closes", exact=True).fill("09:00")
        eve.get_by_role("button", name="Save the hours").click()
        eve.locator("#MO_0_closes-error").wait_for()
        _check(eve)
        monday = eve.locator("#day-MO")
        monday.get_by_label("Opens", exact=True).fill("10:00")
        monday.get_by_label("Closes", exact=True).fill("14:00")
        _save(eve, "Save the hours")
        _check(eve)

        # The service area and the site, each with a mistake shown next to its field.
        eve.goto(organization_form)
        eve.get_by_role("link", name="Service area of Emergency food boxes").click()
        eve.wait_for_url("**/areas")
        _check(eve)
        _refused(eve, "ZIP codes", "00000", "Save the service area", "zip_codes")
        eve.goto(organization_form)
        eve.get_by_role("link", name=re.compile("^Site: ")).click()
        eve.wait_for_url("**/locations/*/edit")
        _check(eve)
        _refused(eve, "ZIP code", "00000", "Save the site", "postal_code")

        # The public page shows both at once.
        maria.goto(service_page)
        body = maria.inner_text("main")
        assert NEW_PHONE in body and re.search(r"Monday\s+10 am – 2 pm", body)
        assert "Food pantry" in body
        _check(maria)

        # A member of the public suggests two fixes (no JavaScript, no account); the first
        # try says what is missing.
        maria.get_by_role("link", name="Something wrong? Suggest a fix").click()
        maria.wait_for_url("**/suggest")
        _check(maria)
        time.sleep(1.2)  # past SUGGEST_MIN_SECONDS, so it is the missing choice that is refused
        maria.get_by_role("button", name="Send the fix").click()
        maria.locator("#kind-error").wait_for()
        _check(maria)
        _suggest(maria, "Something else", SATURDAYS)
        maria.goto(f"{service_page}/suggest")
        _suggest(maria, "Phone number", SUGGESTED_PHONE)

        # The agency finds them in its queue: dismisses one (a reason first missing), accepts
        # the other and saves the form filled in from it.
        eve.goto(f"{base}/listings")
        _check(eve)
        eve.goto(f"{base}/listings/suggestions")
        assert "2 waiting." in eve.inner_text("main")
        _check(eve)
        _suggestion(eve, SATURDAYS).get_by_role("button", name=re.compile("^Dismiss")).click()
        _suggestion(eve, SATURDAYS).get_by_role("alert").wait_for()
        _check(eve)
        _suggestion(eve, SATURDAYS).get_by_label("Reason for dismissing").fill(
            "We close on weekends."
        )
        _suggestion(eve, SATURDAYS).get_by_role("button", name=re.compile("^Dismiss")).click()
        _suggestion(eve, SATURDAYS).get_by_text("Dismissed", exact=True).wait_for()
        _check(eve)
        phone_fix = _suggestion(eve, SUGGESTED_PHONE)
        phone_fix.get_by_role("button", name="Accept and edit Emergency food boxes").click()
        eve.wait_for_url(f"**/services/{upkeep['service']}/edit?*")
        assert eve.get_by_label("Phone numbers").input_value() == SUGGESTED_PHONE
        _check(eve)
        _save(eve, "Save the service")
        maria.goto(service_page)
        assert SUGGESTED_PHONE in maria.inner_text("main")

        # History: the three edits, the last one from the suggestion.
        eve.goto(service_page)
        eve.get_by_role("link", name="History").click()
        eve.wait_for_url("**/history")
        history = eve.inner_text("main")
        assert "Monday: 10 am – 2 pm" in history and SUGGESTED_PHONE in history
        assert history.count("from a suggestion") == 1
        _check(eve)

        # A network admin sees every listing, and restores the phone number Eve typed.
        gia = admin.new_page()
        gia.set_default_timeout(10_000)
        _sign_in(gia, base, network.admin)
        gia.goto(f"{base}/listings")
        _check(gia)
        gia.goto(eve.url)
        _check(gia)
        newest_phone = gia.locator("li.history-row").filter(has_text="from a suggestion")
        newest_phone.get_by_role(
            "button", name="Restore the earlier value of Phone numbers"
        ).click()
        gia.get_by_text("Restored by").first.wait_for()
        _check(gia)
        maria.goto(service_page)
        assert NEW_PHONE in maria.inner_text("main")
    finally:
        agency.close()
        public.close()
        admin.close()
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "accepted"
