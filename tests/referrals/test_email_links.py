"""Referrals to listed services whose agency has not joined: by an emailed link, or by phone.

The link's email carries no member data; its page shows the referral and, of the member, only
the consented first name and contact; every action goes through the state machine and lands in
the audit log with the link's id, the address and the browser; dead links answer 410.
"""

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from accounts.models import NetworkOrganization
from accounts.outbox import OutboxEmail
from directory.models import Phone, Service
from extensions import utcnow
from referrals import services
from referrals.actors import LinkActor
from referrals.errors import NotFound, NotReferrable
from referrals.models import (
    AuditLog,
    Notification,
    Referral,
    ReferralLink,
    ReferralMessage,
)
from tests.directory.factories import make_organization, make_service
from tests.referrals.pages import refer, text_of

UA = "Mozilla/5.0 (IntakeDesk test)"


def _link_email(db, referral) -> OutboxEmail:
    emails = db.session.scalars(
        select(OutboxEmail)
        .where(OutboxEmail.referral_id == referral.id, OutboxEmail.body.contains("/r/"))
        .order_by(OutboxEmail.created_at.desc())
    ).all()
    assert emails, "no link email queued"
    return emails[0]


def _token(email: OutboxEmail) -> str:
    return re.search(r"/r/([A-Za-z0-9_\-]+)", email.body)[1]


@pytest.fixture
def by_email(db, network, create_member):
    """A referral of Maria (consent: first and last name, phone, language) to the listed
    service whose organization has not joined; its token."""
    member = create_member()
    referral = refer(db, network, member, network.service_outside, note="Evenings are best")
    return referral, _token(_link_email(db, referral))


def _get(client, token, **kwargs):
    return client.get(f"/r/{token}", headers={"User-Agent": UA}, **kwargs)


def _post(client, token, action, data):
    return client.post(f"/r/{token}/{action}", data=data, headers={"User-Agent": UA})


def _link_audit(db, referral, action):
    """The audit rows of `action` on the referral or its member."""
    return db.session.scalars(
        select(AuditLog).where(
            AuditLog.object_id.in_([referral.id, referral.member_id]), AuditLog.action == action
        )
    ).all()


def test_a_listing_that_has_not_joined_gets_the_referral_by_an_email_without_member_data(
    db, network, by_email
):
    referral, token = by_email
    referral = db.session.get(Referral, referral.id)
    assert referral.delivery == "email"
    agency = referral.receiving_org
    assert agency.joined_at is None
    assert agency.directory_organization_id == network.service_outside.organization_id
    email = _link_email(db, referral)
    assert email.to_address == network.service_outside.email
    for private in ("Maria", "Lopez", "555-0142", "maria.lopez", "Spanish", "Elm St", "13202"):
        assert private not in email.body and private not in email.subject
    assert "Free tenant lawyer" in email.body and "Ana Ortiz" in email.body
    link = db.session.scalar(select(ReferralLink).where(ReferralLink.referral_id == referral.id))
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    assert len(token) >= 40
    assert timedelta(days=13) < link.expires_at - link.created_at <= timedelta(days=14)


def test_the_link_page_shows_the_referral_and_only_the_consented_first_name_and_contact(
    db, network, client, by_email
):
    referral, token = by_email
    page = _get(client, token)
    html = text_of(page)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    for shown in ("Groceries for a family of four", "Urgent", "Evenings are best", "Ana Ortiz"):
        assert shown in html
    assert "ana@central.example.org" in html
    assert "Maria" in html and "(315) 555-0142" in html
    # Consented for member agencies, but not for one that has not joined; or not consented.
    for hidden in ("Lopez", "Spanish", "maria.lopez@example.net", "Elm St", "1979", "HIV"):
        assert hidden not in html
    views = _link_audit(db, referral, "view")
    assert {v.object_type for v in views} == {"referral", "member"}
    link = db.session.scalar(select(ReferralLink).where(ReferralLink.referral_id == referral.id))
    for row in views:
        assert row.actor_id is None
        assert row.detail["link_id"] == str(link.id)
        assert row.ip == "127.0.0.1" and row.user_agent == UA


def test_without_consent_to_reach_the_member_the_link_shows_nothing_of_them(
    db, network, client, create_member
):
    member = create_member(scope=["last_name", "address", "birth_date"])
    referral = refer(db, network, member, network.service_outside)
    html = text_of(_get(client, _token(_link_email(db, referral))))
    assert "consent does not allow sharing their details" in html
    for hidden in ("Maria", "Lopez", "Elm St", "555-0142"):
        assert hidden not in html


