"""Bad input gets a 400/404 naming the field at fault: never a 500, never a half-written record."""

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from referrals.models import Member, Referral


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_member_fields_are_checked_and_nothing_is_written(api, network, db):
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    cases = [
        ({"last_name": "Lopez"}, {"first_name": "This is required."}),
        ({"first_name": "M" * 101, "last_name": "L"}, {"first_name": "Use at most 100"}),
        (
            {"first_name": "M", "last_name": "L", "birth_date": "1990-02-30"},
            {"birth_date": "not a date"},
        ),
        ({"first_name": "M", "last_name": "L", "birth_date": tomorrow}, {"birth_date": "between"}),
        (
            {"first_name": "M", "last_name": "L", "birth_date": 19900101},
            {"birth_date": "YYYY-MM-DD"},
        ),
        ({"first_name": "M", "last_name": "L", "phone": "call me"}, {"phone": "7 digits"}),
        ({"first_name": "M", "last_name": "L", "email": "maria@"}, {"email": "name@example.org"}),
        ({"first_name": "M", "last_name": "L", "postal_code": "<b>"}, {"postal_code": "letters"}),
        (
            {"first_name": 7, "last_name": ["L"]},
            {"first_name": "Must be text.", "last_name": "Must"},
        ),
        ({"first_name": "M", "last_name": "L", "ssn": "123"}, {"ssn": "Unknown field."}),
        (
            {"first_name": "M", "last_name": "L", "consent": {"method": "psychic", "scope": "all"}},
            {
                "consent.scope": "List the fields",
                "consent.given_by": "required",
                "consent.method": "psychic",
            },
        ),
        ({"first_name": "M", "last_name": "L", "consent": "yes"}, {"consent": "object"}),
    ]
    for body, expected in cases:
        response = api.post("/api/v1/members", network.coordinator_a, body)
        assert response.status_code == 400, (body, response.get_json())
        error = response.get_json()["error"]
        assert error["code"] == "invalid"
        assert set(error["fields"]) == set(expected), (body, error)
        for name, words in expected.items():
            assert words in error["fields"][name], (body, error)
    assert _count(db, Member) == 0


def test_a_member_with_a_bad_consent_is_not_half_created(api, network, db):
    response = api.post(
        "/api/v1/members",
        network.coordinator_a,
        {
            "first_name": "Maria",
            "last_name": "Lopez",
            "consent": {"given_by": "Maria", "method": "verbal", "scope": ["first_name", "ssn"]},
        },
    )
    assert response.status_code == 400
    assert "consent.scope" in response.get_json()["error"]["fields"]
    assert _count(db, Member) == 0


