"""Accepted referrals with no outcome past their deadline: flagged once, both sides reminded once,
still actionable, cleared by an outcome or a cancellation, and visible on screens and in the API."""

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from accounts.models import User
from referrals import deadlines, services
from referrals.models import Notification, OutboxEmail, Referral, ReferralEvent

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def _network_calendar(app):
    """A known calendar whatever the environment says: New York, no holidays, 10 business days."""
    app.config.update(
        DEFAULT_TIMEZONE="America/New_York", REFERRAL_HOLIDAYS="", OUTCOME_REMINDER_DAYS=10
    )


def _local(*args) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def _reload(db, referral_id) -> Referral:
    db.session.expire_all()
    return db.session.get(Referral, referral_id)


def _accepted(db, network, member, *, at: datetime, service=None) -> Referral:
    """A referral from coordinator A, accepted by agency staff at `at` (committed)."""
    coordinator = db.session.get(User, network.coordinator_a.id)
    staff = db.session.get(User, network.staff_a.id)
    referral = services.send_referral(
        coordinator, member, service or network.service_a, need="Groceries", now=at
    )
    services.accept(referral, staff, now=at)
    db.session.commit()
    return referral


def _accepted_long_ago(db, api, network, send, member, service=None) -> str:
    """Sent and accepted over the API now, then moved 30 days back (past any 10-day deadline)."""
    rid = send(member, service or network.service_a)["id"]
    assert api.post(f"/api/v1/referrals/{rid}/accept", network.staff_a).status_code == 200
    referral = _reload(db, uuid.UUID(rid))
    referral.responded_at = datetime.now(UTC) - timedelta(days=30)
    db.session.commit()
    return rid


def _reminders(db, referral_id=None) -> list[OutboxEmail]:
    db.session.expire_all()
    stmt = select(OutboxEmail).where(OutboxEmail.kind == "outcome_overdue")
    if referral_id is not None:
        stmt = stmt.where(OutboxEmail.referral_id == referral_id)
    return db.session.scalars(stmt.order_by(OutboxEmail.to_address)).all()


def _events(db, referral_id) -> list[tuple]:
    db.session.expire_all()
    return [
        (e.action, e.from_status, e.to_status)
        for e in db.session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == referral_id)
            .order_by(ReferralEvent.at)
        )
    ]


# -- the sweep -------------------------------------------------------------------------------


def test_sweep_flags_once_and_reminds_both_sides_once(
    api, network, create_member, send, db, runner
):
    member = create_member()
    rid = _accepted_long_ago(db, api, network, send, member)
    referral_id = uuid.UUID(rid)

    first = runner.invoke(args=["referrals", "sweep"])
    assert first.exit_code == 0, first.output
    assert "0 referral(s) newly overdue" in first.output  # the answer sweep still reports
    assert "1 accepted referral(s) newly past their outcome deadline" in first.output
    second = runner.invoke(args=["referrals", "sweep"])
    assert second.exit_code == 0, second.output
    assert "0 accepted referral(s) newly past their outcome deadline" in second.output

    flagged = _reload(db, referral_id)
    assert flagged.outcome_overdue and flagged.outcome_overdue_notified_at is not None
    assert flagged.status == "accepted"  # a flag, not a status
    assert _events(db, referral_id) == [
        ("send", None, "sent"),
        ("accept", "sent", "accepted"),
        ("outcome_overdue", "accepted", "accepted"),
    ]
    # The agency's staff and the coordinator who sent it: one notice and one email each.
    expected = sorted(
        [network.coordinator_a.email, network.staff_a.email, network.agency_admin_a.email]
    )
    notices = db.session.scalars(
        select(Notification).where(Notification.kind == "outcome_overdue")
    ).all()
    assert sorted(n.user.email for n in notices) == expected
    emails = _reminders(db)
    assert [e.to_address for e in emails] == expected
    for email in emails:
        assert email.referral_id == referral_id
        assert f"/referrals/{rid}" in email.body
        assert "Outcome overdue" in email.subject
        # No member data at all: the link leads to the page, where consent decides.
        for private in (
            member.first_name,
            member.last_name,
            member.phone,
            member.email,
            member.address,
            "Groceries for a family of four",
        ):
            assert private not in email.body and private not in email.subject


