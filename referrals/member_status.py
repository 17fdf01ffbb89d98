"""The member is told: a status message at each step of their referral, and a private page.

With the member's consent to be contacted (`Member.contact_by`: "email", or "sms" for a phone
number), each step of a referral (sent, accepted, declined, passed on, re-sent, completed,
stopped) queues one message through `accounts.notify`, in the member's language where a catalog
exists (referrals/member_messages.py), carrying a link to their status page. Without that consent,
or without the address it needs, nothing is sent and no link exists.

One link covers a referral's chain (`MemberStatusLink`): the referral the coordinator sent and
those it became when an agency forwarded it or it was re-sent after a decline or no answer. The
member follows one need to the place that takes it, with one page, and can't see their other
referrals (or anyone else's) through it. Each message carries a new token and the previous one
dies, as an agency's link is rotated when re-sent; the newest lives MEMBER_STATUS_LINK_DAYS.
The page shows where they were referred, the agency's phone and address, and each step in plain
words: nothing of the member, nor the need, notes, reasons or anyone's messages.

Like services, these functions change, flush and return; they never commit.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from accounts import notify
from accounts.models import User
from directory.cards import contact_phone, shown_location
from extensions import db, utcnow
from referrals import access, audit, links
from referrals.errors import InvalidInput
from referrals.member_messages import Words, language_of
from referrals.models import (
    AuditAction,
    AuditObject,
    Member,
    MemberStatusLink,
    Referral,
    ReferralEvent,
)
from referrals.states import Action, Status

log = logging.getLogger(__name__)

STATUS_PATH = "/s/{token}"  # the page the link opens (referrals/status_views.py)
CONTACT_CHANNELS = (notify.Channel.email, notify.Channel.sms)


def status_link_days() -> int:
    return int(current_app.config.get("MEMBER_STATUS_LINK_DAYS", 30))


def status_url(token: str) -> str:
    return links.public_url(STATUS_PATH.format(token=token))


def recipient_of(member: Member) -> notify.Recipient | None:
    """How the member agreed to be told, if they did and we have the address it needs."""
    if member.contact_by == notify.Channel.email and member.email:
        return notify.Recipient(notify.Channel.email, member.email)
    if member.contact_by == notify.Channel.sms and member.phone:
        return notify.Recipient(notify.Channel.sms, member.phone)
    return None


# -- the chain of a referral ---------------------------------------------------------------


def chain_root(referral: Referral) -> Referral:
    """The referral the coordinator first sent, of those this one came from (forwarded or
    re-sent): the one a member's link is attached to."""
    current, seen = referral, {referral.id}
    while True:
        parent = current.forwarded_from or current.resent_from
        if parent is None or parent.id in seen or parent.member_id != referral.member_id:
            return current
        seen.add(parent.id)
        current = parent


def chain(root: Referral) -> list[Referral]:
    """The root and every referral it became, oldest first (one query per generation)."""
    found = {root.id: root}
    frontier = [root.id]
    while frontier:
        children = db.session.scalars(
            select(Referral).where(
                Referral.member_id == root.member_id,
                (Referral.forwarded_from_id.in_(frontier))
                | (Referral.resent_from_id.in_(frontier)),
            )
        ).all()
        frontier = [c.id for c in children if c.id not in found]
        found.update({c.id: c for c in children})
    return sorted(found.values(), key=lambda r: (r.sent_at, str(r.id)))


def _was_resent(referral: Referral) -> bool:
    return (
        db.session.scalar(select(Referral.id).where(Referral.resent_from_id == referral.id))
        is not None
    )


# -- what each step says -------------------------------------------------------------------


def step_kind(referral: Referral, action: str, *, by_system: bool, resent: bool) -> str | None:
    """What a step means to the member, or None for one they need not hear of: a forward is
    told by the referral it created, a cancellation that came with a re-send by the re-send."""
    if action == Action.send:
        if referral.forwarded_from_id is not None:
            return "forwarded"
        if referral.resent_from_id is not None:
            return "escalated" if by_system else "resent"
        return "sent"
    if action == Action.cancel:
        return None if resent else "cancelled"
    return {
        Action.accept: "accepted",
        Action.decline: "declined",
        Action.complete: "completed",
    }.get(action)


