"""The member is told: status messages at each step, and a private status page with no account.

Only with the member's consent to be contacted (and the address it needs); in their language
where a catalog exists, English otherwise; one link per referral chain, rotated with each
message; every view audited with the link, the address and the browser; dead links answer 410.
"""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from accounts.models import User
from accounts.outbox import OutboxEmail
from directory.models import Service, ServiceAtLocation
from extensions import utcnow
from referrals import member_messages, member_status, next_best, services
from referrals.errors import InvalidInput
from referrals.models import AuditLog, Member, MemberStatusLink, Referral
from tests.directory.factories import make_location
from tests.referrals.pages import refer, text_of

UA = "Mozilla/5.0 (Member phone test)"
MEMBER_EMAIL = "maria.lopez@example.net"
# What the member's page and messages never show: their own details, the need, the note.
PRIVATE = ("Lopez", "555-0142", "Elm St", "1979", "HIV", "Groceries for a family", "Evenings")


def _user(db, person) -> User:
    return db.session.get(User, person.id)


def _agree(db, network, member, channel="email") -> Member:
    member = db.session.get(Member, member.id)
    member_status.set_contact(_user(db, network.coordinator_a), member, channel)
    db.session.commit()
    return member


@pytest.fixture
def told(db, network, create_member):
    """Factory: a member who agreed to be told by email (in `language`), and a referral of
    theirs to food boxes (agency A, which has a street address on file)."""
    service = db.session.get(Service, network.service_a.id)
    location = make_location(db, organization=service.organization, postal_code="13203")
    service.service_at_locations.append(ServiceAtLocation(location=location))
    db.session.commit()

    def make(language="English", **fields):
        member = _agree(db, network, create_member(preferred_language=language, **fields))
        referral = refer(db, network, member, note="Evenings are best")
        return member, referral

    return make


def _member_mail(db, to=MEMBER_EMAIL) -> list[OutboxEmail]:
    return db.session.scalars(
        select(OutboxEmail)
        .where(OutboxEmail.to_address == to)
        .order_by(OutboxEmail.created_at, OutboxEmail.id)
    ).all()


def _token(row: OutboxEmail) -> str:
    return re.search(r"/s/([A-Za-z0-9_\-]+)", row.body)[1]


def _latest_token(db) -> str:
    return _token(_member_mail(db)[-1])


def _page(client, token):
    return client.get(f"/s/{token}", headers={"User-Agent": UA})


def _staff_a(db, network):
    return _user(db, network.staff_a)


def _in_state(db, network, referral, state) -> None:
    """Take `referral` (sent, at agency A) to `state` through the services, committed."""
    referral = db.session.get(Referral, referral.id)
    staff = _staff_a(db, network)
    if state in ("accepted", "completed"):
        services.accept(referral, staff)
    if state == "completed":
        services.complete(referral, staff, outcome="service_provided")
    if state == "declined":
        services.decline(referral, staff, reason="no_capacity")
    if state == "forwarded":
        services.forward(referral, staff, db.session.get(Service, network.service_b.id))
    if state == "cancelled":
        services.cancel(referral, _user(db, network.coordinator_a), reason="sent_in_error")
    if state == "resent":
        services.decline(referral, staff, reason="no_capacity")
        next_best.resend(
            referral,
            _user(db, network.coordinator_a),
            db.session.get(Service, network.service_b.id),
        )
    db.session.commit()


# What the page says, per state: where things stand now, and the newest step.
STATES = {
    "sent": (
        "We are waiting for Northside Food Pantry to answer.",
        "Your coordinator sent your referral to Emergency food boxes (Northside Food Pantry).",
    ),
    "accepted": (
        "Northside Food Pantry accepted your referral. They will call you.",
        "Northside Food Pantry accepted your referral. They will call you.",
    ),
    "declined": (
        "Northside Food Pantry cannot take your referral. Your coordinator is finding another "
        "place.",
        "Your coordinator is finding another place.",
    ),
    "forwarded": (
        "We are waiting for Harbor House Shelter to answer.",
        "Northside Food Pantry passed your referral to Emergency shelter beds (Harbor House "
        "Shelter), who may be able to help.",
    ),
    "resent": (
        "We are waiting for Harbor House Shelter to answer.",
        "Your coordinator sent your referral to Emergency shelter beds (Harbor House Shelter) "
        "instead.",
    ),
    "completed": (
        "Northside Food Pantry finished working on your referral.",
        "Northside Food Pantry finished working on your referral.",
    ),
    "cancelled": (
        "This referral was stopped. Your coordinator will talk with you about what comes next.",
        "The referral to Emergency food boxes was stopped.",
    ),
}


