"""No referral dies: after a decline or no answer, the next best services, and re-sending there.

`suggestions` asks the directory's own search for services with the same categories as the
referral's service, matching its need, near the member's ZIP code; it drops those that can't take
the referral now (not active, not accepting, unreachable) and those this member was referred to in
the last TRIED_WITHIN (whatever came of it: the coordinator has tried them already). The order is
the search's: relevance to the need, then distance.

`resend` is the coordinator's one click, `sweep_escalations` the sweep's automatic re-send of a
referral sent with `auto_escalate`. Both make a new referral linked by `resent_from_id` (the
original keeps its history and gets a "resent"/"escalated" event naming where it went); a referral
still waiting for an answer is cancelled first, so two agencies never hold it at once. The linked
referral is a new one rather than a `forwarded_to` (which records an agency's own decision and
counts in the closed-loop rate where it lands): here the coordinator, or the sweep for them,
chose the next service.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from accounts.models import User
from directory import referral_routes, search
from directory.cards import contact_phone
from directory.models import Attribute, ReferralCapacity, Service
from extensions import db, utcnow
from geo import places
from referrals import access, audit, notifications, services
from referrals.errors import InvalidInput, ReferralError, TransitionRefused
from referrals.models import AuditAction, AuditObject, Referral, ReferralEvent
from referrals.states import Action, CancelReason, Side, Status

log = logging.getLogger(__name__)

TRIED_WITHIN = timedelta(days=90)  # a service the member was referred to since then is "tried"
MAX_AUTO_ESCALATIONS = 3  # the sweep re-sends a chain at most this many times, then stops
SEARCH_DEPTH = 50  # search results read to find `limit` services that can take the referral


@dataclass(frozen=True)
class Suggestion:
    """A service the referral could go to next, as the search found it."""

    service: Service
    distance_km: float | None
    serves_area: bool
    delivery: str  # how it would reach them: network, email or phone


def can_resend(referral: Referral, now: datetime | None = None) -> bool:
    """Declined, or still waiting past its response window: the cases where it must move on;
    and not re-sent already to a service that has yet to close its referral."""
    stuck = referral.status == Status.declined or referral.is_overdue_at(now or utcnow())
    return stuck and not any(r.is_open for r in resent_to(referral))


def resent_to(referral: Referral) -> list[Referral]:
    """The referrals this one was re-sent as (by the coordinator or the sweep), oldest first."""
    return list(
        db.session.scalars(
            select(Referral)
            .where(Referral.resent_from_id == referral.id)
            .order_by(Referral.sent_at, Referral.id)
        )
    )


def category_ids(service_id: uuid.UUID | None) -> list[uuid.UUID]:
    """The taxonomy terms a service is listed under (its categories)."""
    if service_id is None:
        return []
    return list(
        db.session.scalars(
            select(Attribute.taxonomy_term_id)
            .where(Attribute.link_entity == "service", Attribute.link_id == service_id)
            .distinct()
        )
    )


def tried_service_ids(member_id: uuid.UUID, now: datetime) -> set[uuid.UUID]:
    """Services the member was referred to within TRIED_WITHIN, in any state."""
    return set(
        db.session.scalars(
            select(Referral.service_id).where(
                Referral.member_id == member_id,
                Referral.service_id.is_not(None),
                Referral.sent_at >= now - TRIED_WITHIN,
            )
        )
    )


def _member_place(postal_code: str | None) -> places.Place | None:
    try:
        return places.resolve_place(postal_code) if postal_code else None
    except places.UnknownPlace:
        return None


def _queries(referral: Referral) -> list[search.SearchQuery]:
    """The need's words within the service's categories first; then the categories alone (the
    need may use words no listing has); the words alone when the service had no category."""
    terms = tuple(str(term) for term in category_ids(referral.service_id))
    place = _member_place(referral.member.postal_code)
    common = {"place": place, "per_page": SEARCH_DEPTH}
    found = [search.SearchQuery(text=referral.need, categories=terms, **common)]
    if terms:
        found.append(search.SearchQuery(categories=terms, **common))
    return found


def _delivery(service: Service, routes: dict[uuid.UUID, str]) -> str | None:
    """How a referral would reach `service` now (routes: `services.routes_by_service` for the
    page of hits), None when it can't take one: not active, full, or no way to reach it."""
    if not service.takes_referrals or service.referral_capacity == ReferralCapacity.not_accepting:
        return None
    return referral_routes.route_of(routes, service, contact_phone(service))


