"""Sign in, manage staff and sign out in a real Chromium on a 360-px-wide screen."""

import pytest

from tests.fixtures_accounts import TEST_PASSWORD

pytestmark = pytest.mark.browser

FITS_THE_SCREEN = "document.documentElement.scrollWidth <= window.innerWidth"


def test_an_agency_admin_signs_in_deactivates_someone_and_signs_out(
    live_server, page, create_org, create_user
):
    agency = create_org(name="Harbor House")
    admin = create_user(role="agency_admin", org=agency, full_name="Ada Admin")
    create_user(role="agency_staff", org=agency, full_name="Abe Staff")

    page.goto(f"{live_server.url}/account/staff")
    assert page.url.startswith(f"{live_server.url}/login?next=")
    assert page.evaluate(FITS_THE_SCREEN)
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill("wrong password, surely")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().strip() == "Email or password is incorrect."

    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/account/staff")
    assert page.get_by_role("heading", level=1).inner_text() == "Staff of Harbor House"
    assert page.evaluate(FITS_THE_SCREEN)

    # htmx swaps the row in place.
    with page.expect_response(lambda response: "/deactivate" in response.url) as answer:
        page.get_by_role("button", name="Deactivate Abe Staff").click()
    assert answer.value.request.headers.get("hx-request") == "true"
    page.get_by_role("button", name="Reactivate Abe Staff").wait_for()
    assert page.url == f"{live_server.url}/account/staff"

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/login")
    assert "You're signed out." in page.inner_text("body")


def test_signing_in_works_without_javascript(live_server, browser, create_user):
    user = create_user(full_name="Casey Coordinator")
    context = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/login")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        assert "Signed in as Casey Coordinator" in page.inner_text("body")
    finally:
        context.close()
