"""No referral dies (issue 11 item 4): after a decline or no answer, the coordinator sees the
next best services and re-sends in one click; a referral sent with "re-send automatically" is
escalated by the sweep once per window, both sides told, at most three times."""

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from accounts.models import User
from directory.models import Attribute, Service
from extensions import utcnow
from referrals import next_best, services
from referrals.models import (
    AuditLog,
    Member,
    Notification,
    OutboxEmail,
    Referral,
    ReferralEvent,
)
from tests.directory.factories import SYRACUSE, make_service, make_taxonomy_term
from tests.referrals.pages import text_of

NEED = "Groceries for a family of four"


@pytest.fixture(autouse=True)
def _calendar(app):
    app.config.update(DEFAULT_TIMEZONE="America/New_York", REFERRAL_HOLIDAYS="")


class Pantries:
    """Food pantries listed under the same category as agency A's food boxes, from the member's
    ZIP code (13202) outwards, plus the ones that must never be suggested."""

    def __init__(self, db, network):
        term = make_taxonomy_term(db, name="Food pantries", code="BD-1800.2000")
        db.session.add(
            Attribute(
                link_id=network.service_a.id,
                link_entity="service",
                link_type="category",
                taxonomy_term_id=term.id,
            )
        )

        def pantry(name: str, north_km: float, **values) -> Service:
            latitude = SYRACUSE[0] + north_km / 111.0
            return make_service(
                db,
                name=name,
                term=term,
                latitude=latitude,
                longitude=SYRACUSE[1],
                description="Free groceries for families once a week; no ID needed.",
                **values,
            )

        self.near = pantry("Westside Pantry", 1)
        self.mid = pantry("Eastwood Pantry", 6)
        self.far = pantry("Mattydale Pantry", 12)
        self.farther = pantry("Cicero Pantry", 20)
        self.full = pantry("Full Pantry", 0.5, referral_capacity="not_accepting")
        self.closed = pantry("Closed Pantry", 0.5, status="temporarily closed")
        self.tried = pantry("Tried Pantry", 0.5)
        self.tried_long_ago = pantry("Pantry Tried Last Winter", 3)
        self.other_category = make_service(db, name="Grocery Delivery", term=False)
        db.session.commit()


@pytest.fixture
def pantries(db, network) -> Pantries:
    return Pantries(db, network)


def _coordinator(db, network) -> User:
    return db.session.get(User, network.coordinator_a.id)


def _send(db, network, member, service, *, at, **values) -> Referral:
    referral = services.send_referral(
        _coordinator(db, network),
        db.session.get(Member, member.id),
        db.session.get(Service, service.id),
        need=values.pop("need", NEED),
        urgency=values.pop("urgency", "urgent"),
        now=at,
        **values,
    )
    db.session.commit()
    return referral


def _declined(db, network, member, *, at=None) -> Referral:
    referral = _send(db, network, member, network.service_a, at=at or utcnow())
    services.decline(referral, db.session.get(User, network.staff_a.id), reason="no_capacity")
    db.session.commit()
    return referral


def _reload(db, referral_id) -> Referral:
    db.session.expire_all()
    return db.session.get(Referral, referral_id)


def _events(db, referral_id) -> list[ReferralEvent]:
    db.session.expire_all()
    return db.session.scalars(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral_id)
        .order_by(ReferralEvent.at, ReferralEvent.action)
    ).all()


def _chain_from(db, referral_id) -> list[Referral]:
    """The referral and those re-sent from it, in order."""
    chain = [_reload(db, referral_id)]
    while True:
        following = db.session.scalar(
            select(Referral).where(Referral.resent_from_id == chain[-1].id)
        )
        if following is None:
            return chain
        chain.append(following)


# -- suggestions -----------------------------------------------------------------------------


