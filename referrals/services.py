"""Every write of the referral domain, as verbs; plus the consent that decides what agencies see.

Services check access (`referrals.access`) and input, change, flush and return; they never commit
(the request or the CLI command commits once, or rolls back). `_transition` is the only code that
assigns `Referral.status`, and it writes the event row that records the step.
"""

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import flag_modified, set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from accounts.models import NetworkOrganization, OrgKind, Role, User
from directory.cards import contact_phone
from directory.models import Organization, ReferralCapacity, Service
from extensions import db, utcnow
from referrals import access, audit, deadlines, links, member_status, notifications
from referrals.actors import LinkActor
from referrals.errors import (
    ConcurrentUpdate,
    ConsentProblem,
    DuplicateReferral,
    Forbidden,
    InvalidInput,
    NotFound,
    NotReferrable,
    TransitionRefused,
)
from referrals.models import (
    LINK_MEMBER_FIELDS,
    SHAREABLE_MEMBER_FIELDS,
    SWEEP_EVENT_ACTIONS,
    AuditAction,
    AuditObject,
    Consent,
    ConsentMethod,
    Delivery,
    Member,
    Referral,
    ReferralEvent,
    ReferralMessage,
)
from referrals.states import (
    CHOSEN_CANCEL_REASONS,
    OPEN_STATUSES,
    PAST_TENSE,
    REASONS_NEEDING_TEXT,
    Action,
    CancelReason,
    DeclineReason,
    IllegalTransition,
    Outcome,
    Side,
    SideNotAllowed,
    Status,
    Urgency,
    label,
    next_status,
)

log = logging.getLogger(__name__)

MAX_NEED = 500
MAX_NOTE = 4000
MAX_REASON_TEXT = 2000
MAX_MESSAGE = 4000
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^[0-9+().\-\s/x#*]+$", re.IGNORECASE)
_POSTAL_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z \-]*$")


# -- input checks ----------------------------------------------------------------------------


class _Checks:
    """Collects every problem with an input so the person can fix them all at once."""

    def __init__(self):
        self.errors: dict[str, str] = {}

    def text(self, name, value, *, max_len: int, required: bool = False) -> str | None:
        if value is not None and not isinstance(value, str):
            self.errors[name] = "Must be text."
            return None
        value = (value or "").strip()
        if not value:
            if required:
                self.errors[name] = "This is required."
            return None
        if len(value) > max_len:
            self.errors[name] = f"Use at most {max_len} characters (this has {len(value)})."
            return None
        return value

    def choice(self, name, value, choices: type, *, required: bool = True, allowed=None):
        """One of the enum `choices` (of those `allowed`, when only some are for people)."""
        allowed = list(allowed or choices)
        if value in (None, ""):
            if required:
                self.errors[name] = f"Choose one of: {', '.join(allowed)}."
            return None
        if value not in allowed:
            self.errors[name] = (
                f"Unknown value {str(value)[:60]!r}: use one of {', '.join(allowed)}."
            )
            return None
        return choices(value)

    def reason_text(self, name, reason, value) -> str | None:
        """Free text beside a reason; required when the reason alone says too little."""
        return self.text(
            name, value, max_len=MAX_REASON_TEXT, required=reason in REASONS_NEEDING_TEXT
        )

    def done(self) -> None:
        if self.errors:
            raise InvalidInput(dict(self.errors))


# -- consent ---------------------------------------------------------------------------------


def load_consents(members: list[Member]) -> None:
    """Read the consents of these members in one go, for a list that shows each one's consent
    (instead of a query per row). Members whose consents are loaded already are left alone."""
    missing = [m for m in members if "consents" in inspect(m).unloaded]
    if not missing:
        return
    found: dict[uuid.UUID, list[Consent]] = {m.id: [] for m in missing}
    for consent in db.session.scalars(
        select(Consent).where(Consent.member_id.in_(found)).order_by(Consent.given_at.desc())
    ):
        found[consent.member_id].append(consent)
    for member in missing:
        set_committed_value(member, "consents", found[member.id])


def latest_consent(member: Member) -> Consent | None:
    """The member's newest consent: it supersedes every earlier one (e.g. a narrower scope)."""
    return max(member.consents, key=lambda c: c.given_at, default=None)


def consent_in_force(member: Member, today: date | None = None) -> Consent | None:
    """The newest consent if it is neither revoked nor expired; an older one never comes back."""
    latest = latest_consent(member)
    if latest is not None and latest.is_valid_on(today or deadlines.local_today()):
        return latest
    return None


def require_consent(member: Member, today: date | None = None) -> Consent:
    """The consent that lets a referral go out, or ConsentProblem saying what is missing."""
    today = today or deadlines.local_today()
    consent = consent_in_force(member, today)
    if consent is not None:
        return consent
    latest = latest_consent(member)
    if latest is None:
        raise ConsentProblem(
            "No consent to share this member's information is on record. Record the member's "
            "consent before sending a referral.",
            code="consent_missing",
        )
    if latest.revoked_at is not None:
        raise ConsentProblem(
            f"The member revoked their consent on {latest.revoked_at.date().isoformat()}. "
            "Record a new consent before sending a referral.",
            code="consent_revoked",
        )
    raise ConsentProblem(
        f"The member's consent expired on {latest.expires_on.isoformat()}. "
        "Record a new consent before sending a referral.",
        code="consent_expired",
    )


