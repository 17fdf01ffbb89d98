"""An open network, in real Chromium on 360-px phones (issue 11): a coordinator refers a member
to a legal clinic that has not joined Wraparound; the clinic opens the link it was emailed (read
from the real SMTP server), sees only what the member's consent allows, and declines; the
coordinator sees the next best services and sends the referral to one in one click; that
agency, a member of the network, accepts and records the outcome in its inbox; the coordinator's
dashboard shows the loop closed. axe-core checks every page on the way."""

from datetime import date, timedelta

import pytest

from accounts.models import User
from referrals import services
from tests.directory.factories import SYRACUSE, make_organization, make_service, make_taxonomy_term
from tests.e2e.axe import assert_accessible
from tests.e2e.test_referral_loop import PHONE, _no_sideways_scroll, _sign_in

pytestmark = pytest.mark.browser

INTAKE = "intake@tenant-clinic.example.org"
NEED = "Eviction notice: court date next week"


@pytest.fixture
def open_network(db, create_org, create_user) -> dict:
    """A tenant clinic listed but not in the network (intake email only), a legal aid agency in
    it with the same category 3 km away, a coordinator and her member Rosa, who consented to
    share her name and phone."""
    term = make_taxonomy_term(db, name="Legal aid", code="LA-1")

    def lawyer(org_name: str, name: str, north_km: float, **values):
        listing = make_organization(db, name=org_name)
        return make_service(
            db,
            organization=listing,
            name=name,
            term=term,
            latitude=SYRACUSE[0] + north_km / 111.0,
            longitude=SYRACUSE[1],
            description="Free lawyers for tenants facing eviction in Onondaga County.",
            **values,
        )

    clinic = lawyer("Tenant Rights Clinic", "Tenant eviction defense", 1, email=INTAKE)
    legal_aid = lawyer("Mid-State Legal Aid", "Eviction defense lawyers", 3)
    db.session.commit()
    agency = create_org(
        "Mid-State Legal Aid", "agency", directory_organization_id=legal_aid.organization_id
    )
    coordination = create_org("Central Health Home", "coordination")
    coordinator = create_user(
        "ana@central.example.org", "coordinator", coordination, full_name="Ana Ortiz"
    )
    ana = db.session.get(User, coordinator.id)
    rosa = services.create_member(
        ana, first_name="Rosa", last_name="Vega", phone="315-555-0199", postal_code="13202"
    )
    services.record_consent(
        ana,
        rosa,
        given_by="Rosa Vega",
        method="verbal",
        scope=["first_name", "phone"],
        expires_on=date.today() + timedelta(days=365),
    )
    db.session.commit()
    lee = create_user("lee@legalaid.example.org", "agency_staff", agency, full_name="Lee Chan")
    return {"clinic_id": clinic.id, "coordinator": coordinator, "staff": lee}


def _check(page) -> None:
    """Every page: fits the phone, no serious or critical accessibility violation."""
    _no_sideways_scroll(page)
    assert_accessible(page)


