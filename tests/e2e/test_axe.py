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