def test_the_reminders_say_what_each_side_should_do(api, network, create_member, send, db):
    rid = _accepted_long_ago(db, api, network, send, create_member())
    assert services.sweep_outcome_overdue() == [uuid.UUID(rid)]
    db.session.commit()
    by_address = {e.to_address: e.body for e in _reminders(db)}
    assert "Please record what happened" in by_address[network.staff_a.email]
    assert "has not recorded an outcome" in by_address[network.coordinator_a.email]
    assert "Northside Food Pantry" in by_address[network.coordinator_a.email]


def test_a_referral_accepted_recently_is_not_flagged(db, network, create_member):
    # Accepted on a Wednesday; 10 business days later is the Wednesday two weeks on.
    referral = _accepted(db, network, create_member(), at=_local(2025, 5, 7, 10, 0))
    assert services.sweep_outcome_overdue(now=_local(2025, 5, 20, 10, 0)) == []
    assert services.sweep_outcome_overdue(now=_local(2025, 5, 21, 9, 59)) == []
    db.session.commit()
    stored = _reload(db, referral.id)
    assert not stored.outcome_overdue and stored.outcome_overdue_notified_at is None
    assert _reminders(db) == []
    assert services.sweep_outcome_overdue(now=_local(2025, 5, 21, 10, 1)) == [referral.id]


def test_waiting_and_closed_referrals_are_never_flagged(db, network, create_member):
    coordinator = db.session.get(User, network.coordinator_a.id)
    staff = db.session.get(User, network.staff_a.id)
    long_ago = _local(2025, 1, 6, 10, 0)
    waiting = services.send_referral(
        coordinator, create_member(), network.service_a, need="Food", now=long_ago
    )
    done = _accepted(db, network, create_member(first_name="Joe"), at=long_ago)
    services.complete(done, staff, outcome="service_provided", now=long_ago + timedelta(days=1))
    db.session.commit()
    assert services.sweep_outcome_overdue(now=_local(2025, 6, 2, 10, 0)) == []
    assert _reload(db, waiting.id).outcome_overdue is False


def test_business_days_skip_weekends(app, db, network, create_member):
    app.config["OUTCOME_REMINDER_DAYS"] = 1
    # Accepted on a Friday afternoon: one business day later is Monday afternoon.
    referral = _accepted(db, network, create_member(), at=_local(2025, 5, 2, 15, 0))
    assert deadlines.outcome_due(referral) == _local(2025, 5, 5, 15, 0)
    assert services.sweep_outcome_overdue(now=_local(2025, 5, 4, 15, 0)) == []  # Sunday
    assert services.sweep_outcome_overdue(now=_local(2025, 5, 5, 14, 59)) == []
    assert services.sweep_outcome_overdue(now=_local(2025, 5, 5, 15, 1)) == [referral.id]


def test_network_holidays_do_not_count(app, db, network, create_member):
    app.config.update(OUTCOME_REMINDER_DAYS=1, REFERRAL_HOLIDAYS="2025-05-05")
    referral = _accepted(db, network, create_member(), at=_local(2025, 5, 2, 15, 0))
    assert deadlines.outcome_due(referral) == _local(2025, 5, 6, 15, 0)
    assert services.sweep_outcome_overdue(now=_local(2025, 5, 5, 15, 1)) == []
    assert services.sweep_outcome_overdue(now=_local(2025, 5, 6, 15, 1)) == [referral.id]