def suggestions(
    referral: Referral, limit: int = 5, now: datetime | None = None
) -> list[Suggestion]:
    """Up to `limit` services to send the referral to instead, best first."""
    now = now or utcnow()
    excluded = tried_service_ids(referral.member_id, now) | {referral.service_id}
    found: list[Suggestion] = []
    for query in _queries(referral):
        found += _takers(search.search(query).hits, excluded, limit - len(found))
        if len(found) >= limit:
            break
    return found


def _takers(hits, excluded: set, limit: int) -> list[Suggestion]:
    """Up to `limit` of the search's `hits` that could take a referral now, in the search's
    order, leaving out (and then adding to) `excluded`."""
    hits = [h for h in hits if h.service_id not in excluded]
    ids = [h.service_id for h in hits]
    listed = {s.id: s for s in db.session.scalars(select(Service).where(Service.id.in_(ids)))}
    routes = services.routes_by_service(ids)  # one query for the page, not one per hit
    found: list[Suggestion] = []
    for hit in hits:
        service = listed.get(hit.service_id)
        excluded.add(hit.service_id)
        delivery = _delivery(service, routes) if service is not None else None
        if delivery is None:
            continue
        found.append(Suggestion(service, hit.distance_km, hit.serves_area, delivery))
        if len(found) >= limit:
            break
    return found


def forward_choices(referral: Referral, text: str, limit: int = 10) -> list[Suggestion]:
    """The forward picker's answer to what the agency typed: services the directory's search
    finds for `text` (names, needs, lay words), best first, that could take the referral now;
    never the referral's own service. Nothing for no words."""
    text = (text or "").strip()[: search.query.MAX_TEXT_LENGTH]
    if not text:
        return []
    query = search.SearchQuery(text=text, per_page=SEARCH_DEPTH)
    return _takers(search.search(query).hits, {referral.service_id}, limit)


# -- re-sending ------------------------------------------------------------------------------


def resend(
    referral: Referral, actor: User, service: Service | None, now: datetime | None = None
) -> Referral:
    """The coordinator's one click: send a declined or unanswered referral to another service.

    Returns the new, linked referral. Refused for a service already tried for this member (a
    second click included), and for a referral that is neither declined nor overdue."""
    now = now or utcnow()
    access.require_sending_side(actor, referral, "re-send this referral")
    services._lock(referral)
    _require_resendable(referral, now)
    if service is not None and service.id in (
        tried_service_ids(referral.member_id, now) | {referral.service_id}
    ):
        message = (
            f"This member was referred to {service.name} in the last {TRIED_WITHIN.days} days "
            "already: choose another service."
        )
        raise InvalidInput({"service_id": message}, message)
    return _send_linked(referral, service, actor, now, automatic=False)


def _require_resendable(referral: Referral, now: datetime) -> None:
    waiting = [r for r in resent_to(referral) if r.is_open]
    if waiting:
        raise TransitionRefused(
            f"This referral was re-sent to {waiting[0].service_name} already, which has not "
            "closed it yet: act on that one instead.",
            current_status=referral.status,
        )
    if not can_resend(referral, now):
        raise TransitionRefused(
            "Only a declined referral, or one not answered in time, can be re-sent elsewhere "
            f"(this one is {referral.status}).",
            current_status=referral.status,
        )