def test_accept_then_record_the_outcome_through_the_link(db, network, client, signed_in, by_email):
    referral, token = by_email
    assert _post(client, token, "accept", {"note": "We'll call her"}).status_code == 200
    done = _post(client, token, "complete", {"outcome": "service_provided"})
    assert done.status_code == 200
    assert "closed" in text_of(done).lower()
    db.session.expire_all()
    referral = db.session.get(Referral, referral.id)
    assert (referral.status, referral.outcome) == ("completed", "service_provided")
    link = db.session.scalar(select(ReferralLink).where(ReferralLink.referral_id == referral.id))
    steps = [e for e in referral.events if e.action in ("accept", "complete")]
    assert [e.action for e in steps] == ["accept", "complete"]
    assert all(e.actor_id is None and e.link_id == link.id for e in steps)
    for action in ("accept", "complete"):
        (row,) = _link_audit(db, referral, action)
        assert row.detail["link_id"] == str(link.id) and row.user_agent == UA and row.ip
    told = db.session.scalars(
        select(Notification.kind).where(Notification.user_id == network.coordinator_a.id)
    ).all()
    assert {"accepted", "completed"} <= set(told)
    detail = text_of(signed_in(network.coordinator_a).get(f"/referrals/{referral.id}"))
    assert "by email link" in detail
    # The referral is closed: the link says so, and offers to ask for a new one.
    gone = _get(client, token)
    assert gone.status_code == 410
    assert "Ask the coordinator for a new link" in text_of(gone)


def test_decline_needs_a_coded_reason(db, network, client, by_email):
    referral, token = by_email
    refused = _post(client, token, "decline", {"reason": "too busy"})
    assert refused.status_code == 400
    assert "Unknown value" in text_of(refused)
    assert _post(client, token, "decline", {"reason": "no_capacity"}).status_code == 200
    db.session.expire_all()
    referral = db.session.get(Referral, referral.id)
    assert (referral.status, referral.decline_reason) == ("declined", "no_capacity")
    assert _link_audit(db, referral, "decline")[0].detail["reason"] == "no_capacity"
    assert _get(client, token).status_code == 410


def test_forward_through_the_link(db, network, client, by_email):
    referral, token = by_email
    response = _post(client, token, "forward", {"service_id": str(network.service_b.id)})
    assert response.status_code == 200
    db.session.expire_all()
    original = db.session.get(Referral, referral.id)
    assert original.status == "forwarded"
    forwarded = original.forwarded_to
    assert (forwarded.receiving_org_id, forwarded.delivery) == (network.agency_b.id, "network")
    assert db.session.scalar(select(Notification).where(Notification.user_id == network.staff_b.id))
    assert _link_audit(db, original, "forward")[0].detail["link_id"]


def test_write_to_the_coordinator_through_the_link(db, network, client, by_email):
    referral, token = by_email
    assert _post(client, token, "messages", {"body": ""}).status_code == 400
    page = _post(client, token, "messages", {"body": "Does she need Spanish?"})
    assert page.status_code == 200
    assert "Does she need Spanish?" in text_of(page)
    (message,) = db.session.scalars(
        select(ReferralMessage).where(ReferralMessage.referral_id == referral.id)
    ).all()
    assert message.author_id is None and message.link_id is not None
    assert db.session.scalar(
        select(Notification).where(
            Notification.user_id == network.coordinator_a.id, Notification.kind == "message"
        )
    )
    assert _link_audit(db, referral, "message")[0].detail["link_id"] == str(message.link_id)


def test_an_expired_link_is_gone_and_the_holder_can_ask_for_a_new_one(
    db, network, client, by_email
):
    referral, token = by_email
    link = db.session.scalar(select(ReferralLink).where(ReferralLink.referral_id == referral.id))
    link.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    gone = _get(client, token)
    assert gone.status_code == 410
    assert "expired" in text_of(gone)
    assert _post(client, token, "accept", {}).status_code == 410
    assert db.session.get(Referral, referral.id).status == "sent"
    assert client.post(f"/r/{token}/new-link").status_code == 200
    asked = db.session.scalars(
        select(Notification).where(Notification.kind == "link_requested")
    ).all()
    assert [n.user_id for n in asked] == [network.coordinator_a.id]
    assert client.post(f"/r/{token}/new-link").status_code == 429  # once an hour


def test_resend_rotates_the_token_and_revoke_kills_it(db, network, signed_in, client, by_email):
    referral, old = by_email
    coordinator = signed_in(network.coordinator_a)
    assert coordinator.post(f"/referrals/{referral.id}/link/resend").status_code == 303
    new = _token(_link_email(db, referral))
    assert new != old
    assert _get(client, old).status_code == 410
    assert _get(client, new).status_code == 200
    # Someone else can neither re-send nor revoke.
    assert signed_in(network.coordinator_b).post(
        f"/referrals/{referral.id}/link/revoke"
    ).status_code in (403, 404)
    assert _get(client, new).status_code == 200
    assert coordinator.post(f"/referrals/{referral.id}/link/revoke").status_code == 303
    gone = _get(client, new)
    assert gone.status_code == 410 and "withdrawn" in text_of(gone)


