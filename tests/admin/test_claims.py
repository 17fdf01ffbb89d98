"""Claiming a listing: "Work here? Manage this listing" on a service page, decided by a network
admin, who makes the organization a network agency with the claimant as its agency admin.

The network fixture's "Unlisted Legal Clinic" (service_outside) has not joined; the food pantry
(agency A) has, with Eve as its agency admin.
"""

import re

import pytest
from sqlalchemy import func, select

from accounts.models import ListingClaim, NetworkOrganization, User
from accounts.outbox import OutboxEmail
from referrals.models import AuditLog
from tests.fixtures_accounts import TEST_PASSWORD
from tests.referrals.matrix import ROLES, by_role
from tests.referrals.pages import field_error, refer, text_of

CLAIMANT = {
    "name": "Rita Moreno",
    "email": "Rita.Moreno@LegalClinic.example.org",
    "phone": "315.555.0177",
    "message": "I run intake on Tuesdays.",
}


def _claim_url(service) -> str:
    return f"/services/{service.id}/claim"


def _submit(client, service, **changes):
    return client.post(_claim_url(service), data={**CLAIMANT, **changes})


def _claims(db, **where):
    db.session.expire_all()
    return db.session.scalars(select(ListingClaim).filter_by(**where)).all()


def _emails_to(db, address: str) -> list[OutboxEmail]:
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxEmail)
        .where(func.lower(OutboxEmail.to_address) == address.lower())
        .order_by(OutboxEmail.created_at)
    ).all()


@pytest.fixture
def claim(db, network, client):
    """Rita's pending claim of the legal clinic's listing (through the public form)."""
    response = _submit(client, network.service_outside)
    assert response.status_code == 303, text_of(response)
    (found,) = _claims(db)
    return found


# -- the public form ----------------------------------------------------------------------------


def test_the_service_page_offers_a_claim_only_while_the_organization_has_not_joined(
    network, client
):
    outside = text_of(client.get(f"/services/{network.service_outside.id}"))
    assert "Work here? Manage this listing" in outside
    assert f'href="{_claim_url(network.service_outside)}"' in outside
    joined = text_of(client.get(f"/services/{network.service_a.id}"))
    assert "Work here?" not in joined


def test_a_claim_is_recorded_confirmed_and_the_network_admins_are_emailed(db, network, client):
    form = client.get(_claim_url(network.service_outside))
    assert form.status_code == 200
    page = text_of(form)
    for label in ("Your name", "Work email", "Work phone (optional)"):
        assert f">{label}</label>" in page
    response = _submit(client, network.service_outside)
    assert response.status_code == 303
    confirmation = client.get(response.headers["Location"])
    assert confirmation.status_code == 200
    assert "a network admin" in text_of(confirmation).lower() or "administrators" in text_of(
        confirmation
    )
    (claim,) = _claims(db)
    assert claim.status == "pending"
    assert claim.organization_id == network.service_outside.organization_id
    assert claim.service_id == network.service_outside.id
    assert (claim.name, claim.email) == ("Rita Moreno", "rita.moreno@legalclinic.example.org")
    assert claim.phone == "(315) 555-0177"
    assert claim.message == "I run intake on Tuesdays."
    assert claim.ip == "127.0.0.1"
    (notice,) = _emails_to(db, network.admin.email)
    assert "Rita Moreno" in notice.body and "/admin/claims" in notice.body
    assert _emails_to(db, CLAIMANT["email"]) == []  # nothing until a decision


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "  "}, "name", "Enter your name."),
        ({"email": ""}, "email", "Enter your work email address."),
        ({"email": "rita at clinic"}, "email", "like name@example.org"),
        ({"phone": "call me"}, "phone", "like (315) 555-0100"),
        ({"phone": "555"}, "phone", "like (315) 555-0100"),
    ],
)
def test_the_form_says_what_is_wrong_keeps_what_was_typed_and_writes_nothing(
    db, network, client, changes, field, message
):
    response = _submit(client, network.service_outside, **changes)
    assert response.status_code == 422
    html = text_of(response)
    assert message in field_error(html, field)
    assert 'value="Rita Moreno"' in html or field == "name"
    assert "I run intake on Tuesdays." in html
    assert _claims(db) == []
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 0


def test_several_errors_show_at_once(db, network, client):
    html = text_of(_submit(client, network.service_outside, name="", email="nope", phone="x"))
    for field in ("name", "email", "phone"):
        field_error(html, field)


def test_the_phone_is_optional(db, network, client):
    assert _submit(client, network.service_outside, phone="").status_code == 303
    (claim,) = _claims(db)
    assert claim.phone is None


def test_asking_twice_for_the_same_organization_is_answered_once(db, network, client, claim):
    again = _submit(client, network.service_outside, email="rita.moreno@legalclinic.example.org")
    assert again.status_code == 409
    assert "You already asked; a network admin will answer." in text_of(again)
    assert len(_claims(db)) == 1
    # Someone else from the same organization may ask too.
    assert _submit(client, network.service_outside, email="sam@clinic.example.org").status_code == (
        303
    )