@pytest.mark.parametrize("state", STATES)
def test_the_status_page_in_each_state(db, network, client, told, state):
    member, referral = told()
    _in_state(db, network, referral, state)
    response = _page(client, _latest_token(db))
    html = text_of(response)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    now, step = STATES[state]
    assert now in html
    assert step in html
    assert '<html lang="en">' in html
    if state in ("forwarded", "resent"):  # the place is where the referral is now
        assert "Emergency shelter beds" in html and "Harbor House Shelter" in html
    else:
        assert "Emergency food boxes" in html
        assert "(315) 555-0100" in html  # the agency's phone
        assert "Syracuse, NY 13203" in html  # and its address
    assert "Ana Ortiz" in html  # the coordinator to ask
    for private in PRIVATE:
        assert private not in html


def test_each_step_emails_the_member_with_a_fresh_link(db, network, told):
    member, referral = told()
    _in_state(db, network, referral, "completed")
    mail = _member_mail(db)
    assert [m.kind for m in mail] == ["member:sent", "member:accepted", "member:completed"]
    assert all(m.channel == "email" for m in mail)
    assert "They will call you." in mail[1].body
    for row in mail:
        for private in PRIVATE:
            assert private not in row.body and private not in row.subject
    # One live link for the chain: each message's token replaced the one before.
    links = db.session.scalars(
        select(MemberStatusLink).where(MemberStatusLink.member_id == member.id)
    ).all()
    assert len(links) == 3 and len({link.referral_id for link in links}) == 1
    assert sum(link.revoked_at is None for link in links) == 1
    assert len({_token(m) for m in mail}) == 3


def test_a_forward_and_an_escalation_are_told_once_each(db, network, told):
    member, referral = told()
    _in_state(db, network, referral, "forwarded")
    kinds = [m.kind for m in _member_mail(db)]
    assert kinds == ["member:sent", "member:forwarded"]


def test_a_spanish_speaking_member_gets_spanish_email_and_page(
    db, network, client, told, smtp_server
):
    member, referral = told(language="Español")
    _in_state(db, network, referral, "accepted")
    smtp_server.deliver()
    received = smtp_server.messages_to(MEMBER_EMAIL)
    assert [m["Subject"] for m in received] == ["Su referido: Emergency food boxes"] * 2
    body = received[-1].get_body(preferencelist=("plain",)).get_content()
    assert "Northside Food Pantry aceptó su referido. Le van a llamar." in body
    assert "Por favor, no lo comparta." in body
    link = re.search(r"https?://\S+/s/\S+", body)[0]
    response = _page(client, link.split("/s/")[1])
    html = text_of(response)
    assert response.status_code == 200
    assert '<html lang="es">' in html
    assert "Su referido" in html and "Le van a llamar." in html
    assert "Teléfono" in html and "Dirección" in html


def test_a_language_without_a_catalog_reads_english(db, network, client, told):
    member, referral = told(language="Vietnamese")
    assert _member_mail(db)[0].subject == "Your referral: Emergency food boxes"
    assert "We are waiting for" in text_of(_page(client, _latest_token(db)))


def test_every_catalog_says_everything_english_does():
    for code, catalog in member_messages.CATALOGS.items():
        assert catalog.keys() == member_messages.EN.keys(), code


def test_without_consent_to_be_contacted_no_email_and_no_link(db, network, create_member):
    member = create_member()  # an email on file, but no consent to be told
    referral = refer(db, network, member)
    _in_state(db, network, referral, "accepted")
    assert _member_mail(db) == []
    assert db.session.scalars(select(MemberStatusLink)).all() == []


def test_consent_needs_the_address_it_uses(db, network, create_member, signed_in):
    member = create_member(email=None)
    response = signed_in(network.coordinator_a).post(
        f"/members/{member.id}/contact", data={"contact_by": "email"}
    )
    assert response.status_code == 400
    assert "Add the member&#39;s email address first." in text_of(response)
    with pytest.raises(InvalidInput):
        member_status.set_contact(_user(db, network.coordinator_a), member, "pigeon")


