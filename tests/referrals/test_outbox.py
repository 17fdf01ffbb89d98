"""Notification email through the outbox: a real SMTP server on loopback, down and back up."""

import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from extensions import utcnow
from referrals import notifications, services
from referrals.models import Notification, OutboxEmail, Referral
from tests.fixtures_accounts import CollectingHandler, free_port


class RestartableSmtp:
    """An aiosmtpd server on a fixed loopback port that a test can stop and start again."""

    def __init__(self):
        self.port = free_port()
        self.handler = CollectingHandler()
        self.controller = None

    def start(self):
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return self.handler.messages


@pytest.fixture
def mail_server(app):
    server = RestartableSmtp()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_TIMEOUT=5)
    yield server
    server.stop()


def _pending(db):
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxEmail).where(OutboxEmail.sent_at.is_(None)).order_by(OutboxEmail.to_address)
    ).all()


def test_notification_mail_reaches_a_real_smtp_server(
    api, network, create_member, send, runner, smtp_server, db
):
    rid = send(create_member())["id"]
    result = runner.invoke(args=["referrals", "deliver"])
    assert result.exit_code == 0, result.output
    assert "sent 2, failed 0" in result.output
    [to_staff] = smtp_server.messages_to(network.staff_a.email)
    [to_admin] = smtp_server.messages_to(network.agency_admin_a.email)
    assert to_staff["Subject"] == "New urgent referral: Emergency food boxes"
    body = to_staff.get_body(preferencelist=("plain",)).get_content()
    assert "Central Health Home sent an urgent referral to Emergency food boxes." in body
    assert "Please accept, decline or forward it by " in body
    assert smtp_server.last_link(network.staff_a.email).endswith(f"/referrals/{rid}")
    for message in (to_staff, to_admin):
        text = message.get_body(preferencelist=("plain",)).get_content()
        for private in ("Maria", "Lopez", "555-0142", "HIV", "Groceries"):
            assert private not in text
    assert _pending(db) == []

    again = runner.invoke(args=["referrals", "deliver"])
    assert "sent 0, failed 0" in again.output
    assert len(smtp_server.messages) == 2  # nothing sent twice


def test_outbox_keeps_mail_while_the_server_is_down_then_delivers(
    api, network, create_member, send, runner, mail_server, db
):
    mail_server.start()
    mail_server.stop()  # the mail server is down when the referral is sent
    rid = send(create_member())["id"]
    assert api.get(f"/api/v1/referrals/{rid}", network.staff_a).status_code == 200

    down = runner.invoke(args=["referrals", "deliver"])
    assert down.exit_code == 0
    assert "sent 0, failed 2 (will retry)" in down.output
    waiting = _pending(db)
    assert [m.to_address for m in waiting] == [network.staff_a.email, network.agency_admin_a.email]
    for message in waiting:
        assert message.attempts == 1 and message.last_error
        assert message.next_attempt_at > utcnow()  # backing off

    mail_server.start()
    backing_off = runner.invoke(args=["referrals", "deliver"])
    assert "sent 0, failed 0" in backing_off.output
    assert mail_server.messages == []

    back = runner.invoke(args=["referrals", "deliver", "--retry-now"])
    assert "sent 2, failed 0" in back.output, back.output
    assert sorted(str(m["To"]) for m in mail_server.messages) == sorted(
        [network.staff_a.email, network.agency_admin_a.email]
    )
    assert _pending(db) == []
    assert {m.attempts for m in db.session.scalars(select(OutboxEmail))} == {2}


def test_backoff_grows_and_the_outbox_gives_up_without_losing_the_row(network, db, mail_server):
    db.session.add(OutboxEmail(to_address="someone@example.org", subject="Hello", body="Text"))
    db.session.commit()
    moment = datetime.now(UTC)
    delays = []
    for _ in range(notifications.MAX_ATTEMPTS):
        report = notifications.deliver_pending(now=moment)
        assert report.sent == 0 and report.failed + report.gave_up == 1
        row = db.session.scalars(select(OutboxEmail)).one()
        if row.failed_at is None:
            delays.append(row.next_attempt_at - moment)
            assert notifications.deliver_pending(now=moment).failed == 0  # not due yet
            moment = row.next_attempt_at
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert max(delays) == timedelta(hours=6)
    row = db.session.scalars(select(OutboxEmail)).one()
    assert row.failed_at is not None and row.attempts == notifications.MAX_ATTEMPTS
    assert "could not send mail" in row.last_error
    assert notifications.pending_count() == 0
    assert notifications.deliver_pending(now=moment + timedelta(days=1)).gave_up == 0


def test_notices_and_emails_roll_back_with_a_refused_change(api, network, create_member, db):
    member = create_member(consent=False)
    refused = api.refer(network.coordinator_a, member, network.service_a)
    assert refused.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 0
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_inactive_sender_hands_notices_to_their_organization(api, network, create_member, send, db):
    rid = send(create_member())["id"]
    sender = db.session.get(type(network.coordinator_a), network.coordinator_a.id)
    sender.active = False
    db.session.commit()
    api.post(f"/api/v1/referrals/{rid}/accept", network.staff_a)
    db.session.expire_all()
    told = db.session.scalars(
        select(Notification.user_id).where(Notification.kind == "accepted")
    ).all()
    assert told == [network.coordinator_a2.id]


