"""Telling both sides of a referral what happened: in-app notices and emails through an outbox.

Notices and outbox rows are added to the same unit of work as the change they tell of, so they
commit (or roll back) together: a referral is never changed without its notices, and an email is
never queued for a change that did not happen. `deliver_pending` sends the outbox later, with
retries and backoff, so nothing is lost while the mail server is down.

Emails carry no member data at all (not even a name): they name the service and organizations and
link to the referral page, where consent decides what each person sees.
"""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update

from accounts import notify
from accounts.mail import MailError, MailServerUnreachable
from accounts.models import Role, User
from accounts.services import active_users
from extensions import db, utcnow
from referrals import deadlines
from referrals.models import Notification, NotificationKind, OutboxEmail, Referral
from referrals.states import Side, label
from web.unit_of_work import commit_step, discard

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20  # about three days of retries with the backoff below
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)
SEND_LEASE = timedelta(minutes=10)  # a run that dies mid-send frees its email after this
REFERRAL_PATH = "/referrals/{id}"  # the referral page; the screens serve it at this path


def referral_link(referral: Referral) -> str:
    """The absolute address of the referral's page, for emails."""
    base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    return base + REFERRAL_PATH.format(id=referral.id)


# -- who hears about what ------------------------------------------------------------------


def agency_recipients(referral: Referral) -> list[User]:
    """Everyone active at the receiving agency: any of them may pick the referral up."""
    roles = [Role.agency_staff, Role.agency_admin]
    return active_users(referral.receiving_org_id, roles, User.email)


def queue_referral_email(
    referral: Referral, to: str, subject: str, body: str, kind: str, now: datetime
) -> None:
    """An email about `referral` into the outbox, due at once; it goes out with the commit."""
    db.session.add(
        OutboxEmail(
            to_address=to,
            subject=subject,
            body=body,
            kind=kind,
            referral_id=referral.id,
            created_at=now,
            next_attempt_at=now,
            attempts=0,
        )
    )


def coordinator_recipients(referral: Referral) -> list[User]:
    """The coordinator who sent it; if they have left, the sending organization's coordinators."""
    sender = referral.sending_user
    if sender is not None and sender.active:
        return [sender]
    return active_users(referral.sending_org_id, [Role.coordinator], User.email)


def recipients_for(referral: Referral, side: Side) -> list[User]:
    """The people on one side of a referral."""
    if side == Side.receiving:
        return agency_recipients(referral)
    return coordinator_recipients(referral)


def who_hears(referral: Referral, *, agency: bool) -> list[User]:
    """The one rule for who hears of a change to a referral: a step, a message, a forward, an
    escalation.

    The coordinator who sent it always hears, whoever made the change, a colleague's cancel or
    message included (`_notify` leaves out only the person who acted). The receiving agency hears
    too when `agency`: of what the coordinator's side did (a cancel, a message), not of its own
    steps."""
    people = coordinator_recipients(referral)
    if agency:
        people += [u for u in agency_recipients(referral) if u not in people]
    return people


def _notify(
    users: list[User],
    kind: NotificationKind,
    referral: Referral,
    text: str,
    subject: str,
    body: str,
    *,
    actor: User | None = None,
    now: datetime | None = None,
) -> int:
    """One in-app notice and one queued email per person (never to the person who acted)."""
    now = now or utcnow()
    link = referral_link(referral)
    count = 0
    for user in users:
        if actor is not None and user.id == actor.id:
            continue
        db.session.add(
            Notification(
                user_id=user.id, kind=kind, referral_id=referral.id, text=text, created_at=now
            )
        )
        greeting = f"Hello {user.full_name or user.email},"
        email = f"{greeting}\n\n{body}\n\nOpen the referral: {link}\n\n— Wraparound\n"
        queue_referral_email(referral, user.email, subject, email, kind, now)
        count += 1
    return count


def when(moment: datetime) -> str:
    # The same words as the pages' `deadline` filter: one way to read a time in the network.
    return deadlines.format_deadline(moment)