def test_the_deadline_follows_the_setting(app, db, network, create_member):
    referral = _accepted(db, network, create_member(), at=_local(2025, 5, 7, 10, 0))
    assert deadlines.outcome_due(referral) == _local(2025, 5, 21, 10, 0)
    app.config["OUTCOME_REMINDER_DAYS"] = 3
    assert deadlines.outcome_due(referral) == _local(2025, 5, 12, 10, 0)
    assert services.sweep_outcome_overdue(now=_local(2025, 5, 12, 10, 1)) == [referral.id]


def test_the_setting_comes_from_the_environment(make_app, monkeypatch):
    monkeypatch.delenv("OUTCOME_REMINDER_DAYS", raising=False)
    assert make_app().config["OUTCOME_REMINDER_DAYS"] == 10
    monkeypatch.setenv("OUTCOME_REMINDER_DAYS", "15")
    assert make_app().config["OUTCOME_REMINDER_DAYS"] == 15


def test_sweeps_on_two_hosts_at_once_remind_once(
    db, network, create_member, hold_before_first_write, on_two_hosts
):
    referral = _accepted(db, network, create_member(), at=_local(2025, 5, 7, 10, 0))
    later = _local(2025, 6, 9, 10, 0)
    runs, errors = on_two_hosts(lambda: services.sweep_outcome_overdue(now=later))
    flagged = [item for run in runs for item in run]
    assert errors == []
    assert flagged == [referral.id]
    assert len(_reminders(db)) == 3  # coordinator, agency staff, agency admin: once each
    assert [e[0] for e in _events(db, referral.id)].count("outcome_overdue") == 1


# -- still actionable; the flag clears -------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "action", "body", "status"),
    [
        ("staff_a", "complete", {"outcome": "service_provided"}, "completed"),
        ("coordinator_a", "cancel", {"reason": "need_met_elsewhere"}, "cancelled"),
        ("staff_a", "cancel", {"reason": "unable_to_contact"}, "cancelled"),
    ],
)
def test_an_outcome_or_a_cancellation_clears_the_flag(
    api, network, create_member, send, db, who, action, body, status
):
    rid = _accepted_long_ago(db, api, network, send, create_member())
    services.sweep_outcome_overdue()
    db.session.commit()
    assert api.get(f"/api/v1/referrals/{rid}", network.coordinator_a).get_json()["outcome_overdue"]

    response = api.post(f"/api/v1/referrals/{rid}/{action}", network.people[who], body)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["status"] == status
    assert answer["outcome_overdue"] is False
    assert answer["outcome_due_at"] is None
    assert _reload(db, uuid.UUID(rid)).outcome_overdue is False
    listed = api.get("/api/v1/referrals?outcome_overdue=true", network.coordinator_a)
    assert listed.get_json()["items"] == []
    # Closed: a later sweep does not remind anyone again.
    assert services.sweep_outcome_overdue() == []
    assert len(_reminders(db)) == 3


def test_a_second_accept_names_who_accepted_not_the_sweep(api, network, create_member, send, db):
    rid = _accepted_long_ago(db, api, network, send, create_member())
    services.sweep_outcome_overdue()
    db.session.commit()
    again = api.post(f"/api/v1/referrals/{rid}/accept", network.agency_admin_a)
    assert again.status_code == 409
    assert "already accepted by Dev Patel" in again.get_json()["error"]["message"]


# -- the API ---------------------------------------------------------------------------------