def test_sweeps_on_two_hosts_at_once_queue_one_reminder(
    db, network, create_member, hold_before_first_write, on_two_hosts
):
    member = create_member()
    referral = services.send_referral(network.coordinator_a, member, network.service_a, need="x")
    db.session.commit()
    db.session.get(Referral, referral.id).due_at = datetime.now(UTC) - timedelta(minutes=5)
    db.session.commit()
    runs, errors = on_two_hosts(services.sweep_overdue)
    flagged = [item for run in runs for item in run]
    assert errors == []
    assert flagged == [referral.id]
    db.session.expire_all()
    reminders = db.session.scalar(
        select(func.count()).select_from(OutboxEmail).where(OutboxEmail.kind == "overdue")
    )
    assert reminders == 3  # coordinator, agency staff, agency admin: once each


def test_two_delivery_runs_at_once_send_each_email_once(
    db, network, create_member, smtp_server, hold_threads_before, on_two_hosts
):
    for n in range(3):
        services.send_referral(
            network.coordinator_a, create_member(first_name=f"M{n}"), network.service_a, need="x"
        )
    db.session.commit()
    assert notifications.pending_count() == 6
    # Both runs read the same first email before either claims it (SQLite: the same row;
    # PostgreSQL: SKIP LOCKED already hands the second run another row).
    hold_threads_before(lambda sql: sql.startswith("UPDATE outbox_email"))
    reports, errors = on_two_hosts(notifications.deliver_pending)
    assert errors == []
    assert sum(r.sent for r in reports) == 6
    assert sum(r.failed + r.gave_up for r in reports) == 0
    recipients = sorted(str(m["To"]) for m in smtp_server.messages)
    assert recipients == sorted([network.staff_a.email, network.agency_admin_a.email] * 3)
    assert len({m["Message-ID"] for m in smtp_server.messages}) == 6
    assert notifications.pending_count() == 0


# -- a mail server that never answers, or refuses: the run stops early ------------------------


class SilentServer:
    """A loopback TCP server that accepts connections and never says a word (no SMTP greeting)."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.held.append(connection)

    def close(self):
        self.sock.close()
        for connection in self.held:
            connection.close()


class RefusingPort:
    """A loopback port bound but not listening: every connection is refused at once."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


def _queue_emails(db, count: int) -> None:
    for n in range(count):
        db.session.add(OutboxEmail(to_address=f"person{n:02}@example.org", subject="Hi", body="x"))
    db.session.commit()


@pytest.mark.parametrize("server_kind", [SilentServer, RefusingPort])
def test_a_run_stops_after_consecutive_connection_failures(app, db, runner, server_kind):
    """10 queued emails, a mail server that hangs (or refuses): the run gives up after 3
    emails, the other 7 keep their place with no attempt spent, and the run takes about
    3 x the connect timeout, not 10 x the send timeout."""
    server = server_kind()
    app.config.update(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=server.port,
        MAIL_CONNECT_TIMEOUT=0.5,
        MAIL_TIMEOUT=3,
        MAIL_MAX_CONNECT_FAILURES=3,
    )
    _queue_emails(db, 10)
    try:
        started = time.monotonic()
        result = runner.invoke(args=["referrals", "deliver"])
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert result.exit_code == 0, result.output
    assert "sent 0, failed 3 (will retry), gave up 0; 10 waiting" in result.output
    assert "stopped after 3 emails in a row could not connect to the mail server" in result.output
    attempts = sorted(m.attempts for m in _pending(db))
    assert attempts == [0] * 7 + [1] * 3
    assert elapsed < 3 * 3, elapsed  # three waits of the 3 s send timeout would take 9 s or more
    if server_kind is SilentServer:
        assert elapsed >= 3 * 0.5 * 0.9, elapsed  # it did wait for the greeting, 3 times


def test_a_failure_that_is_not_a_connection_failure_does_not_count(app, db, monkeypatch, network):
    """Only failures in a row count: a delivered email (or a refused recipient) resets them."""
    from accounts import notify
    from accounts.mail import MailError, MailServerUnreachable

    app.config.update(MAIL_MAX_CONNECT_FAILURES=2)
    _queue_emails(db, 6)
    outcomes = iter(["down", "ok", "down", "refused", "down", "ok"])

    def fake_send(to, *_args):
        outcome = next(outcomes)
        if outcome == "down":
            raise MailServerUnreachable("no greeting")
        if outcome == "refused":
            raise MailError("550 no such user")

    monkeypatch.setattr(notify, "send_mail", fake_send)  # every outbox row is sent through notify
    report = notifications.deliver_pending()
    assert (report.sent, report.failed, report.stopped) == (2, 4, None)


def test_a_slow_answer_after_the_greeting_gets_the_send_timeout(app, db):
    """The connect timeout covers opening the SMTP session only; sending may take longer."""
    import asyncio

    from aiosmtpd.controller import Controller

    class Slow(CollectingHandler):
        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(1.0)
            return await super().handle_DATA(server, session, envelope)

    handler = Slow()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port, MAIL_CONNECT_TIMEOUT=0.5, MAIL_TIMEOUT=5
    )
    _queue_emails(db, 1)
    try:
        report = notifications.deliver_pending()
    finally:
        controller.stop()
    assert (report.sent, report.failed, report.errors) == (1, 0, [])
    assert len(handler.messages) == 1
