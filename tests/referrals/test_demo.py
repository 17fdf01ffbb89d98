"""The demo network's referral work (`seed-demo`): every state, reason and outcome; consistent
timelines; added once; dashboards and inboxes that show real work on a fresh install."""

import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accounts.demo import DEMO_PASSWORD, seed_demo_accounts
from accounts.models import User
from accounts.outbox import OutboxEmail
from directory.demo import seed_demo_directory
from extensions import utcnow
from referrals import queries
from referrals.demo import DEMO_DAYS, seed_demo_referrals
from referrals.models import AuditLog, Delivery, Member, Notification, Referral, ReferralEvent
from referrals.states import CHOSEN_CANCEL_REASONS, DeclineReason, Outcome, Status

COORDINATOR = "coordinator1@cnyhh.example.org"
FOOD_BANK_STAFF = "staff@food-bank.example.org"


@pytest.fixture
def demo(db):
    """The demo directory, accounts and referral work, committed; returns (summary, now)."""
    seed_demo_directory()
    seed_demo_accounts()
    now = utcnow().replace(microsecond=0)
    summary = seed_demo_referrals(now=now)
    db.session.commit()
    return summary, now


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _values(db, column) -> set:
    return set(db.session.scalars(select(column).where(column.is_not(None)).distinct()))


def test_every_state_reason_and_outcome_is_there(db, demo):
    summary, now = demo
    assert summary.members == 60
    assert 140 <= summary.referrals <= 170  # "about 150"
    by_status = Counter(
        dict(
            db.session.execute(
                select(Referral.status, func.count()).group_by(Referral.status)
            ).all()
        )
    )
    assert by_status == summary.by_status
    assert set(by_status) == {str(s) for s in Status}
    assert _values(db, Referral.decline_reason) == {str(r) for r in DeclineReason}
    assert _values(db, Referral.outcome) == {str(o) for o in Outcome}
    assert _values(db, Referral.cancel_reason) >= {str(r) for r in CHOSEN_CANCEL_REASONS}

    def count(*where) -> int:
        return db.session.scalar(select(func.count()).select_from(Referral).where(*where))

    waiting = count(Referral.status == "sent", Referral.due_at > now, Referral.overdue.is_(False))
    assert waiting >= 5
    assert count(Referral.status == "sent", Referral.overdue.is_(True)) >= 5  # swept overdue
    assert count(Referral.outcome_overdue.is_(True)) >= 3
    assert count(Referral.escalated_at.is_not(None)) >= 5
    assert count(Referral.resent_from_id.is_not(None)) >= 10  # next best: click and sweep
    assert count(Referral.forwarded_from_id.is_not(None)) == by_status["forwarded"]
    # By email link, to agencies that have not joined: answered in every way through the link.
    emailed = Referral.delivery == Delivery.email.value
    assert count(emailed) >= 30
    for status in ("sent", "accepted", "declined", "completed"):
        assert count(emailed, Referral.status == status) > 0, status
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(ReferralEvent)
            .where(ReferralEvent.link_id.is_not(None))
        )
        > 0
    )
    assert db.session.scalar(
        select(func.count()).select_from(ReferralEvent).where(ReferralEvent.action == "escalated")
    ) == count(Referral.escalated_at.is_not(None))


def test_timelines_are_consistent_and_in_the_past(db, demo):
    _summary, now = demo
    referrals = db.session.scalars(select(Referral)).all()
    for referral in referrals:
        assert now - timedelta(days=DEMO_DAYS + 1) <= referral.sent_at <= now
        events = referral.events
        assert events[0].action == "send" and events[0].at == referral.sent_at
        assert [e.at for e in events] == sorted(e.at for e in events)
        assert all(e.at <= now for e in events)
        if referral.closed_at is not None:
            assert referral.sent_at < referral.closed_at <= now
        # The due date comes from the agency's window at the time it was sent.
        assert referral.due_at > referral.sent_at
        assert referral.member.consents[0].given_at <= referral.sent_at
    # Six months of history, spread out, not all on one day.
    months = {(r.sent_at.year, r.sent_at.month) for r in referrals}
    assert len(months) >= 6
    # No demo mail waits in the outbox: it belongs to the story's past.
    pending = select(func.count()).select_from(OutboxEmail).where(OutboxEmail.sent_at.is_(None))
    assert db.session.scalar(pending) == 0
    assert _count(db, OutboxEmail) > 0


def test_running_it_again_adds_nothing(db, demo):
    tables = (Member, Referral, ReferralEvent, Notification, AuditLog, OutboxEmail)
    before = {model.__tablename__: _count(db, model) for model in tables}
    again = seed_demo_referrals()
    db.session.commit()
    assert again.members == 0 and again.referrals == 0
    assert again.skipped_members == 60
    assert {model.__tablename__: _count(db, model) for model in tables} == before


def test_dashboards_and_inboxes_show_real_work(app, db, demo):
    _summary, now = demo
    coordinator = db.session.scalar(select(User).where(User.email == COORDINATOR))
    loop = queries.closed_loop_rate(coordinator, now - timedelta(days=90), now + timedelta(1))
    assert loop.sent > 20 and 0.2 < loop.rate < 0.9
    assert loop.declined > 0 and loop.still_open > 0

    client = app.test_client()
    client.post("/login", data={"email": COORDINATOR, "password": DEMO_PASSWORD})
    html = client.get("/referrals").get_data(as_text=True)
    rate = re.search(r'class="stat-number">(\d+)%<', html)
    assert rate and 0 < int(rate[1]) < 100, html[:500]
    overdue = client.get("/referrals?view=overdue").get_data(as_text=True)
    assert overdue.count('<li class="ref-row ref-overdue">') >= 3

    agency = app.test_client()
    agency.post("/login", data={"email": FOOD_BANK_STAFF, "password": DEMO_PASSWORD})
    inbox = agency.get("/inbox?tab=closed").get_data(as_text=True)
    assert "Closed" in inbox and "demo.member" not in inbox  # names, not demo email addresses
    assert re.search(r"Closed · (service provided|partially provided|waitlisted)", inbox)