def member_view(member: Member, viewer: User, today: date | None = None) -> dict:
    """The member as `viewer` may see them: in full for their own organization and admins;
    for an agency, only the fields the consent in force allows (none once it is revoked)."""
    return member_views([member], viewer, today)[member.id]


def member_views(members: list[Member], viewer: User, today: date | None = None) -> dict:
    """`member_view` of each of `members`, by id, in a fixed number of queries (a list page):
    their consents in one go, and an agency's right to see them in one query."""
    members = list({m.id: m for m in members}.values())
    in_full = {m.id for m in members if viewer.is_admin or access.is_own_member(viewer, m)}
    restricted = [m for m in members if m.id not in in_full]
    if len(access.viewable_member_ids(viewer, restricted)) < len(restricted):
        raise NotFound("No such member.", code="member_not_found")
    load_consents(restricted)
    today = today or deadlines.local_today()
    views = {}
    for member in members:
        if member.id in in_full:
            shared = list(SHAREABLE_MEMBER_FIELDS)
        else:
            consent = consent_in_force(member, today)
            allowed = set(consent.scope or []) if consent is not None else set()
            shared = [name for name in SHAREABLE_MEMBER_FIELDS if name in allowed]
        views[member.id] = {
            "id": member.id,
            "restricted": member.id not in in_full,
            "shared_fields": shared,
            "fields": {name: getattr(member, name) for name in shared},
        }
    return views


def link_member_view(referral: Referral, today: date | None = None) -> dict:
    """The member as the holder of an email link sees them: of what the consent in force
    shares, only the first name and how to reach them (LINK_MEMBER_FIELDS); nothing once the
    consent is revoked or expired. Never more than a member agency would see."""
    member = referral.member
    consent = consent_in_force(member, today or deadlines.local_today())
    allowed = set(consent.scope or []) if consent is not None else set()
    shared = [name for name in LINK_MEMBER_FIELDS if name in allowed]
    return {
        "id": None,
        "restricted": True,
        "shared_fields": shared,
        "fields": {name: getattr(member, name) for name in shared},
    }


# -- members ---------------------------------------------------------------------------------


def _member_fields(checks: _Checks, values: dict, today: date) -> dict:
    fields = {
        "first_name": checks.text(
            "first_name", values.get("first_name"), max_len=100, required=True
        ),
        "last_name": checks.text("last_name", values.get("last_name"), max_len=100, required=True),
        "phone": checks.text("phone", values.get("phone"), max_len=40),
        "email": checks.text("email", values.get("email"), max_len=320),
        "preferred_language": checks.text(
            "preferred_language", values.get("preferred_language"), max_len=50
        ),
        "address": checks.text("address", values.get("address"), max_len=500),
        "postal_code": checks.text("postal_code", values.get("postal_code"), max_len=20),
        "needs": checks.text("needs", values.get("needs"), max_len=MAX_NOTE),
    }
    if fields["phone"] and (
        not _PHONE.match(fields["phone"]) or sum(ch.isdigit() for ch in fields["phone"]) < 7
    ):
        checks.errors["phone"] = "Enter a phone number with at least 7 digits."
    if fields["email"] and not _EMAIL.match(fields["email"]):
        checks.errors["email"] = "Enter an email address like name@example.org."
    if fields["postal_code"] and not _POSTAL_CODE.match(fields["postal_code"]):
        checks.errors["postal_code"] = "Use letters, digits, spaces and dashes only."
    birth_date = values.get("birth_date")
    if birth_date is not None and not isinstance(birth_date, date):
        checks.errors["birth_date"] = "Enter a date as YYYY-MM-DD."
    elif birth_date is not None and not (EARLIEST_BIRTH_DATE <= birth_date <= today):
        checks.errors["birth_date"] = (
            f"Enter a birth date between {EARLIEST_BIRTH_DATE.isoformat()} and today."
        )
    fields["birth_date"] = birth_date
    return fields


def _consent_fields(checks: _Checks, given_by, method, scope, expires_on, today: date):
    given_by = checks.text("given_by", given_by, max_len=200, required=True)
    method = checks.choice("method", method, ConsentMethod)
    fields: list[str] = []
    if not isinstance(scope, list | tuple | set | frozenset) or not scope:
        checks.errors["scope"] = (
            "List the fields the member allows agencies to see: "
            f"{', '.join(SHAREABLE_MEMBER_FIELDS)}."
        )
    elif not all(isinstance(f, str) for f in scope):
        checks.errors["scope"] = "List the fields as names (text), for example first_name."
    else:
        unknown = sorted(str(f) for f in scope if f not in SHAREABLE_MEMBER_FIELDS)
        if unknown:
            checks.errors["scope"] = (
                f"Unknown field(s) {', '.join(unknown)}: use {', '.join(SHAREABLE_MEMBER_FIELDS)}."
            )
        fields = [f for f in SHAREABLE_MEMBER_FIELDS if f in set(scope)]
    if expires_on is not None and not isinstance(expires_on, date):
        checks.errors["expires_on"] = "Enter a date as YYYY-MM-DD."
    elif expires_on is not None and expires_on < today:
        checks.errors["expires_on"] = "The consent would already have expired: check the date."
    return given_by, method, fields, expires_on