def test_the_api_shows_the_flag_and_filters_on_it(api, network, create_member, send, db):
    late = _accepted_long_ago(db, api, network, send, create_member())
    recent = send(create_member(first_name="Joe"), network.service_a2)["id"]
    assert api.post(f"/api/v1/referrals/{recent}/accept", network.staff_a).status_code == 200
    waiting = send(create_member(first_name="Ida"), network.service_b)["id"]
    assert services.sweep_outcome_overdue() == [uuid.UUID(late)]
    db.session.commit()

    detail = api.get(f"/api/v1/referrals/{late}", network.staff_a).get_json()
    assert detail["outcome_overdue"] is True
    assert datetime.fromisoformat(detail["outcome_due_at"]) < datetime.now(UTC)
    assert ("outcome_overdue", "accepted", "accepted") in [
        (e["action"], e["from_status"], e["to_status"]) for e in detail["events"]
    ]
    assert set(detail["allowed_actions"]) == {"complete", "cancel"}  # still actionable
    fresh = api.get(f"/api/v1/referrals/{recent}", network.staff_a).get_json()
    assert fresh["outcome_overdue"] is False
    assert datetime.fromisoformat(fresh["outcome_due_at"]) > datetime.now(UTC)
    assert (
        api.get(f"/api/v1/referrals/{waiting}", network.coordinator_a).get_json()["outcome_due_at"]
        is None
    )

    def ids(query, user):
        response = api.get(f"/api/v1/referrals?{query}", user)
        assert response.status_code == 200, response.get_json()
        return sorted(item["id"] for item in response.get_json()["items"])

    assert ids("outcome_overdue=true", network.coordinator_a) == [late]
    assert ids("outcome_overdue=true", network.staff_a) == [late]
    assert ids("outcome_overdue=true&status=accepted", network.staff_a) == [late]
    assert ids("outcome_overdue=false", network.coordinator_a) == sorted([recent, waiting])
    # Scoped like every list: other organizations don't see it.
    assert ids("outcome_overdue=true", network.staff_b) == []
    assert ids("outcome_overdue=true", network.coordinator_b) == []


def test_the_api_refuses_a_bad_filter_value(api, network):
    response = api.get("/api/v1/referrals?outcome_overdue=yes", network.coordinator_a)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["fields"]["outcome_overdue"] == "Use true or false."


# -- the screens -----------------------------------------------------------------------------


@pytest.fixture
def late_and_recent(api, network, create_member, send, db):
    """Two accepted referrals of coordinator A to agency A: one flagged by the sweep, one not."""
    late = _accepted_long_ago(db, api, network, send, create_member(first_name="Lena"))
    recent = send(create_member(first_name="Omar"), network.service_a2)["id"]
    assert api.post(f"/api/v1/referrals/{recent}/accept", network.staff_a).status_code == 200
    services.sweep_outcome_overdue()
    db.session.commit()
    return late, recent


def _signed_in(app, login, user):
    client = app.test_client()
    login(client, user)
    return client


def test_dashboard_and_inbox_badge_the_overdue_one(app, login, network, late_and_recent):
    late, recent = late_and_recent
    dashboard = _signed_in(app, login, network.coordinator_a).get("/referrals?view=accepted")
    inbox = _signed_in(app, login, network.staff_a).get("/inbox?tab=accepted")
    for response in (dashboard, inbox):
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert html.count("Outcome overdue</span>") == 1
        assert html.count("Accepted · awaiting outcome") == 2
        # The overdue one is listed first, so it is seen first.
        assert html.index(f"/referrals/{late}") < html.index(f"/referrals/{recent}")


def test_the_referral_page_shows_the_flag_and_still_offers_the_outcome(
    app, login, db, network, late_and_recent
):
    late, recent = late_and_recent
    staff = _signed_in(app, login, network.staff_a)
    html = staff.get(f"/referrals/{late}").get_data(as_text=True)
    assert "Outcome overdue</span>" in html
    assert "No outcome in time: flagged outcome overdue" in html
    assert "Record the outcome" in html
    assert "Outcome overdue</span>" not in staff.get(f"/referrals/{recent}").get_data(as_text=True)
    coordinator_page = _signed_in(app, login, network.coordinator_a).get(f"/referrals/{late}")
    assert "Outcome overdue</span>" in coordinator_page.get_data(as_text=True)

    done = staff.post(f"/referrals/{late}/complete", data={"outcome": "waitlisted"})
    assert done.status_code in (302, 303)
    assert _reload(db, uuid.UUID(late)).outcome_overdue is False
    html = staff.get(f"/referrals/{late}").get_data(as_text=True)
    assert "Outcome overdue</span>" not in html
    assert "Closed · waitlisted" in html