def _by(actor: User | None) -> str:
    return actor.display_name if actor is not None else "Wraparound"


def referral_sent(referral: Referral, actor: User | None, now: datetime | None = None) -> int:
    """The receiving agency hears of a new referral and when it should answer."""
    urgency = "" if referral.urgency == "routine" else f"{referral.urgency} "
    article = "an" if urgency[:1] in ("a", "e", "i", "o", "u") else "a"
    text = f"New {urgency}referral to {referral.service_name} from {referral.sending_org.name}"
    body = (
        f"{referral.sending_org.name} sent {article} {urgency}referral to "
        f"{referral.service_name}.\n"
        f"Please accept, decline or forward it by {when(referral.due_at)}."
    )
    subject = f"New {urgency}referral: {referral.service_name}"
    return _notify(
        agency_recipients(referral),
        NotificationKind.sent,
        referral,
        text,
        subject,
        body,
        actor=actor,
        now=now,
    )


def referral_accepted(referral: Referral, actor: User, now: datetime | None = None) -> int:
    """The coordinator hears their referral was taken on."""
    org = referral.receiving_org.name
    text = f"{org} accepted the referral to {referral.service_name}"
    body = f"{org} accepted the referral to {referral.service_name} ({_by(actor)})."
    return _notify(
        who_hears(referral, agency=False),
        NotificationKind.accepted,
        referral,
        text,
        f"Referral accepted: {referral.service_name}",
        body,
        actor=actor,
        now=now,
    )


def referral_declined(referral: Referral, actor: User, now: datetime | None = None) -> int:
    """The coordinator hears it was declined and why, so they can send it elsewhere."""
    org = referral.receiving_org.name
    reason = label(referral.decline_reason)
    text = f"{org} declined the referral to {referral.service_name}: {reason}"
    body = (
        f"{org} declined the referral to {referral.service_name}.\nReason: {reason}.\n"
        "You may want to refer the member to another service."
    )
    return _notify(
        who_hears(referral, agency=False),
        NotificationKind.declined,
        referral,
        text,
        f"Referral declined: {referral.service_name}",
        body,
        actor=actor,
        now=now,
    )


def referral_cancelled(
    referral: Referral,
    actor: User,
    side: Side,
    now: datetime | None = None,
    *,
    tell_both_sides: bool = False,
) -> int:
    """The other side and the coordinator who sent it (`who_hears`) hear the referral was
    stopped, and why; with `tell_both_sides` (stopped by something other than a decision about
    this referral), the actor's own side hears too."""
    who = referral.sending_org.name if side == Side.sending else referral.receiving_org.name
    reason = label(referral.cancel_reason)
    text = f"{who} cancelled the referral to {referral.service_name}: {reason}"
    body = f"{who} cancelled the referral to {referral.service_name}.\nReason: {reason}."
    if actor is None and side == Side.sending:
        # The sweep withdrew it for the coordinator, who hears of it once: as the escalation.
        recipients = agency_recipients(referral)
    else:
        recipients = who_hears(referral, agency=side == Side.sending)
    if tell_both_sides:
        recipients += [u for u in recipients_for(referral, side) if u not in recipients]
    return _notify(
        recipients,
        NotificationKind.cancelled,
        referral,
        text,
        f"Referral cancelled: {referral.service_name}",
        body,
        actor=actor,
        now=now,
    )


def referral_forwarded(
    original: Referral, forwarded: Referral, actor: User, now: datetime | None = None
) -> int:
    """The coordinator hears where their referral went; the new agency hears of it as new."""
    org = original.receiving_org.name
    text = (
        f"{org} forwarded the referral to {forwarded.service_name} ({forwarded.receiving_org.name})"
    )
    body = (
        f"{org} could not take the referral to {original.service_name} and forwarded it to "
        f"{forwarded.service_name} ({forwarded.receiving_org.name}).\n"
        f"New referral: {referral_link(forwarded)}"
    )
    count = _notify(
        who_hears(original, agency=False),
        NotificationKind.forwarded,
        original,
        text,
        f"Referral forwarded: {original.service_name} → {forwarded.service_name}",
        body,
        actor=actor,
        now=now,
    )
    return count + referral_sent(forwarded, actor, now)