def member_problems(values: dict, now: datetime | None = None) -> dict[str, str]:
    """What is wrong with these member fields (empty when they can be saved): for forms."""
    checks = _Checks()
    for name in set(values) - set(SHAREABLE_MEMBER_FIELDS):
        checks.errors[name] = "Unknown field."
    _member_fields(checks, values, deadlines.local_today(now))
    return checks.errors


def consent_problems(
    *, given_by, method, scope, expires_on=None, now: datetime | None = None
) -> dict[str, str]:
    """What is wrong with a consent's fields (empty when it can be recorded): for forms."""
    checks = _Checks()
    _consent_fields(checks, given_by, method, scope, expires_on, deadlines.local_today(now))
    return checks.errors


def create_member(actor: User, now: datetime | None = None, **values) -> Member:
    """Add a person to the coordinator's caseload (their organization's members)."""
    now = now or utcnow()
    if actor.role != Role.coordinator or actor.organization_id is None:
        raise Forbidden("Only coordinators add members to a caseload.")
    unknown = set(values) - set(SHAREABLE_MEMBER_FIELDS)
    if unknown:
        raise InvalidInput({name: "Unknown field." for name in unknown})
    checks = _Checks()
    fields = _member_fields(checks, values, deadlines.local_today(now))
    checks.done()
    member = Member(
        organization_id=actor.organization_id,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
        **fields,
    )
    db.session.add(member)
    db.session.flush()
    audit.record(actor, AuditAction.create, AuditObject.member, member.id)
    log.info("member %s created by %s", member.id, actor.id)
    return member


def record_consent(
    actor: User,
    member: Member,
    *,
    given_by: str | None,
    method: str | None,
    scope,
    expires_on: date | None = None,
    now: datetime | None = None,
) -> Consent:
    """Record the member's consent to share the named fields with agencies they are referred to."""
    now = now or utcnow()
    access.require_own_member(actor, member, "record consent")
    checks = _Checks()
    given_by, method, fields, expires_on = _consent_fields(
        checks, given_by, method, scope, expires_on, deadlines.local_today(now)
    )
    checks.done()
    consent = Consent(
        member=member,
        given_by=given_by,
        method=str(method),
        scope=fields,
        given_at=now,
        expires_on=expires_on,
        recorded_by_id=actor.id,
    )
    db.session.add(consent)
    db.session.flush()
    audit.record(
        actor,
        AuditAction.create,
        AuditObject.consent,
        consent.id,
        {"member_id": str(member.id), "scope": fields, "method": str(method)},
    )
    log.info("consent %s recorded for member %s by %s", consent.id, member.id, actor.id)
    return consent


def add_member(
    actor: User, values: dict, consent: dict | None = None, now: datetime | None = None
) -> Member:
    """Add a person to the caseload with the consent they gave, if any: the member page, the
    referral form and the API all add members this way. A problem with the consent is reported
    as `consent.<field>`; the caller's rollback then drops the member too."""
    now = now or utcnow()
    member = create_member(actor, now=now, **values)
    if consent is not None:
        try:
            record_consent(actor, member, now=now, **consent)
        except InvalidInput as exc:
            raise InvalidInput(
                {f"consent.{name}": text for name, text in exc.fields.items()}
            ) from exc
    return member


def update_member(actor: User, member: Member, now: datetime | None = None, **values) -> list[str]:
    """Change some of a member's details (those not given stay as they are), checked by the
    same rules as a new member; returns the names of the fields that changed.

    One `update` row in the access log names those fields, never their values: the log is read
    more widely than the record and the details are health data. What agencies see still
    follows the consent in force (`member_views`): editing a field never shares it.
    There is no version column on members: the last edit wins.
    """
    now = now or utcnow()
    access.require_own_member(actor, member, "edit the member's details")
    unknown = set(values) - set(SHAREABLE_MEMBER_FIELDS)
    if unknown:
        raise InvalidInput({name: "Unknown field." for name in unknown})
    current = {name: getattr(member, name) for name in SHAREABLE_MEMBER_FIELDS}
    checks = _Checks()
    fields = _member_fields(checks, {**current, **values}, deadlines.local_today(now))
    checks.done()
    changed = [n for n in SHAREABLE_MEMBER_FIELDS if n in values and fields[n] != current[n]]
    if not changed:
        return changed
    for name in changed:
        setattr(member, name, fields[name])
    member.updated_at = now
    db.session.flush()
    audit.record(actor, AuditAction.update, AuditObject.member, member.id, {"fields": changed})
    log.info("member %s: %s changed by %s", member.id, ", ".join(changed), actor.id)
    return changed


