"""Coordinators correct a member's details (issue 11 item 6): on the member page and with
PATCH /api/v1/members/<id>, by the rules of adding a member, for their own caseload only, with
one audit row naming the fields that changed (never their values); agencies keep seeing only
what the consent in force shares."""

import json
import re
import uuid
from datetime import date

from sqlalchemy import select

from referrals import services
from referrals.errors import Forbidden, InvalidInput
from referrals.models import AuditLog, Member
from tests.referrals.pages import field_error, refer, text_of

NEW_DETAILS = {
    "first_name": "María",
    "last_name": "López Ruiz",
    "birth_date": "1979-04-02",
    "phone": "(315) 555-0199",
    "email": "maria.ruiz@example.net",
    "preferred_language": "Spanish, English",
    "address": "48 Oak Ave",
    "postal_code": "13204",
    "needs": "Food insecurity; HIV care follow-up",
}


def _reload(db, member) -> Member:
    db.session.expire_all()
    return db.session.get(Member, member.id)


def _updates(db, member) -> list[AuditLog]:
    return list(
        db.session.scalars(
            select(AuditLog).where(AuditLog.object_id == member.id, AuditLog.action == "update")
        )
    )


def _input_value(html: str, name: str) -> str:
    match = re.search(rf'<input id="{name}" name="{name}" type="[a-z]+" value="([^"]*)"', html)
    assert match, f"no input {name!r}"
    return match[1]


# -- the page --------------------------------------------------------------------------------


def test_the_member_page_links_to_a_prefilled_edit_form(db, network, member, signed_in):
    client = signed_in(network.coordinator_a)
    assert f'href="/members/{member.id}/edit"' in text_of(client.get(f"/members/{member.id}"))
    response = client.get(f"/members/{member.id}/edit")
    html = text_of(response)
    assert response.status_code == 200
    assert '<label for="phone">Phone' in html
    assert 'name="csrf_token"' in html
    assert _input_value(html, "phone") == "(315) 555-0142"
    assert _input_value(html, "birth_date") == "1979-04-02"
    assert _input_value(html, "email") == "maria.lopez@example.net"
    assert "Food insecurity; HIV care follow-up</textarea>" in html


def test_a_coordinator_edits_details_and_the_log_names_the_fields(db, network, member, signed_in):
    client = signed_in(network.coordinator_a2)  # a colleague in the same organization
    response = client.post(f"/members/{member.id}/edit", data=NEW_DETAILS)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/members/{member.id}"
    assert "Details saved." in text_of(client.get(response.headers["Location"]))
    saved = _reload(db, member)
    assert (saved.first_name, saved.last_name) == ("María", "López Ruiz")
    assert (saved.phone, saved.email) == ("(315) 555-0199", "maria.ruiz@example.net")
    assert (saved.address, saved.postal_code) == ("48 Oak Ave", "13204")
    assert saved.preferred_language == "Spanish, English"
    assert saved.birth_date == date(1979, 4, 2) and saved.needs.startswith("Food")
    (row,) = _updates(db, member)
    assert row.actor_id == network.coordinator_a2.id and row.object_type == "member"
    assert row.detail == {
        "fields": [
            "first_name",
            "last_name",
            "phone",
            "email",
            "preferred_language",
            "address",
            "postal_code",
        ]
    }
    # Names only: none of the values (health data, contact details) reach the log.
    logged = json.dumps(row.detail)
    assert "555" not in logged and "Oak" not in logged and "Ruiz" not in logged


def test_clearing_an_optional_field_and_saving_nothing_new(db, network, member, signed_in):
    client = signed_in(network.coordinator_a)
    current = {**NEW_DETAILS, "first_name": "Maria", "last_name": "Lopez"}
    current.update(phone="(315) 555-0142", email="maria.lopez@example.net")
    current.update(preferred_language="Spanish", address="12 Elm St, Apt 3", postal_code="13202")
    unchanged = client.post(f"/members/{member.id}/edit", data=current, follow_redirects=True)
    assert "Nothing changed." in text_of(unchanged)
    assert _updates(db, member) == []
    cleared = client.post(f"/members/{member.id}/edit", data={**current, "email": " "})
    assert cleared.status_code == 303
    assert _reload(db, member).email is None
    assert [row.detail for row in _updates(db, member)] == [{"fields": ["email"]}]


def test_bad_input_is_422_with_the_typed_values_kept(db, network, member, signed_in):
    client = signed_in(network.coordinator_a)
    typed = {
        **NEW_DETAILS,
        "first_name": "",
        "email": "not-an-address",
        "phone": "12",
        "birth_date": "1850-01-01",
        "address": "9 New Rd",
    }
    response = client.post(f"/members/{member.id}/edit", data=typed)
    html = text_of(response)
    assert response.status_code == 422
    assert field_error(html, "first_name") == "This is required."
    assert "email address like" in field_error(html, "email")
    assert "at least 7 digits" in field_error(html, "phone")
    assert "between 1900-01-01 and today" in field_error(html, "birth_date")
    assert _input_value(html, "email") == "not-an-address"
    assert _input_value(html, "phone") == "12"
    assert _input_value(html, "address") == "9 New Rd"
    assert 'aria-invalid="true"' in html
    saved = _reload(db, member)
    assert (saved.first_name, saved.address) == ("Maria", "12 Elm St, Apt 3")
    assert _updates(db, member) == []
    date_typo = client.post(f"/members/{member.id}/edit", data={**NEW_DETAILS, "birth_date": "x"})
    assert date_typo.status_code == 422
    assert "YYYY-MM-DD" in field_error(text_of(date_typo), "birth_date")