def referral_escalated(original: Referral, new: Referral, now: datetime | None = None) -> int:
    """The coordinator hears the sweep re-sent their unanswered referral to the next best
    service (the silent agency heard of the cancellation, the new one of a new referral)."""
    org = original.receiving_org.name
    text = (
        f"No answer from {org}: the referral was re-sent to {new.service_name} "
        f"({new.receiving_org.name})"
    )
    body = (
        f"{org} did not answer the referral to {original.service_name} in time, so Wraparound "
        f"re-sent it, as you asked, to the next best service: {new.service_name} "
        f"({new.receiving_org.name}).\nNew referral: {referral_link(new)}"
    )
    return _notify(
        who_hears(original, agency=False),
        NotificationKind.escalated,
        original,
        text,
        f"Referral re-sent: {original.service_name} → {new.service_name}",
        body,
        now=now,
    )


def referral_completed(referral: Referral, actor: User, now: datetime | None = None) -> int:
    """The coordinator hears the loop is closed, with the outcome."""
    org = referral.receiving_org.name
    outcome = label(referral.outcome)
    text = f"{org} closed the referral to {referral.service_name}: {outcome}"
    body = f"{org} recorded the outcome of the referral to {referral.service_name}: {outcome}."
    return _notify(
        who_hears(referral, agency=False),
        NotificationKind.completed,
        referral,
        text,
        f"Referral outcome: {referral.service_name} — {outcome}",
        body,
        actor=actor,
        now=now,
    )


def _remind_both_sides(
    referral: Referral,
    kind: NotificationKind,
    text: str,
    subject: str,
    to_agency: str,
    to_coordinator: str,
    now: datetime | None,
) -> int:
    """A reminder from the system (no actor) to both sides, each with its own email body."""
    count = _notify(agency_recipients(referral), kind, referral, text, subject, to_agency, now=now)
    return count + _notify(
        coordinator_recipients(referral), kind, referral, text, subject, to_coordinator, now=now
    )


def referral_overdue(referral: Referral, now: datetime | None = None) -> int:
    """Both sides hear that nobody has answered within the agency's response window."""
    org = referral.receiving_org.name
    text = f"No answer yet from {org} on the referral to {referral.service_name}"
    due = when(referral.due_at)
    to_agency = (
        f"The referral to {referral.service_name} from {referral.sending_org.name} was due for "
        f"an answer by {due}. It can still be accepted, declined or forwarded."
    )
    to_coordinator = (
        f"{org} has not answered the referral to {referral.service_name} (due by {due}). "
        "You may want to call them or refer the member elsewhere."
    )
    subject = f"Overdue referral: {referral.service_name}"
    return _remind_both_sides(
        referral, NotificationKind.overdue, text, subject, to_agency, to_coordinator, now
    )


def referral_outcome_overdue(referral: Referral, due: datetime, now: datetime | None = None) -> int:
    """Both sides hear that an accepted referral still has no outcome past its deadline."""
    org = referral.receiving_org.name
    text = f"No outcome yet from {org} on the accepted referral to {referral.service_name}"
    accepted = when(referral.responded_at or referral.sent_at)
    deadline = when(due)
    to_agency = (
        f"You accepted the referral to {referral.service_name} from "
        f"{referral.sending_org.name} on {accepted}, and no outcome has been recorded (it was "
        f"due by {deadline}).\nPlease record what happened, or cancel the referral if it "
        "cannot go ahead, so the coordinator knows."
    )
    to_coordinator = (
        f"{org} accepted the referral to {referral.service_name} on {accepted} but has not "
        f"recorded an outcome (due by {deadline}). You may want to check in with them."
    )
    subject = f"Outcome overdue: {referral.service_name}"
    return _remind_both_sides(
        referral, NotificationKind.outcome_overdue, text, subject, to_agency, to_coordinator, now
    )


