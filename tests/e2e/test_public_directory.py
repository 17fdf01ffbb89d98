"""A member on a 360-px phone in real Chromium: search as they type, filter, open a service,
save it to "my list", use their location, look at the map; never a sideways scroll, and never
a request to another host."""

import os
from pathlib import Path

import pytest

from tests.directory.factories import make_service, make_taxonomy_term

pytestmark = pytest.mark.browser


def _seed(db) -> dict:
    """Three pantries (two free, one with a fee) and a rent program, all in Syracuse."""
    services = {
        "free": make_service(db, name="Northside Emergency Food Pantry", latitude=43.0581),
        "fee": make_service(db, name="Eastside Community Food Pantry", latitude=43.0451),
        "other_free": make_service(db, name="Westside Saturday Food Pantry", longitude=-76.17),
        "rent": make_service(
            db,
            name="Rent Relief Program",
            description="Help paying rent and utilities.",
            term=make_taxonomy_term(db, name="Rent Assistance", description="Rent."),
        ),
    }
    fee = services["fee"]
    fee.fees_description = "$5 per visit"
    fee.cost_options[0].amount = 5
    db.session.commit()
    return {key: service.id for key, service in services.items()}


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"{page.url} is {width}px wide in a {viewport}px viewport"


def _only_this_host(page, base_url: str) -> list[str]:
    """Collects every request the page makes to another host."""
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((base_url, "data:", "blob:"))
            else elsewhere.append(request.url)
        ),
    )
    return elsewhere


@pytest.fixture
def shot(tmp_path):
    """Full-page screenshots, kept in WRAP_SCREENSHOTS (to look at them) or the test's tmp dir."""
    folder = Path(os.environ.get("WRAP_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 0
        return path

    return take


def test_search_filter_open_save_and_see_my_list_on_a_phone(db, live_server, page, shot):
    ids = _seed(db)
    elsewhere = _only_this_host(page, live_server.url)

    page.goto(f"{live_server.url}/")
    assert page.viewport_size["width"] == 360
    _no_sideways_scroll(page)
    page.evaluate("window.sameDocument = true")  # lost if the browser loads a new page

    # Results follow the typing, without a page load, and the URL follows the results.
    page.get_by_label("What do you need?").press_sequentially("pantry", delay=40)
    status = page.locator("#results-status")
    status.get_by_text("3 services found for “pantry”").wait_for()
    assert page.evaluate("window.sameDocument") is True
    assert "q=pantry" in page.url
    cards = page.locator("#results li.card")
    assert cards.count() == 3
    assert page.get_by_role("link", name="Rent Relief Program").count() == 0
    _no_sideways_scroll(page)
    shot(page, "search-360")

    # A filter: only free ones.
    page.locator("#filters > summary").click()
    page.get_by_label("Free of cost").check()
    status.get_by_text("2 services found").wait_for()
    assert page.evaluate("window.sameDocument") is True
    assert "free=true" in page.url and "q=pantry" in page.url
    assert page.get_by_role("link", name="Eastside Community Food Pantry").count() == 0
    assert page.get_by_label("Free of cost").is_checked()
    _no_sideways_scroll(page)
    shot(page, "search-filtered-360")

    # Open a service and save it.
    page.get_by_role("link", name="Northside Emergency Food Pantry").click()
    page.wait_for_url(f"**/services/{ids['free']}")
    assert page.get_by_role("heading", level=1).inner_text() == "Northside Emergency Food Pantry"
    call = page.locator("main a[href^='tel:']").first
    assert call.get_attribute("href") == "tel:+13155550100;ext=12"
    assert "555-0100" in call.inner_text() and "12" in call.inner_text(), call.inner_text()
    _no_sideways_scroll(page)
    page.evaluate("window.sameDocument = true")
    page.get_by_role("button", name="Save Northside Emergency Food Pantry to my list").click()
    page.get_by_role("button", name="Saved · Remove Northside Emergency Food Pantry").wait_for()
    assert page.evaluate("window.sameDocument") is True
    assert " ".join(page.locator("#my-list-link").text_content().split()) == "My list (1 saved)"
    shot(page, "service-360")

    # The list shows it, with its number to call.
    page.locator("#my-list-link").click()
    page.wait_for_url("**/list")
    assert page.get_by_role("heading", level=1).inner_text() == "My list"
    assert page.get_by_role("link", name="Northside Emergency Food Pantry").is_visible()
    assert page.locator('a[href="tel:+13155550100;ext=12"]').count() == 1
    share = page.get_by_label("Link to this list (opens the same list on another phone)")
    assert str(ids["free"]) in share.input_value()
    _no_sideways_scroll(page)
    shot(page, "my-list-360")

    assert elsewhere == []


def test_use_my_location_finds_the_nearest_and_the_map_stays_local(db, live_server, browser, shot):
    _seed(db)
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        geolocation={"latitude": 43.0585, "longitude": -76.1474},
        permissions=["geolocation"],
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    elsewhere = _only_this_host(page, live_server.url)
    try:
        page.goto(f"{live_server.url}/?q=food+pantry")
        page.get_by_role("button", name="Use my location").click()
        page.locator("#results-status").get_by_text("near your location").wait_for()
        assert "lat=43.0585" in page.url and "lon=-76.1474" in page.url
        first = page.locator("#results li.card").first
        assert "Northside Emergency Food Pantry" in first.inner_text()
        assert first.locator(".distance").get_attribute("title").endswith(" km")
        _no_sideways_scroll(page)

        page.get_by_role("link", name="Map").click()
        page.locator("#results-map .leaflet-marker-icon").first.wait_for()
        assert page.locator("#results-map .leaflet-marker-icon").count() == 3
        assert "view=map" in page.url
        _no_sideways_scroll(page)
        shot(page, "map-360")
        page.locator("#results-map .leaflet-marker-icon").first.click()
        popup_link = page.locator("#results-map .leaflet-popup-content a")
        assert popup_link.get_attribute("href").startswith("/services/")
        assert elsewhere == []
    finally:
        context.close()


def _tab_to(page, selector: str, limit: int = 40) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_only_search_filter_and_open(db, live_server, page):
    ids = _seed(db)
    page.goto(f"{live_server.url}/")

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    _tab_to(page, "#q")
    page.keyboard.type("pantry")
    page.locator("#results-status").get_by_text("3 services found").wait_for()

    _tab_to(page, "#filters > summary")
    page.keyboard.press("Enter")
    _tab_to(page, "#filter-free-true")
    page.keyboard.press("Space")
    page.locator("#results-status").get_by_text("2 services found").wait_for()
    # The swap put a new checkbox in place: the focus is on it, not lost to the page.
    page.wait_for_function("document.activeElement.id === 'filter-free-true'")
    assert page.locator("#filter-free-true").is_checked()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"

    _tab_to(page, f'a[href="/services/{ids["free"]}"]')
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/services/{ids['free']}")
    _tab_to(page, "button[id^=save-button-]")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Saved · Remove Northside Emergency Food Pantry").wait_for()
    page.wait_for_function("document.activeElement.id.startsWith('save-button-')")
