"""Claiming a listing and deciding the claim in a real Chromium on a 360-px-wide screen."""

import pytest

from tests.fixtures_accounts import TEST_PASSWORD

pytestmark = pytest.mark.browser

FITS_THE_SCREEN = "document.documentElement.scrollWidth <= window.innerWidth"


def test_a_claim_sent_without_javascript_is_approved_from_the_queue(live_server, browser, network):
    context = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/services/{network.service_outside.id}")
        page.get_by_role("link", name="Work here? Manage this listing").click()
        assert page.evaluate(FITS_THE_SCREEN)
        page.get_by_label("Your name").fill("Rita Moreno")
        page.get_by_label("Work email").fill("not an email")
        page.get_by_role("button", name="Ask to manage this listing").click()
        assert "like name@example.org" in page.inner_text("body")
        assert page.get_by_label("Your name").input_value() == "Rita Moreno"
        page.get_by_label("Work email").fill("rita@clinic.example.org")
        page.get_by_role("button", name="Ask to manage this listing").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Thank you: we'll be in touch"

        page.goto(f"{live_server.url}/login?next=/admin/claims")
        page.get_by_label("Email").fill(network.admin.email)
        page.get_by_label("Password").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server.url}/admin/claims")
        assert page.evaluate(FITS_THE_SCREEN)
        page.get_by_role("button", name="Approve Rita Moreno for Unlisted Legal Clinic").click()
        assert "Unlisted Legal Clinic joined the network" in page.inner_text("body")
        assert page.evaluate(FITS_THE_SCREEN)
    finally:
        context.close()
