"""The public "Work here? Manage this listing" form and its confirmation (no account needed)."""

import uuid

from flask import Blueprint, abort, redirect, render_template, request, url_for

from accounts.claims import (
    ClaimConflict,
    ClaimInvalid,
    OrganizationAlreadyJoined,
    claim_status_for,
    start_claim,
)
from accounts.forms import ClaimForm
from accounts.limits import claim_per_ip
from directory.models import Service
from extensions import db

bp = Blueprint("claims", __name__)


def _listed_service(service_id: uuid.UUID) -> Service:
    service = db.get_or_404(Service, service_id)
    if not service.is_shown:
        abort(404, description="This service is no longer offered.")
    return service


def _page(service: Service, form: ClaimForm, status: int = 200, **context):
    return (
        render_template(
            "accounts/claim.html",
            service=service,
            organization=service.organization,
            form=form,
            **context,
        ),
        status,
    )


@bp.route("/services/<uuid:service_id>/claim", methods=["GET", "POST"])
@claim_per_ip
def claim_listing(service_id: uuid.UUID):
    """Ask to manage the listing of this service's organization; a network admin decides."""
    service = _listed_service(service_id)
    form = ClaimForm()
    joined = claim_status_for(service)
    if joined is not None:
        # Already in the network: its agency admins add people; a claim would go nowhere.
        return _page(service, form, 409 if request.method == "POST" else 200, joined=joined)
    if not form.validate_on_submit():
        return _page(service, form, 422 if request.method == "POST" else 200)
    try:
        start_claim(
            service,
            form.name.data,
            form.email.data,
            form.phone.data,
            form.message.data,
            ip=request.remote_addr,
        )
    except ClaimInvalid as invalid:
        for error in invalid.errors:
            getattr(form, error.field).errors = [*getattr(form, error.field).errors, error.message]
        return _page(service, form, 422)
    except ClaimConflict as conflict:
        form.form_errors.append(conflict.message)
        return _page(service, form, 409)
    except OrganizationAlreadyJoined as joined_now:
        return _page(service, form, 409, joined=joined_now)
    return redirect(url_for("claims.claim_sent", service_id=service.id), code=303)


@bp.get("/services/<uuid:service_id>/claim/sent")
def claim_sent(service_id: uuid.UUID):
    """What happens next, after a claim was sent."""
    service = _listed_service(service_id)
    return render_template(
        "accounts/claim_sent.html", service=service, organization=service.organization
    )


@bp.errorhandler(429)
def too_many_claims(exc):
    """The limit was hit: say so on the form itself, keeping what was typed."""
    service_id = (request.view_args or {}).get("service_id")
    service = db.session.get(Service, service_id) if service_id else None
    if service is None or request.endpoint != "claims.claim_listing":
        return render_template("error.html", error=exc), 429
    form = ClaimForm()
    form.form_errors.append(exc.description)
    return _page(service, form, 429)
