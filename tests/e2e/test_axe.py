"""The accessibility checker the browser tests use finds what it should (so a pass means
something)."""

import pytest

from tests.e2e.axe import violations

pytestmark = pytest.mark.browser


def test_axe_reports_an_image_without_alt_text_and_an_unlabelled_field(page):
    page.set_content(
        '<!doctype html><html lang="en"><title>t</title><main><img src="x.png">'
        '<input type="text"></main></html>'
    )
    rules = {v["rule"] for v in violations(page)}
    assert {"image-alt", "label"} <= rules


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_axe_runs_in_a_page_without_javascript_under_a_strict_csp(browser, javascript):
    """Pages served with our Content-Security-Policy, and phones with JavaScript off, are
    checked too (axe is evaluated by the debugger, and its timers run without the page's)."""
    context = browser.new_context(java_script_enabled=javascript)
    try:
        page = context.new_page()
        page.route(
            "http://wrap.test/",
            lambda route: route.fulfill(
                content_type="text/html",
                headers={"Content-Security-Policy": "default-src 'self'; script-src 'self'"},
                body='<!doctype html><html lang="en"><title>t</title><main><h1>t</h1>'
                '<input type="text"></main></html>',
            ),
        )
        page.goto("http://wrap.test/")
        assert {v["rule"] for v in violations(page)} == {"label"}
    finally:
        context.close()
