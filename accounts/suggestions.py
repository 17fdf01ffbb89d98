"""Fixes suggested by the public ("Something wrong? Suggest a fix" on a service page).

Anyone may suggest one, without an account; bots are kept out without a third-party CAPTCHA:
a honeypot field people never see, a signed timestamp so a form sent faster than a person can
type is refused (SUGGEST_MIN_SECONDS), and a per-address limit (SUGGEST_RATE_LIMIT_PER_IP,
accounts.limits). Each suggestion waits in the queue of the agency that runs the listing (or of
the network admins when no agency does), who accept it (then make the change in the edit form)
or dismiss it with a reason; the person is emailed the result if they left an address.
Like the other services these flush and return; the request commits.
"""

import logging
import time
import uuid

from flask import current_app, url_for
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import case, exists, select

from accounts.listing_links import prefilled_edit_url
from accounts.listing_rights import may_edit_listing, may_maintain_listing
from accounts.models import (
    SUGGESTION_KIND_LABELS,
    ListingSuggestion,
    NetworkOrganization,
    OrgKind,
    SuggestionKind,
    SuggestionStatus,
    User,
)
from accounts.outbox import queue_email
from accounts.services import AccountError
from directory import normalize
from directory.models import Service, ServiceStatus
from extensions import db, utcnow

log = logging.getLogger(__name__)

CORRECTION_MAX = 2000
REASON_MAX = 1000
TOKEN_MAX_AGE = 24 * 3600  # a form left open longer than a day is sent again
QUEUE_LIMIT = 200


class SuggestionConflict(AccountError):
    """Decided already: a 409."""


class SuggestionInvalid(AccountError):
    """Several fields are wrong at once: `errors` holds one AccountError per field."""

    def __init__(self, errors: list[AccountError]):
        super().__init__(" ".join(error.message for error in errors))
        self.errors = errors


class LooksAutomated(AccountError):
    """Sent too fast, or without the form's signed start time: a person can send it again."""


# -- the form's start time ---------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="wraparound.suggest-fix")


def form_token(service_id: uuid.UUID, started: float | None = None) -> str:
    """The signed time the form was opened, for this service: a bot can't make one up."""
    return _serializer().dumps(
        {"s": str(service_id), "t": int(time.time() if started is None else started)}
    )


def min_seconds() -> int:
    return max(0, int(current_app.config.get("SUGGEST_MIN_SECONDS", 3)))


def check_form_token(service_id: uuid.UUID, token: str | None, now: float | None = None) -> None:
    """Refuse a form sent sooner than SUGGEST_MIN_SECONDS after it was opened (or with no or a
    forged start time, or one over a day old)."""
    now = time.time() if now is None else now
    try:
        data = _serializer().loads(token or "")
        started = float(data["t"])
        same_service = data["s"] == str(service_id)
    except (BadData, KeyError, TypeError, ValueError):
        raise LooksAutomated(
            "This form has expired. Check what you wrote and send it again."
        ) from None
    if not same_service or now - started > TOKEN_MAX_AGE:
        raise LooksAutomated("This form has expired. Check what you wrote and send it again.")
    if now - started < min_seconds():
        raise LooksAutomated("That was sent very quickly. Check what you wrote and send it again.")


# -- suggesting ---------------------------------------------------------------------------------


def _clean_kind(kind: str | None) -> str:
    try:
        return SuggestionKind(kind or "").value
    except ValueError:
        raise AccountError("Choose what is wrong.", "kind") from None


def _clean_correction(correction: str | None, kind: str | None) -> str:
    text = (correction or "").strip()
    if not text and kind != SuggestionKind.closed:
        raise AccountError("Say what it should be, e.g. the right phone number.", "correction")
    if len(text) > CORRECTION_MAX:
        raise AccountError(f"Use at most {CORRECTION_MAX} characters.", "correction")
    return text


def _clean_email(email: str | None) -> str | None:
    if not (email or "").strip():
        return None
    try:
        address = normalize.email(email)
    except normalize.InvalidValue:
        address = None
    if not address or len(address) > 320:
        raise AccountError(
            "Enter an email address like name@example.org, or leave it empty.", "contact_email"
        )
    return address


def suggest_fix(
    service: Service,
    kind: str | None,
    correction: str | None,
    contact_email: str | None = None,
    ip: str | None = None,
) -> ListingSuggestion:
    """Record a suggested fix to `service`, for the queue of whoever runs the listing."""
    errors, values = [], {}
    for field, clean in (
        ("kind", lambda: _clean_kind(kind)),
        ("correction", lambda: _clean_correction(correction, kind)),
        ("contact_email", lambda: _clean_email(contact_email)),
    ):
        try:
            values[field] = clean()
        except AccountError as exc:
            errors.append(exc)
    if errors:
        raise SuggestionInvalid(errors)
    suggestion = ListingSuggestion(
        service_id=service.id,
        organization_id=service.organization_id,
        status=SuggestionStatus.pending.value,
        ip=(ip or "")[:64] or None,
        **values,
    )
    db.session.add(suggestion)
    db.session.flush()
    log.info("suggested fix %s (%s) to service %s", suggestion.id, suggestion.kind, service.id)
    return suggestion


# -- the queue ----------------------------------------------------------------------------------


def _managed_by_a_joined_agency():
    return exists().where(
        NetworkOrganization.directory_organization_id == ListingSuggestion.organization_id,
        NetworkOrganization.kind == OrgKind.agency.value,
        NetworkOrganization.joined_at.is_not(None),
    )


