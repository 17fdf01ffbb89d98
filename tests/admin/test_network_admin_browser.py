"""A network admin uploads an export in a real Chromium on a 360-px-wide screen and watches the
job worker import it: the progress page updates itself (htmx) to the report. axe-core checks
each page on the way."""

import pytest

from tests.admin.test_listing_suggestions_browser import _sign_in
from tests.admin.test_network_admin import DATA, zipped
from tests.e2e.axe import assert_accessible

pytestmark = pytest.mark.browser

FITS_THE_SCREEN = "document.documentElement.scrollWidth <= window.innerWidth"


def test_an_admin_uploads_an_export_and_sees_the_page_follow_the_import(
    live_server, browser, network, runner, tmp_path
):
    export = tmp_path / "export_211.zip"
    export.write_bytes(zipped(DATA / "export_211"))
    # bypass_csp: axe-core is injected as an inline script, which the pages' CSP forbids.
    context = browser.new_context(viewport={"width": 360, "height": 740}, bypass_csp=True)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _sign_in(page, f"{live_server.url}/admin/imports/upload", network.admin)
        assert_accessible(page)
        assert page.evaluate(FITS_THE_SCREEN)
        page.get_by_label("HSDS export (.zip)").set_input_files(str(export))
        page.get_by_role("button", name="Upload and import").click()
        page.get_by_role("heading", name="Waiting for a worker").wait_for()
        assert "/admin/jobs/" in page.url
        assert_accessible(page)
        assert page.evaluate(FITS_THE_SCREEN)

        result = runner.invoke(args=["jobs", "work", "--once"])
        assert result.exit_code == 0, result.output

        # No reload: htmx asks again every 2 s and swaps in the report.
        page.get_by_role("heading", name="Imported", exact=True).wait_for()
        assert page.locator("#job-progress").get_attribute("value") == page.locator(
            "#job-progress"
        ).get_attribute("max")
        assert "2 records to review" in page.inner_text("#job-status")
        assert_accessible(page)
        assert page.evaluate(FITS_THE_SCREEN)

        for path in ("/admin/organizations", "/admin/organizations/new", "/admin/users"):
            page.goto(f"{live_server.url}{path}")
            assert_accessible(page)
            assert page.evaluate(FITS_THE_SCREEN), path
    finally:
        context.close()