def test_suggestions_exclude_tried_full_closed_and_the_same_service_and_are_ranked(
    db, network, member, pantries
):
    now = utcnow()
    _send(db, network, member, pantries.tried, at=now - timedelta(days=10))
    _send(db, network, member, pantries.tried_long_ago, at=now - timedelta(days=120))
    referral = _declined(db, network, member)

    found = next_best.suggestions(referral, limit=10)
    names = [s.service.name for s in found]

    assert "Tried Pantry" not in names  # referred 10 days ago
    assert "Full Pantry" not in names  # not accepting referrals
    assert "Closed Pantry" not in names  # temporarily closed: can't take a referral
    assert network.service_a.name not in names  # the one that declined
    assert "Grocery Delivery" not in names  # another category
    assert network.service_b.name not in names
    # Tried 120 days ago: past the 90-day window, so a candidate again.
    assert "Pantry Tried Last Winter" in names
    # Same words, same category: the nearest first.
    near_to_far = [n for n in names if n != "Pantry Tried Last Winter"]
    assert near_to_far == [
        "Westside Pantry",
        "Eastwood Pantry",
        "Mattydale Pantry",
        "Cicero Pantry",
    ]
    distances = [s.distance_km for s in found if s.service.name in near_to_far]
    assert distances == sorted(distances) and distances[0] < 2
    assert {s.delivery for s in found} == {"email"}  # listings that have not joined: by email
    assert [s.service.name for s in next_best.suggestions(referral, limit=2)] == names[:2]


def test_suggestions_follow_the_searchs_own_ranking(db, network, member, pantries):
    from directory import search

    referral = _declined(db, network, member)
    ranked = [
        hit.service_id
        for hit in search.search(
            search.SearchQuery(
                text=NEED,
                categories=tuple(str(t) for t in next_best.category_ids(network.service_a.id)),
                place=search.Place(43.04, -76.15, "13202", "zip"),
                per_page=50,
            )
        ).hits
    ]
    suggested = [s.service.id for s in next_best.suggestions(referral, limit=10)]
    assert suggested == [service_id for service_id in ranked if service_id in set(suggested)]


# -- the coordinator's page and the one click ------------------------------------------------


def test_declined_page_offers_next_best_and_one_click_sends_a_linked_referral(
    db, network, member, pantries, signed_in
):
    referral = _declined(db, network, member)
    client = signed_in(network.coordinator_a)
    html = text_of(client.get(f"/referrals/{referral.id}"))
    assert "Next best services" in html
    assert html.index("Westside Pantry") < html.index("Eastwood Pantry")
    assert f'action="/referrals/{referral.id}/resend"' in html
    assert "Full Pantry" not in html

    response = client.post(
        f"/referrals/{referral.id}/resend", data={"service_id": str(pantries.near.id)}
    )
    assert response.status_code == 303
    new_id = uuid.UUID(re.search(r"/referrals/([0-9a-f-]{36})$", response.headers["Location"])[1])

    original, new = _reload(db, referral.id), db.session.get(Referral, new_id)
    assert original.status == "declined"  # closed already: only marked
    assert new.status == "sent" and new.resent_from_id == original.id
    assert new.service_id == pantries.near.id and new.delivery == "email"
    assert (new.need, new.urgency, new.note, new.member_id) == (
        original.need,
        original.urgency,
        original.note,
        original.member_id,
    )
    assert new.consent_id == original.consent_id
    marks = [e for e in _events(db, original.id) if e.action == "resent"]
    assert len(marks) == 1 and "Westside Pantry" in marks[0].note and "decline" in marks[0].note
    assert marks[0].actor_id == network.coordinator_a.id
    sent = _events(db, new.id)
    assert [e.action for e in sent] == ["send"]
    assert "Emergency food boxes" in sent[0].note and "decline" in sent[0].note
    # The new agency gets its emailed link, with no member data.
    emails = db.session.scalars(select(OutboxEmail).where(OutboxEmail.referral_id == new.id)).all()
    assert [e.to_address for e in emails] == [pantries.near.email]
    assert "Maria" not in emails[0].body
    # Both pages tell the story.
    new_page = text_of(client.get(f"/referrals/{new.id}"))
    assert "Re-sent from" in new_page and "Emergency food boxes" in new_page
    assert "Re-sent elsewhere" in text_of(client.get(f"/referrals/{original.id}"))

    # A second click (or the same service again) is refused, and writes nothing.
    again = client.post(
        f"/referrals/{referral.id}/resend", data={"service_id": str(pantries.near.id)}
    )
    assert again.status_code == 409
    assert "re-sent to Westside Pantry already" in text_of(again)
    assert len(_chain_from(db, referral.id)) == 2
    # Neither page suggests anything now: the new referral waits for an answer.
    assert "Next best services" not in new_page
    assert "Next best services" not in text_of(client.get(f"/referrals/{original.id}"))