def queue_for(user: User) -> list[ListingSuggestion]:
    """The suggestions `user` answers: their agency's listings; for network admins, the
    listings no agency in the network runs. Pending first (oldest first), then decided ones."""
    query = select(ListingSuggestion)
    if user.is_admin:
        query = query.where(~_managed_by_a_joined_agency())
    else:
        organization = user.organization
        if organization is None or organization.directory_organization_id is None:
            return []
        query = query.where(
            ListingSuggestion.organization_id == organization.directory_organization_id
        )
    pending_first = case((ListingSuggestion.status == SuggestionStatus.pending.value, 0), else_=1)
    pending_time = case(
        (ListingSuggestion.status == SuggestionStatus.pending.value, ListingSuggestion.created_at),
        else_=None,
    )
    return list(
        db.session.scalars(
            query.order_by(
                pending_first,
                pending_time.asc(),
                ListingSuggestion.decided_at.desc(),
                ListingSuggestion.id,
            ).limit(QUEUE_LIMIT)
        )
    )


def suggestion_for_decision(suggestion_id: uuid.UUID, user: User) -> ListingSuggestion | None:
    """The suggestion if `user` may answer it (else None: it reads as missing), locked for the
    decision on PostgreSQL (two people deciding at once)."""
    suggestion = db.session.scalar(
        select(ListingSuggestion).where(ListingSuggestion.id == suggestion_id).with_for_update()
    )
    if suggestion is None or not may_maintain_listing(user, suggestion.organization_id):
        return None
    return suggestion


def _check_pending(suggestion: ListingSuggestion) -> None:
    if not suggestion.is_pending:
        raise SuggestionConflict(f"This suggestion was already {suggestion.status}.")


def _decide(suggestion: ListingSuggestion, user: User, status: SuggestionStatus) -> None:
    suggestion.status = status.value
    suggestion.decided_at = utcnow()
    suggestion.decided_by_id = user.id
    db.session.flush()


# -- deciding -----------------------------------------------------------------------------------


def edit_url(suggestion: ListingSuggestion, user: User) -> str:
    """Where `user` makes the change: the edit form the suggestion is about, filled in where its
    correction fits a field (a phone number; "closed permanently"), and linked to it so the
    saved changes record where they came from. Someone who may triage but not edit the listing
    (agency staff without the editor right) goes to the public page, for an editor to act."""
    service = db.session.get(Service, suggestion.service_id)
    if service is None or not may_edit_listing(user, service.organization_id):
        return url_for("directory.service", service_id=suggestion.service_id)
    form, record_id, values, extra = "service", service.id, {}, {}
    if suggestion.kind == SuggestionKind.phone and suggestion.correction:
        values = {"phones": suggestion.correction}
    elif suggestion.kind == SuggestionKind.closed:
        values = {"status": ServiceStatus.defunct.value}
    elif suggestion.kind == SuggestionKind.hours:
        form = "hours"
    elif suggestion.kind == SuggestionKind.address and service.service_at_locations:
        form = "location"
        record_id = service.service_at_locations[0].location_id
        extra = {"service_id": service.id}
    return prefilled_edit_url(form, record_id, values, suggestion.id, **extra)


def accept(suggestion: ListingSuggestion, user: User) -> str:
    """Accept a suggestion; returns the edit form's URL to make the change (recorded on it).
    The person who suggested it is thanked."""
    _check_pending(suggestion)
    suggestion.edit_url = edit_url(suggestion, user)[:500]
    _decide(suggestion, user, SuggestionStatus.accepted)
    _tell(
        suggestion,
        "Thank you: the people who run this listing accepted your suggestion and are updating it.",
    )
    log.info("suggestion %s accepted by %s", suggestion.id, user.id)
    return suggestion.edit_url


def dismiss(suggestion: ListingSuggestion, user: User, reason: str | None) -> ListingSuggestion:
    """Dismiss a suggestion with a reason; the person who suggested it gets the reason."""
    _check_pending(suggestion)
    reason = (reason or "").strip()
    if not reason:
        raise AccountError("Say why: the person who suggested it may get it by email.", "reason")
    if len(reason) > REASON_MAX:
        raise AccountError(f"Use at most {REASON_MAX} characters.", "reason")
    suggestion.dismiss_reason = reason
    _decide(suggestion, user, SuggestionStatus.dismissed)
    _tell(
        suggestion,
        "The people who run this listing looked at your suggestion and did not change the "
        f"listing. The reason they gave:\n\n{reason}",
    )
    log.info("suggestion %s dismissed by %s", suggestion.id, user.id)
    return suggestion


def _tell(suggestion: ListingSuggestion, outcome: str) -> None:
    if not suggestion.contact_email:
        return
    service = suggestion.service
    page = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/") + url_for(
        "directory.service", service_id=suggestion.service_id
    )
    kind = SUGGESTION_KIND_LABELS[SuggestionKind(suggestion.kind)].lower()
    queue_email(
        suggestion.contact_email,
        f"Your suggested fix to {service.name}"[:300],
        f"Hello,\n\nYou suggested a fix to the {kind} of {service.name} "
        f"({service.organization.name}) in the Wraparound directory:\n\n"
        f"{suggestion.correction or '(closed permanently)'}\n\n{outcome}\n\n"
        f"The listing:\n{page}\n",
    )