def test_an_organization_that_joined_says_who_to_ask_and_takes_no_claim(db, network, client):
    page = client.get(_claim_url(network.service_a))
    assert page.status_code == 200
    html = text_of(page)
    assert "already part of the Wraparound network" in html and "Eve Moreau" in html
    assert network.agency_admin_a.email not in html  # staff addresses stay off public pages
    assert 'name="email"' not in html
    response = _submit(client, network.service_a)
    assert response.status_code == 409 and "Eve Moreau" in text_of(response)
    assert _claims(db) == []


def test_the_form_needs_the_csrf_token(make_app, network):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    assert client.get(_claim_url(network.service_outside)).status_code == 200
    assert _submit(client, network.service_outside).status_code == 400


def test_claims_are_rate_limited_per_address(db, make_app, network):
    client = make_app(RATELIMIT_ENABLED=True, CLAIM_RATE_LIMIT_PER_IP="2 per hour").test_client()
    assert _submit(client, network.service_outside, email="a@clinic.example.org").status_code == 303
    assert _submit(client, network.service_outside, email="b@clinic.example.org").status_code == 303
    third = _submit(client, network.service_outside, email="c@clinic.example.org")
    assert third.status_code == 429
    assert "Too many requests to manage a listing" in text_of(third)
    assert 'value="c@clinic.example.org"' in text_of(third)  # what was typed is kept
    assert len(_claims(db)) == 2
    assert client.get(_claim_url(network.service_outside)).status_code == 200  # reading is free


# -- the queue and the decisions -----------------------------------------------------------------


def test_the_queue_lists_pending_claims_first_with_the_persons_details(
    db, network, client, signed_in, claim
):
    _submit(client, network.service_outside, email="zoe@clinic.example.org", name="Zoe Park")
    first, second = sorted(_claims(db), key=lambda c: c.created_at)
    assert (
        signed_in(network.admin)
        .post(f"/admin/claims/{second.id}/refuse", data={"reason": "Not known there."})
        .status_code
        == 303
    )
    page = signed_in(network.admin).get("/admin/claims")
    assert page.status_code == 200
    html = text_of(page)
    assert "1 waiting for a decision" in html
    assert html.index(f'id="claim-{first.id}"') < html.index(f'id="claim-{second.id}"')
    for detail in ("Unlisted Legal Clinic", "Free tenant lawyer", "Rita Moreno", "(315) 555-0177"):
        assert detail in html
    assert "rita.moreno@legalclinic.example.org" in html
    assert f"/admin/claims/{first.id}/approve" in html
    assert f"/admin/claims/{second.id}/approve" not in html  # decided: no buttons
    assert "Not known there." in html


def test_the_queue_is_paginated(db, network, client, signed_in):
    for n in range(27):
        assert (
            _submit(client, network.service_outside, email=f"p{n}@clinic.example.org").status_code
            == 303
        )
    first = text_of(signed_in(network.admin).get("/admin/claims"))
    assert first.count('class="claim"') == 25 and 'rel="next"' in first
    second = text_of(signed_in(network.admin).get("/admin/claims?page=2"))
    assert second.count('class="claim"') == 2


def test_approval_makes_the_organization_a_network_agency_with_the_claimant_as_its_admin(
    db, app, network, member, client, signed_in, login, claim
):
    # A referral emailed to the clinic before it joined.
    before = refer(db, network, member, network.service_outside)
    response = signed_in(network.admin).post(f"/admin/claims/{claim.id}/approve")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(ListingClaim, claim.id).status == "approved"
    agency = db.session.scalar(
        select(NetworkOrganization).where(
            NetworkOrganization.directory_organization_id == claim.organization_id
        )
    )
    assert agency.has_joined and agency.kind == "agency"
    assert agency.id == before.receiving_org_id  # the same row: the referral is in its inbox
    rita = db.session.scalar(select(User).where(User.email == claim.email))
    assert (rita.role, rita.organization_id, rita.full_name) == (
        "agency_admin",
        agency.id,
        "Rita Moreno",
    )
    assert rita.password_hash is None  # signs in only after choosing a password

    (invitation,) = _emails_to(db, claim.email)
    link = re.search(r"https?://\S+(/password/reset/\S+)", invitation.body)[1]
    rita_client = app.test_client()
    chosen = rita_client.post(link, data={"password": TEST_PASSWORD, "confirm": TEST_PASSWORD})
    assert chosen.status_code == 303
    login(rita_client, rita)
    inbox = text_of(rita_client.get("/inbox"))
    assert f"/referrals/{before.id}" in inbox

    audit = db.session.scalars(
        select(AuditLog).where(AuditLog.object_id == claim.organization_id)
    ).all()
    assert [(row.action, row.actor_id) for row in audit] == [("accept", network.admin.id)]
    assert audit[0].detail["claim_id"] == str(claim.id)
    assert (
        db.session.scalar(select(AuditLog.action).where(AuditLog.object_id == rita.id)) == "create"
    )
    # The service page no longer offers a claim: the listing is managed in Wraparound.
    assert "Work here?" not in text_of(client.get(f"/services/{network.service_outside.id}"))


