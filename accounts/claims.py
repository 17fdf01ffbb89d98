"""Claims of a listing: someone who works at a listed organization asks to manage it.

A claim starts on the public service page ("Work here? Manage this listing"); a network admin
approves it (the organization joins the network, the person becomes its agency admin and gets a
link to choose a password) or refuses it (the person is told why). The organization's network
row is the one its email-link referrals were sent to, so once it joins they are in its inbox.
Like the other services these change, flush and return; the request commits.
"""

import logging
import uuid
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import case, func, select

from accounts.models import (
    ClaimStatus,
    ListingClaim,
    NetworkOrganization,
    OrgKind,
    Role,
    User,
)
from accounts.outbox import queue_email
from accounts.services import (
    AccountError,
    active_users,
    create_organization,
    invite_user,
    validate_email,
)
from directory import normalize
from directory.models import Organization, Service
from extensions import db, utcnow
from web.paging import Page

log = logging.getLogger(__name__)

NAME_MAX = 200
MESSAGE_MAX = 2000
REASON_MAX = 1000
ALREADY_ASKED = "You already asked; a network admin will answer."


class ClaimConflict(AccountError):
    """A claim that can't go on as things stand (asked already, decided already): a 409."""


class OrganizationAlreadyJoined(AccountError):
    """The organization is in the network already: its agency admins add people, not a claim."""

    def __init__(self, organization: NetworkOrganization, admins: list[User]):
        super().__init__(f"{organization.name} is already part of the Wraparound network.")
        self.organization = organization
        self.admins = admins


class ClaimInvalid(AccountError):
    """Several fields of a claim are wrong at once: `errors` holds one AccountError per field."""

    def __init__(self, errors: list[AccountError]):
        super().__init__(" ".join(error.message for error in errors))
        self.errors = errors


@dataclass(frozen=True)
class ClaimPage(Page):
    """A page of the claims queue, with what its rows and heading need besides the claims."""

    joined_ids: frozenset  # directory organization ids that have joined since
    pending_total: int


# -- who runs a listing -------------------------------------------------------------------------


def network_agency(directory_organization_id: uuid.UUID) -> NetworkOrganization | None:
    """The network row of a directory organization (joined or known only through referrals)."""
    return db.session.scalar(
        select(NetworkOrganization).where(
            NetworkOrganization.directory_organization_id == directory_organization_id,
            NetworkOrganization.kind == OrgKind.agency.value,
        )
    )


def joined_agency(directory_organization_id: uuid.UUID) -> NetworkOrganization | None:
    """The agency of this listing if it has joined the network, else None."""
    agency = network_agency(directory_organization_id)
    return agency if agency is not None and agency.has_joined else None


def agency_admins(organization: NetworkOrganization) -> list[User]:
    """The active agency admins of an organization: the people to ask for an account there."""
    return active_users(organization.id, [Role.agency_admin], User.full_name, User.email)


def _check_joined(directory_organization_id: uuid.UUID) -> None:
    agency = joined_agency(directory_organization_id)
    if agency is not None:
        raise OrganizationAlreadyJoined(agency, agency_admins(agency))


# -- starting a claim --------------------------------------------------------------------------


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise AccountError("Enter your name.", "name")
    if len(name) > NAME_MAX:
        raise AccountError(f"Use at most {NAME_MAX} characters for your name.", "name")
    return name


def _clean_email(email: str | None) -> str:
    if not (email or "").strip():
        raise AccountError("Enter your work email address.", "email")
    try:
        address = normalize.email(email)
    except normalize.InvalidValue:
        raise AccountError("Enter an email address like name@example.org.", "email") from None
    return validate_email(address)


def _clean_phone(phone: str | None) -> str | None:
    """A phone number we can dial, formatted; None when none was given."""
    text = (phone or "").strip()
    if not text:
        return None
    try:
        read = normalize.phone(text, normalize.phone_region())
    except normalize.InvalidValue:
        read = None
    if read is None or read.problem or read.tel is None or len(read.number) > 40:
        raise AccountError("Enter a phone number like (315) 555-0100, or leave it empty.", "phone")
    return read.number + (f" x{read.extension}" if read.extension else "")


def _clean_message(message: str | None) -> str | None:
    message = (message or "").strip()
    if len(message) > MESSAGE_MAX:
        raise AccountError(f"Use at most {MESSAGE_MAX} characters.", "message")
    return message or None


def claim_status_for(service: Service) -> OrganizationAlreadyJoined | None:
    """Why this listing can't be claimed (it has joined), for the form to say who to ask."""
    try:
        _check_joined(service.organization_id)
    except OrganizationAlreadyJoined as joined:
        return joined
    return None


def start_claim(
    service: Service,
    name: str | None,
    email: str | None,
    phone: str | None = None,
    message: str | None = None,
    ip: str | None = None,
) -> ListingClaim:
    """Record a claim of `service`'s organization and tell the network admins (by email).

    Refused with OrganizationAlreadyJoined when the organization has joined (its agency admins
    add people), with ClaimConflict when this email already waits for an answer about it.
    """
    _check_joined(service.organization_id)
    errors = []
    values = {}
    for field, clean, raw in (
        ("name", _clean_name, name),
        ("email", _clean_email, email),
        ("phone", _clean_phone, phone),
        ("message", _clean_message, message),
    ):
        try:
            values[field] = clean(raw)
        except AccountError as exc:
            errors.append(exc)
    if errors:
        raise ClaimInvalid(errors)
    duplicate = db.session.scalar(
        select(ListingClaim.id).where(
            ListingClaim.organization_id == service.organization_id,
            ListingClaim.email == values["email"],
            ListingClaim.status == ClaimStatus.pending.value,
        )
    )
    if duplicate is not None:
        raise ClaimConflict(ALREADY_ASKED)
    claim = ListingClaim(
        organization_id=service.organization_id,
        service_id=service.id,
        status=ClaimStatus.pending.value,
        ip=(ip or "")[:64] or None,
        **values,
    )
    db.session.add(claim)
    db.session.flush()
    _tell_network_admins(claim, service)
    log.info("listing claim %s for organization %s", claim.id, claim.organization_id)
    return claim


