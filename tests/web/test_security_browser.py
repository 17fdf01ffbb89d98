"""The Content-Security-Policy in real Chromium: the map, htmx search and sign-in still work, and
the browser reports no violation."""

import pytest

from tests.directory.factories import make_service

pytestmark = pytest.mark.browser


def _violations(page) -> list[str]:
    found: list[str] = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("pageerror", lambda error: found.append(str(error)))
    return found


def test_the_map_and_htmx_search_run_under_the_policy(db, live_server, page):
    make_service(db, name="Northside Emergency Food Pantry", latitude=43.0581)
    db.session.commit()
    violations = _violations(page)
    response = page.goto(f"{live_server.url}/?q=food+pantry&view=map")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator(".leaflet-container").first.wait_for()
    page.locator(".leaflet-marker-icon").first.wait_for()
    page.goto(f"{live_server.url}/")
    page.get_by_role("searchbox").first.fill("pantry")
    page.locator("#results li.card").first.wait_for()
    assert violations == []


def test_sign_in_and_the_account_page_run_under_the_policy(live_server, page, create_user):
    from tests.fixtures_accounts import TEST_PASSWORD

    user = create_user(full_name="Casey Coordinator")
    violations = _violations(page)
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/account")
    page.get_by_role("button", name="Sign out everywhere").click()
    page.wait_for_url(f"{live_server.url}/login")
    assert "You're signed out everywhere." in page.inner_text("body")
    assert violations == []
