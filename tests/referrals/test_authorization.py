"""Every API endpoint × every role: who gets through, who is refused, who can't even tell it exists.

Roles: coordinator of org A, coordinator of org B, staff of agency A, staff of agency B, admin of
agency A, network admin, anonymous. The records belong to coordination org A and agency A.
"""

import uuid

import pytest

from referrals import services

ROLES = [
    "coordinator_a",
    "coordinator_b",
    "staff_a",
    "staff_b",
    "agency_admin_a",
    "admin",
    "anonymous",
]


def _row(*codes):
    return dict(zip(ROLES, codes, strict=True))


AGENCY_A_ACTS = _row(403, 404, 200, 404, 200, 403, 401)
EVERYONE_SIGNED_IN = _row(200, 200, 200, 200, 200, 200, 401)

# endpoint -> (what it needs, method, path template, body, expected status per role)
ENDPOINTS = {
    "create member": (
        None,
        "POST",
        "/api/v1/members",
        {"first_name": "Lee", "last_name": "Chan"},
        _row(201, 201, 403, 403, 403, 403, 401),
    ),
    "list members": (None, "GET", "/api/v1/members", None, EVERYONE_SIGNED_IN),
    "get member": (
        "sent",
        "GET",
        "/api/v1/members/{member}",
        None,
        _row(200, 404, 200, 404, 200, 200, 401),
    ),
    "record consent": (
        "sent",
        "POST",
        "/api/v1/members/{member}/consents",
        {"given_by": "Lee Chan", "method": "verbal", "scope": ["first_name"]},
        _row(201, 404, 403, 404, 403, 403, 401),
    ),
    "revoke consent": (
        "sent",
        "POST",
        "/api/v1/members/{member}/consents/{consent}/revoke",
        None,
        _row(200, 404, 403, 404, 403, 403, 401),
    ),
    "send referral": (
        "member",
        "POST",
        "/api/v1/referrals",
        {"member_id": "{member}", "service_id": "{service}", "need": "Food"},
        _row(201, 404, 403, 403, 403, 403, 401),
    ),
    "list referrals": (None, "GET", "/api/v1/referrals", None, EVERYONE_SIGNED_IN),
    "get referral": (
        "sent",
        "GET",
        "/api/v1/referrals/{referral}",
        None,
        _row(200, 404, 200, 404, 200, 200, 401),
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
        _row(200, 404, 403, 404, 403, 403, 401),
    ),
    "cancel accepted": (
        "accepted",
        "POST",
        "/api/v1/referrals/{referral}/cancel",
        {"reason": "member_declined"},
        _row(200, 404, 200, 404, 200, 403, 401),
    ),
    "message": (
        "sent",
        "POST",
        "/api/v1/referrals/{referral}/messages",
        {"body": "Hello"},
        _row(201, 404, 201, 404, 201, 403, 401),
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
        _row(403, 403, 200, 403, 200, 200, 401),
    ),
}


@pytest.fixture
def make_target(db, network, create_member):
    """Fresh records for one call: a member of org A, and a referral of them to agency A."""
    names = iter(range(1, 1000))

    def make(needs: str | None) -> dict:
        values = {"service": network.service_a.id, "other_service": network.service_b.id}
        if needs is None:
            return values
        member = create_member(first_name=f"Member{next(names)}")
        values["member"] = member.id
        values["consent"] = member.consents[0].id
        if needs == "member":
            return values
        referral = services.send_referral(
            network.coordinator_a, member, network.service_a, need="Food"
        )
        if needs == "accepted":
            services.accept(referral, network.staff_a)
        db.session.commit()
        values["referral"] = referral.id
        return values

    return make


def _fill(template, values):
    if isinstance(template, str):
        return template.format(**values)
    if isinstance(template, dict):
        return {key: _fill(value, values) for key, value in template.items()}
    return template


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_authorization_matrix(endpoint, api, network, make_target):
    needs, method, path, body, expected = ENDPOINTS[endpoint]
    got = {}
    for role in ROLES:
        values = make_target(needs)
        url = _fill(path, values)
        payload = _fill(body, values)
        user = network.people[role]
        if method == "GET":
            response = api.get(url, user)
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


def test_invisible_and_missing_records_look_the_same(api, network, make_target):
    values = make_target("sent")
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


def test_lists_are_scoped_to_the_caller(api, network, make_target, create_member, db):
    a = make_target("sent")
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
