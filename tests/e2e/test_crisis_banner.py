"""Danger in the words, on a 360-px phone in real Chromium: the crisis lines come first, as
numbers to tap, while typing (htmx) and without sideways scrolling or accessibility faults."""

import pytest

from tests.directory.factories import make_service
from tests.e2e.axe import assert_accessible

pytestmark = pytest.mark.browser


def test_typing_danger_shows_numbers_to_call_before_the_results(db, live_server, browser):
    make_service(db, name="Westside Food Pantry")
    make_service(
        db,
        name="24/7 Crisis Line",
        description="Someone to talk to now, for anyone thinking about suicide.",
    )
    db.session.commit()

    # bypass_csp: axe-core is injected as an inline script, which the pages' CSP forbids.
    context = browser.new_context(viewport={"width": 360, "height": 740}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/")
    page.get_by_label("What do you need?").press_sequentially("no quiero vivir", delay=30)
    banner = page.get_by_role("alert").filter(has_text="You can talk to someone right now")
    banner.wait_for()
    assert banner.get_by_role("link", name="Call 988").get_attribute("href") == "tel:988"
    assert banner.get_by_role("link", name="Call 911").get_attribute("href") == "tel:911"
    first = page.locator("#results li.card h3").first
    assert first.inner_text() == "24/7 Crisis Line"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(page)

    page.get_by_label("What do you need?").fill("food")
    page.locator("#results-status").get_by_text("“food”").wait_for()
    assert page.get_by_role("link", name="Westside Food Pantry").is_visible()
    assert page.get_by_text("You can talk to someone right now").count() == 0
    context.close()