def test_a_service_already_tried_for_the_member_is_refused(
    db, network, member, pantries, signed_in
):
    _send(db, network, member, pantries.tried, at=utcnow() - timedelta(days=10))
    referral = _declined(db, network, member)
    client = signed_in(network.coordinator_a)
    for service in (pantries.tried, network.service_a):
        refused = client.post(
            f"/referrals/{referral.id}/resend", data={"service_id": str(service.id)}
        )
        assert refused.status_code == 400
        assert "in the last 90 days already" in text_of(refused)
    missing = client.post(f"/referrals/{referral.id}/resend", data={"service_id": "nope"})
    assert missing.status_code == 404
    assert len(_chain_from(db, referral.id)) == 1


def test_resending_an_unanswered_referral_cancels_it_and_tells_its_agency(
    db, network, member, pantries, signed_in
):
    referral = _send(db, network, member, network.service_a, at=utcnow() - timedelta(days=10))
    client = signed_in(network.coordinator_a)
    assert "Next best services" in text_of(client.get(f"/referrals/{referral.id}"))
    response = client.post(
        f"/referrals/{referral.id}/resend", data={"service_id": str(pantries.mid.id)}
    )
    assert response.status_code == 303
    original = _reload(db, referral.id)
    assert original.status == "cancelled" and "no answer" in original.cancel_text.lower()
    assert [e.action for e in _events(db, original.id)][-2:] in (
        ["cancel", "resent"],
        ["resent", "cancel"],
    )
    told = db.session.scalars(
        select(Notification.user_id).where(
            Notification.referral_id == original.id, Notification.kind == "cancelled"
        )
    ).all()
    assert set(told) == {network.staff_a.id, network.agency_admin_a.id}


def test_a_referral_still_in_time_or_accepted_cannot_be_resent(
    db, network, member, pantries, signed_in
):
    referral = _send(db, network, member, network.service_a, at=utcnow())
    client = signed_in(network.coordinator_a)
    assert "Next best services" not in text_of(client.get(f"/referrals/{referral.id}"))
    refused = client.post(
        f"/referrals/{referral.id}/resend", data={"service_id": str(pantries.near.id)}
    )
    assert refused.status_code == 409
    assert _chain_from(db, referral.id) == [_reload(db, referral.id)]


def test_other_people_can_neither_see_suggestions_nor_resend(
    db, network, member, pantries, signed_in
):
    referral = _declined(db, network, member)
    url, data = f"/referrals/{referral.id}/resend", {"service_id": str(pantries.near.id)}
    # Another organization's coordinator: the referral does not exist for them.
    assert signed_in(network.coordinator_b).get(f"/referrals/{referral.id}").status_code == 404
    assert signed_in(network.coordinator_b).post(url, data=data).status_code == 404
    # The agency that declined, and network admins, see the referral but not the suggestions.
    for person in (network.staff_a, network.admin):
        page = text_of(signed_in(person).get(f"/referrals/{referral.id}"))
        assert "Next best services" not in page and "Westside Pantry" not in page
        assert signed_in(person).post(url, data=data).status_code == 403
    assert signed_in(None).post(url, data=data).status_code == 302
    assert len(_chain_from(db, referral.id)) == 1


# -- ticking "re-send automatically" ---------------------------------------------------------