def step_text(words: Words, kind: str, referral: Referral) -> str:
    """The plain-words line for a step of `referral` ("agency" is the one that passed it on,
    for a forward or an escalation; "new_agency" the one it went to)."""
    parent = referral.forwarded_from or referral.resent_from
    passed_on = parent is not None and kind in ("forwarded", "escalated")
    return words(
        f"step_{kind}",
        service=referral.service_name,
        agency=(parent if passed_on else referral).receiving_org.name,
        new_agency=referral.receiving_org.name,
    )


# -- telling the member --------------------------------------------------------------------


def _revoke_live(member_id: uuid.UUID, referral_id: uuid.UUID | None, now: datetime) -> int:
    stmt = update(MemberStatusLink).where(
        MemberStatusLink.member_id == member_id, MemberStatusLink.revoked_at.is_(None)
    )
    if referral_id is not None:
        stmt = stmt.where(MemberStatusLink.referral_id == referral_id)
    return db.session.execute(
        stmt.values(revoked_at=now).execution_options(synchronize_session="fetch")
    ).rowcount


def issue_link(
    member: Member, root: Referral, recipient: notify.Recipient, now: datetime
) -> tuple[MemberStatusLink, str]:
    """A new link to the chain's page (the chain's previous link dies); (link, token)."""
    _revoke_live(member.id, root.id, now)
    token, hashed = links.new_token()
    link = MemberStatusLink(
        member_id=member.id,
        referral_id=root.id,
        token_hash=hashed,
        channel=recipient.channel.value,
        sent_to=recipient.address,
        created_at=now,
        expires_at=now + timedelta(days=status_link_days()),
    )
    db.session.add(link)
    db.session.flush()
    return link, token


def tell_member(referral: Referral, action: str, actor, now: datetime) -> bool:
    """Queue the member's status message for a step just taken, if they agreed to be told;
    called by `services._transition` for every step. True when a message was queued."""
    recipient = recipient_of(referral.member)
    if recipient is None:
        return False
    resent = action == Action.cancel and _was_resent(referral)
    kind = step_kind(referral, action, by_system=actor is None, resent=resent)
    if kind is None:
        return False
    words = Words(language_of(referral.member.preferred_language))
    _queue(referral, recipient, words, step_text(words, kind, referral), kind, now)
    return True


def _queue(
    referral: Referral,
    recipient: notify.Recipient,
    words: Words,
    news: str,
    kind: str,
    now: datetime,
) -> MemberStatusLink:
    """One status message (`news`, then a new link to the chain's page) to the member."""
    link, token = issue_link(referral.member, chain_root(referral), recipient, now)
    url = status_url(token)
    text = "\n\n".join(
        (
            words("greeting"),
            news,
            f"{words('email_link')}\n{url}",
            words("email_private", until=words.date(link.expires_at)),
            words("coordinator", coordinator=links.coordinator_contact(referral)),
            words("sign_off", organization=referral.sending_org.name),
        )
    )
    message = notify.Message(
        subject=words("subject", service=referral.service_name),
        text=text + "\n",
        sms_text=words("sms", step=news, url=url),
        kind=f"member:{kind}",
    )
    notify.notify(recipient, message, referral_id=referral.id, now=now)
    log.info(
        "referral %s: member told (%s) by %s, link %s",
        referral.id,
        kind,
        recipient.channel,
        link.id,
    )
    return link


def send_new_link(actor: User, referral: Referral, now: datetime | None = None):
    """The coordinator sends the member a new link to their page (the old one dies): for a member
    whose link expired or went astray. Only to a member who agreed to be told."""
    now = now or utcnow()
    access.require_sending_side(actor, referral, "send the member a new status link")
    recipient = recipient_of(referral.member)
    if recipient is None:
        raise InvalidInput(
            {"member_link": "The member has not agreed to be told how their referrals go."},
            "The member has not agreed to be told how their referrals go: record it on the "
            "member page first.",
        )
    words = Words(language_of(referral.member.preferred_language))
    current = _current(chain(chain_root(referral)))
    news = " ".join(
        (words("new_link"), words(f"now_{current.status}", agency=current.receiving_org.name))
    )
    link = _queue(current, recipient, words, news, "link", now)
    audit.record(
        actor,
        AuditAction.send,
        AuditObject.member,
        referral.member_id,
        {"status_link_id": str(link.id), "channel": recipient.channel.value},
    )
    return link


