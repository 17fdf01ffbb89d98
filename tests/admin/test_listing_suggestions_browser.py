"""A stale listing, a fix suggested without JavaScript and accepted by the agency, in a real
Chromium on a 360-px-wide screen."""

import time
from datetime import timedelta

import pytest

from directory.models import Service
from directory.verification import network_today
from tests.e2e.axe import assert_accessible
from tests.fixtures_accounts import TEST_PASSWORD

pytestmark = pytest.mark.browser

FITS_THE_SCREEN = "document.documentElement.scrollWidth <= window.innerWidth"
# WCAG 2 contrast ratio of an element's text on its own background.
CONTRAST = """(element) => {
  const rgb = (value) => value.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const luminance = (value) => {
    const [r, g, b] = rgb(value).map((c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const style = getComputedStyle(element);
  const [a, b] = [luminance(style.color), luminance(style.backgroundColor)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def _sign_in(page, url: str, user) -> None:
    """Sign in through the form on the way to `url`."""
    page.goto(url)
    for label, value in (("Email", user.email), ("Password", TEST_PASSWORD)):
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url)


def test_a_fix_suggested_without_javascript_is_accepted_by_the_agency(
    live_server, browser, network, db, app
):
    service = db.session.get(Service, network.service_a.id)
    service.assured_date = network_today() - timedelta(days=400)
    db.session.commit()
    app.config["SUGGEST_MIN_SECONDS"] = 1
    context = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/services/{network.service_a.id}")
        caution = page.locator(".verified-caution")
        assert "not verified for over a year" in caution.inner_text()
        assert caution.evaluate(CONTRAST) >= 4.5
        assert_accessible(page)
        page.get_by_role("link", name="Something wrong? Suggest a fix").click()
        page.wait_for_url(f"{live_server.url}/services/{network.service_a.id}/suggest")
        page.wait_for_load_state("load")
        assert page.evaluate(FITS_THE_SCREEN)
        assert not page.get_by_label("Leave this empty").is_visible()  # the honeypot
        assert_accessible(page)
        page.get_by_label("Phone number").check()
        page.get_by_label("What should it say?").fill("Call (315) 555-0199 now.")
        page.get_by_label("Your email (optional)").fill("pat@example.org")
        time.sleep(1.2)  # a person takes longer than SUGGEST_MIN_SECONDS to type it
        page.get_by_role("button", name="Send the fix").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Thank you for the fix"
        assert_accessible(page)

        _sign_in(page, f"{live_server.url}/listings/suggestions", network.staff_a)
        assert page.evaluate(FITS_THE_SCREEN)
        assert "Call (315) 555-0199 now." in page.inner_text("main")
        assert_accessible(page)
        page.get_by_role("button", name="Accept and edit Emergency food boxes").click()
        page.wait_for_url(f"{live_server.url}/services/{network.service_a.id}")
        assert "Accepted." in page.inner_text("body")
        page.get_by_role("button", name="Everything here is still correct").click()
        assert "verified today" in page.locator(".listing-trust").inner_text()
        assert page.locator(".verified-caution").count() == 0
        assert page.evaluate(FITS_THE_SCREEN)
        assert_accessible(page)
        page.get_by_role("link", name="Listings").click()
        page.wait_for_url(f"{live_server.url}/listings")
        assert "1 listing needs verifying." in page.inner_text("main")
        assert page.evaluate(FITS_THE_SCREEN)
        assert_accessible(page)
    finally:
        context.close()