def revoke_consent(actor: User, consent: Consent, now: datetime | None = None) -> list[Referral]:
    """Withdraw a consent: agencies stop seeing the member's details and no referral can be sent.

    When that leaves no consent in force, the member's referrals still waiting for an agency's
    answer are cancelled (both sides are told why); accepted ones go on, without the member's
    details. Returns the referrals cancelled.
    """
    now = now or utcnow()
    member = consent.member
    access.require_own_member(actor, member, "revoke consent")
    if consent.revoked_at is not None:
        return []
    consent.revoked_at = now
    consent.revoked_by_id = actor.id
    db.session.flush()
    audit.record(
        actor,
        AuditAction.revoke,
        AuditObject.consent,
        consent.id,
        {"member_id": str(consent.member_id)},
    )
    log.info("consent %s revoked by %s", consent.id, actor.id)
    if consent_in_force(member, deadlines.local_today(now)) is not None:
        return []  # an older consent was revoked; the newest still stands
    waiting = db.session.scalars(
        select(Referral)
        .where(Referral.member_id == member.id, Referral.status == Status.sent)
        .order_by(Referral.sent_at, Referral.id)
    ).all()
    cancelled = []
    for referral in waiting:
        side = access.acting_side(actor, referral)
        _lock(referral)
        if referral.status != Status.sent:
            continue  # answered meanwhile: an accepted referral goes on, a closed one is closed
        _stop(referral, actor, side, CancelReason.consent_revoked, None, now, tell_both_sides=True)
        cancelled.append(referral)
    return cancelled


# -- referrals -------------------------------------------------------------------------------


def agency_for_service(service: Service) -> NetworkOrganization | None:
    """The network agency that receives referrals for `service` (its directory organization),
    joined or not."""
    return db.session.scalar(
        select(NetworkOrganization).where(
            NetworkOrganization.directory_organization_id == service.organization_id,
            NetworkOrganization.kind == OrgKind.agency,
        )
    )


def intake_email(service: Service) -> str | None:
    """Where an email referral goes: the service's own address, else its organization's."""
    for address in (service.email, service.organization.email):
        address = (address or "").strip()
        if address and _EMAIL.match(address):
            return address
    return None


@dataclass(frozen=True)
class Route:
    """How a referral reaches a service: `delivery`, the agency when it is in the network
    already (joined or created by an earlier referral), and the intake address for email."""

    delivery: Delivery
    agency: NetworkOrganization | None
    email: str | None = None


def referral_route(service: Service) -> Route | None:
    """A joined agency's inbox first, else an email link to its intake address, else a phone
    call by the coordinator; None when the listing gives no way to reach it at all."""
    agency = agency_for_service(service)
    if agency is not None and agency.has_joined:
        return Route(Delivery.network, agency)
    email = intake_email(service)
    if email is not None:
        return Route(Delivery.email, agency, email)
    if contact_phone(service) is not None:
        return Route(Delivery.phone, agency)
    return None


def routes_by_service(service_ids) -> dict[uuid.UUID, str]:
    """`referral_route`'s delivery for many services at once (a search page), in one query:
    network or email for those that have one; the pages fall back to phone themselves."""
    rows = db.session.execute(
        select(Service.id, Service.email, Organization.email, NetworkOrganization.joined_at)
        .join(Organization, Organization.id == Service.organization_id)
        .outerjoin(
            NetworkOrganization,
            (NetworkOrganization.directory_organization_id == Service.organization_id)
            & (NetworkOrganization.kind == OrgKind.agency.value),
        )
        .where(Service.id.in_(list(service_ids)))
    )
    routes = {}
    for service_id, service_email, org_email, joined_at in rows:
        if joined_at is not None:
            routes[service_id] = Delivery.network.value
        elif any(_EMAIL.match((a or "").strip()) for a in (service_email, org_email)):
            routes[service_id] = Delivery.email.value
    return routes


def _agency_not_yet_joined(service: Service) -> NetworkOrganization:
    """The network row of a listing that has not joined, made by its first referral, so the
    referral has a receiving organization (its inbox once the agency joins)."""
    existing = agency_for_service(service)
    if existing is not None:
        return existing
    organization = service.organization
    try:
        with db.session.begin_nested():
            agency = NetworkOrganization(
                name=organization.name[:500],
                kind=OrgKind.agency.value,
                directory_organization_id=organization.id,
                joined_at=None,
            )
            db.session.add(agency)
    except IntegrityError:  # another referral made it at the same moment
        return agency_for_service(service)
    log.info("agency %s (not joined) created for listing %s", agency.id, organization.id)
    return agency


def _referrable_agency(service: Service | None) -> tuple[NetworkOrganization, Route]:
    if service is None:
        raise NotFound("No such service.", code="service_not_found")
    if not service.takes_referrals:
        raise NotReferrable(
            f"{service.name} is {service.status} and can't receive referrals.",
            code="service_inactive",
        )
    route = referral_route(service)
    if route is None:
        raise NotReferrable(
            f"{service.name} has no email or phone number in the directory, so a referral "
            "can't reach it.",
            code="service_unreachable",
        )
    # Only a joined agency says whether it takes referrals; a listing's value is not its word.
    if route.delivery == Delivery.network and (
        service.referral_capacity == ReferralCapacity.not_accepting
    ):
        raise NotReferrable(
            f"{service.name} is not accepting new referrals right now.",
            code="service_not_accepting",
        )
    return route.agency or _agency_not_yet_joined(service), route