def new_message(referral: Referral, author: User, side: Side, now: datetime | None = None) -> int:
    """The other side and the coordinator who sent it (`who_hears`) hear a message is waiting
    (its text stays in the app)."""
    where = referral.sending_org.name if side == Side.sending else referral.receiving_org.name
    text = f"New message from {where} on the referral to {referral.service_name}"
    body = f"{author.display_name} ({where}) wrote about the referral to {referral.service_name}."
    return _notify(
        who_hears(referral, agency=side == Side.sending),
        NotificationKind.message,
        referral,
        text,
        f"New message: {referral.service_name}",
        body,
        actor=author,
        now=now,
    )


def referral_assigned(
    referral: Referral, assignee: User, actor: User, now: datetime | None = None
) -> int:
    """The colleague a referral was assigned to hears of it (not when they took it themself)."""
    text = f"{actor.display_name} assigned you the referral to {referral.service_name}"
    body = (
        f"{actor.display_name} assigned you the referral to {referral.service_name} from "
        f"{referral.sending_org.name}. It is in your inbox under “Assigned to me”."
    )
    return _notify(
        [assignee],
        NotificationKind.assigned,
        referral,
        text,
        f"Assigned to you: {referral.service_name}",
        body,
        actor=actor,
        now=now,
    )


# -- reading in-app notices ----------------------------------------------------------------


