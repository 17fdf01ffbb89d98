"""The access log: each view and change of a member or referral leaves a row; admins search it."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from referrals import audit
from referrals.models import AuditLog

BROWSER = "Mozilla/5.0 (Linux; Android 10) Wraparound-test"


def _rows(db, **where):
    db.session.expire_all()
    stmt = select(AuditLog).order_by(AuditLog.at)
    for name, value in where.items():
        stmt = stmt.where(getattr(AuditLog, name) == value)
    return db.session.scalars(stmt).all()


def test_views_and_changes_are_recorded_with_who_where_and_how(api, network, db):
    created = api.client.post(
        "/api/v1/members",
        headers={**api.headers(network.coordinator_a), "User-Agent": BROWSER},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
        json={
            "first_name": "Rosa",
            "last_name": "Park",
            "birth_date": "1961-07-30",
            "consent": {"given_by": "Rosa Park", "method": "electronic", "scope": ["first_name"]},
        },
    )
    assert created.status_code == 201, created.get_json()
    member_id = uuid.UUID(created.get_json()["id"])
    [create_row] = _rows(db, object_type="member", action="create")
    assert create_row.object_id == member_id
    assert create_row.actor_id == network.coordinator_a.id
    assert create_row.actor_label == network.coordinator_a.email
    assert create_row.ip == "203.0.113.7" and create_row.user_agent == BROWSER
    [consent_row] = _rows(db, object_type="consent", action="create")
    assert consent_row.detail["scope"] == ["first_name"]

    api.get(f"/api/v1/members/{member_id}", network.coordinator_a2)
    api.get("/api/v1/members", network.coordinator_a)
    views = _rows(db, object_type="member", action="view", object_id=member_id)
    assert [(v.actor_id, v.detail["via"]) for v in views] == [
        (network.coordinator_a2.id, "api"),
        (network.coordinator_a.id, "api:list"),
    ]

    sent = api.post(
        "/api/v1/referrals",
        network.coordinator_a,
        {"member_id": str(member_id), "service_id": str(network.service_a.id), "need": "Food"},
    )
    rid = uuid.UUID(sent.get_json()["id"])
    api.get(f"/api/v1/referrals/{rid}", network.staff_a)
    api.post(f"/api/v1/referrals/{rid}/accept", network.staff_a)
    api.post(f"/api/v1/referrals/{rid}/messages", network.coordinator_a, {"body": "Thanks"})
    api.post(f"/api/v1/referrals/{rid}/complete", network.staff_a, {"outcome": "service_provided"})
    on_referral = [(r.action, r.actor_id) for r in _rows(db, object_id=rid)]
    assert on_referral == [
        ("send", network.coordinator_a.id),
        ("view", network.staff_a.id),
        ("accept", network.staff_a.id),
        ("message", network.coordinator_a.id),
        ("complete", network.staff_a.id),
    ]
    # Reading the referral showed the agency (part of) the member: that is a member view too.
    api.get("/api/v1/referrals", network.staff_a)
    agency_views = _rows(db, object_type="member", actor_id=network.staff_a.id)
    assert [(r.action, r.object_id, r.detail["via"]) for r in agency_views] == [
        ("view", member_id, "api:referral"),
        ("view", member_id, "api:referral-list"),
    ]


def test_refused_requests_leave_no_trace_but_nothing_is_hidden_from_the_log(
    api, network, create_member, db
):
    member = create_member()
    before = len(_rows(db))
    assert api.get(f"/api/v1/members/{member.id}", network.coordinator_b).status_code == 404
    assert api.get(f"/api/v1/members/{member.id}", network.staff_b).status_code == 404
    # No view was logged, but each refused read is, as denied (issue 10, item 14).
    rows = _rows(db)
    assert len([r for r in rows if r.action != "denied"]) == before
    denied = [(r.actor_id, r.object_id) for r in rows if r.action == "denied"]
    assert denied == [(network.coordinator_b.id, member.id), (network.staff_b.id, member.id)]


def test_admins_filter_and_page_through_the_log(app, db, network):
    base = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    member_id, other = uuid.uuid4(), uuid.uuid4()
    for minute in range(30):
        entry = audit.record(
            network.coordinator_a if minute % 3 else network.staff_a,
            "view" if minute % 2 else "update",
            "member",
            member_id if minute < 20 else other,
        )
        entry.at = base + timedelta(minutes=minute)
    db.session.commit()

    page1 = audit.query_log(object_id=member_id, per_page=8)
    assert page1.total == 20 and page1.pages == 3 and len(page1.items) == 8
    assert page1.items[0].at == base + timedelta(minutes=19)  # newest first
    page3 = audit.query_log(object_id=member_id, per_page=8, page=3)
    assert len(page3.items) == 4

    by_staff = audit.query_log(actor_id=network.staff_a.id, object_type="member")
    assert by_staff.total == 10
    assert {row.actor_id for row in by_staff.items} == {network.staff_a.id}

    views = audit.query_log(action="view", since=base, until=base + timedelta(minutes=10))
    assert [row.at.minute for row in views.items] == [9, 7, 5, 3, 1]
    assert audit.query_log(since=base + timedelta(hours=1)).total == 0
    assert audit.query_log(per_page=10_000).per_page == audit.MAX_PER_PAGE
