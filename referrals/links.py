"""Email links: how an agency that has not joined the network receives and answers a referral.

The agency's intake address gets an email with no member data and a link to one referral. The
link's token is `secrets.token_urlsafe(32)`; only its SHA-256 is stored, so the database alone
can't open a referral. A link lives REFERRAL_LINK_DAYS days (default 14), is revoked when the
coordinator re-sends (a new token; the old one is dead) or revokes it, and is refused once its
referral is closed. Like services, these functions change, flush and return; they never commit.
"""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from accounts.models import User
from extensions import db, utcnow
from referrals import access, audit, notifications
from referrals.actors import LinkActor
from referrals.errors import InvalidInput, NotFound, TransitionRefused
from referrals.models import (
    AuditAction,
    AuditObject,
    Delivery,
    Notification,
    NotificationKind,
    Referral,
    ReferralLink,
)
from referrals.states import label

log = logging.getLogger(__name__)

LINK_PATH = "/r/{token}"  # the link pages serve it at this path
NEW_LINK_REQUEST_INTERVAL = timedelta(hours=1)  # "ask for a new link" at most this often


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh unguessable token, and the hash to store for it: the token itself is only in the
    message that carries it (agency links here, member status links in member_status.py)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def public_url(path: str) -> str:
    """The absolute address of a path, for a link in an email or text message."""
    return current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/") + path


def link_days() -> int:
    return int(current_app.config.get("REFERRAL_LINK_DAYS", 14))


def link_url(token: str) -> str:
    return public_url(LINK_PATH.format(token=token))


def current_link(referral: Referral) -> ReferralLink | None:
    """The newest link of the referral (live or not): what the coordinator's page shows."""
    return db.session.scalar(
        select(ReferralLink)
        .where(ReferralLink.referral_id == referral.id)
        .order_by(ReferralLink.created_at.desc(), ReferralLink.id)
        .limit(1)
    )