def test_the_coordinator_records_the_consent_on_the_member_page(
    db, network, create_member, signed_in
):
    member = create_member()
    client = signed_in(network.coordinator_a)
    assert "The member agreed to be told" in text_of(client.get(f"/members/{member.id}"))
    response = client.post(f"/members/{member.id}/contact", data={"contact_by": "email"})
    assert response.status_code == 303
    db.session.expire_all()
    found = db.session.get(Member, member.id)
    assert found.contact_by == "email" and found.contact_consent_at is not None
    logged = db.session.scalars(
        select(AuditLog).where(AuditLog.object_id == member.id, AuditLog.action == "update")
    ).all()
    assert logged[-1].actor_id == network.coordinator_a.id
    assert logged[-1].detail == {"fields": ["contact_by"], "contact_by": "email"}


def test_views_are_audited_with_the_link_address_and_browser(db, network, client, told):
    member, referral = told()
    token = _latest_token(db)
    assert _page(client, token).status_code == 200
    link = db.session.scalar(select(MemberStatusLink).where(MemberStatusLink.revoked_at.is_(None)))
    rows = db.session.scalars(
        select(AuditLog).where(
            AuditLog.action == "view", AuditLog.object_id.in_([member.id, referral.id])
        )
    ).all()
    seen = {
        (r.object_type, r.object_id) for r in rows if r.detail.get("via") == "member status link"
    }
    assert seen == {("member", member.id), ("referral", referral.id)}
    for row in rows:
        if row.detail.get("via") == "member status link":
            assert row.actor_id is None
            assert row.actor_label == f"member status link {link.id}"
            assert row.detail["status_link_id"] == str(link.id)
            assert row.ip == "127.0.0.1" and row.user_agent == UA
    assert db.session.get(MemberStatusLink, link.id).last_used_at is not None


def test_dead_links_say_why_and_who_to_ask(db, network, client, told):
    member, referral = told(language="Spanish")
    first = _latest_token(db)
    _in_state(db, network, referral, "accepted")
    replaced = _page(client, first)
    assert replaced.status_code == 410
    assert replaced.headers["Cache-Control"] == "no-store"
    html = text_of(replaced)
    assert "Este enlace ya no funciona" in html and "Un enlace más nuevo" in html
    assert "Ana Ortiz" in html
    # Expired.
    link = db.session.scalar(select(MemberStatusLink).where(MemberStatusLink.revoked_at.is_(None)))
    link.expires_at = link.created_at - timedelta(seconds=1)
    db.session.commit()
    expired = _page(client, _latest_token(db))
    assert expired.status_code == 410 and "Este enlace venció." in text_of(expired)
    # The refused uses stay in the audit log.
    denied = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "denied", AuditLog.object_id == member.id)
    ).all()
    assert sorted(d.detail["link"] for d in denied) == ["expired", "revoked"]
    # A token nobody was given says nothing.
    unknown = _page(client, "x" * 43)
    assert unknown.status_code == 404 and "Ana Ortiz" not in text_of(unknown)


def test_withdrawing_the_consent_kills_the_link_and_stops_the_messages(db, network, client, told):
    member, referral = told()
    token = _latest_token(db)
    _agree(db, network, member, channel=None)
    assert _page(client, token).status_code == 410
    _in_state(db, network, referral, "accepted")
    assert [m.kind for m in _member_mail(db)] == ["member:sent"]


def test_a_link_shows_its_own_chain_only(db, network, client, told, create_member):
    """Another member's referral, and this member's other referrals, are not on the page."""
    member, referral = told()
    token = _latest_token(db)
    other = _agree(db, network, create_member(first_name="Lee", email="lee@example.net"))
    refer(db, network, other, network.service_b)
    refer(db, network, member, network.service_a2, need="SNAP help")
    html = text_of(_page(client, token))
    assert "Emergency food boxes" in html
    assert "Harbor House Shelter" not in html and "SNAP application help" not in html
    viewed = db.session.scalars(
        select(AuditLog.object_id).where(
            AuditLog.action == "view", AuditLog.object_type == "referral"
        )
    ).all()
    assert viewed == [referral.id]
    # The other member's own link opens their referral, not Maria's.
    other_html = text_of(_page(client, _latest_token_to(db, "lee@example.net")))
    assert "Harbor House Shelter" in other_html and "Emergency food boxes" not in other_html


def _latest_token_to(db, address: str) -> str:
    return _token(_member_mail(db, address)[-1])