def test_approval_creates_the_network_row_when_no_referral_made_one(db, network, client, signed_in):
    from tests.directory.factories import make_organization, make_service

    quiet = make_organization(db, name="Quiet Food Shelf")
    service = make_service(
        db, organization=quiet, name="Pantry", location=False, term=False, area=False
    )
    db.session.commit()
    assert _submit(client, service).status_code == 303
    (claim,) = _claims(db)
    assert signed_in(network.admin).post(f"/admin/claims/{claim.id}/approve").status_code == 303
    db.session.expire_all()
    agency = db.session.scalar(
        select(NetworkOrganization).where(NetworkOrganization.directory_organization_id == quiet.id)
    )
    assert agency is not None and agency.has_joined and agency.name == "Quiet Food Shelf"


def test_other_pending_claims_of_an_organization_that_joined_say_so(
    db, network, client, signed_in, claim
):
    _submit(client, network.service_outside, email="sam@clinic.example.org", name="Sam Lee")
    assert signed_in(network.admin).post(f"/admin/claims/{claim.id}/approve").status_code == 303
    html = text_of(signed_in(network.admin).get("/admin/claims"))
    (sam,) = _claims(db, status="pending")
    assert "Organization already joined" in html[html.index(f'id="claim-{sam.id}"') :]


def test_a_claim_is_decided_once(db, network, signed_in, claim):
    admin = signed_in(network.admin)
    assert admin.post(f"/admin/claims/{claim.id}/approve").status_code == 303
    again = admin.post(f"/admin/claims/{claim.id}/refuse", data={"reason": "Oops"})
    assert again.status_code == 409
    assert "already approved" in text_of(again)
    assert _claims(db)[0].status == "approved"


def test_approval_refuses_an_email_that_already_has_an_account(db, network, client, signed_in):
    _submit(client, network.service_outside, email=network.staff_b.email)
    (claim,) = _claims(db)
    response = signed_in(network.admin).post(f"/admin/claims/{claim.id}/approve")
    assert response.status_code == 409 and "already exists" in text_of(response)
    assert _claims(db)[0].status == "pending"
    assert (
        db.session.scalar(
            select(NetworkOrganization.joined_at).where(
                NetworkOrganization.directory_organization_id == claim.organization_id
            )
        )
        is None
    )


def test_refusal_emails_the_reason_and_is_audited(db, network, signed_in, claim):
    admin = signed_in(network.admin)
    blank = admin.post(f"/admin/claims/{claim.id}/refuse", data={"reason": "  "})
    assert blank.status_code == 422 and "Say why" in text_of(blank)
    assert _claims(db)[0].status == "pending"
    reason = "The clinic's director says no one by that name works there."
    assert (
        admin.post(f"/admin/claims/{claim.id}/refuse", data={"reason": reason}).status_code == 303
    )
    refused = _claims(db)[0]
    assert (refused.status, refused.refusal_reason) == ("refused", reason)
    assert refused.decided_by_id == network.admin.id and refused.decided_at is not None
    (email,) = _emails_to(db, claim.email)
    assert reason in email.body and "Unlisted Legal Clinic" in email.body
    row = db.session.scalar(select(AuditLog).where(AuditLog.object_id == claim.organization_id))
    assert (row.action, row.actor_id, row.detail["reason"]) == ("decline", network.admin.id, reason)
    assert (
        db.session.scalar(
            select(NetworkOrganization.id).where(
                NetworkOrganization.directory_organization_id == claim.organization_id
            )
        )
        is None
    )


def test_an_unknown_claim_is_404(network, signed_in):
    import uuid

    assert signed_in(network.admin).post(f"/admin/claims/{uuid.uuid4()}/approve").status_code == 404


# -- who may decide --------------------------------------------------------------------------

ADMIN_ONLY = by_role(403, 403, 403, 403, 403, 200, 302)
ADMIN_DECIDES = by_role(403, 403, 403, 403, 403, 303, 302)
DECISIONS = {
    "queue": ("GET", "/admin/claims", None, ADMIN_ONLY),
    "approve": ("POST", "/admin/claims/{claim}/approve", {}, ADMIN_DECIDES),
    "refuse": ("POST", "/admin/claims/{claim}/refuse", {"reason": "No."}, ADMIN_DECIDES),
}


@pytest.mark.parametrize("name", DECISIONS)
def test_only_network_admins_see_the_queue_and_decide(db, network, client, signed_in, name):
    method, path, form, expected = DECISIONS[name]
    for n in range(len(ROLES)):  # all before any decision: an approval makes the clinic join
        assert _submit(client, network.service_outside, email=f"m{n}@x.org").status_code == 303
    got = {}
    for n, role in enumerate(ROLES):
        claim = _claims(db, email=f"m{n}@x.org")[0]
        url = path.format(claim=claim.id)
        who = signed_in(network.people[role])
        response = who.get(url) if method == "GET" else who.post(url, data=form)
        got[role] = response.status_code
        if role == "anonymous":
            assert response.headers["Location"].startswith("/login?next=")
        if method == "POST" and role != "admin":
            assert _claims(db, email=claim.email)[0].status == "pending"
    assert got == expected
