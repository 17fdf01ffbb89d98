"""Suggested fixes: "Something wrong? Suggest a fix" on a public service page, kept from bots
(honeypot, too fast, per-address limit), waiting in the queue of the agency that runs the
listing (or of the network admins when none does), accepted (on to the edit form) or dismissed
with a reason, the person told by email either way.

Agency A (Dev is staff, Eve agency admin) runs service_a; agency B (Finn) runs service_b; no
agency runs service_outside (the legal clinic).
"""

import time
import uuid

import pytest
from sqlalchemy import func, select

from accounts.models import ListingSuggestion
from accounts.outbox import OutboxEmail
from accounts.suggestions import form_token
from referrals.models import AuditLog
from tests.referrals.matrix import ROLES, by_role
from tests.referrals.pages import field_error, text_of
from tests.referrals.test_pages import _csrf_login

FIX = {
    "kind": "phone",
    "correction": "The number is now (315) 555-0199.",
    "contact_email": "Pat.Lee@Example.org",
}


def _url(service) -> str:
    return f"/services/{service.id}/suggest"


def _submit(client, service, started_ago: float = 30, **changes):
    """Post the form as a person would: opened `started_ago` seconds before."""
    data = {**FIX, "started": form_token(service.id, time.time() - started_ago), **changes}
    return client.post(_url(service), data={k: v for k, v in data.items() if v is not None})


def _suggestions(db, **where) -> list[ListingSuggestion]:
    db.session.expire_all()
    return db.session.scalars(
        select(ListingSuggestion).filter_by(**where).order_by(ListingSuggestion.created_at)
    ).all()


def _emails_to(db, address: str) -> list[OutboxEmail]:
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxEmail).where(func.lower(OutboxEmail.to_address) == address.lower())
    ).all()


def _audited(db, suggestion) -> list[tuple]:
    """The audit rows of decisions on `suggestion`: (action, actor)."""
    rows = db.session.scalars(
        select(AuditLog).where(
            AuditLog.object_type == "service", AuditLog.object_id == suggestion.service_id
        )
    ).all()
    return [
        (row.action, row.actor_id)
        for row in rows
        if (row.detail or {}).get("suggestion_id") == str(suggestion.id)
    ]


@pytest.fixture
def suggest(db, client):
    """`suggest(service, **changes)`: a suggestion through the public form, returned."""

    def make(service, **changes) -> ListingSuggestion:
        before = {s.id for s in _suggestions(db)}
        response = _submit(client, service, **changes)
        assert response.status_code == 303, text_of(response)
        (new,) = [s for s in _suggestions(db) if s.id not in before]
        return new

    return make


# -- the public form ----------------------------------------------------------------------------


def test_the_service_page_links_to_the_form(network, client):
    page = text_of(client.get(f"/services/{network.service_a.id}"))
    assert f'href="{_url(network.service_a)}">Something wrong? Suggest a fix</a>' in page
    form = text_of(client.get(_url(network.service_a)))
    for label in ("Phone number", "Hours", "Address", "Closed permanently", "Something else"):
        assert f"> {label}</label>" in form
    assert 'name="correction"' in form and 'name="contact_email"' in form
    assert 'class="hp-field" aria-hidden="true"' in form and 'name="started"' in form


def test_a_suggestion_is_recorded_for_the_listings_agency(db, network, client):
    response = _submit(client, network.service_a)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/services/{network.service_a.id}/suggest/sent"
    assert "will check it" in text_of(client.get(response.headers["Location"]))
    (saved,) = _suggestions(db)
    assert (saved.kind, saved.status, saved.service_id) == (
        "phone",
        "pending",
        network.service_a.id,
    )
    assert saved.correction == FIX["correction"]
    assert saved.contact_email == "Pat.Lee@example.org"  # the domain lower-cased
    assert saved.organization_id == network.service_a.organization_id


def test_the_form_says_what_is_wrong_next_to_the_field(db, network, client):
    response = _submit(client, network.service_a, kind=None, correction=" ", contact_email="nope")
    assert response.status_code == 422
    html = text_of(response)
    assert field_error(html, "kind") == "Choose what is wrong."
    assert "Say what it should be" in field_error(html, "correction")
    assert "Enter an email address like" in field_error(html, "contact_email")
    assert _suggestions(db) == []


def test_closed_permanently_needs_no_correction_and_the_email_is_optional(db, network, suggest):
    saved = suggest(network.service_a, kind="closed", correction="", contact_email="")
    assert (saved.kind, saved.correction, saved.contact_email) == ("closed", "", None)


# -- bot defences -------------------------------------------------------------------------------


def test_the_honeypot_looks_sent_but_keeps_nothing(db, network, client):
    response = _submit(client, network.service_a, website="http://spam.example")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/suggest/sent")
    assert _suggestions(db) == []


