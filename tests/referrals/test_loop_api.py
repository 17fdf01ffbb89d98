"""The whole closed loop over HTTP, one test per path a referral can take."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from referrals.models import Notification, OutboxEmail, Referral, ReferralEvent


def _events(body):
    return [(e["action"], e["from_status"], e["to_status"]) for e in body["events"]]


def _notices(db, user):
    db.session.expire_all()
    return db.session.scalars(
        select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.created_at)
    ).all()


def _outbox_to(db, user):
    return db.session.scalars(select(OutboxEmail).where(OutboxEmail.to_address == user.email)).all()


def test_accept_then_complete_closes_the_loop(api, network, create_member, send, db):
    member = create_member()
    sent = send(member, note="Mother of three; prefers calls after 3 pm")
    assert sent["status"] == "sent"
    assert sent["fhir_task_status"] == "requested"
    assert sent["receiving_organization"]["name"] == "Northside Food Pantry"
    assert sent["sent_by"]["name"] == "Ana Ortiz"
    assert sent["allowed_actions"] == ["cancel"]
    rid = sent["id"]

    # The agency is told, in the app and by email, without member details in the email.
    [notice] = _notices(db, network.staff_a)
    assert notice.kind == "sent" and str(notice.referral_id) == rid
    [email] = _outbox_to(db, network.staff_a)
    assert "Emergency food boxes" in email.subject
    assert f"/referrals/{rid}" in email.body
    assert "Maria" not in email.body and "Lopez" not in email.body and "HIV" not in email.body

    inbox = api.get("/api/v1/referrals?status=sent", network.staff_a).get_json()
    assert [r["id"] for r in inbox["items"]] == [rid]
    assert inbox["items"][0]["allowed_actions"] == ["accept", "decline", "forward"]

    accepted = api.act(rid, "accept", network.staff_a, {"note": "Call Tue"})
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["status"] == "accepted"
    assert accepted.get_json()["responded_at"] is not None
    assert [n.kind for n in _notices(db, network.coordinator_a)] == ["accepted"]

    early = api.act(rid, "complete", network.staff_a, {})
    assert early.status_code == 400
    assert "outcome" in early.get_json()["error"]["fields"]

    done = api.act(
        rid,
        "complete",
        network.agency_admin_a,
        {"outcome": "service_provided", "note": "Two boxes delivered"},
    )
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["status"] == "completed" and body["fhir_task_status"] == "completed"
    assert body["outcome"] == "service_provided" and body["closed_at"] is not None
    assert body["allowed_actions"] == []
    assert _events(body) == [
        ("send", None, "sent"),
        ("accept", "sent", "accepted"),
        ("complete", "accepted", "completed"),
    ]
    assert body["events"][1]["actor"]["name"] == "Dev Patel"
    assert body["events"][1]["note"] == "Call Tue"

    # The coordinator sees every step.
    seen = api.get(f"/api/v1/referrals/{rid}", network.coordinator_a).get_json()
    assert _events(seen) == _events(body)
    assert [n.kind for n in _notices(db, network.coordinator_a)] == ["accepted", "completed"]

    # A completed referral can't be cancelled. The cancel is valid in itself (a reason that needs
    # no text), so only the state machine can refuse it.
    again = api.act(rid, "cancel", network.coordinator_a, {"reason": "member_moved"})
    assert again.status_code == 409, again.get_json()
    assert again.get_json()["error"]["code"] == "illegal_transition"
    assert "already completed" in again.get_json()["error"]["message"]


def test_not_provided_outcome_needs_a_reason_and_maps_to_failed(api, network, create_member, send):
    rid = send(create_member())["id"]
    api.act(rid, "accept", network.staff_a)
    missing = api.act(rid, "complete", network.staff_a, {"outcome": "not_provided"})
    assert missing.status_code == 400
    assert missing.get_json()["error"]["fields"] == {"note": "This is required."}
    why = "Member moved out of county before pickup"
    done = api.act(rid, "complete", network.staff_a, {"outcome": "not_provided", "note": why})
    assert done.status_code == 200
    assert done.get_json()["fhir_task_status"] == "failed"


def test_decline_with_reason_tells_the_coordinator(api, network, create_member, send, db):
    rid = send(create_member())["id"]
    no_reason = api.act(rid, "decline", network.staff_a, {})
    assert no_reason.status_code == 400
    assert "reason" in no_reason.get_json()["error"]["fields"]
    other_without_text = api.act(rid, "decline", network.staff_a, {"reason": "other"})
    assert other_without_text.status_code == 400
    assert other_without_text.get_json()["error"]["fields"] == {"note": "This is required."}
    bad = api.act(rid, "decline", network.staff_a, {"reason": "busy"})
    assert bad.status_code == 400
    assert "no_capacity" in bad.get_json()["error"]["fields"]["reason"]

    declined = api.act(rid, "decline", network.staff_a, {"reason": "no_capacity"})
    assert declined.status_code == 200
    body = declined.get_json()
    assert body["status"] == "declined" and body["decline_reason"] == "no_capacity"
    assert body["fhir_task_status"] == "rejected"
    assert _events(body)[-1] == ("decline", "sent", "declined")
    assert body["events"][-1]["reason"] == "no_capacity"

    [notice] = _notices(db, network.coordinator_a)
    assert notice.kind == "declined" and "no capacity" in notice.text
    [email] = _outbox_to(db, network.coordinator_a)
    assert "Reason: no capacity." in email.body

    late = api.act(rid, "accept", network.staff_a)
    assert late.status_code == 409
    error = late.get_json()["error"]
    assert error["code"] == "illegal_transition"
    assert error["message"].startswith("Cannot accept: this referral was already declined by Dev")


def test_coordinator_cancels_a_waiting_referral(api, network, create_member, send, db):
    rid = send(create_member())["id"]
    by_agency = api.act(rid, "cancel", network.staff_a, {"reason": "member_declined"})
    assert by_agency.status_code == 403
    assert "sending coordinator" in by_agency.get_json()["error"]["message"]

    # Any coordinator of the sending organization may cancel, not only the sender.
    cancelled = api.act(rid, "cancel", network.coordinator_a2, {"reason": "need_met_elsewhere"})
    assert cancelled.status_code == 200
    body = cancelled.get_json()
    assert body["status"] == "cancelled" and body["cancel_reason"] == "need_met_elsewhere"
    assert body["fhir_task_status"] == "cancelled"
    assert [n.kind for n in _notices(db, network.staff_a)] == ["sent", "cancelled"]
    # The coordinator who sent it hears of a colleague's cancel (not the colleague themself).
    assert [n.kind for n in _notices(db, network.coordinator_a)] == ["cancelled"]
    assert [n.kind for n in _notices(db, network.coordinator_a2)] == []


def test_either_side_cancels_an_accepted_referral(api, network, create_member, send, db):
    first = send(create_member())["id"]
    second = send(create_member(first_name="Joe"), network.service_a2)["id"]
    for rid in (first, second):
        assert api.act(rid, "accept", network.staff_a).status_code == 200
    by_agency = api.act(
        first,
        "cancel",
        network.staff_a,
        {"reason": "unable_to_contact", "note": "Three calls, no answer"},
    )
    assert by_agency.status_code == 200
    assert by_agency.get_json()["cancel_text"] == "Three calls, no answer"
    assert _notices(db, network.coordinator_a)[-1].kind == "cancelled"
    by_coordinator = api.act(second, "cancel", network.coordinator_a, {"reason": "member_moved"})
    assert by_coordinator.status_code == 200


def test_forward_closes_the_original_and_sends_a_linked_one(api, network, create_member, send, db):
    rid = send(create_member())["id"]
    same = api.act(rid, "forward", network.staff_a, {"service_id": str(network.service_a.id)})
    assert same.status_code == 400
    network.service_b.referral_capacity = "not_accepting"
    db.session.commit()
    full = api.act(rid, "forward", network.staff_a, {"service_id": str(network.service_b.id)})
    api.assert_refused(full, 422, "service_not_accepting")
    network.service_b.referral_capacity = "accepting"
    db.session.commit()

    forwarded = api.act(
        rid,
        "forward",
        network.staff_a,
        {"service_id": str(network.service_b.id), "note": "They have family rooms"},
    )
    assert forwarded.status_code == 200, forwarded.get_json()
    body = forwarded.get_json()
    new = body["forwarded_referral"]
    assert body["status"] == "forwarded" and body["forwarded_to_id"] == new["id"]
    assert new["status"] == "sent" and new["forwarded_from_id"] == rid
    assert new["receiving_organization"]["name"] == "Harbor House Shelter"
    assert new["sending_organization"]["name"] == "Central Health Home"
    assert new["need"] == "Groceries for a family of four"

    # The coordinator keeps the loop: sees both, hears of the forward.
    listed = api.get("/api/v1/referrals", network.coordinator_a).get_json()
    assert {r["id"]: r["status"] for r in listed["items"]} == {rid: "forwarded", new["id"]: "sent"}
    assert [n.kind for n in _notices(db, network.coordinator_a)] == ["forwarded"]
    # The new agency has it in its inbox; the first agency can't open the new one.
    inbox_b = api.get("/api/v1/referrals", network.staff_b).get_json()
    assert [r["id"] for r in inbox_b["items"]] == [new["id"]]
    assert [n.kind for n in _notices(db, network.staff_b)] == ["sent"]
    assert api.get(f"/api/v1/referrals/{new['id']}", network.staff_a).status_code == 404
    new_detail = api.get(f"/api/v1/referrals/{new['id']}", network.staff_b).get_json()
    assert new_detail["events"][0]["note"] == "They have family rooms"
    assert new_detail["events"][0]["actor"]["name"] == "Dev Patel"
    # Agency B's response window is 3 business days.
    sent_at = datetime.fromisoformat(new_detail["sent_at"])
    due_at = datetime.fromisoformat(new_detail["due_at"])
    assert timedelta(days=3) <= due_at - sent_at <= timedelta(days=5)

    accepted = api.post(f"/api/v1/referrals/{new['id']}/accept", network.staff_b)
    assert accepted.status_code == 200


def test_overdue_sweep_flags_once_and_reminds_both_sides(
    api, network, create_member, send, db, runner
):
    rid = send(create_member())["id"]
    answered = send(create_member(first_name="Joe"), network.service_a2)["id"]
    api.act(answered, "accept", network.staff_a)
    referral = db.session.get(Referral, uuid.UUID(rid))
    past = datetime.now(UTC) - timedelta(hours=1)
    referral.due_at = past
    db.session.get(Referral, uuid.UUID(answered)).due_at = past
    db.session.commit()

    assert api.get(f"/api/v1/referrals/{rid}", network.coordinator_a).get_json()["overdue"]
    overdue_list = api.get("/api/v1/referrals?overdue=true", network.staff_a).get_json()
    assert [r["id"] for r in overdue_list["items"]] == [rid]

    first = runner.invoke(args=["referrals", "sweep"])
    assert first.exit_code == 0, first.output
    assert "1 referral(s) newly overdue" in first.output
    second = runner.invoke(args=["referrals", "sweep"])
    assert "0 referral(s) newly overdue" in second.output

    db.session.expire_all()
    overdue_notices = db.session.scalars(
        select(Notification).where(Notification.kind == "overdue")
    ).all()
    assert sorted(n.user.email for n in overdue_notices) == sorted(
        [network.coordinator_a.email, network.staff_a.email, network.agency_admin_a.email]
    )
    reminders = db.session.scalar(
        select(func.count()).select_from(OutboxEmail).where(OutboxEmail.kind == "overdue")
    )
    assert reminders == 3
    flagged = db.session.get(Referral, referral.id)
    assert flagged.overdue and flagged.overdue_notified_at is not None
    assert flagged.status == "sent"

    # Overdue is a flag, not a state: it can still be answered, and shows in the history.
    accepted = api.act(rid, "accept", network.staff_a)
    assert accepted.status_code == 200
    assert _events(accepted.get_json()) == [
        ("send", None, "sent"),
        ("overdue", "sent", "sent"),
        ("accept", "sent", "accepted"),
    ]
    assert (
        db.session.scalar(
            select(func.count()).select_from(ReferralEvent).where(ReferralEvent.action == "overdue")
        )
        == 1
    )


def test_messages_between_the_two_sides(api, network, create_member, send, db):
    rid = send(create_member())["id"]
    asked = api.act(
        rid, "messages", network.staff_a, {"body": "Does she need a delivery or can she pick up?"}
    )
    assert asked.status_code == 201
    assert asked.get_json()["author"]["name"] == "Dev Patel"
    empty = api.act(rid, "messages", network.coordinator_a, {"body": "  "})
    assert empty.status_code == 400
    answered = api.act(rid, "messages", network.coordinator_a, {"body": "Pick-up is fine"})
    assert answered.status_code == 201
    detail = api.get(f"/api/v1/referrals/{rid}", network.staff_a).get_json()
    assert [m["body"] for m in detail["messages"]] == [
        "Does she need a delivery or can she pick up?",
        "Pick-up is fine",
    ]
    assert [n.kind for n in _notices(db, network.coordinator_a)] == ["message"]
    assert [n.kind for n in _notices(db, network.staff_a)] == ["sent", "message"]
    # The email says a message is waiting, never what it says.
    [mail] = [e for e in _outbox_to(db, network.coordinator_a) if e.kind == "message"]
    assert "pick up" not in mail.body


def test_notifications_unread_count_and_mark_read(api, network, create_member, send):
    rid = send(create_member())["id"]
    send(create_member(first_name="Joe"), network.service_a2)
    listed = api.get("/api/v1/notifications", network.staff_a).get_json()
    assert listed["unread_count"] == 2
    first_id = listed["items"][0]["id"]
    marked = api.post("/api/v1/notifications/read", network.staff_a, {"ids": [first_id]})
    assert marked.get_json() == {"marked_read": 1, "unread_count": 1}
    # Nobody can mark someone else's notices.
    other = api.post("/api/v1/notifications/read", network.agency_admin_a, {"ids": [first_id]})
    assert other.get_json()["marked_read"] == 0
    everything = api.post("/api/v1/notifications/read", network.staff_a)
    assert everything.get_json() == {"marked_read": 1, "unread_count": 0}
    assert rid


def test_duplicate_referral_needs_confirmation(api, network, create_member, send, db):
    member = create_member()
    first = send(member)["id"]
    again = api.refer(network.coordinator_a, member, network.service_a)
    assert again.status_code == 409
    error = again.get_json()["error"]
    assert error["code"] == "duplicate_referral"
    assert error["existing_referral_id"] == first
    assert '"confirm_duplicate": true' in error["message"]
    confirmed = send(member, need="Food again", confirm_duplicate=True)
    assert confirmed["id"] != first
    # Once the first is closed, a new one is no longer a duplicate.
    api.act(first, "decline", network.staff_a, {"reason": "no_capacity"})
    api.post(
        f"/api/v1/referrals/{confirmed['id']}/cancel",
        network.coordinator_a,
        {"reason": "duplicate"},
    )
    assert send(member)["status"] == "sent"


def test_capacity_switch_blocks_new_referrals_when_not_accepting(api, network, create_member, db):
    member = create_member()
    path = f"/api/v1/services/{network.service_a.id}/referral-capacity"
    assert api.post(path, network.staff_b, {"referral_capacity": "waitlist"}).status_code == 403
    assert api.post(path, network.staff_a, {"referral_capacity": "full"}).status_code == 400
    switched = api.post(path, network.staff_a, {"referral_capacity": "not_accepting"})
    assert switched.get_json() == {
        "id": str(network.service_a.id),
        "referral_capacity": "not_accepting",
    }
    refused = api.refer(network.coordinator_a, member, network.service_a)
    api.assert_refused(refused, 422, "service_not_accepting")
    api.post(path, network.agency_admin_a, {"referral_capacity": "waitlist"})
    allowed = api.refer(network.coordinator_a, member, network.service_a)
    assert allowed.status_code == 201