def _reach_agency(referral: Referral, route: Route, actor: User | LinkActor, now: datetime) -> None:
    """Tell the agency of a new referral the way it can hear it: its inbox (network), an email
    link, or nothing for a phone referral (the coordinator calls)."""
    if route.delivery == Delivery.network:
        notifications.referral_sent(referral, actor, now)
    elif route.delivery == Delivery.email:
        links.send_link(referral, route.email, actor, now)


def open_duplicates(member: Member, service: Service) -> list[Referral]:
    """Open referrals of the same member to the same service: a second is likely a mistake."""
    return list(
        db.session.scalars(
            select(Referral)
            .where(
                Referral.member_id == member.id,
                Referral.service_id == service.id,
                Referral.status.in_([str(s) for s in OPEN_STATUSES]),
            )
            .order_by(Referral.sent_at.desc())
        )
    )


REFERRAL_TEXTS = ("need", "note", "urgency")  # what the sender writes, passed on as it came


def send_referral(
    actor: User,
    member: Member,
    service: Service | None,
    *,
    need: str | None,
    note: str | None = None,
    urgency: str | None = None,
    confirm_duplicate: bool = False,
    auto_escalate: bool = False,
    now: datetime | None = None,
) -> Referral:
    """Refer a consenting member to a service; the agency is told and must answer in its window.

    With `auto_escalate`, the sweep re-sends it to the next best service if the agency does not
    answer in time (referrals/next_best.py)."""
    now = now or utcnow()
    access.require_own_member(actor, member, "send referrals")
    checks = _Checks()
    need = checks.text("need", need, max_len=MAX_NEED, required=True)
    note = checks.text("note", note, max_len=MAX_NOTE)
    urgency = checks.choice("urgency", urgency or Urgency.routine, Urgency)
    checks.done()
    agency, route = _referrable_agency(service)
    consent = require_consent(member, deadlines.local_today(now))
    if not confirm_duplicate:
        duplicates = open_duplicates(member, service)
        if duplicates:
            existing = duplicates[0]
            raise DuplicateReferral(
                f"This member already has an open referral to {service.name} "
                f"({existing.status} since {existing.sent_at.date().isoformat()}). "
                "Send another only if that is what you mean.",
                existing_referral_id=str(existing.id),
            )
    referral = Referral(
        member=member,
        service=service,
        service_name=service.name,
        receiving_org=agency,
        sending_org_id=member.organization_id,
        sending_user=actor,
        consent=consent,
        need=need,
        note=note,
        urgency=str(urgency),
        delivery=route.delivery.value,
        auto_escalate=bool(auto_escalate),
        created_at=now,
        sent_at=now,
        due_at=deadlines.response_due(agency, now, urgency),
    )
    db.session.add(referral)
    _transition(referral, Action.send, actor, Side.sending, now=now)
    audit.record(
        actor,
        AuditAction.send,
        AuditObject.referral,
        referral.id,
        {"member_id": str(member.id), "service_id": str(service.id), "delivery": route.delivery},
    )
    _reach_agency(referral, route, actor, now)
    return referral


def _coded_answer(name: str, value, choices: type, text, *, allowed=None) -> tuple:
    """A coded answer (a decline or cancel reason, an outcome) and its note, checked together:
    both problems are reported at once, and a code that says too little alone needs the note."""
    checks = _Checks()
    code = checks.choice(name, value, choices, allowed=allowed)
    note = checks.reason_text("note", code, text)
    checks.done()
    return code, note


def _lock(referral: Referral) -> None:
    # Re-read the row, locked on PostgreSQL (SELECT … FOR UPDATE): a concurrent change waits,
    # then sees the new status. SQLite has no row locks; there the version check in `_transition`
    # catches the loser.
    db.session.refresh(referral, with_for_update=True)


def _clear_outcome_overdue(referral: Referral) -> None:
    # Written even when it reads False: on SQLite a sweep may set it between `_lock`'s read and
    # this flush (it doesn't bump the version), and a closed referral must not keep the flag.
    referral.outcome_overdue = False
    flag_modified(referral, "outcome_overdue")


def _log_name(actor: User | LinkActor | None) -> str:
    if isinstance(actor, LinkActor):
        return f"link {actor.link_id}"
    return str(actor.id) if actor is not None else "system"


def _by_event(event: ReferralEvent) -> str:
    return "the agency (by email link)" if event.link_id else _who(event.actor)