# -- the coordinator records the consent ---------------------------------------------------


def set_contact(actor: User, member: Member, channel: str | None, now: datetime | None = None):
    """Record whether (and how) the member agreed to hear how their referrals go. Withdrawing
    it kills their status links at once. The channel needs the member's email or phone."""
    now = now or utcnow()
    access.require_own_member(actor, member, "record how the member is contacted")
    channel = (channel or "").strip() or None
    if channel is not None and channel not in CONTACT_CHANNELS:
        raise InvalidInput({"contact_by": "Choose email, text message, or no messages."})
    if channel == notify.Channel.email and not member.email:
        raise InvalidInput({"contact_by": "Add the member's email address first."})
    if channel == notify.Channel.sms and not member.phone:
        raise InvalidInput({"contact_by": "Add the member's phone number first."})
    if channel == member.contact_by:
        return False
    member.contact_by = channel
    member.contact_consent_at = now if channel else None
    if channel is None:
        _revoke_live(member.id, None, now)
    db.session.flush()
    audit.record(
        actor,
        AuditAction.update,
        AuditObject.member,
        member.id,
        {"fields": ["contact_by"], "contact_by": channel},
    )
    log.info("member %s: contact by %s, recorded by %s", member.id, channel, actor.id)
    return True


# -- the page ------------------------------------------------------------------------------


class StatusLinkGone(Exception):
    """A real status link that no longer opens: "expired" or "revoked" (a newer one replaced
    it, or the member withdrew their consent to be contacted)."""

    def __init__(self, link: MemberStatusLink, reason: str):
        super().__init__(reason)
        self.link = link
        self.reason = reason


def open_status_link(token: str, now: datetime | None = None) -> MemberStatusLink:
    """The live link a token names; NotFound for an unknown token, StatusLinkGone for a dead one."""
    now = now or utcnow()
    link = links.find_by_token(MemberStatusLink, token)
    if link.revoked_at is not None:
        raise StatusLinkGone(link, "revoked")
    if now >= link.expires_at:
        raise StatusLinkGone(link, "expired")
    link.last_used_at = now
    return link


@dataclass(frozen=True)
class Step:
    at: datetime
    text: str


@dataclass(frozen=True)
class Place:
    service: str
    agency: str
    phone: str | None
    address: str | None


@dataclass(frozen=True)
class StatusPage:
    words: Words
    now: str  # where things stand, in a sentence
    status: str  # the newest referral's status (for styling and tests)
    place: Place
    steps: list[Step]
    coordinator: str
    until: str
    referral_ids: list[uuid.UUID]


def _place(referral: Referral) -> Place:
    service = referral.service
    phone = address = None
    if service is not None:
        number = contact_phone(service)
        phone = number.number if number is not None else None
        location = shown_location(service)
        where = location.physical_address if location is not None else None
        address = where.one_line() if where is not None else None
    return Place(referral.service_name, referral.receiving_org.name, phone, address)


def _current(referrals: list[Referral]) -> Referral:
    """The referral the member is waiting on: the newest open one, else the newest."""
    open_ones = [r for r in referrals if r.is_open]
    return (open_ones or referrals)[-1]


def status_page(link: MemberStatusLink) -> StatusPage:
    """What the member's page shows: the chain's current place and every step, in their words."""
    member = link.member
    words = Words(language_of(member.preferred_language))
    referrals = chain(link.referral)
    ids = [r.id for r in referrals]
    resent_from = {r.resent_from_id for r in referrals if r.resent_from_id is not None}
    by_id = {r.id: r for r in referrals}
    events = db.session.scalars(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id.in_(ids))
        .order_by(ReferralEvent.at, ReferralEvent.id)
    ).all()
    steps = []
    for event in events:
        referral = by_id[event.referral_id]
        kind = step_kind(
            referral,
            event.action,
            by_system=event.actor_id is None and event.link_id is None,
            resent=referral.id in resent_from,
        )
        if kind is not None:
            steps.append(Step(event.at, step_text(words, kind, referral)))
    current = _current(referrals)
    status = Status(current.status)
    return StatusPage(
        words=words,
        now=words(f"now_{status.value}", agency=current.receiving_org.name),
        status=status.value,
        place=_place(current),
        steps=steps,
        coordinator=links.coordinator_contact(current),
        until=words.date(link.expires_at),
        referral_ids=ids,
    )