def test_a_form_sent_too_fast_is_refused_keeping_what_was_typed(db, network, client):
    response = _submit(client, network.service_a, started_ago=0)
    assert response.status_code == 422
    html = text_of(response)
    assert "That was sent very quickly" in html
    assert FIX["correction"] in html
    assert _suggestions(db) == []
    # A person who looks again and sends it is through.
    assert _submit(client, network.service_a, started_ago=5).status_code == 303


@pytest.mark.parametrize(
    "started", ["", "forged", "other service", "two days old"], ids=lambda s: s.replace(" ", "-")
)
def test_a_missing_forged_or_stale_start_time_is_refused(db, network, client, started):
    token = {
        "": "",
        "forged": "eyJzIjoiMSIsInQiOjB9.bad",
        "other service": form_token(network.service_b.id, time.time() - 30),
        "two days old": form_token(network.service_a.id, time.time() - 2 * 86400),
    }[started]
    response = client.post(_url(network.service_a), data={**FIX, "started": token})
    assert response.status_code == 422
    assert "This form has expired" in text_of(response)
    assert _suggestions(db) == []


def test_suggestions_are_rate_limited_per_address(db, make_app, network):
    client = make_app(RATELIMIT_ENABLED=True, SUGGEST_RATE_LIMIT_PER_IP="2 per hour").test_client()
    assert _submit(client, network.service_a).status_code == 303
    assert _submit(client, network.service_b).status_code == 303
    third = _submit(client, network.service_a, correction="Third try")
    assert third.status_code == 429
    assert "Too many suggested fixes from this address" in text_of(third)
    assert "Third try" in text_of(third)
    assert len(_suggestions(db)) == 2
    assert client.get(_url(network.service_a)).status_code == 200  # reading is free


def test_the_form_needs_the_csrf_token(db, make_app, network):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    assert client.get(_url(network.service_a)).status_code == 200
    assert _submit(client, network.service_a).status_code == 400


# -- the queue ----------------------------------------------------------------------------------


def test_each_queue_shows_only_its_own_listings(db, network, signed_in, suggest):
    for_a = suggest(network.service_a, correction="Fix for A")
    suggest(network.service_b, correction="Fix for B")
    suggest(network.service_outside, correction="Fix for the clinic")

    def queue(role):
        response = signed_in(network.people[role]).get("/listings/suggestions")
        assert response.status_code == 200
        return text_of(response)

    for role in ("staff_a", "agency_admin_a"):
        page = queue(role)
        assert "Fix for A" in page and "Fix for B" not in page and "clinic" not in page
    page = queue("staff_b")
    assert "Fix for B" in page and "Fix for A" not in page
    page = queue("admin")  # listings no agency runs
    assert "Fix for the clinic" in page and "Fix for A" not in page and "Fix for B" not in page
    listings = text_of(signed_in(network.staff_a).get("/listings"))
    assert "1 waiting" in listings
    # Another agency's staff can't act on it; it reads as missing.
    other = signed_in(network.staff_b)
    assert other.post(f"/listings/suggestions/{for_a.id}/accept").status_code == 404
    missing = other.post(f"/listings/suggestions/{uuid.uuid4()}/accept")
    assert missing.status_code == 404
    refused = other.post(f"/listings/suggestions/{for_a.id}/dismiss", data={"reason": "No"})
    assert refused.status_code == 404
    assert _suggestions(db, id=for_a.id)[0].status == "pending"


def test_accepting_opens_the_listing_and_thanks_the_person(db, network, signed_in, suggest):
    suggestion = suggest(network.service_a)
    response = signed_in(network.staff_a).post(f"/listings/suggestions/{suggestion.id}/accept")
    assert response.status_code == 303
    # Staff without the editor right: the public page, for an editor on the team to act.
    assert response.headers["Location"] == f"/services/{network.service_a.id}"
    (saved,) = _suggestions(db)
    assert (saved.status, saved.decided_by_id) == ("accepted", network.staff_a.id)
    assert saved.edit_url == f"/services/{network.service_a.id}"
    assert _audited(db, saved) == [("accept", network.staff_a.id)]
    (email,) = _emails_to(db, "pat.lee@example.org")
    assert email.subject == "Your suggested fix to Emergency food boxes"
    assert "accepted your suggestion" in email.body and FIX["correction"] in email.body
    queue = text_of(signed_in(network.staff_a).get("/listings/suggestions"))
    assert "Accepted" in queue and "Nothing waiting." in queue
    # Decided once.
    again = signed_in(network.agency_admin_a).post(f"/listings/suggestions/{suggestion.id}/accept")
    assert again.status_code == 409 and "already accepted" in text_of(again)
    assert len(_emails_to(db, "pat.lee@example.org")) == 1