def _who(user: User | None) -> str:
    return user.display_name if user is not None else "Wraparound"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _refusal(referral: Referral, action: Action, error: IllegalTransition) -> TransitionRefused:
    """Say what happened already ("already accepted by X at T"), not only that it can't be done."""
    current = Status(referral.status)
    last = db.session.scalar(
        select(ReferralEvent)
        .where(
            ReferralEvent.referral_id == referral.id,
            ReferralEvent.to_status == current,
            ReferralEvent.action.not_in(SWEEP_EVENT_ACTIONS),
        )
        .order_by(ReferralEvent.at.desc())
        .limit(1)
    )
    if last is None or last.action == Action.send:
        message = str(error)
        message = message[0].upper() + message[1:] + "."
    else:
        message = (
            f"Cannot {action.value}: this referral was already {PAST_TENSE[Action(last.action)]} "
            f"by {_by_event(last)} at {_when(last.at)}."
        )
    return TransitionRefused(message, current_status=current.value)


def _lost_race(referral_id: uuid.UUID, action: Action) -> ConcurrentUpdate:
    # This session's transaction is spoiled; read what won on a connection of its own.
    with db.engine.connect() as conn:
        row = conn.execute(
            select(ReferralEvent.action, ReferralEvent.at, User.full_name, User.email)
            .outerjoin(User, User.id == ReferralEvent.actor_id)
            .where(
                ReferralEvent.referral_id == referral_id,
                ReferralEvent.action.not_in(SWEEP_EVENT_ACTIONS),
            )
            .order_by(ReferralEvent.at.desc())
            .limit(1)
        ).first()
    if row is None or row.action == Action.send:
        message = f"Cannot {action.value}: someone changed this referral at the same moment."
    else:
        who = row.full_name or row.email or "Wraparound"
        message = (
            f"Cannot {action.value}: this referral was already {PAST_TENSE[Action(row.action)]} "
            f"by {who} at {_when(row.at)}."
        )
    return ConcurrentUpdate(message)


def _transition(
    referral: Referral,
    action: Action,
    actor: User | None,
    side: Side | None,
    *,
    now: datetime,
    reason: str | None = None,
    note: str | None = None,
    changes: dict | None = None,
) -> ReferralEvent:
    """The only place a referral's status changes: check the table, apply, write the event, flush.

    Two people acting at once: exactly one flush succeeds; the other gets ConcurrentUpdate (the
    version column, or the row lock taken by `_lock` on PostgreSQL).
    """
    referral_id = referral.id
    current = Status(referral.status) if referral.status else None
    try:
        target = next_status(current, action, side)
    except SideNotAllowed as exc:
        raise Forbidden(str(exc)[0].upper() + str(exc)[1:] + ".") from exc
    except IllegalTransition as exc:
        raise _refusal(referral, action, exc) from exc
    for name, value in (changes or {}).items():
        setattr(referral, name, value)
    referral.status = target.value
    event = ReferralEvent(
        referral=referral,
        actor_id=actor.id if actor is not None else None,
        at=now,
        from_status=current.value if current else None,
        to_status=target.value,
        action=action.value,
        reason=reason,
        note=note,
        link_id=getattr(actor, "link_id", None),
    )
    db.session.add(event)
    try:
        db.session.flush()
    except StaleDataError as exc:
        raise _lost_race(referral_id, action) from exc
    log.info("referral %s %s by %s", referral.id, PAST_TENSE[action], _log_name(actor))
    member_status.tell_member(referral, action, actor, now)
    return event


def accept(
    referral: Referral, actor: User, *, note: str | None = None, now: datetime | None = None
) -> Referral:
    """The agency takes the referral on; the coordinator is told."""
    now = now or utcnow()
    side = access.acting_side(actor, referral, Action.accept)
    checks = _Checks()
    note = checks.text("note", note, max_len=MAX_NOTE)
    checks.done()
    _lock(referral)
    _transition(
        referral, Action.accept, actor, side, now=now, note=note, changes={"responded_at": now}
    )
    notifications.referral_accepted(referral, actor, now)
    audit.record(actor, AuditAction.accept, AuditObject.referral, referral.id)
    return referral


def decline(
    referral: Referral,
    actor: User,
    *,
    reason: str | None,
    text: str | None = None,
    now: datetime | None = None,
) -> Referral:
    """The agency says no, with a reason the coordinator can act on."""
    now = now or utcnow()
    side = access.acting_side(actor, referral, Action.decline)
    reason, text = _coded_answer("reason", reason, DeclineReason, text)
    _lock(referral)
    _transition(
        referral,
        Action.decline,
        actor,
        side,
        now=now,
        reason=reason.value,
        note=text,
        changes={
            "decline_reason": reason.value,
            "decline_text": text,
            "responded_at": now,
            "closed_at": now,
        },
    )
    notifications.referral_declined(referral, actor, now)
    audit.record(
        actor, AuditAction.decline, AuditObject.referral, referral.id, {"reason": reason.value}
    )
    return referral


def cancel(
    referral: Referral,
    actor: User,
    *,
    reason: str | None,
    text: str | None = None,
    now: datetime | None = None,
) -> Referral:
    """Stop a referral: the coordinator while it waits, either side once accepted."""
    now = now or utcnow()
    side = access.acting_side(actor, referral, Action.cancel)
    reason, text = _coded_answer(
        "reason", reason, CancelReason, text, allowed=CHOSEN_CANCEL_REASONS
    )
    _lock(referral)
    _stop(referral, actor, side, reason, text, now)
    return referral