def test_a_text_message_waits_in_the_outbox_until_an_sms_provider_is_configured(
    db, network, create_member, smtp_server
):
    member = _agree(db, network, create_member(), channel="sms")
    refer(db, network, member)
    sms = db.session.scalars(select(OutboxEmail).where(OutboxEmail.channel == "sms")).all()
    assert len(sms) == 1 and sms[0].to_address == "(315) 555-0142"
    # Maria reads Spanish (the factory's preferred language): so do her text messages.
    assert sms[0].body.startswith("Wraparound: Su coordinador(a) envió su referido")
    assert "/s/" in sms[0].body and len(sms[0].body) < 320
    output = smtp_server.deliver()
    assert "1 text message(s) wait for an SMS provider (SMS_BACKEND)" in output
    db.session.expire_all()
    assert db.session.get(OutboxEmail, sms[0].id).sent_at is None  # no SMS_BACKEND: kept
    assert smtp_server.messages_to("555-0142") == []


SENT_SMS: list[tuple[str, str]] = []


def provider_send(to: str, text: str) -> None:
    """A stand-in for an SMS provider's client, named by SMS_BACKEND below."""
    SENT_SMS.append((to, text))


def test_an_sms_provider_is_plugged_in_by_configuration(
    db, app, network, create_member, smtp_server
):
    member = _agree(db, network, create_member(), channel="sms")
    refer(db, network, member)
    app.config["SMS_BACKEND"] = f"{__name__}:provider_send"
    SENT_SMS.clear()
    result = app.test_cli_runner().invoke(args=["referrals", "deliver"])
    assert result.exit_code == 0, result.output
    assert len(SENT_SMS) == 1 and SENT_SMS[0][0] == "(315) 555-0142"
    assert "/s/" in SENT_SMS[0][1]


def test_an_escalation_by_the_sweep_is_told_once_and_shown(db, network, client, create_member):
    from tests.referrals.test_next_best import Pantries

    Pantries(db, network)
    member = _agree(db, network, create_member(preferred_language="English"))
    referral = services.send_referral(
        _user(db, network.coordinator_a),
        db.session.get(Member, member.id),
        db.session.get(Service, network.service_a.id),
        need="Groceries for a family of four",
        auto_escalate=True,
        now=utcnow() - timedelta(days=10),
    )
    db.session.commit()
    best = next_best.suggestions(referral, limit=1)[0].service
    assert next_best.sweep_escalations()[0][1] is not None
    db.session.commit()
    # The silent agency's cancellation is not told apart: the re-send says it all.
    assert [m.kind for m in _member_mail(db)] == ["member:sent", "member:escalated"]
    html = text_of(_page(client, _latest_token(db)))
    assert (
        f"Northside Food Pantry did not answer in time, so we sent your referral to {best.name}"
        in html
    )
    assert "The referral to Emergency food boxes was stopped." not in html
    assert best.name in html and "(315) 555-0100" in html


def test_the_coordinator_sends_the_member_a_new_link(db, network, client, told, signed_in):
    member, referral = told(language="Spanish")
    _in_state(db, network, referral, "accepted")
    old = _latest_token(db)
    coordinator = signed_in(network.coordinator_a)
    page = text_of(coordinator.get(f"/referrals/{referral.id}"))
    assert "The member hears of each step by email (maria.lopez@example.net)" in page
    response = coordinator.post(f"/referrals/{referral.id}/member-link")
    assert response.status_code == 303
    db.session.expire_all()
    mail = _member_mail(db)[-1]
    assert mail.kind == "member:link"
    assert "Aquí tiene un enlace nuevo" in mail.body and "Le van a llamar." in mail.body
    assert _page(client, old).status_code == 410
    assert _page(client, _token(mail)).status_code == 200
    sent = db.session.scalars(
        select(AuditLog).where(AuditLog.object_id == member.id, AuditLog.action == "send")
    ).all()
    assert [row.actor_id for row in sent] == [network.coordinator_a.id]
    # Others can't (the agency, another organization's coordinator).
    assert (
        signed_in(network.staff_a).post(f"/referrals/{referral.id}/member-link").status_code == 403
    )
    other = signed_in(network.coordinator_b).post(f"/referrals/{referral.id}/member-link")
    assert other.status_code == 404


def test_no_new_link_for_a_member_who_did_not_agree(db, network, create_member, signed_in):
    referral = refer(db, network, create_member())
    coordinator = signed_in(network.coordinator_a)
    assert "The member is not told of the steps" in text_of(
        coordinator.get(f"/referrals/{referral.id}")
    )
    response = coordinator.post(f"/referrals/{referral.id}/member-link", follow_redirects=True)
    assert "has not agreed to be told" in text_of(response)
    assert _member_mail(db) == [] and db.session.scalars(select(MemberStatusLink)).all() == []