def test_accepting_opens_the_edit_form_filled_from_the_suggestion(db, network, signed_in, suggest):
    suggestion = suggest(network.service_a)
    admin = signed_in(network.agency_admin_a)  # agency admins may edit their listing
    response = admin.post(f"/listings/suggestions/{suggestion.id}/accept")
    assert response.status_code == 303
    target = response.headers["Location"]
    assert target.startswith(f"/services/{network.service_a.id}/edit?")
    assert f"suggestion_id={suggestion.id}" in target
    assert _suggestions(db)[0].edit_url == target
    form = text_of(admin.get(target))
    assert FIX["correction"] in form  # the phone field holds the suggested number


def test_dismissing_needs_a_reason_which_the_person_gets(db, network, signed_in, suggest):
    suggestion = suggest(network.service_outside)
    admin = signed_in(network.admin)
    url = f"/listings/suggestions/{suggestion.id}/dismiss"
    missing = admin.post(url, data={"reason": "  "})
    assert missing.status_code == 422
    assert "Say why" in field_error(text_of(missing), f"suggestion-{suggestion.id}")
    assert _suggestions(db)[0].status == "pending"
    response = admin.post(url, data={"reason": "We called them: the old number still works."})
    assert response.status_code == 303
    assert response.headers["Location"] == "/listings/suggestions"
    (saved,) = _suggestions(db)
    assert (saved.status, saved.decided_by_id) == ("dismissed", network.admin.id)
    assert saved.dismiss_reason == "We called them: the old number still works."
    assert _audited(db, saved) == [("decline", network.admin.id)]
    (email,) = _emails_to(db, "pat.lee@example.org")
    assert "did not change the listing" in email.body
    assert "We called them: the old number still works." in email.body


def test_nobody_is_emailed_when_no_address_was_left(db, network, signed_in, suggest):
    suggestion = suggest(network.service_a, contact_email="")
    signed_in(network.staff_a).post(
        f"/listings/suggestions/{suggestion.id}/dismiss", data={"reason": "Duplicate"}
    )
    assert _suggestions(db)[0].status == "dismissed"
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 0


# -- who may do what ---------------------------------------------------------------------------

MAINTAINERS_SEE = by_role(403, 403, 200, 200, 200, 200, 302)
AGENCY_A_DECIDES = by_role(403, 403, 303, 404, 303, 303, 302)
EVERYONE = by_role(200, 200, 200, 200, 200, 200, 200)
EVERYONE_SENDS = by_role(303, 303, 303, 303, 303, 303, 303)
# name -> (method, path, form, expected per role); {suggestion} is a fresh one of service_a.
ENDPOINTS = {
    "listings dashboard": ("GET", "/listings", None, MAINTAINERS_SEE),
    "suggestion queue": ("GET", "/listings/suggestions", None, MAINTAINERS_SEE),
    "accept": ("POST", "/listings/suggestions/{suggestion}/accept", {}, AGENCY_A_DECIDES),
    "dismiss": (
        "POST",
        "/listings/suggestions/{suggestion}/dismiss",
        {"reason": "Not so"},
        AGENCY_A_DECIDES,
    ),
    "verify": (
        "POST",
        "/services/{service}/verify",
        {},
        by_role(403, 403, 303, 403, 303, 303, 302),
    ),
    "suggest form": ("GET", "/services/{service}/suggest", None, EVERYONE),
    "suggest": ("POST", "/services/{service}/suggest", "fix", EVERYONE_SENDS),
    "suggestion sent": ("GET", "/services/{service}/suggest/sent", None, EVERYONE),
}


@pytest.mark.parametrize("name", ENDPOINTS)
def test_authorization_matrix(name, db, network, signed_in, suggest):
    method, path, form, expected = ENDPOINTS[name]
    got = {}
    for role in ROLES:
        suggestion = suggest(network.service_a) if "{suggestion}" in path else None
        url = path.format(service=network.service_a.id, suggestion=getattr(suggestion, "id", ""))
        client = signed_in(network.people[role])
        if method == "GET":
            response = client.get(url)
        elif form == "fix":
            response = _submit(client, network.service_a)
        else:
            response = client.post(url, data=form)
        got[role] = response.status_code
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login?next=")
        if suggestion is not None and response.status_code != 303:
            assert _suggestions(db, id=suggestion.id)[0].status == "pending", role
    assert got == expected


SIGNED_IN_FORMS = {
    "accept": ("/listings/suggestions/{suggestion}/accept", {}),
    "dismiss": ("/listings/suggestions/{suggestion}/dismiss", {"reason": "Not so"}),
    "verify": ("/services/{service}/verify", {}),
}


@pytest.mark.parametrize("name", SIGNED_IN_FORMS)
def test_every_signed_in_form_needs_the_csrf_token(name, db, make_app, network, suggest):
    path, form = SIGNED_IN_FORMS[name]
    url = path.format(service=network.service_a.id, suggestion=suggest(network.service_a).id)
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    token = _csrf_login(client, network.staff_a)
    refused = client.post(url, data=form)
    assert refused.status_code == 400 and "CSRF token is missing" in text_of(refused)
    assert client.post(url, data=form, headers={"X-CSRFToken": token}).status_code == 303
