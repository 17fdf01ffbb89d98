"""The public "Something wrong? Suggest a fix" form and its confirmation (no account needed)."""

import logging
import uuid

from flask import Blueprint, redirect, render_template, request, url_for

from accounts import suggestions
from accounts.forms import SuggestFixForm
from accounts.limits import suggest_per_ip
from accounts.public_forms import limit_answered_on_form, shown_service
from directory.models import Service

log = logging.getLogger(__name__)

bp = Blueprint("suggestions", __name__)


def _page(service: Service, form: SuggestFixForm, status: int = 200):
    # A fresh start time each time the form is shown: "too fast" counts from this showing.
    form.started.data = suggestions.form_token(service.id)
    return (
        render_template(
            "accounts/suggest.html", service=service, organization=service.organization, form=form
        ),
        status,
    )


def _sent(service: Service):
    return redirect(url_for("suggestions.suggestion_sent", service_id=service.id), code=303)


@bp.route("/services/<uuid:service_id>/suggest", methods=["GET", "POST"])
@suggest_per_ip
def suggest_fix(service_id: uuid.UUID):
    """Tell the people who run a listing what is wrong with it; they accept or dismiss it."""
    service = shown_service(service_id)
    form = SuggestFixForm()
    if not form.validate_on_submit():
        return _page(service, form, 422 if request.method == "POST" else 200)
    if (form.website.data or "").strip():
        # The honeypot: people never see it. Look sent, keep nothing.
        log.info("suggested fix to %s dropped: honeypot filled", service.id)
        return _sent(service)
    try:
        suggestions.check_form_token(service.id, form.started.data)
        suggestions.suggest_fix(
            service,
            form.kind.data,
            form.correction.data,
            form.contact_email.data,
            ip=request.remote_addr,
        )
    except suggestions.LooksAutomated as exc:
        form.form_errors.append(exc.message)
        return _page(service, form, 422)
    except suggestions.SuggestionInvalid as invalid:
        for error in invalid.errors:
            getattr(form, error.field).errors = [*getattr(form, error.field).errors, error.message]
        return _page(service, form, 422)
    return _sent(service)


@bp.get("/services/<uuid:service_id>/suggest/sent")
def suggestion_sent(service_id: uuid.UUID):
    """What happens next, after a fix was suggested."""
    service = shown_service(service_id)
    return render_template("accounts/suggest_sent.html", service=service)


limit_answered_on_form(bp, "suggestions.suggest_fix", SuggestFixForm, _page)
