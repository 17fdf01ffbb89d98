"""Keeping listings true, for the people who run them: their listings with the stale ones
flagged and "Everything here is still correct"; the queue of fixes the public suggested, to
accept (then edit the listing) or dismiss with a reason. Network admins see every stale
listing, and the suggestions for listings no agency in the network runs."""

import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from accounts import listings, suggestions
from accounts.auth import login_required_roles, register_nav_link, safe_next_path
from accounts.listing_rights import may_maintain_listing
from accounts.models import ListingSuggestion, Role
from accounts.services import AccountError
from directory import verification
from directory.models import Service
from extensions import db
from referrals import audit
from referrals.models import AuditAction, AuditObject
from referrals.web import int_arg, page_url

bp = Blueprint("listing_upkeep", __name__)

MAINTAINERS = (Role.agency_staff, Role.agency_admin, Role.admin)

register_nav_link("Listings", "listing_upkeep.dashboard", roles=MAINTAINERS, order=30)


@bp.app_template_global("listing_trust")
def listing_trust(service: Service) -> dict:
    """What templates/directory/_listing_trust.html offers on a service page: the suggest-a-fix
    link for everyone, the verify button for those who run the listing."""
    may_verify = current_user.is_authenticated and may_maintain_listing(
        current_user, service.organization_id
    )
    return {
        "suggest_url": url_for("suggestions.suggest_fix", service_id=service.id),
        "verify_url": url_for("listing_upkeep.verify", service_id=service.id)
        if may_verify
        else None,
    }


def _user():
    return current_user._get_current_object()


# -- the dashboard ----------------------------------------------------------------------------


@bp.get("/listings")
@login_required_roles(*MAINTAINERS)
def dashboard():
    """An agency's listings, stale ones first and flagged; for network admins, every stale
    listing in the directory."""
    user = _user()
    if user.is_admin:
        return render_template(
            "admin/stale_listings.html",
            stale=listings.stale_listings_page(int_arg("page", 1)),
            stale_days=verification.stale_days(),
            page_url=lambda **kw: page_url("listing_upkeep.dashboard", **kw),
        )
    return render_template(
        "admin/listings.html",
        agency=user.organization,
        listings=listings.agency_listings(user.organization),
        stale_days=listings.stale_days(),
    )


@bp.post("/services/<uuid:service_id>/verify")
@login_required_roles()
def verify(service_id: uuid.UUID):
    """ "Everything here is still correct": the listing's assured date becomes today."""
    service = db.get_or_404(Service, service_id)
    if not may_maintain_listing(_user(), service.organization_id):
        abort(403, description="Only the people who run this listing can verify it.")
    listings.verify_listing(service, _user())
    audit.record(
        _user(), AuditAction.update, AuditObject.service, service.id, {"verified": "assured_date"}
    )
    flash(f"Thank you: {service.name} is marked as verified today.", "success")
    target = safe_next_path(request.form.get("next")) or url_for("listing_upkeep.dashboard")
    return redirect(target, code=303)


# -- suggested fixes ----------------------------------------------------------------------------


def _queue_page(status: int = 200, errors: dict | None = None, reasons: dict | None = None):
    return (
        render_template(
            "admin/suggestions.html",
            items=suggestions.queue_for(_user()),
            errors=errors or {},
            reasons=reasons or {},
        ),
        status,
    )


@bp.get("/listings/suggestions")
@login_required_roles(*MAINTAINERS)
def suggestion_queue():
    """Fixes suggested to the listings this person runs, waiting ones first."""
    return _queue_page()


def _suggestion(suggestion_id: uuid.UUID) -> ListingSuggestion:
    # Someone else's suggestion reads as a missing one.
    suggestion = suggestions.suggestion_for_decision(suggestion_id, _user())
    if suggestion is None:
        abort(404)
    return suggestion


def _audit_decision(suggestion: ListingSuggestion, action: AuditAction, **detail) -> None:
    audit.record(
        _user(),
        action,
        AuditObject.service,
        suggestion.service_id,
        {"suggestion_id": str(suggestion.id), **detail},
    )


def _refused(suggestion: ListingSuggestion, exc: AccountError, reason: str = ""):
    status = 409 if isinstance(exc, suggestions.SuggestionConflict) else 422
    return _queue_page(status, errors={suggestion.id: exc.message}, reasons={suggestion.id: reason})


@bp.post("/listings/suggestions/<uuid:suggestion_id>/accept")
@login_required_roles(*MAINTAINERS)
def accept_suggestion(suggestion_id: uuid.UUID):
    """Accept it, then make the change: on to the listing's edit form, filled in from it."""
    suggestion = _suggestion(suggestion_id)
    try:
        target = suggestions.accept(suggestion, _user())
    except AccountError as exc:
        return _refused(suggestion, exc)
    _audit_decision(suggestion, AuditAction.accept, edit_url=target)
    if target.startswith(f"/services/{suggestion.service_id}/edit"):
        flash("Accepted. Make the change here and save it.", "success")
    else:
        flash(
            f"Accepted. Editing listings here is not available yet: change it where the "
            f"listing comes from. The suggestion: {suggestion.correction or suggestion.kind_label}",
            "success",
        )
    return redirect(target, code=303)


@bp.post("/listings/suggestions/<uuid:suggestion_id>/dismiss")
@login_required_roles(*MAINTAINERS)
def dismiss_suggestion(suggestion_id: uuid.UUID):
    """Dismiss it with a reason (emailed to the person if they left an address)."""
    suggestion = _suggestion(suggestion_id)
    reason = request.form.get("reason", "")
    try:
        suggestions.dismiss(suggestion, _user(), reason)
    except AccountError as exc:
        return _refused(suggestion, exc, reason)
    _audit_decision(suggestion, AuditAction.decline, reason=suggestion.dismiss_reason)
    flash("Dismissed.", "success")
    return redirect(url_for("listing_upkeep.suggestion_queue"), code=303)
