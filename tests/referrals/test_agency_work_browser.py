"""The forward picker and assignment in a real Chromium on a 360-px-wide screen: searching as
you type (htmx), and the same without JavaScript."""

import pytest

from referrals.models import Referral
from tests.e2e.axe import assert_accessible
from tests.fixtures_accounts import TEST_PASSWORD
from tests.referrals.pages import refer

pytestmark = pytest.mark.browser

FITS_THE_SCREEN = "document.documentElement.scrollWidth <= window.innerWidth"


def _sign_in(page, url, user, next_path):
    page.goto(f"{url}/login?next={next_path}")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}{next_path}")


def _forwarded_to(db, referral_id):
    db.session.expire_all()
    return db.session.get(Referral, referral_id).forwarded_to


def test_staff_assign_and_forward_by_searching_as_they_type(
    live_server, page, db, network, create_member
):
    referral = refer(db, network, create_member())
    _sign_in(page, live_server.url, network.staff_a, "/inbox")
    # Assign in place: the row answers, the "Assigned to me" count follows.
    row = page.locator(f"#referral-{referral.id}")
    row.get_by_label("Assigned to").select_option(label="Dev Patel (me)")
    with page.expect_response(lambda r: r.url.endswith("/assign")) as answer:
        row.get_by_role("button", name="Assign the referral to Emergency food boxes").click()
    assert answer.value.request.headers.get("hx-request") == "true"
    page.get_by_role("link", name="Assigned to me 1").wait_for()
    assert page.evaluate(FITS_THE_SCREEN)
    assert_accessible(page)

    row = page.locator(f"#referral-{referral.id}")
    row.get_by_text("Forward…").click()
    with page.expect_response(lambda r: "/forward-services?" in r.url) as searched:
        row.get_by_label("Find the service").press_sequentially("shelter", delay=30)
    assert searched.value.request.headers.get("hx-request") == "true"
    choice = row.get_by_label("Emergency shelter beds")
    choice.wait_for()
    assert page.evaluate(FITS_THE_SCREEN)
    assert_accessible(page)  # the forward picker with its results
    choice.check()
    row.get_by_role("button", name="Forward").click()
    page.locator(f"#referral-{referral.id}").get_by_text("Forwarded", exact=True).wait_for()
    assert _forwarded_to(db, referral.id).service_id == network.service_b.id


def test_the_forward_picker_without_javascript(live_server, browser, db, network, create_member):
    referral = refer(db, network, create_member())
    context = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    try:
        page = context.new_page()
        _sign_in(page, live_server.url, network.agency_admin_a, f"/referrals/{referral.id}")
        page.get_by_text("Forward…").click()
        page.get_by_label("Find the service").fill("shelter")
        page.get_by_role("button", name="Search").click()
        page.wait_for_load_state()
        assert "forward_q=shelter" in page.url
        assert page.evaluate(FITS_THE_SCREEN)
        assert_accessible(page)
        page.get_by_label("Emergency shelter beds").check()
        page.get_by_role("button", name="Forward", exact=True).click()
        page.wait_for_load_state()
        assert "Forwarded to Emergency shelter beds." in page.inner_text("body")
        assert_accessible(page)
        assert _forwarded_to(db, referral.id).service_id == network.service_b.id
    finally:
        context.close()