def test_the_refer_form_and_the_api_take_the_auto_escalate_choice(
    db, network, member, pantries, signed_in, api
):
    response = signed_in(network.coordinator_a).post(
        f"/referrals/new?service_id={network.service_a.id}",
        data={
            "member_id": str(member.id),
            "need": NEED,
            "urgency": "urgent",
            "auto_escalate": "1",
        },
    )
    assert response.status_code == 303
    sent = db.session.scalars(select(Referral)).all()
    assert [r.auto_escalate for r in sent] == [True]
    form = text_of(
        signed_in(network.coordinator_a).get(f"/referrals/new?service_id={pantries.near.id}")
    )
    assert 'name="auto_escalate"' in form

    body = {"member_id": str(member.id), "service_id": str(pantries.near.id), "need": NEED}
    created = api.post("/api/v1/referrals", network.coordinator_a, {**body, "auto_escalate": True})
    assert created.status_code == 201 and created.get_json()["auto_escalate"] is True
    bad = api.post("/api/v1/referrals", network.coordinator_a, {**body, "auto_escalate": "yes"})
    assert bad.status_code == 400
    assert "auto_escalate" in bad.get_json()["error"]["fields"]


# -- the sweep -------------------------------------------------------------------------------


def test_the_sweep_escalates_once_and_tells_both_sides(db, network, member, pantries, runner):
    referral = _send(
        db, network, member, network.service_a, at=utcnow() - timedelta(days=10), auto_escalate=True
    )
    best = next_best.suggestions(referral, limit=1)[0].service
    first = runner.invoke(args=["referrals", "sweep"])
    assert first.exit_code == 0, first.output
    assert "1 unanswered referral(s) re-sent" in first.output
    assert "0 referral(s) newly overdue" in first.output  # re-sent: no overdue reminder
    second = runner.invoke(args=["referrals", "sweep"])
    assert "0 unanswered referral(s) re-sent" in second.output

    original, new = _chain_from(db, referral.id)
    assert original.status == "cancelled" and original.escalated_at is not None
    assert new.status == "sent" and new.service_id == best.id and new.auto_escalate
    assert new.sending_user_id == network.coordinator_a.id
    actions = [e.action for e in _events(db, original.id)]
    assert actions.count("escalated") == 1 and "cancel" in actions and "overdue" not in actions
    mark = next(e for e in _events(db, original.id) if e.action == "escalated")
    assert mark.actor_id is None and best.name in mark.note
    assert "automatically" in _events(db, new.id)[0].note
    # The coordinator hears where it went; agency A that it was withdrawn; the new agency by email.
    notices = {
        (n.user_id, n.kind)
        for n in db.session.scalars(
            select(Notification).where(
                Notification.referral_id == original.id, Notification.kind != "sent"
            )
        )
    }
    assert notices == {
        (network.coordinator_a.id, "escalated"),
        (network.staff_a.id, "cancelled"),
        (network.agency_admin_a.id, "cancelled"),
    }
    to_new_agency = db.session.scalars(
        select(OutboxEmail.to_address).where(OutboxEmail.referral_id == new.id)
    ).all()
    assert to_new_agency == [best.email]


def test_the_sweep_stops_after_three_tries(db, network, member, pantries):
    start = utcnow() - timedelta(days=40)
    referral = _send(db, network, member, network.service_a, at=start, auto_escalate=True)
    expected = [s.service.name for s in next_best.suggestions(referral, limit=3)]
    moved = []
    for week in range(1, 6):
        moved += next_best.sweep_escalations(now=start + timedelta(days=7 * week))
        db.session.commit()
    chain = _chain_from(db, referral.id)
    assert len(moved) == 3 and all(new is not None for _, new in moved)
    assert [r.service.name for r in chain] == [network.service_a.name, *expected]
    assert [r.status for r in chain] == ["cancelled", "cancelled", "cancelled", "sent"]
    assert [r.auto_escalate for r in chain] == [True, True, True, False]
    # The last one is left with its agency (and the usual overdue reminder).
    assert services.sweep_overdue(now=start + timedelta(days=42)) == [chain[-1].id]