def test_international_members_are_welcome(api, network):
    response = api.post(
        "/api/v1/members",
        network.coordinator_a,
        {
            "first_name": "Nguyễn",
            "last_name": "Thị Hoa",
            "phone": "+84 28 3822 1234",
            "postal_code": "SW1A 1AA",
            "preferred_language": "vi",
        },
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["first_name"] == "Nguyễn"


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[1, 2]", b'"text"', b"null", b'{"first_name": '],
)
def test_bodies_that_are_not_json_objects(api, network, raw):
    response = api.client.post(
        "/api/v1/members",
        data=raw,
        headers={**api.headers(network.coordinator_a), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "JSON object" in response.get_json()["error"]["message"]


def test_referral_input_is_checked(api, network, create_member, db):
    member = create_member()
    good = {"member_id": str(member.id), "service_id": str(network.service_a.id), "need": "Food"}
    cases = [
        ({**good, "member_id": "42"}, 400, "member_id"),
        ({**good, "service_id": None}, 400, "service_id"),
        ({**good, "need": ""}, 400, "need"),
        ({**good, "need": "x" * 501}, 400, "need"),
        ({**good, "need": 12}, 400, "need"),
        ({**good, "urgency": "asap"}, 400, "urgency"),
        ({**good, "confirm_duplicate": "yes"}, 400, "confirm_duplicate"),
        ({**good, "note": "n" * 4001}, 400, "note"),
        ({**good, "status": "accepted"}, 400, "status"),
        ({**good, "member_id": str(uuid.uuid4())}, 404, None),
        ({**good, "service_id": str(uuid.uuid4())}, 404, None),
    ]
    for body, status, field in cases:
        response = api.post("/api/v1/referrals", network.coordinator_a, body)
        assert response.status_code == status, (body, response.get_json())
        if field:
            assert field in response.get_json()["error"]["fields"]
    assert _count(db, Referral) == 0


def test_inactive_or_unreachable_services_cannot_be_referred_to(api, network, create_member, db):
    member = create_member()
    outside = network.service_outside
    outside.email = None
    outside.organization.email = None
    outside.phones.clear()
    db.session.commit()
    unreachable = api.refer(network.coordinator_a, member, outside, "x")
    api.assert_refused(unreachable, 422, "service_unreachable")
    network.service_b.status = "inactive"
    db.session.commit()
    inactive = api.refer(network.coordinator_a, member, network.service_b, "x")
    api.assert_refused(inactive, 422, "service_inactive")


def test_query_parameters_are_checked(api, network):
    for query, field in [
        ("status=lost", "status"),
        ("status=sent,nope", "status"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("per_page=1000", "per_page"),
        ("overdue=maybe", "overdue"),
        ("member_id=zzz", "member_id"),
    ]:
        response = api.get(f"/api/v1/referrals?{query}", network.coordinator_a)
        assert response.status_code == 400, query
        assert field in response.get_json()["error"]["fields"], query
    assert api.get("/api/v1/members?per_page=0", network.coordinator_a).status_code == 400
    ok = api.get("/api/v1/referrals?status=sent,accepted&page=3", network.coordinator_a)
    assert ok.status_code == 200 and ok.get_json()["items"] == []


def test_paths_with_bad_ids_are_json_404s(api, network):
    for path in ("/api/v1/referrals/not-an-id", "/api/v1/members/123", "/api/v1/referrals/1/x"):
        response = api.get(path, network.coordinator_a)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"]
    wrong_method = api.client.delete(
        "/api/v1/referrals", headers=api.headers(network.coordinator_a)
    )
    assert wrong_method.status_code == 405 and wrong_method.is_json


def test_members_list_is_paginated_in_name_order(api, network, create_member):
    for n in range(27):
        create_member(first_name=f"Person{n:02d}", last_name=f"Family{26 - n:02d}", consent=False)
    first = api.get("/api/v1/members", network.coordinator_a).get_json()
    assert first["total"] == 27 and first["per_page"] == 25 and len(first["items"]) == 25
    assert first["items"][0]["last_name"] == "Family00"
    second = api.get("/api/v1/members?page=2", network.coordinator_a).get_json()
    assert [m["last_name"] for m in second["items"]] == ["Family25", "Family26"]


GARBAGE = [
    None,
    [],
    "text",
    {"reason": ["no_capacity"]},
    {"reason": {"a": 1}, "note": 5},
    {"outcome": 1.5},
    {"service_id": 123},
    {"service_id": "../../etc"},
    {"body": None},
    {"body": "x" * 5000},
    {"note": "n" * 5000},
    {"unexpected": True},
]


@pytest.mark.parametrize(
    "action", ["accept", "decline", "cancel", "forward", "complete", "messages"]
)
def test_garbage_to_every_action_is_never_a_500(api, network, create_member, send, action):
    rid = send(create_member())["id"]
    user = network.coordinator_a if action == "cancel" else network.staff_a
    for body in GARBAGE:
        response = api.post(f"/api/v1/referrals/{rid}/{action}", user, body)
        assert response.status_code < 500, (body, response.data[:300])
        assert response.is_json
        if response.status_code >= 400:
            assert response.get_json()["error"]["message"]
    detail = api.get(f"/api/v1/referrals/{rid}", network.coordinator_a).get_json()
    # Only `accept` (which needs nothing) could have changed the status.
    assert detail["status"] in ({"sent", "accepted"} if action == "accept" else {"sent"})


def test_actions_without_a_body_need_no_json(api, network, create_member, send):
    rid = send(create_member())["id"]
    response = api.client.post(
        f"/api/v1/referrals/{rid}/accept",
        headers={**api.headers(network.staff_a), "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "accepted"