def _revoke_live_links(referral: Referral, now: datetime) -> int:
    return db.session.execute(
        update(ReferralLink)
        .where(ReferralLink.referral_id == referral.id, ReferralLink.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount


def send_link(
    referral: Referral, to: str, created_by: User | LinkActor | None, now: datetime | None = None
) -> ReferralLink:
    """Issue a new link to `to` (any earlier one dies) and queue the email that carries it.

    The email names the service, the sending organization, the urgency and the coordinator, and
    nothing of the member: the link's page shows what consent allows.
    """
    now = now or utcnow()
    _revoke_live_links(referral, now)
    token, hashed = new_token()
    link = ReferralLink(
        referral_id=referral.id,
        token_hash=hashed,
        sent_to=to,
        created_at=now,
        expires_at=now + timedelta(days=link_days()),
        created_by_id=getattr(created_by, "id", None),
    )
    db.session.add(link)
    db.session.flush()
    body = _body(referral, link_url(token), link.expires_at)
    notifications.queue_referral_email(
        referral, to, _subject(referral), body, NotificationKind.sent.value, now
    )
    audit.record(
        created_by,
        AuditAction.send,
        AuditObject.referral,
        referral.id,
        {"link_id": str(link.id), "sent_to": to},
    )
    log.info("referral %s: link %s emailed", referral.id, link.id)
    return link


def _subject(referral: Referral) -> str:
    urgency = "" if referral.urgency == "routine" else f"{referral.urgency.capitalize()} "
    return f"{urgency}referral to {referral.service_name} from {referral.sending_org.name}"


def coordinator_contact(referral: Referral) -> str:
    """The coordinator who sent the referral, as the agency may reach them (name and email)."""
    sender = referral.sending_user
    if sender is None:
        return referral.sending_org.name
    name = sender.full_name or sender.email
    return f"{name} ({referral.sending_org.name}), {sender.email}"


def _body(referral: Referral, url: str, expires_at: datetime) -> str:
    urgency = "" if referral.urgency == "routine" else f"{referral.urgency} "
    return (
        "Hello,\n\n"
        f"{referral.sending_org.name} sent your organization an {urgency}referral to "
        f"{referral.service_name} through Wraparound, a referral network. You don't need an "
        "account to answer it.\n\n"
        f"Open the referral (accept, decline, forward it, or write to the coordinator):\n{url}\n\n"
        f"Please answer by {notifications.when(referral.due_at)}. This link opens this one "
        f"referral only and works until {notifications.when(expires_at)}; don't forward it.\n\n"
        f"The coordinator: {coordinator_contact(referral)}.\n\n— Wraparound\n"
    )


# -- opening a link ------------------------------------------------------------------------


class LinkGone(Exception):
    """A real link that can no longer be used: expired, revoked, or its referral is closed.
    The page says which (`reason`) and offers to ask the coordinator for a new one."""

    def __init__(self, link: ReferralLink, reason: str):
        super().__init__(reason)
        self.link = link
        self.reason = reason


@dataclass(frozen=True)
class OpenedLink:
    link: ReferralLink
    referral: Referral
    actor: LinkActor


def find_by_token(model, token: str):
    """The row of `model` (a table with `token_hash`) a token names, whatever its state;
    NotFound for a token nobody was given."""
    if not token or len(token) > 200:
        raise NotFound("No such link.", code="link_not_found")
    row = db.session.scalar(select(model).where(model.token_hash == token_hash(token)))
    if row is None:
        raise NotFound("No such link.", code="link_not_found")
    return row


def find_link(token: str) -> ReferralLink:
    """The agency link a token names, whatever its state; NotFound for an unknown token."""
    return find_by_token(ReferralLink, token)


def open_link(token: str, now: datetime | None = None) -> OpenedLink:
    """The referral a live link opens, and the actor to act as; LinkGone when it is dead."""
    now = now or utcnow()
    link = find_link(token)
    if link.revoked_at is not None:
        raise LinkGone(link, "revoked")
    if now >= link.expires_at:
        raise LinkGone(link, "expired")
    referral = link.referral
    if not referral.is_open:
        raise LinkGone(link, "closed")
    link.last_used_at = now
    actor = LinkActor(link_id=link.id, referral_id=referral.id, sent_to=link.sent_to)
    return OpenedLink(link, referral, actor)


def gone_message(gone: LinkGone) -> str:
    referral = gone.link.referral
    if gone.reason == "closed":
        return (
            f"This referral to {referral.service_name} is closed ({label(referral.status)}), "
            "so this link no longer opens it."
        )
    if gone.reason == "revoked":
        return "This link was replaced or withdrawn by the coordinator, and no longer works."
    return "This link has expired."


def request_new_link(link: ReferralLink, now: datetime | None = None) -> bool:
    """The link's holder asks the coordinator for a new link: the coordinator is told (in the
    app and by email). At most once an hour per link; False when it was asked too recently."""
    now = now or utcnow()
    asked = link.new_link_requested_at
    if asked is not None and now - asked < NEW_LINK_REQUEST_INTERVAL:
        return False
    link.new_link_requested_at = now
    referral = link.referral
    actor = LinkActor(link_id=link.id, referral_id=referral.id, sent_to=link.sent_to)
    text = f"{link.sent_to} asks for a new link to the referral to {referral.service_name}"
    for user in notifications.coordinator_recipients(referral):
        db.session.add(
            Notification(
                user_id=user.id,
                kind=NotificationKind.link_requested,
                referral_id=referral.id,
                text=text,
                created_at=now,
            )
        )
        body = (
            f"Hello {user.full_name or user.email},\n\n{text}. If it should still have "
            "one, re-send the link from the referral page: "
            f"{notifications.referral_link(referral)}\n\n— Wraparound\n"
        )
        notifications.queue_referral_email(
            referral,
            user.email,
            f"New link requested: {referral.service_name}",
            body,
            NotificationKind.link_requested.value,
            now,
        )
    audit.record(
        actor, AuditAction.message, AuditObject.referral, referral.id, {"asked": "new link"}
    )
    db.session.flush()
    return True


# -- the coordinator's side ----------------------------------------------------------------


def _require_email_delivery(referral: Referral) -> None:
    if referral.delivery != Delivery.email:
        raise InvalidInput(
            {"link": "This referral does not reach its agency by email link."},
            "This referral does not reach its agency by email link.",
        )


def resend_link(actor: User, referral: Referral, now: datetime | None = None) -> ReferralLink:
    """The coordinator sends the agency a fresh link (the old one dies), to the same address."""
    now = now or utcnow()
    access.require_sending_side(actor, referral, "re-send the link")
    _require_email_delivery(referral)
    if not referral.is_open:
        raise TransitionRefused(
            f"This referral is {label(referral.status)}: there is nothing left to answer.",
            current_status=referral.status,
        )
    previous = current_link(referral)
    if previous is None:
        raise NotFound("This referral has no link to re-send.", code="link_not_found")
    return send_link(referral, previous.sent_to, actor, now)


def revoke_link(actor: User, referral: Referral, now: datetime | None = None) -> int:
    """The coordinator withdraws the agency's link: it stops working at once."""
    now = now or utcnow()
    access.require_sending_side(actor, referral, "revoke the link")
    _require_email_delivery(referral)
    revoked = _revoke_live_links(referral, now)
    if revoked:
        audit.record(actor, AuditAction.revoke, AuditObject.referral, referral.id, {"link": True})
    return revoked


def tell_link_holder(referral: Referral, subject: str, text: str, now: datetime) -> None:
    """Email the agency of an email-link referral about a change the coordinator made (no
    member data, and no link: the one they have still works, or they ask for a new one)."""
    if referral.delivery != Delivery.email:
        return
    link = current_link(referral)
    if link is None:
        return
    body = f"Hello,\n\n{text}\n\nOpen the link we emailed you to see it.\n\n— Wraparound\n"
    notifications.queue_referral_email(
        referral, link.sent_to, subject, body, NotificationKind.message.value, now
    )