def test_nothing_to_escalate_to_says_so_once(db, network, member):
    # No category and words nobody lists: no next best service.
    referral = _send(
        db,
        network,
        member,
        network.service_a,
        at=utcnow() - timedelta(days=10),
        need="Xylophone lessons",
        auto_escalate=True,
    )
    assert next_best.sweep_escalations() == [(referral.id, None)]
    db.session.commit()
    assert next_best.sweep_escalations() == []
    original = _reload(db, referral.id)
    assert original.status == "sent" and original.escalated_at is not None
    marks = [e for e in _events(db, referral.id) if e.action == "escalated"]
    assert len(marks) == 1 and marks[0].note.startswith("Could not re-send automatically")


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_sweeps_racing_escalate_exactly_once(
    db, network, member, pantries, hold_before_first_write, on_two_hosts
):
    referral = _send(
        db, network, member, network.service_a, at=utcnow() - timedelta(days=10), auto_escalate=True
    )
    runs, errors = on_two_hosts(next_best.sweep_escalations)
    assert errors == []
    assert sorted(len(run) for run in runs) == [0, 1]
    chain = _chain_from(db, referral.id)
    assert len(chain) == 2 and chain[0].status == "cancelled"
    assert [e.action for e in _events(db, referral.id)].count("escalated") == 1
    escalated_notices = db.session.scalars(
        select(Notification).where(Notification.kind == "escalated")
    ).all()
    assert len(escalated_notices) == 1


# -- the same, as JSON: GET /api/v1/referrals/<id>/next-best (who may ask: test_authorization) --


def _next_best(api, network, referral, query: str = ""):
    return api.get(f"/api/v1/referrals/{referral.id}/next-best{query}", network.coordinator_a)


def test_a_declined_referral_lists_the_next_best_services_nearest_first(
    db, api, network, member, pantries
):
    _send(db, network, member, pantries.tried, at=utcnow() - timedelta(days=10))
    referral = _declined(db, network, member)

    response = _next_best(api, network, referral, "?limit=4")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["can_resend"] is True and body["status"] == "declined"
    assert body["resent_to"] == []
    names = [item["service_name"] for item in body["items"]]
    assert names == [
        "Westside Pantry",
        "Pantry Tried Last Winter",  # never referred to in this test
        "Eastwood Pantry",
        "Mattydale Pantry",
    ]  # not "Tried Pantry" (10 days ago), nor the full, closed or other-category ones
    first = body["items"][0]
    assert first["service_id"] == str(pantries.near.id)
    assert first["delivery"] == "email" and 0 < first["distance_km"] < 2
    assert first["organization"] == pantries.near.organization.name
    # The same list, in the same order, as the page's.
    page = next_best.suggestions(referral, limit=4)
    assert [item["service_id"] for item in body["items"]] == [str(s.service.id) for s in page]
    assert db.session.scalar(
        select(AuditLog).where(
            AuditLog.object_id == referral.id, AuditLog.detail["via"].as_string() == "api:next-best"
        )
    )


def test_nothing_to_suggest_while_it_waits_or_once_re_sent(db, api, network, member, pantries):
    waiting = _send(db, network, member, network.service_a, at=utcnow())
    body = _next_best(api, network, waiting).get_json()
    assert (body["can_resend"], body["items"]) == (False, [])

    services.decline(waiting, db.session.get(User, network.staff_a.id), reason="no_capacity")
    new = next_best.resend(waiting, _coordinator(db, network), pantries.mid)
    db.session.commit()
    body = _next_best(api, network, waiting).get_json()
    assert (body["can_resend"], body["items"]) == (False, [])
    assert body["resent_to"] == [
        {"id": str(new.id), "service_name": "Eastwood Pantry", "status": "sent"}
    ]


def test_a_bad_limit_is_a_400_naming_the_field(db, api, network, member, pantries):
    referral = _declined(db, network, member)
    for bad in ("0", "11", "two", "-1"):
        response = _next_best(api, network, referral, f"?limit={bad}")
        api.assert_refused(response, 400, "invalid")
        assert "limit" in response.get_json()["error"]["fields"], bad