def test_only_the_members_own_coordinators_may_edit(db, network, member, referral, signed_in):
    for person, status in (
        (network.coordinator_b, 404),  # another organization: as if it did not exist
        (network.staff_a, 403),  # the agency it was referred to: sees it, may not change it
        (network.agency_admin_a, 403),
        (network.admin, 403),
    ):
        client = signed_in(person)
        assert client.get(f"/members/{member.id}/edit").status_code == status, person.email
        posted = client.post(f"/members/{member.id}/edit", data=NEW_DETAILS)
        assert posted.status_code == status, person.email
    missing = signed_in(network.coordinator_b).get(f"/members/{uuid.uuid4()}/edit")
    assert missing.status_code == 404
    anonymous = signed_in(None).post(f"/members/{member.id}/edit", data=NEW_DETAILS)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/login?next=")
    assert _reload(db, member).first_name == "Maria"
    assert _updates(db, member) == []
    denied = db.session.scalars(
        select(AuditLog.actor_id).where(
            AuditLog.object_id == member.id, AuditLog.action == "denied"
        )
    ).all()
    assert network.coordinator_b.id in denied


def test_the_service_refuses_agencies_and_unknown_fields(db, network, member, referral):
    staff = db.session.merge(network.staff_a)
    found = db.session.get(Member, member.id)
    try:
        services.update_member(staff, found, phone="315 555 0100")
    except Forbidden:
        pass
    else:
        raise AssertionError("agency staff changed a member")
    coordinator = db.session.merge(network.coordinator_a)
    try:
        services.update_member(coordinator, found, organization_id=uuid.uuid4())
    except InvalidInput as exc:
        assert exc.fields == {"organization_id": "Unknown field."}
    else:
        raise AssertionError("an unknown field was accepted")


# -- consent scope -----------------------------------------------------------------------------


def test_agencies_still_see_only_the_consented_fields_after_an_edit(
    db, network, member, signed_in, api
):
    """The consent shares first/last name, phone and language: an edit of the email and the
    address (not shared) never reaches the agency; an edit of the phone (shared) does."""
    accepted = refer(db, network, member)
    services.accept(db.session.get(type(accepted), accepted.id), db.session.merge(network.staff_a))
    db.session.commit()
    edited = {**NEW_DETAILS, "email": "new.secret@example.net", "address": "77 Hidden Ln"}
    response = signed_in(network.coordinator_a).post(f"/members/{member.id}/edit", data=edited)
    assert response.status_code == 303

    page = text_of(signed_in(network.staff_a).get(f"/referrals/{accepted.id}"))
    assert "(315) 555-0199" in page and "López Ruiz" in page
    for hidden in ("new.secret@example.net", "77 Hidden Ln", "maria.lopez", "12 Elm St", "13204"):
        assert hidden not in page
    body = api.get(f"/api/v1/referrals/{accepted.id}", network.staff_a).get_json()
    assert body["member"]["shared_fields"] == [
        "first_name",
        "last_name",
        "phone",
        "preferred_language",
    ]
    assert body["member"]["phone"] == "(315) 555-0199"
    assert "email" not in body["member"] and "address" not in body["member"]
    inbox = text_of(signed_in(network.staff_a).get("/inbox?tab=accepted"))
    assert "María López Ruiz" in inbox and "new.secret" not in inbox


# -- the API -----------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(db, network, member, api):
    response = api.patch(
        f"/api/v1/members/{member.id}",
        network.coordinator_a,
        {"phone": "315-555-0177", "email": None, "birth_date": "1980-01-31"},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["phone"] == "315-555-0177" and body["email"] is None
    assert body["birth_date"] == "1980-01-31" and body["first_name"] == "Maria"
    saved = _reload(db, member)
    assert (saved.phone, saved.email, saved.address) == ("315-555-0177", None, "12 Elm St, Apt 3")
    assert [row.detail for row in _updates(db, member)] == [
        {"fields": ["birth_date", "phone", "email"]}
    ]


def test_patch_refusals_are_json(db, network, member, referral, api):
    url = f"/api/v1/members/{member.id}"
    cases = [
        (network.coordinator_a, {"email": "nope"}, 400, "email"),
        (network.coordinator_a, {"first_name": None}, 400, "first_name"),
        (network.coordinator_a, {"first_name": 7}, 400, "first_name"),
        (network.coordinator_a, {"birth_date": "31/01/1980"}, 400, "birth_date"),
        (network.coordinator_a, {"organization_id": str(uuid.uuid4())}, 400, "organization_id"),
        (network.coordinator_a, ["phone"], 400, "body"),
        (network.coordinator_b, {"phone": "315 555 0100"}, 404, None),
        (network.staff_a, {"phone": "315 555 0100"}, 403, None),
        (network.admin, {"phone": "315 555 0100"}, 403, None),
        (None, {"phone": "315 555 0100"}, 401, None),
    ]
    for person, payload, status, field in cases:
        response = api.patch(url, person, payload)
        assert response.status_code == status, (payload, response.get_json())
        error = response.get_json()["error"]
        assert {"code", "message"} <= set(error)
        if field:
            assert field in error["fields"], error
    missing = api.patch(f"/api/v1/members/{uuid.uuid4()}", network.coordinator_b, {"phone": "1"})
    hidden = api.patch(url, network.coordinator_b, {"phone": "1"})
    assert missing.get_json() == hidden.get_json()
    broken = api.client.patch(url, data="{", headers=api.headers(network.coordinator_a))
    assert broken.status_code == 400
    assert _reload(db, member).phone == "(315) 555-0142"
    assert _updates(db, member) == []
