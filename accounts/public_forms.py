"""What the public forms on a service page share ("Work here? Manage this listing", "Suggest a
fix"): the service they are about, and a rate limit answered on the form itself."""

import uuid
from collections.abc import Callable

from flask import Blueprint, abort, render_template, request
from flask_wtf import FlaskForm

from directory.models import Service
from extensions import db


def shown_service(service_id: uuid.UUID) -> Service:
    """The service a public form is about; 404 once it is no longer offered."""
    service = db.get_or_404(Service, service_id)
    if not service.is_shown:
        abort(404, description="This service is no longer offered.")
    return service


def limit_answered_on_form(
    bp: Blueprint, endpoint: str, form_class: type[FlaskForm], page: Callable
) -> None:
    """When the per-address limit is hit on `endpoint`, show its form again with the reason,
    keeping what was typed (status 429); anything else limited gets the plain error page."""

    @bp.errorhandler(429)
    def _limit_reached(exc):
        service_id = (request.view_args or {}).get("service_id")
        service = db.session.get(Service, service_id) if service_id else None
        if service is None or request.endpoint != endpoint:
            return render_template("error.html", error=exc), 429
        form = form_class()
        form.form_errors.append(exc.description)
        return page(service, form, 429)
