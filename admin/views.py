"""Network admin pages: the access log (who saw or changed which member, consent or referral),
filtered and paged, and the same rows as CSV; the queue of listing claims to approve or refuse."""

import csv
import io
import json
from datetime import UTC, datetime, time, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from accounts import claims
from accounts.auth import login_required_roles, register_nav_link
from accounts.models import ListingClaim, Role, User, normalize_email
from accounts.services import AccountError
from extensions import db, utcnow
from referrals import audit, deadlines
from referrals.models import AuditAction, AuditObject
from referrals.web import int_arg, page_url, parse_date, parse_uuid, partial_for, respond
from web.spreadsheet import safe_cell

bp = Blueprint("admin", __name__)

register_nav_link("Audit log", "admin.audit_log", roles=(Role.admin,), order=85)
register_nav_link("Claims", "admin.claims_queue", roles=(Role.admin,), order=86)


def _audit_filters() -> tuple[dict, dict, dict]:
    """The audit filters from the query string: (query_log arguments, form values, errors)."""
    args = request.args
    form = {
        key: (args.get(key) or "").strip()
        for key in ("actor", "object_type", "object_id", "action", "since", "until")
    }
    errors: dict = {}
    filters: dict = {}
    if form["actor"]:
        actor_id = parse_uuid(form["actor"])
        if actor_id is None:
            actor_id = db.session.scalar(
                select(User.id).where(User.email == normalize_email(form["actor"]))
            )
        if actor_id is None:
            errors["actor"] = "No account with that email address (or id)."
        filters["actor_id"] = actor_id
    if form["object_type"]:
        if form["object_type"] in set(AuditObject):
            filters["object_type"] = form["object_type"]
        else:
            errors["object_type"] = "Choose a type from the list."
    if form["object_id"]:
        filters["object_id"] = parse_uuid(form["object_id"])
        if filters["object_id"] is None:
            errors["object_id"] = "Paste a record id (a UUID like 1b4e28ba-2fa1-11d2-883f-…)."
    if form["action"]:
        if form["action"] in set(AuditAction):
            filters["action"] = form["action"]
        else:
            errors["action"] = "Choose an action from the list."
    zone = deadlines.local_zone()
    since = parse_date(errors, "since", form["since"])
    until = parse_date(errors, "until", form["until"])
    if since is not None:
        filters["since"] = datetime.combine(since, time(), tzinfo=zone).astimezone(UTC)
    if until is not None:
        next_day = until + timedelta(days=1)  # the "to" day is included
        filters["until"] = datetime.combine(next_day, time(), tzinfo=zone).astimezone(UTC)
    if since and until and until < since:
        errors["until"] = "The end date is before the start date."
    return filters, form, errors


@bp.get("/admin/audit")
@login_required_roles(Role.admin)
def audit_log():
    """Who saw or changed which member, consent or referral: filtered, paged, downloadable."""
    filters, form, errors = _audit_filters()
    log = None
    if not errors:
        log = audit.query_log(**filters, page=int_arg("page", 1), per_page=50)
    context = {
        "log": log,
        "form": form,
        "errors": errors,
        "object_types": list(AuditObject),
        "audit_actions": list(AuditAction),
        "page_url": lambda **kw: page_url("admin.audit_log", **kw),
        "csv_url": url_for("admin.audit_csv", **request.args.to_dict()),
    }
    status = 400 if errors else 200
    if partial_for("audit-results"):
        return respond(render_template("admin/_audit_results.html", **context), status)
    return respond(render_template("admin/audit.html", **context), status)


AUDIT_CSV_COLUMNS = (
    "at",
    "actor_id",
    "actor",
    "action",
    "object_type",
    "object_id",
    "ip",
    "user_agent",
    "detail",
)


@bp.get("/admin/audit.csv")
@login_required_roles(Role.admin)
def audit_csv():
    """The filtered audit rows as CSV (every page of them), for spreadsheets and inspectors."""
    filters, _form, errors = _audit_filters()
    if errors:
        abort(400, description=" ".join(errors.values()))
    filters.setdefault("until", utcnow())  # rows logged while paging must not shift the pages
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(AUDIT_CSV_COLUMNS)
    page_number = 1
    while True:
        log = audit.query_log(**filters, page=page_number, per_page=audit.MAX_PER_PAGE)
        for entry in log.items:
            writer.writerow(
                [
                    entry.at.astimezone(UTC).isoformat(),
                    entry.actor_id or "",
                    safe_cell(entry.actor_label),
                    entry.action,
                    entry.object_type,
                    entry.object_id or "",
                    entry.ip or "",
                    safe_cell(entry.user_agent or ""),
                    safe_cell(json.dumps(entry.detail, sort_keys=True) if entry.detail else ""),
                ]
            )
        if page_number >= log.pages:
            break
        page_number += 1
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )


# -- listing claims ----------------------------------------------------------------------------


def _claims_page(status: int = 200, errors: dict | None = None, reasons: dict | None = None):
    return (
        render_template(
            "admin/claims.html",
            claims=claims.claims_page(int_arg("page", 1)),
            errors=errors or {},
            reasons=reasons or {},
            page_url=lambda **kw: page_url("admin.claims_queue", **kw),
        ),
        status,
    )


@bp.get("/admin/claims")
@login_required_roles(Role.admin)
def claims_queue():
    """Claims of listings waiting for a decision (oldest first), then the decided ones."""
    return _claims_page()


def _claim(claim_id) -> ListingClaim:
    claim = claims.claim_for_decision(claim_id)
    if claim is None:
        abort(404)
    return claim


def _refused_decision(claim: ListingClaim, exc: AccountError, reason: str = ""):
    """The queue again with the claim's error beside it: 409 for a conflict, else 422."""
    status = 409 if isinstance(exc, claims.ClaimConflict) else 422
    return _claims_page(status, errors={claim.id: exc.message}, reasons={claim.id: reason})


def _audit_decision(claim: ListingClaim, action: AuditAction, **detail) -> None:
    audit.record(
        current_user._get_current_object(),
        action,
        AuditObject.organization,
        claim.organization_id,
        {"claim_id": str(claim.id), "email": claim.email, **detail},
    )


@bp.post("/admin/claims/<uuid:claim_id>/approve")
@login_required_roles(Role.admin)
def approve_claim(claim_id):
    """The organization joins the network with the claimant as its agency admin."""
    claim = _claim(claim_id)
    try:
        user = claims.approve_claim(claim, current_user._get_current_object())
    except AccountError as exc:
        return _refused_decision(claim, exc)
    _audit_decision(claim, AuditAction.accept, user_id=str(user.id))
    audit.record(current_user._get_current_object(), AuditAction.create, AuditObject.user, user.id)
    flash(
        f"{user.organization.name} joined the network; {claim.email} gets a link to choose a "
        "password.",
        "success",
    )
    return redirect(url_for("admin.claims_queue"), code=303)


@bp.post("/admin/claims/<uuid:claim_id>/refuse")
@login_required_roles(Role.admin)
def refuse_claim(claim_id):
    """Refuse a claim; the person gets the reason by email."""
    claim = _claim(claim_id)
    reason = request.form.get("reason", "")
    try:
        claims.refuse_claim(claim, current_user._get_current_object(), reason)
    except AccountError as exc:
        return _refused_decision(claim, exc, reason)
    _audit_decision(claim, AuditAction.decline, reason=claim.refusal_reason)
    flash(f"Refused; {claim.email} gets the reason by email.", "success")
    return redirect(url_for("admin.claims_queue"), code=303)