def _send_linked(
    original: Referral,
    service: Service | None,
    actor: User | None,
    now: datetime,
    *,
    automatic: bool,
) -> Referral:
    """The new referral, linked to `original`, with its need, urgency, note and the consent in
    force; the original is cancelled if it still waits, and marked on its timeline."""
    agency, route = services._referrable_agency(service)
    why = "a decline" if original.status == Status.declined else "no answer in time"
    tries = _escalations_in_chain(original) if automatic else 0
    new = services.linked_referral(
        original,
        service,
        agency,
        route,
        now,
        sending_user_id=actor.id if actor is not None else original.sending_user_id,
        resent_from_id=original.id,
        auto_escalate=original.auto_escalate and tries < MAX_AUTO_ESCALATIONS,
    )
    how = "automatically " if automatic else ""
    services._transition(
        new,
        Action.send,
        actor,
        None,  # sent on the coordinator's behalf (by the sweep, too): no side check
        now=now,
        note=f"Re-sent here {how}from {original.service_name} after {why}.",
    )
    if original.status == Status.sent:
        # Still waiting: withdrawn from the silent agency (told, and its email link dies).
        services._stop(
            original,
            actor,
            Side.sending,
            CancelReason.other,
            f"No answer in time: re-sent {how}to {service.name}.",
            now,
        )
    db.session.add(
        ReferralEvent(
            referral=original,
            actor_id=actor.id if actor is not None else None,
            at=now,
            from_status=original.status,
            to_status=original.status,
            action="escalated" if automatic else "resent",
            note=f"Re-sent {how}to {service.name} ({agency.name}) after {why}.",
        )
    )
    db.session.flush()
    services._reach_agency(new, route, actor, now)
    audit.record(
        actor,
        AuditAction.send,
        AuditObject.referral,
        new.id,
        {
            "member_id": str(new.member_id),
            "service_id": str(service.id),
            "delivery": route.delivery.value,
            "resent_from": str(original.id),
            "automatic": automatic,
        },
    )
    log.info("referral %s re-sent %sas %s to service %s", original.id, how, new.id, service.id)
    return new


def _escalations_in_chain(referral: Referral) -> int:
    """How many times the sweep has re-sent this chain so far (this referral's claim included):
    the referrals it was re-sent from, followed back, that the sweep escalated."""
    count, current, seen = 0, referral, set()
    while current is not None and current.id not in seen:
        seen.add(current.id)
        if current.escalated_at is not None:
            count += 1
        current = current.resent_from
    return count


# -- the sweep -------------------------------------------------------------------------------


def sweep_escalations(now: datetime | None = None) -> list[tuple[uuid.UUID, uuid.UUID | None]]:
    """Re-send each unanswered referral sent with `auto_escalate` to its next best service,
    once per response window, at most MAX_AUTO_ESCALATIONS times along a chain.

    Safe on several hosts at once: each referral is claimed by a conditional UPDATE (…WHERE
    escalated_at IS NULL); on PostgreSQL a second sweep waits for the first one's row lock, then
    matches nothing. Returns (original, new) ids; new is None when nothing could take it (the
    usual overdue reminder then goes out).
    """
    now = now or utcnow()
    candidates = db.session.scalars(
        select(Referral.id).where(*_due_for_escalation(now)).order_by(Referral.due_at, Referral.id)
    ).all()
    escalated = []
    for referral_id in candidates:
        referral = _claim_escalation(referral_id, now)
        if referral is not None:
            escalated.append((referral_id, _escalate(referral, now)))
    db.session.flush()
    return escalated


def _due_for_escalation(now: datetime) -> tuple:
    """Unanswered past its window, sent with "re-send automatically", not escalated yet."""
    return (
        Referral.status == Status.sent,
        Referral.due_at <= now,
        Referral.auto_escalate.is_(True),
        Referral.escalated_at.is_(None),
    )


def _claim_escalation(referral_id: uuid.UUID, now: datetime) -> Referral | None:
    """Mark the referral escalated unless another sweep did already (then None)."""
    claimed = db.session.execute(
        update(Referral)
        .where(Referral.id == referral_id, *_due_for_escalation(now))
        .values(escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    return db.session.get(Referral, referral_id, populate_existing=True)


def _escalate(referral: Referral, now: datetime) -> uuid.UUID | None:
    """Send a claimed referral to its best suggestion; when none can take it (or the consent
    no longer allows it), say so on its timeline and leave it with its agency."""
    problem = "no other service that matches takes referrals near the member now"
    for suggestion in suggestions(referral, limit=1, now=now):
        try:
            with db.session.begin_nested():
                new = _send_linked(referral, suggestion.service, None, now, automatic=True)
        except ReferralError as exc:
            problem = exc.message
            break
        notifications.referral_escalated(referral, new, now)
        return new.id
    db.session.add(
        ReferralEvent(
            referral_id=referral.id,
            actor_id=None,
            at=now,
            from_status=Status.sent.value,
            to_status=Status.sent.value,
            action="escalated",
            note=f"Could not re-send automatically: {problem}",
        )
    )
    log.info("referral %s not escalated: %s", referral.id, problem)
    return None
