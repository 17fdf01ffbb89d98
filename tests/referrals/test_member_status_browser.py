"""A member opens the status link from their email on a 360-px phone, without JavaScript."""

import pytest

from accounts.models import User
from referrals import services
from referrals.models import Referral
from tests.e2e.axe import assert_accessible
from tests.referrals.pages import refer_with_status_link

pytestmark = pytest.mark.browser

FITS_THE_SCREEN = "document.documentElement.scrollWidth <= window.innerWidth"


def test_a_spanish_speaking_member_reads_their_status_on_a_phone(
    db, network, create_member, smtp_server, live_server, browser
):
    referral = refer_with_status_link(db, network, create_member, preferred_language="Spanish")
    member = referral.member
    services.accept(db.session.get(Referral, referral.id), db.session.get(User, network.staff_a.id))
    db.session.commit()
    smtp_server.deliver()
    link = smtp_server.last_link(member.email)
    path = link.split("://", 1)[1].split("/", 1)[1]

    context = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/{path}")
        assert page.evaluate("document.documentElement.lang") == "es"
        assert page.get_by_role("heading", level=1).inner_text() == "Su referido"
        assert "Le van a llamar." in page.locator("#now-title + p").inner_text()
        call = page.get_by_role("link", name="(315) 555-0100")
        assert call.get_attribute("href") == "tel:(315)555-0100"
        assert page.locator("main").get_by_text("Syracuse, NY 13203").count() == 1
        assert page.evaluate(FITS_THE_SCREEN)
        assert_accessible(page)
    finally:
        context.close()