def _stop(
    referral: Referral,
    actor: User,
    side: Side,
    reason: CancelReason,
    text: str | None,
    now: datetime,
    *,
    tell_both_sides: bool = False,
) -> None:
    """Cancel a locked referral: the transition and its event, the notices, the audit row."""
    _clear_outcome_overdue(referral)
    _transition(
        referral,
        Action.cancel,
        actor,
        side,
        now=now,
        reason=reason.value,
        note=text,
        changes={"cancel_reason": reason.value, "cancel_text": text, "closed_at": now},
    )
    notifications.referral_cancelled(referral, actor, side, now, tell_both_sides=tell_both_sides)
    if side == Side.sending:
        links.tell_link_holder(
            referral,
            f"Referral cancelled: {referral.service_name}",
            f"{referral.sending_org.name} cancelled the referral to {referral.service_name} "
            f"({label(reason)}). There is nothing more to do.",
            now,
        )
    audit.record(
        actor, AuditAction.cancel, AuditObject.referral, referral.id, {"reason": reason.value}
    )


def forward(
    referral: Referral,
    actor: User,
    service: Service | None,
    *,
    note: str | None = None,
    now: datetime | None = None,
) -> Referral:
    """The agency passes the referral to another service: this one closes, a linked one is sent.

    Returns the new referral. The member's consent must still be in force, since another agency
    will see their details.
    """
    now = now or utcnow()
    side = access.acting_side(actor, referral, Action.forward)
    checks = _Checks()
    note = checks.text("note", note, max_len=MAX_NOTE)
    if service is not None and service.id == referral.service_id:
        checks.errors["service_id"] = "Choose a service other than the one this referral is for."
    checks.done()
    agency, route = _referrable_agency(service)
    _lock(referral)
    _transition(
        referral,
        Action.forward,
        actor,
        side,
        now=now,
        note=note,
        changes={"responded_at": now, "closed_at": now},
    )
    forwarded = linked_referral(
        referral, service, agency, route, now, forwarded_from_id=referral.id
    )
    # Sent on the coordinator's behalf by the forwarding agency: no side check for this step.
    _transition(forwarded, Action.send, actor, None, now=now, note=note)
    referral.forwarded_to_id = forwarded.id
    db.session.flush()
    notifications.referral_forwarded(referral, forwarded, actor, now)
    if route.delivery == Delivery.email:
        links.send_link(forwarded, route.email, actor, now)
    audit.record(
        actor,
        AuditAction.forward,
        AuditObject.referral,
        referral.id,
        {"forwarded_to": str(forwarded.id), "service_id": str(service.id)},
    )
    return forwarded


def linked_referral(
    original: Referral, service: Service, agency, route, now: datetime, **link
) -> Referral:
    """A new referral to `service`, added, carrying the original's member, sender, need, note and
    urgency under the consent in force, sent now; `link` says how it came from the original
    (and may name another sender)."""
    consent = require_consent(original.member, deadlines.local_today(now))
    new = Referral(
        **{
            "member_id": original.member_id,
            "service": service,
            "service_name": service.name,
            "receiving_org": agency,
            "sending_org_id": original.sending_org_id,
            "sending_user_id": original.sending_user_id,
            "consent": consent,
            "need": original.need,
            "note": original.note,
            "urgency": original.urgency,
            "delivery": route.delivery.value,
            "created_at": now,
            "sent_at": now,
            "due_at": deadlines.response_due(agency, now, original.urgency),
            **link,
        }
    )
    db.session.add(new)
    return new


def complete(
    referral: Referral,
    actor: User,
    *,
    outcome: str | None,
    text: str | None = None,
    now: datetime | None = None,
) -> Referral:
    """The agency records what happened: the loop is closed, and the coordinator is told."""
    now = now or utcnow()
    side = access.acting_side(actor, referral, Action.complete)
    outcome, text = _coded_answer("outcome", outcome, Outcome, text)
    _lock(referral)
    _clear_outcome_overdue(referral)
    _transition(
        referral,
        Action.complete,
        actor,
        side,
        now=now,
        reason=outcome.value,
        note=text,
        changes={"outcome": outcome.value, "outcome_text": text, "closed_at": now},
    )
    notifications.referral_completed(referral, actor, now)
    audit.record(
        actor, AuditAction.complete, AuditObject.referral, referral.id, {"outcome": outcome.value}
    )
    return referral


def post_message(
    referral: Referral, author: User, body: str | None, now: datetime | None = None
) -> ReferralMessage:
    """Write in the thread between the two sides; the other side is told."""
    now = now or utcnow()
    side = access.acting_side(author, referral)
    checks = _Checks()
    body = checks.text("body", body, max_len=MAX_MESSAGE, required=True)
    checks.done()
    message = ReferralMessage(
        referral=referral,
        author_id=author.id,
        link_id=getattr(author, "link_id", None),
        body=body,
        created_at=now,
    )
    db.session.add(message)
    db.session.flush()
    notifications.new_message(referral, author, side, now)
    if side == Side.sending:
        links.tell_link_holder(
            referral,
            f"New message: {referral.service_name}",
            f"{referral.sending_org.name} wrote about the referral to {referral.service_name}.",
            now,
        )
    audit.record(
        author,
        AuditAction.message,
        AuditObject.referral,
        referral.id,
        {"message_id": str(message.id)},
    )
    log.info("referral %s message %s by %s", referral.id, message.id, _log_name(author))
    return message