def test_a_declined_email_referral_goes_to_the_next_best_service_and_closes(
    app, live_server, browser, smtp_server, open_network
):
    base = live_server.url
    app.config["PUBLIC_BASE_URL"] = base  # the emailed link points at this server
    # The pages run under their own CSP: axe-core is evaluated by the debugger, not the page.
    coordinator = browser.new_context(viewport=PHONE)
    clinic = browser.new_context(viewport=PHONE)  # no account: only the emailed link
    agency = browser.new_context(viewport=PHONE)
    try:
        ana = coordinator.new_page()
        ana.set_default_timeout(10_000)
        ana.goto(f"{base}/login")
        _check(ana)
        _sign_in(ana, base, open_network["coordinator"])
        ana.wait_for_url(f"{base}/referrals")
        _check(ana)

        # The clinic's page says how a referral reaches it; refer Rosa there.
        ana.goto(f"{base}/services/{open_network['clinic_id']}")
        assert "Referrals by email" in ana.inner_text("main")
        _check(ana)
        ana.get_by_role("link", name="Refer someone").click()
        ana.wait_for_url("**/referrals/new?service_id=*")
        _check(ana)
        ana.get_by_text("Rosa Vega").first.click()
        ana.get_by_label("What the member needs").fill(NEED)
        ana.get_by_label("Urgent").check()
        ana.get_by_role("button", name="Send referral").click()
        ana.wait_for_url("**/referrals/*-*")
        assert "Referral sent to Tenant eviction defense" in ana.inner_text(".flashes")
        first_referral = ana.url
        _check(ana)

        # The cron job sends the email; the clinic opens the link it carries.
        smtp_server.deliver()
        (mail,) = smtp_server.messages_to(INTAKE)
        assert "Rosa" not in mail.get_body(preferencelist=("plain",)).get_content()
        link = smtp_server.last_link(INTAKE)
        assert link.startswith(f"{base}/r/")
        desk = clinic.new_page()
        desk.set_default_timeout(10_000)
        desk.goto(link)
        assert desk.get_by_role("heading", level=1).inner_text() == (
            "Referral to Tenant eviction defense"
        )
        member = desk.locator("#member-title").locator("xpath=..").inner_text()
        assert "Rosa" in member and "315-555-0199" in member and "Vega" not in member
        assert NEED in desk.inner_text("main") and "Ana Ortiz" in desk.inner_text("main")
        _check(desk)
        desk.get_by_text("Decline…").click()
        desk.get_by_label("Why").select_option("no_capacity")
        desk.get_by_role("button", name="Decline").click()
        desk.wait_for_load_state()
        assert "You declined the referral" in desk.inner_text("main")
        _check(desk)

        # The coordinator sees next best services at once and sends it on in one click.
        ana.goto(first_referral)
        assert "Declined" in ana.inner_text(".badges")
        suggestions = ana.locator(".next-best")
        assert "Eviction defense lawyers" in suggestions.inner_text()
        assert "Tenant eviction defense" not in suggestions.locator("ol").inner_text()
        _check(ana)
        suggestions.get_by_role("listitem").filter(has_text="Eviction defense lawyers").get_by_role(
            "button", name="Send this referral there"
        ).click()
        ana.wait_for_url("**/referrals/*-*")
        assert ana.url != first_referral
        heading = ana.get_by_role("heading", level=1).inner_text()
        assert "Rosa Vega" in heading and "Eviction defense lawyers" in heading
        assert "Re-sent here from Tenant eviction defense" in ana.inner_text("ol.timeline")
        _check(ana)

        # The legal aid agency (in the network) accepts and records the outcome in its inbox.
        lee = agency.new_page()
        lee.set_default_timeout(10_000)
        _sign_in(lee, base, open_network["staff"])
        lee.wait_for_url(f"{base}/inbox")
        row = lee.locator("#inbox-list li.ref-row").filter(has_text="Rosa")
        assert NEED in row.inner_text()
        _check(lee)
        row.get_by_role("button", name="Accept").click()
        row = lee.locator("#inbox-list li.ref-row").filter(has_text="Rosa")
        row.get_by_text("Accepted · awaiting outcome").wait_for()
        row.get_by_text("Record the outcome").click()
        row.get_by_label("What happened").select_option("service_provided")
        row.get_by_role("button", name="Close with this outcome").click()
        row.get_by_text("Closed · service provided").wait_for()
        _check(lee)

        # The coordinator's dashboard: the loop is closed (the decline counts as not closed).
        ana.goto(f"{base}/referrals")
        loop = ana.locator(".loop").inner_text()
        assert "50%" in loop and "1 of 2 referrals sent" in loop
        assert "Declined (1)" in ana.locator(".loop").text_content()  # under "How this is computed"
        listing = ana.locator("#referral-list").inner_text()
        assert "Closed · service provided" in listing and "Eviction defense lawyers" in listing
        _check(ana)
    finally:
        coordinator.close()
        clinic.close()
        agency.close()
