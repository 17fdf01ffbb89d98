"""The public "Work here? Manage this listing" form and its confirmation (no account needed)."""

import uuid

from flask import Blueprint, redirect, render_template, request, url_for

from accounts.claims import (
    ClaimConflict,
    ClaimInvalid,
    OrganizationAlreadyJoined,
    claim_status_for,
    start_claim,
)
from accounts.forms import ClaimForm
from accounts.limits import claim_per_ip
from accounts.public_forms import limit_answered_on_form, shown_service
from directory.models import Service

bp = Blueprint("claims", __name__)


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
    service = shown_service(service_id)
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
    service = shown_service(service_id)
    return render_template(
        "accounts/claim_sent.html", service=service, organization=service.organization
    )


limit_answered_on_form(bp, "claims.claim_listing", ClaimForm, _page)