def unread_count(user: User) -> int:
    """How many notices `user` has not read: the badge in the header."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def notifications_for(user: User, *, unread_only: bool = False, limit: int = 50) -> list:
    """The newest notices of `user`."""
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    stmt = stmt.order_by(Notification.created_at.desc(), Notification.id).limit(limit)
    return list(db.session.scalars(stmt))


def mark_read(user: User, ids: list[uuid.UUID] | None = None, now: datetime | None = None) -> int:
    """Mark some (or all) of `user`'s unread notices read; others' notices are never touched."""
    stmt = (
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    if ids is not None:
        if not ids:
            return 0
        stmt = stmt.where(Notification.id.in_(ids))
    return db.session.execute(stmt).rowcount


# -- delivering the outbox -----------------------------------------------------------------


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    gave_up: int = 0
    errors: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the run ended before the queue did


def retry_delay(attempts: int) -> timedelta:
    """Wait before the next try: 1 min, 2, 4, … doubling up to 6 hours."""
    return min(FIRST_RETRY * (2 ** max(0, attempts - 1)), LONGEST_RETRY)


def _claim_next(
    moment: datetime, retry_now: bool, tried: list[uuid.UUID]
) -> tuple[OutboxEmail | None, bool]:
    """Pick the next due email and lease it to this run; (None, False) when nothing is left.

    The lease is a committed conditional UPDATE (attempts still as read, not sent): of several
    hosts reading the same row, exactly one claims it, and nobody holds a lock while mail is
    sent. `next_attempt_at` moves to the end of the lease, so a run that dies mid-send leaves
    the row to be retried later; `last_error` is cleared while the row is in flight.
    """
    due = OutboxEmail.next_attempt_at <= moment
    if retry_now:  # failed rows too, but never one another run is sending right now
        due = or_(due, OutboxEmail.last_error.is_not(None))
    stmt = select(OutboxEmail).where(
        OutboxEmail.sent_at.is_(None),
        OutboxEmail.failed_at.is_(None),
        OutboxEmail.channel.in_(notify.channels_to_send()),  # SMS waits for a provider
        due,
    )
    if tried:
        stmt = stmt.where(OutboxEmail.id.not_in(tried))
    stmt = (
        stmt.order_by(OutboxEmail.next_attempt_at, OutboxEmail.created_at, OutboxEmail.id)
        .limit(1)
        .with_for_update(skip_locked=True)  # PostgreSQL: hosts pick different rows
    )
    email = db.session.scalars(stmt).first()
    if email is None:
        discard()  # ends the read (and, on PostgreSQL, its row locks) before the run stops
        return None, False
    tried.append(email.id)
    claimed = db.session.execute(
        update(OutboxEmail)
        .where(
            OutboxEmail.id == email.id,
            OutboxEmail.attempts == email.attempts,
            OutboxEmail.sent_at.is_(None),
        )
        .values(
            attempts=OutboxEmail.attempts + 1,
            next_attempt_at=moment + SEND_LEASE,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    commit_step()  # the lease must be visible to the other hosts before the mail is sent
    if claimed != 1:
        return None, True  # another host got there first
    return db.session.get(OutboxEmail, email.id, populate_existing=True), True


def deliver_pending(
    *, limit: int = 200, retry_now: bool = False, now: datetime | None = None
) -> DeliveryReport:
    """Send queued emails that are due; failures wait with backoff and are retried. Text
    messages (accounts.notify) go the same way once SMS_BACKEND names a provider; until then
    they wait, unsent.

    This is a job, not a service: it commits as it goes so a crash loses nothing. Safe on
    several hosts at once (PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED` spreads the rows, and
    the claim in `_claim_next` makes sure each is sent by one run); on SQLite too, since each
    claim is a short write. Delivery is at least once: if the database fails after the mail
    server accepted a message, it is sent again after the lease. `retry_now` ignores the
    backoff (for when the mail server is known to be back).

    After MAIL_MAX_CONNECT_FAILURES emails in a row could not even reach the mail server, the
    run stops: the rest would fail the same way, each costing MAIL_CONNECT_TIMEOUT and an
    attempt. They stay queued, untouched, for the next run.
    """
    report = DeliveryReport()
    tried: list[uuid.UUID] = []
    stop_after = current_app.config["MAIL_MAX_CONNECT_FAILURES"]
    unreachable = 0  # emails in a row that could not connect
    for _ in range(limit):
        moment = now or utcnow()
        email, found = _claim_next(moment, retry_now, tried)
        if not found:
            break
        if email is None:
            continue
        try:
            notify.send(email)
        except MailError as exc:
            unreachable = unreachable + 1 if isinstance(exc, MailServerUnreachable) else 0
            email.last_error = str(exc)[:2000]
            if email.attempts >= MAX_ATTEMPTS:
                email.failed_at = moment
                report.gave_up += 1
                log.error("gave up on email %s after %s tries: %s", email.id, email.attempts, exc)
            else:
                email.next_attempt_at = moment + retry_delay(email.attempts)
                report.failed += 1
                log.warning("email %s not sent (try %s): %s", email.id, email.attempts, exc)
            report.errors.append(str(exc))
        else:
            unreachable = 0
            email.sent_at = moment
            report.sent += 1
            log.info("%s %s sent to %s", email.channel, email.id, email.to_address)
        commit_step()  # one email at a time: a crash later loses neither this send nor its row
        if stop_after and unreachable >= stop_after:
            report.stopped = (
                f"stopped after {unreachable} emails in a row could not connect to the mail "
                "server; the rest wait for the next run"
            )
            log.warning("outbox run %s", report.stopped)
            break
    return report


def pending_count(*, unsendable: bool = False) -> int:
    """Messages not yet sent and not given up on, that `deliver_pending` sends now; or, with
    `unsendable`, those it can't (text messages while no SMS provider is configured)."""
    channel = OutboxEmail.channel.in_(notify.channels_to_send())
    return (
        db.session.scalar(
            select(func.count())
            .select_from(OutboxEmail)
            .where(
                OutboxEmail.sent_at.is_(None),
                OutboxEmail.failed_at.is_(None),
                ~channel if unsendable else channel,
            )
        )
        or 0
    )