def _queue_url() -> str:
    return current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/") + "/admin/claims"


def _tell_network_admins(claim: ListingClaim, service: Service) -> None:
    admins = db.session.scalars(
        select(User.email).where(User.role == Role.admin.value, User.active.is_(True))
    ).all()
    organization_name = service.organization.name
    for address in admins:
        queue_email(
            address,
            f"Claim of the listing {organization_name}"[:300],
            f"{claim.name} ({claim.email}) says they work at {organization_name} and asks to "
            f"manage its listing, starting from the service {service.name}.\n\n"
            f"Approve or refuse it here:\n{_queue_url()}\n",
        )


# -- the queue ----------------------------------------------------------------------------------


def claims_page(page: int = 1, per_page: int = 25) -> ClaimPage:
    """Pending claims first (oldest first: they waited longest), then decided ones, newest first."""
    page = max(1, int(page))
    per_page = min(100, max(1, int(per_page)))
    total = db.session.scalar(select(func.count()).select_from(ListingClaim)) or 0
    pending_first = case((ListingClaim.status == ClaimStatus.pending.value, 0), else_=1)
    # Oldest pending first; decided ones by decision time, newest first.
    order_time = case(
        (ListingClaim.status == ClaimStatus.pending.value, ListingClaim.created_at),
        else_=None,
    )
    items = list(
        db.session.scalars(
            select(ListingClaim)
            .order_by(
                pending_first,
                order_time.asc(),
                ListingClaim.decided_at.desc(),
                ListingClaim.id,
            )
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    org_ids = {claim.organization_id for claim in items}
    joined = (
        db.session.scalars(
            select(NetworkOrganization.directory_organization_id).where(
                NetworkOrganization.directory_organization_id.in_(org_ids),
                NetworkOrganization.joined_at.is_not(None),
            )
        ).all()
        if org_ids
        else []
    )
    pending_total = db.session.scalar(
        select(func.count())
        .select_from(ListingClaim)
        .where(ListingClaim.status == ClaimStatus.pending.value)
    )
    return ClaimPage(items, total, page, per_page, frozenset(joined), pending_total or 0)


def claim_for_decision(claim_id: uuid.UUID) -> ListingClaim | None:
    """The claim, locked for the decision on PostgreSQL (two admins deciding at once)."""
    return db.session.scalar(
        select(ListingClaim).where(ListingClaim.id == claim_id).with_for_update()
    )


def _check_pending(claim: ListingClaim) -> None:
    if not claim.is_pending:
        raise ClaimConflict(f"This claim was already {claim.status}.")


# -- deciding -----------------------------------------------------------------------------------


def approve_claim(claim: ListingClaim, admin: User) -> User:
    """The organization joins the network (its row, with any email-link referrals, or a new one)
    and the claimant becomes its agency admin, with an emailed link to choose a password."""
    _check_pending(claim)
    if db.session.scalar(select(User.id).where(func.lower(User.email) == claim.email)):
        raise ClaimConflict(
            f"An account with the email {claim.email} already exists; refuse this claim and "
            "add that person from the organization's staff page instead."
        )
    listing = db.session.get(Organization, claim.organization_id)
    agency = network_agency(listing.id)
    if agency is None or not agency.has_joined:
        agency = create_organization(
            (agency.name if agency is not None else listing.name)[:500],
            OrgKind.agency.value,
            directory_organization_id=listing.id,
            response_window_business_days=(
                agency.response_window_business_days if agency is not None else 2
            ),
        )
    user = invite_user(
        claim.email, Role.agency_admin.value, agency.id, full_name=claim.name, invited_by=admin
    )
    _decide(claim, admin, ClaimStatus.approved)
    log.info("listing claim %s approved by %s: user %s", claim.id, admin.id, user.id)
    return user


def refuse_claim(claim: ListingClaim, admin: User, reason: str | None) -> ListingClaim:
    """Refuse a claim and email the person the reason (it is theirs to read, so say it kindly)."""
    _check_pending(claim)
    reason = (reason or "").strip()
    if not reason:
        raise AccountError("Say why, for the person who asked: they get it by email.", "reason")
    if len(reason) > REASON_MAX:
        raise AccountError(f"Use at most {REASON_MAX} characters.", "reason")
    claim.refusal_reason = reason
    _decide(claim, admin, ClaimStatus.refused)
    listing = db.session.get(Organization, claim.organization_id)
    queue_email(
        claim.email,
        "Your request to manage a listing in Wraparound",
        f"Hello {claim.name},\n\n"
        f"A network administrator could not approve your request to manage the listing of "
        f"{listing.name}. The reason they gave:\n\n{reason}\n\n"
        "You can ask again from the service page with more details.",
    )
    log.info("listing claim %s refused by %s", claim.id, admin.id)
    return claim


def _decide(claim: ListingClaim, admin: User, status: ClaimStatus) -> None:
    claim.status = status.value
    claim.decided_at = utcnow()
    claim.decided_by_id = admin.id
    db.session.flush()
