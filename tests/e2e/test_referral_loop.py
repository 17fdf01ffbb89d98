"""The whole loop in real Chromium, on 360-px phones: a coordinator finds a service in the
directory and refers a member of her caseload, recording their consent on the way; the agency's
intake worker, in a second browser, sees it in the inbox, switches the program to "waitlist",
accepts the referral and records the outcome in place; the coordinator sees the loop closed on
the dashboard."""

import os
from pathlib import Path

import pytest

from accounts.models import User
from referrals import services
from tests.directory.factories import make_organization, make_service
from tests.fixtures_accounts import TEST_PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"{page.url} is {width}px wide in a {viewport}px viewport"


@pytest.fixture
def shot(tmp_path):
    """Full-page screenshots, kept in WRAP_SCREENSHOTS (to look at them) or the test's tmp dir."""
    folder = Path(os.environ.get("WRAP_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        _no_sideways_scroll(page)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 0

    return take


@pytest.fixture
def loop_network(db, create_org, create_user) -> dict:
    """A shelter in the directory and the network, a coordination organization, two people."""
    shelter = make_organization(db, name="Harbor House Shelter")
    beds = make_service(
        db,
        organization=shelter,
        name="Emergency shelter beds",
        description="Beds for single adults tonight; walk-ins after 6 pm.",
    )
    db.session.commit()
    agency = create_org("Harbor House Shelter", "agency", directory_organization_id=shelter.id)
    coordination = create_org("Central Health Home", "coordination")
    coordinator = create_user(
        "ana@central.example.org", "coordinator", coordination, full_name="Ana Ortiz"
    )
    ana = db.session.get(User, coordinator.id)
    for first, last in (("Rosa", "Vega"), ("Tomas", "Reyes"), ("Ida", "Wells")):
        services.create_member(ana, first_name=first, last_name=last, phone="315-555-0199")
    db.session.commit()
    return {
        "service_id": beds.id,
        "coordinator": coordinator,
        "staff": create_user(
            "finn@shelter.example.org", "agency_staff", agency, full_name="Finn Walsh"
        ),
    }


def _sign_in(page, base_url: str, user) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_a_referral_goes_round_the_loop(live_server, browser, loop_network, shot):
    base = live_server.url
    coordinator = browser.new_context(viewport=PHONE)
    agency = browser.new_context(viewport=PHONE)
    try:
        ana = coordinator.new_page()
        ana.set_default_timeout(10_000)
        _sign_in(ana, base, loop_network["coordinator"])
        ana.wait_for_url(f"{base}/referrals")
        assert ana.get_by_role("heading", level=1).inner_text().startswith("Referrals")
        shot(ana, "loop-1-dashboard-empty")

        # Find the shelter in the directory and open its page.
        ana.get_by_role("link", name="Find a service and refer").click()
        ana.get_by_label("What do you need?").press_sequentially("somewhere to sleep", delay=20)
        ana.get_by_role("link", name="Emergency shelter beds").click()
        ana.wait_for_url(f"**/services/{loop_network['service_id']}")
        ana.get_by_role("link", name="Refer someone").click()
        ana.wait_for_url("**/referrals/new?service_id=*")
        assert "Harbor House Shelter" in ana.locator(".service-summary").inner_text()
        shot(ana, "loop-2-refer-form")

        # Pick the member from the caseload as she types (htmx), then record their consent.
        ana.evaluate("window.sameDocument = true")
        ana.get_by_label("Find on your caseload").press_sequentially("ros", delay=30)
        choices = ana.locator("#member-choices")
        choices.get_by_text("Tomas Reyes").wait_for(state="detached")
        assert "Rosa Vega" in choices.inner_text()
        choices.get_by_text("Rosa Vega").click()
        consent = ana.locator("#consent-section")
        consent.get_by_text("Rosa Vega has no consent in force").wait_for()
        consent.get_by_label("Rosa Vega agreed to share").check()
        consent.get_by_label("Date of birth").uncheck()
        assert ana.evaluate("window.sameDocument") is True
        ana.get_by_label("What the member needs").fill("A bed for tonight")
        ana.get_by_label("Urgent").check()
        shot(ana, "loop-3-refer-form-filled")
        ana.get_by_role("button", name="Send referral").click()
        ana.wait_for_url("**/referrals/*-*")
        assert "Referral sent to Emergency shelter beds." in ana.inner_text(".flashes")
        heading = ana.get_by_role("heading", level=1).inner_text()
        assert "Rosa Vega" in heading and "Emergency shelter beds" in heading
        assert "Waiting for an answer" in ana.inner_text(".badges")
        referral_url = ana.url
        shot(ana, "loop-4-referral-sent")

        # The intake worker, in another browser, finds it in the inbox.
        finn = agency.new_page()
        finn.set_default_timeout(10_000)
        _sign_in(finn, base, loop_network["staff"])
        finn.wait_for_url(f"{base}/inbox")
        assert "1" in finn.locator("#notifications-link").inner_text()
        row = finn.locator("#inbox-list li.ref-row").filter(has_text="Rosa Vega")
        assert "A bed for tonight" in row.inner_text()
        assert "Urgent" in row.inner_text()
        shot(finn, "loop-5-inbox")

        # The program fills up: switch it to "waitlist" (htmx, no page load).
        finn.evaluate("window.sameDocument = true")
        switch = finn.locator(f"#capacity-{loop_network['service_id']}")
        switch.get_by_label("Waitlist").check()
        switch.get_by_text("Saved: searches now show “Waitlist”.").wait_for()

        # Accept in place; the row becomes "accepted" and offers the outcome.
        row.get_by_role("button", name="Accept").click()
        row = finn.locator("#inbox-list li.ref-row").filter(has_text="Rosa Vega")
        row.get_by_text("Accepted · awaiting outcome").wait_for()
        finn.locator("#inbox-tabs").get_by_text("Accepted 1").wait_for()  # tabs refreshed
        shot(finn, "loop-6-accepted")

        # Later: record the outcome, still in place.
        row.get_by_text("Record the outcome").click()
        row.get_by_label("What happened").select_option("service_provided")
        row.get_by_role("button", name="Close with this outcome").click()
        row.get_by_text("Closed · service provided").wait_for()
        assert finn.evaluate("window.sameDocument") is True
        shot(finn, "loop-7-outcome")

        # The coordinator sees the loop closed.
        ana.goto(f"{base}/referrals")
        assert "100%" in ana.locator(".loop").inner_text()
        assert "1 of 1 referral sent in the last 90 days has an outcome recorded" in (
            ana.locator(".loop").inner_text()
        )
        listing = ana.locator("#referral-list")
        assert "Closed · service provided" in listing.inner_text()
        assert "Rosa Vega" in listing.inner_text()
        assert ana.locator("#notifications-link .badge").inner_text().startswith("2")
        shot(ana, "loop-8-dashboard-closed")

        ana.goto(referral_url)
        history = ana.locator("ol.timeline").inner_text()
        assert "Accepted" in history and "Completed" in history and "Finn Walsh" in history
        shot(ana, "loop-9-referral-closed")

        # And searches show the waitlist.
        ana.goto(f"{base}/services/{loop_network['service_id']}")
        assert "Taking referrals onto a waitlist." in ana.inner_text("main")
    finally:
        coordinator.close()
        agency.close()


def test_refer_and_answer_without_javascript(live_server, browser, loop_network):
    """Every step also works as plain forms and links."""
    base = live_server.url
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        _sign_in(page, base, loop_network["coordinator"])
        page.goto(f"{base}/referrals/new?service_id={loop_network['service_id']}")
        # The caseload search is a plain GET form without JavaScript.
        page.get_by_label("Find on your caseload").fill("ida")
        page.get_by_role("button", name="Find").click()
        page.wait_for_url("**member_q=ida*")
        assert "Ida Wells" in page.inner_text("#member-choices")
        assert "Rosa Vega" not in page.inner_text("#member-choices")
        # Someone new instead: open the fieldset, fill in a name.
        page.locator("summary", has_text="Someone new").click()
        page.get_by_label("Someone new").check()
        page.get_by_role("textbox", name="First name").fill("Lena")
        page.get_by_role("textbox", name="Last name").fill("Berg")
        page.get_by_label("What the member needs").fill("A bed for tonight")
        page.get_by_role("button", name="Send referral").click()
        page.wait_for_load_state()
        # No consent ticked: the form says so and keeps what was typed.
        assert "No consent to share this member" in page.inner_text("main")
        assert page.get_by_label("What the member needs").input_value() == "A bed for tonight"
        page.get_by_label("Lena Berg agreed to share").check()
        page.get_by_role("button", name="Send referral").click()
        page.wait_for_url("**/referrals/*-*")
        assert "Referral sent" in page.inner_text(".flashes")

        page.get_by_role("button", name="Sign out").click()
        _sign_in(page, base, loop_network["staff"])
        page.wait_for_url(f"{base}/inbox")
        page.get_by_role("button", name="Accept").click()
        page.wait_for_url(f"{base}/inbox")
        page.goto(f"{base}/inbox?tab=accepted")
        assert "Lena Berg" in page.inner_text("#inbox-list")
    finally:
        context.close()
