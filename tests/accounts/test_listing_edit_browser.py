"""An agency admin edits a phone number and the hours on a 360-px phone, with and without
JavaScript; the public service page shows the change."""

import re

import pytest

from tests.e2e.axe import assert_accessible
from tests.fixtures_accounts import TEST_PASSWORD

pytestmark = pytest.mark.browser

FITS_THE_SCREEN = "document.documentElement.scrollWidth <= window.innerWidth"


def _sign_in(page, base: str, user, next_path: str) -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{next_path}")


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "htmx"])
def test_an_agency_admin_fixes_a_phone_and_the_hours(live_server, browser, listing, javascript):
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, java_script_enabled=javascript
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    base = live_server.url
    service_page = f"/services/{listing.service.id}"
    try:
        _sign_in(page, base, listing.people["agency_admin"], service_page)
        page.get_by_role("link", name="Edit this listing").click()
        page.wait_for_url(f"**/services/{listing.service.id}/edit")
        assert page.evaluate(FITS_THE_SCREEN)
        assert_accessible(page)
        phones = page.get_by_label("Phone numbers")
        phones.fill("555-01")
        page.get_by_role("button", name="Save the service").click()
        assert "Line 1" in page.locator("#phones-error").inner_text()
        assert page.get_by_label("Phone numbers").get_attribute("aria-invalid") == "true"
        assert_accessible(page)  # with the error shown
        page.get_by_label("Phone numbers").fill("(315) 555-0142")
        page.get_by_role("button", name="Save the service").click()
        page.get_by_text(re.compile(r"Saved \d+ change")).wait_for()

        page.goto(f"{base}/services/{listing.service.id}/hours")
        assert page.evaluate(FITS_THE_SCREEN)
        assert_accessible(page)
        monday = page.locator("#day-MO")
        monday.get_by_label("Opens", exact=True).fill("17:00")
        monday.get_by_label("Closes", exact=True).fill("09:00")
        page.get_by_role("button", name="Save the hours").click()
        assert (
            "Closing time is before opening time" in page.locator("#MO_0_closes-error").inner_text()
        )
        assert_accessible(page)
        monday = page.locator("#day-MO")
        monday.get_by_label("Opens", exact=True).fill("10:00")
        monday.get_by_label("Closes", exact=True).fill("14:00")
        page.get_by_role("button", name="Save the hours").click()
        page.get_by_text(re.compile(r"Saved \d+ change")).wait_for()
        assert page.evaluate(FITS_THE_SCREEN)
        assert_accessible(page)

        page.goto(f"{base}{service_page}")
        body = page.inner_text("body")
        assert "(315) 555-0142" in body
        assert re.search(r"Monday\s+10 am – 2 pm", body)
        assert_accessible(page)
        page.get_by_role("link", name="History").click()
        page.wait_for_url("**/history")
        assert page.evaluate(FITS_THE_SCREEN)
        assert_accessible(page)
        history = page.inner_text("body")
        assert "Phone numbers" in history and "Monday: 10 am – 2 pm" in history
    finally:
        context.close()