def set_service_capacity(actor: User, service: Service, capacity: str | None) -> Service:
    """Switch whether a service takes new referrals (accepting, waitlist, not accepting)."""
    checks = _Checks()
    capacity = checks.choice("referral_capacity", capacity, ReferralCapacity)
    checks.done()
    if not access.can_manage_service(actor, service):
        raise Forbidden("Only the agency offering this service can change its referral capacity.")
    before = service.referral_capacity
    service.referral_capacity = capacity.value
    db.session.flush()
    if before != capacity.value:
        audit.record(
            actor,
            AuditAction.update,
            AuditObject.service,
            service.id,
            {"referral_capacity": [before, capacity.value]},
        )
        log.info(
            "service %s referral capacity %s -> %s by %s",
            service.id,
            before,
            capacity.value,
            actor.id,
        )
    return service


def sweep_overdue(now: datetime | None = None) -> list[uuid.UUID]:
    """Flag referrals past their response window and queue reminders to both sides, once each.

    Safe to run from cron on several hosts at once: each referral is claimed by a conditional
    UPDATE (…WHERE overdue_notified_at IS NULL); on PostgreSQL a second host waits for the first
    one's row lock, then matches nothing. The flag is not a status: the referral stays actionable.
    """
    now = now or utcnow()
    candidates = db.session.scalars(
        select(Referral.id)
        .where(
            Referral.status == Status.sent,
            Referral.due_at <= now,
            Referral.overdue_notified_at.is_(None),
        )
        .order_by(Referral.due_at)
    ).all()
    flagged = []
    for referral_id in candidates:
        referral = _claim_reminder(referral_id, Status.sent, "overdue", now)
        if referral is None:
            continue
        notifications.referral_overdue(referral, now)
        log.info("referral %s overdue (was due %s)", referral_id, referral.due_at.isoformat())
        flagged.append(referral_id)
    db.session.flush()
    return flagged


def _claim_reminder(
    referral_id: uuid.UUID, status: Status, flag: str, now: datetime
) -> Referral | None:
    """Raise a referral's reminder flag (`overdue` or `outcome_overdue`) and record it as an
    event, unless another host already did: the conditional UPDATE (…WHERE <flag>_notified_at
    IS NULL) lets one sweep win. The referral, or None when it was not ours to claim."""
    notified_at = f"{flag}_notified_at"
    claimed = db.session.execute(
        update(Referral)
        .where(
            Referral.id == referral_id,
            Referral.status == status,
            getattr(Referral, notified_at).is_(None),
        )
        .values({flag: True, notified_at: now})
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    referral = db.session.get(Referral, referral_id, populate_existing=True)
    db.session.add(
        ReferralEvent(
            referral_id=referral_id,
            actor_id=None,
            at=now,
            from_status=status.value,
            to_status=status.value,
            action=flag,
        )
    )
    return referral


def sweep_outcome_overdue(now: datetime | None = None) -> list[uuid.UUID]:
    """Flag accepted referrals with no outcome past their outcome deadline and queue reminders to
    the agency and the coordinator, once each: no accepted referral is left to die in silence.

    The deadline is OUTCOME_REMINDER_DAYS business days after acceptance (`outcome_due`). Safe on
    several hosts at once, as `sweep_overdue`: each referral is claimed by a conditional UPDATE
    (…WHERE outcome_overdue_notified_at IS NULL). The flag is not a status: the referral can
    still be completed or cancelled, which clears it.
    """
    now = now or utcnow()
    days = deadlines.outcome_reminder_days()
    accepted_at = func.coalesce(Referral.responded_at, Referral.sent_at)
    # N business days are at least N calendar days (one less for a daylight-saving hour): a
    # cheap bound in SQL; the exact business-day deadline is checked per referral below.
    candidates = db.session.execute(
        select(Referral.id, Referral.responded_at, Referral.sent_at)
        .where(
            Referral.status == Status.accepted,
            Referral.outcome_overdue_notified_at.is_(None),
            accepted_at <= now - timedelta(days=days - 1),
        )
        .order_by(accepted_at, Referral.id)
    ).all()
    flagged = []
    for referral_id, responded_at, sent_at in candidates:
        due = deadlines.outcome_due_after(responded_at or sent_at)
        if due > now:
            continue
        referral = _claim_reminder(referral_id, Status.accepted, "outcome_overdue", now)
        if referral is None:
            continue
        notifications.referral_outcome_overdue(referral, due, now)
        log.info("referral %s outcome overdue (was due %s)", referral_id, due.isoformat())
        flagged.append(referral_id)
    db.session.flush()
    return flagged