def test_a_wrong_token_is_a_404_that_tells_nothing(db, network, client, by_email):
    referral, token = by_email
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x", "a" * 300):
        page = _get(client, wrong)
        assert page.status_code == 404
        assert "Free tenant lawyer" not in text_of(page)
    assert client.post(f"/r/{token[:-2]}xx/accept").status_code == 404
    assert client.post(f"/r/{token[:-2]}xx/new-link").status_code == 404


def test_the_link_of_one_referral_cannot_act_on_another(db, network, create_member, by_email):
    referral_a, _ = by_email
    referral_b = refer(db, network, create_member(first_name="Rosa"), network.service_outside)
    link_a = db.session.scalar(
        select(ReferralLink).where(ReferralLink.referral_id == referral_a.id)
    )
    holder = LinkActor(link_a.id, referral_a.id, link_a.sent_to)
    with pytest.raises(NotFound):
        services.accept(db.session.get(Referral, referral_b.id), holder)
    db.session.rollback()
    assert db.session.get(Referral, referral_b.id).status == "sent"


def _phone_only_service(db):
    organization = make_organization(db, name="Corner Tenant Help", email=None)
    service = make_service(db, organization=organization, name="Tenant hotline", email=None)
    db.session.commit()
    return service


def test_without_an_email_the_coordinator_refers_by_phone_and_records_the_answer(
    db, network, create_member, signed_in
):
    service = _phone_only_service(db)
    referral = refer(db, network, create_member(), service)
    assert referral.delivery == "phone"
    assert not db.session.scalars(
        select(OutboxEmail).where(OutboxEmail.referral_id == referral.id)
    ).all()
    coordinator = signed_in(network.coordinator_a)
    page = text_of(coordinator.get(f"/referrals/{referral.id}"))
    assert "By phone" in page and "555-0100" in page
    assert coordinator.post(f"/referrals/{referral.id}/accept").status_code == 303
    completed = coordinator.post(
        f"/referrals/{referral.id}/complete", data={"outcome": "service_provided"}
    )
    assert completed.status_code == 303
    db.session.expire_all()
    referral = db.session.get(Referral, referral.id)
    assert referral.status == "completed" and referral.closed_at is not None
    assert all(e.actor_id == network.coordinator_a.id for e in referral.events)
    # Someone else's coordinator still can't.
    other = create_member(first_name="Rosa")
    second = refer(db, network, other, service)
    assert (
        signed_in(network.coordinator_b).post(f"/referrals/{second.id}/accept").status_code == 404
    )


def test_a_listing_with_no_email_and_no_phone_cannot_be_referred(db, network, create_member):
    service = _phone_only_service(db)
    for phone in db.session.scalars(select(Phone)).all():
        db.session.delete(phone)
    db.session.commit()
    with pytest.raises(NotReferrable) as refused:
        refer(db, network, create_member(), db.session.get(Service, service.id))
    assert refused.value.code == "service_unreachable"


def test_joining_later_keeps_one_network_row_per_listing(db, network, create_member):
    refer(db, network, create_member(), network.service_outside)
    refer(db, network, create_member(first_name="Rosa"), network.service_outside)
    rows = db.session.scalars(
        select(NetworkOrganization).where(
            NetworkOrganization.directory_organization_id == network.service_outside.organization_id
        )
    ).all()
    assert len(rows) == 1 and rows[0].joined_at is None


def test_the_service_page_and_card_say_how_a_referral_reaches_the_service(db, network, client):
    phone_only = _phone_only_service(db)
    cases = (
        (network.service_a, "Takes referrals in Wraparound"),
        (network.service_outside, "Referrals by email"),
        (phone_only, "Call to refer"),
    )
    for service, words in cases:
        html = text_of(client.get(f"/services/{service.id}"))
        assert words in html
        assert ("Accepting new referrals" in html) == (service is network.service_a)
    routes = services.routes_by_service([s.id for s, _ in cases])
    assert routes == {network.service_a.id: "network", network.service_outside.id: "email"}


def test_the_link_forms_need_the_csrf_token_and_any_holder_of_the_token_sees_the_same(
    db, network, make_app, by_email, signed_in
):
    referral, token = by_email
    protected = make_app(WTF_CSRF_ENABLED=True).test_client()
    page = text_of(protected.get(f"/r/{token}"))
    refused = protected.post(f"/r/{token}/accept", data={})
    assert refused.status_code == 400 and "CSRF token is missing" in text_of(refused)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    assert protected.post(f"/r/{token}/accept", data={"csrf_token": csrf}).status_code == 200
    # The token is the key: signed in or not, nobody sees more (the member's last name) by it.
    for user in (network.admin, network.staff_b, network.coordinator_b):
        html = text_of(signed_in(user).get(f"/r/{token}"))
        assert "Maria" in html and "Lopez" not in html
