"""Every API endpoint × every role: who gets through, who is refused, who can't even tell it exists.

Roles: coordinator of org A, coordinator of org B, staff of agency A, staff of agency B, admin of
agency A, network admin, anonymous. The records belong to coordination org A and agency A.
"""

import uuid

import pytest

from referrals import services
from tests.referrals.matrix import ROLES, by_role, fill_in

AGENCY_A_ACTS = by_role(403, 404, 200, 404, 200, 403, 401)
EVERYONE_SIGNED_IN = by_role(200, 200, 200, 200, 200, 200, 401)

# endpoint -> (what it needs, method, path template, body, expected status per role)
ENDPOINTS = {
    "create member": (
        None,
        "POST",
        "/api/v1/members",
        {"first_name": "Lee", "last_name": "Chan"},
        by_role(201, 201, 403, 403, 403, 403, 401),
    ),
    "list members": (None, "GET", "/api/v1/members", None, EVERYONE_SIGNED_IN),
    "get member": (
        "sent",
        "GET",
        "/api/v1/members/{member}",
        None,
        by_role(200, 404, 200, 404, 200, 200, 401),
    ),
    "update member": (
        "sent",
        "PATCH",
        "/api/v1/members/{member}",
        {"phone": "315 555 0100"},
        by_role(200, 404, 403, 404, 403, 403, 401),
    ),
    "record consent": (
        "sent",
        "POST",
        "/api/v1/members/{member}/consents",
        {"given_by": "Lee Chan", "method": "verbal", "scope": ["first_name"]},
        by_role(201, 404, 403, 404, 403, 403, 401),
    ),
    "revoke consent": (
        "sent",
        "POST",
        "/api/v1/members/{member}/consents/{consent}/revoke",
        None,
        by_role(200, 404, 403, 404, 403, 403, 401),
    ),
    "send referral": (
        "member",
        "POST",
        "/api/v1/referrals",
        {"member_id": "{member}", "service_id": "{service}", "need": "Food"},
        by_role(201, 404, 403, 403, 403, 403, 401),
    ),
    "list referrals": (None, "GET", "/api/v1/referrals", None, EVERYONE_SIGNED_IN),
    "get referral": (
        "sent",
        "GET",
        "/api/v1/referrals/{referral}",
        None,
        by_role(200, 404, 200, 404, 200, 200, 401),
    ),
    "next best services": (
        "declined",
        "GET",
        "/api/v1/referrals/{referral}/next-best",
        None,
        by_role(200, 404, 403, 404, 403, 403, 401),  # the senders only
    ),
    "accept": ("sent", "POST", "/api/v1/referrals/{referral}/accept", None, AGENCY_A_ACTS),
    "decline": (
        "sent",
        "POST",
        "/api/v1/referrals/{referral}/decline",
        {"reason": "no_capacity"},
        AGENCY_A_ACTS,
    ),
    "forward": (
        "sent",
        "POST",
        "/api/v1/referrals/{referral}/forward",
        {"service_id": "{other_service}"},
        AGENCY_A_ACTS,
    ),
    "complete": (
        "accepted",
        "POST",
        "/api/v1/referrals/{referral}/complete",
        {"outcome": "service_provided"},
        AGENCY_A_ACTS,
    ),
    "cancel waiting": (
        "sent",
        "POST",
        "/api/v1/referrals/{referral}/cancel",
        {"reason": "sent_in_error"},
        by_role(200, 404, 403, 404, 403, 403, 401),
    ),
    "cancel accepted": (
        "accepted",
        "POST",
        "/api/v1/referrals/{referral}/cancel",
        {"reason": "member_declined"},
        by_role(200, 404, 200, 404, 200, 403, 401),
    ),
    "message": (
        "sent",
        "POST",
        "/api/v1/referrals/{referral}/messages",
        {"body": "Hello"},
        by_role(201, 404, 201, 404, 201, 403, 401),
    ),
    "assign": (
        "sent",
        "POST",
        "/api/v1/referrals/{referral}/assign",
        {"assignee_id": "{agency_admin}"},
        AGENCY_A_ACTS,
    ),
    "list internal notes": (
        "sent",
        "GET",
        "/api/v1/referrals/{referral}/notes",
        None,
        by_role(403, 404, 200, 404, 200, 403, 401),
    ),
    "write an internal note": (
        "sent",
        "POST",
        "/api/v1/referrals/{referral}/notes",
        {"body": "Left a voicemail"},
        by_role(403, 404, 201, 404, 201, 403, 401),
    ),
    "list notifications": (None, "GET", "/api/v1/notifications", None, EVERYONE_SIGNED_IN),
    "mark notifications read": (
        None,
        "POST",
        "/api/v1/notifications/read",
        None,
        EVERYONE_SIGNED_IN,
    ),
    "set capacity": (
        None,
        "POST",
        "/api/v1/services/{service}/referral-capacity",
        {"referral_capacity": "waitlist"},
        by_role(403, 403, 200, 403, 200, 200, 401),
    ),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_authorization_matrix(endpoint, api, network, matrix_records):
    needs, method, path, body, expected = ENDPOINTS[endpoint]
    got = {}
    for role in ROLES:
        values = matrix_records(needs)
        url = fill_in(path, values)
        payload = fill_in(body, values)
        user = network.people[role]
        if method == "GET":
            response = api.get(url, user)
        elif method == "PATCH":
            response = api.patch(url, user, payload)
        else:
            response = api.post(url, user, payload)
        got[role] = response.status_code
        assert response.is_json, (role, response.data[:200])
        if response.status_code >= 400:
            assert set(response.get_json()["error"]) >= {"code", "message"}
    assert got == expected


def test_a_bad_token_is_401_like_none(api, network):
    response = api.client.get(
        "/api/v1/referrals", headers={"Authorization": "Bearer not-a-real-token"}
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_invisible_and_missing_records_look_the_same(api, network, matrix_records):
    values = matrix_records("sent")
    hidden = api.get(f"/api/v1/referrals/{values['referral']}", network.staff_b)
    missing = api.get(f"/api/v1/referrals/{uuid.uuid4()}", network.staff_b)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json() == missing.get_json()
    hidden = api.get(f"/api/v1/members/{values['member']}", network.coordinator_b)
    missing = api.get(f"/api/v1/members/{uuid.uuid4()}", network.coordinator_b)
    assert hidden.get_json() == missing.get_json()
    assert hidden.status_code == 404
    # Acting on it reads the same as acting on nothing.
    acted = api.post(f"/api/v1/referrals/{values['referral']}/accept", network.staff_b)
    acted_on_nothing = api.post(f"/api/v1/referrals/{uuid.uuid4()}/accept", network.staff_b)
    assert acted.status_code == acted_on_nothing.status_code == 404
    assert acted.get_json() == acted_on_nothing.get_json()


def test_lists_are_scoped_to_the_caller(api, network, matrix_records, create_member, db):
    a = matrix_records("sent")
    b_member = create_member(network.coordinator_b, first_name="Bea")
    b_referral = services.send_referral(
        network.coordinator_b, b_member, network.service_b, need="A bed tonight"
    )
    db.session.commit()
    not_referred = create_member(first_name="Quiet")

    def ids(path, role):
        response = api.get(path, network.people[role])
        assert response.status_code == 200
        return {item["id"] for item in response.get_json()["items"]}

    a_member, a_referral = str(a["member"]), str(a["referral"])
    assert ids("/api/v1/members", "coordinator_a") == {a_member, str(not_referred.id)}
    assert ids("/api/v1/members", "coordinator_b") == {str(b_member.id)}
    assert ids("/api/v1/members", "staff_a") == {a_member}
    assert ids("/api/v1/members", "staff_b") == {str(b_member.id)}
    assert ids("/api/v1/members", "admin") == {a_member, str(not_referred.id), str(b_member.id)}
    assert ids("/api/v1/referrals", "coordinator_a") == {a_referral}
    assert ids("/api/v1/referrals", "coordinator_b") == {str(b_referral.id)}
    assert ids("/api/v1/referrals", "staff_a") == {a_referral}
    assert ids("/api/v1/referrals", "agency_admin_a") == {a_referral}
    assert ids("/api/v1/referrals", "staff_b") == {str(b_referral.id)}
    assert ids("/api/v1/referrals", "admin") == {a_referral, str(b_referral.id)}
    # Filtering by someone else's member finds nothing rather than saying it exists.
    assert ids(f"/api/v1/referrals?member_id={a_member}", "coordinator_b") == set()
