"""Referral screens for coordinators and agency staff, the caseload, notifications.

Views parse the request, call `referrals.services` (every rule and every write lives there) and
choose the template; web.unit_of_work commits once per request (or rolls back). An htmx request
for a region (its id in `HX-Target`) gets that region's partial; every form also works as a plain
POST that redirects.
Access: a role check per page (`login_required_roles`), then the scoping functions of
`referrals.access`; what the user may not see is a 404, whatever the reason.
"""

import uuid
from datetime import date, datetime, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug import exceptions as http

from accounts import listings
from accounts.auth import current_actor, login_required_roles, register_nav_link, safe_next_path
from accounts.models import Role, User
from directory import referral_routes
from directory.cards import contact_phone
from directory.models import ReferralCapacity, Service
from extensions import db, utcnow
from referrals import (
    access,
    actions,
    agency_work,
    deadlines,
    exports,
    links,
    member_status,
    next_best,
    notifications,
    queries,
    services,
)
from referrals.errors import (
    ConsentProblem,
    DuplicateReferral,
    Forbidden,
    InvalidInput,
    NotFound,
    NotReferrable,
    ReferralError,
)
from referrals.models import (
    SHAREABLE_MEMBER_FIELDS,
    ConsentMethod,
    Member,
    Referral,
)
from referrals.states import (
    CHOSEN_CANCEL_REASONS,
    Action,
    DeclineReason,
    Outcome,
    Side,
    Urgency,
    label,
)
from referrals.web import int_arg, page_url, parse_date, parse_uuid, partial_for, respond
from web.unit_of_work import commit_step, discard

bp = Blueprint("referrals", __name__)

AGENCY_ROLES = (Role.agency_staff, Role.agency_admin)
PER_PAGE = 20
PICKER_SIZE = 15  # members offered at once in the referral form's picker
DEFAULT_CONSENT_SCOPE = ("first_name", "last_name", "phone", "preferred_language")
DEFAULT_CONSENT_DAYS = 365
LOOP_PERIODS = (30, 90, 365)
DEFAULT_LOOP_PERIOD = 90

FIELD_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "birth_date": "Date of birth",
    "phone": "Phone",
    "email": "Email",
    "preferred_language": "Preferred language",
    "address": "Address",
    "postal_code": "ZIP code",
    "needs": "Needs",
}
CAPACITY_LABELS = {
    ReferralCapacity.accepting: "Accepting referrals",
    ReferralCapacity.waitlist: "Waitlist",
    ReferralCapacity.not_accepting: "Not accepting",
}
METHOD_LABELS = {
    ConsentMethod.verbal: "Verbal",
    ConsentMethod.written: "Written (signed)",
    ConsentMethod.electronic: "Electronic",
}

register_nav_link("Members", "referrals.members", roles=(Role.coordinator,), order=30)
referral_routes.register_lookup(services.routes_by_service)
register_nav_link("Referrals", "referrals.index", roles=(Role.admin,), order=20)


# -- plumbing ------------------------------------------------------------------------------


@bp.errorhandler(ReferralError)
def _refused(exc: ReferralError):
    """A refusal no form can show (a record out of reach, a role that may not act): 404 or 403."""
    if isinstance(exc, NotFound):
        return render_template("error.html", error=http.NotFound(exc.message)), 404
    if isinstance(exc, Forbidden):
        return render_template("error.html", error=http.Forbidden(exc.message)), 403
    return render_template("error.html", error=http.BadRequest(exc.message)), exc.status


@bp.app_context_processor
def _referral_globals() -> dict:
    """The unread-notifications badge in the header of every page."""
    user = current_actor()
    return {"unread_notifications": notifications.unread_count(user) if user else None}


@bp.app_template_global("reason_label")
def reason_label(value: str | None) -> str:
    """A status, reason or outcome in words ("no_capacity" -> "no capacity")."""
    return label(value)


@bp.app_template_filter("local_time")
def local_time(value: datetime | None) -> str:
    """ "Mar 4, 2025, 3:15 pm" in the network's time zone."""
    if value is None:
        return ""
    local = value.astimezone(deadlines.local_zone())
    hour = local.strftime("%I:%M %p").lstrip("0").lower()
    return f"{local:%b} {local.day}, {local.year}, {hour}"


@bp.app_template_filter("deadline")
def deadline(value: datetime | None) -> str:
    """ "Mon 7 Dec, 5:00 PM EST": a deadline, in the network's zone, with the zone's name."""
    return deadlines.format_deadline(value) if value is not None else ""


@bp.app_template_filter("local_date")
def local_date(value: datetime | date | None) -> str:
    """ "Mar 4, 2025": a day, in the network's time zone."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(deadlines.local_zone()).date()
    return f"{value:%b} {value.day}, {value.year}"


@bp.app_template_filter("due_text")
def due_text(referral: Referral, now: datetime | None = None) -> str:
    """ "answer due in 2 days" / "overdue by 3 hours": how much time the agency has left."""
    now = now or utcnow()
    delta = referral.due_at - now

    def amount(span: timedelta) -> str:
        hours = int(span.total_seconds() // 3600)
        if hours < 1:
            return "less than an hour"
        if hours < 24:
            return f"{hours} hour{'s' if hours != 1 else ''}"
        days = round(hours / 24)
        return f"{days} day{'s' if days != 1 else ''}"

    if referral.is_overdue_at(now):
        return f"overdue by {amount(-delta)}" if delta < timedelta(0) else "overdue"
    return f"answer due in {amount(delta)}"


def _actor() -> User:
    user = current_actor()
    if user is None:  # login_required_roles ran first; this is a programming error
        abort(401)
    return user


def _render_list(template: str, context: dict):
    """A list page. Its audit rows commit after it is rendered (web.unit_of_work), which matters:
    a commit expires every row the page shows and each would be read again, one query apiece."""
    return respond(render_template(template, **context))


def _keep_audit_of_refusal_page() -> None:
    """A page that explains a refusal (answered 4xx, so otherwise rolled back) still shows member
    data: who read it must stay in the access log. The refused write was discarded before."""
    commit_step()


def _next_url(default: str) -> str:
    return safe_next_path(request.form.get("next") or request.args.get("next")) or default


def _shared_context(**extra) -> dict:
    return {
        "now": utcnow(),
        "capacity_labels": CAPACITY_LABELS,
        "field_labels": FIELD_LABELS,
        "method_labels": METHOD_LABELS,
        "decline_reasons": list(DeclineReason),
        "cancel_reasons": list(CHOSEN_CANCEL_REASONS),
        "outcomes": list(Outcome),
        "urgencies": list(Urgency),
        "shareable_fields": SHAREABLE_MEMBER_FIELDS,
        **extra,
    }


# -- members and consent from a form ----------------------------------------------------------


def _member_values(errors: dict, form) -> dict:
    """The member fields a form sent (only those present), with the birth date parsed."""
    values = {}
    for name in SHAREABLE_MEMBER_FIELDS:
        if name not in form:
            continue
        if name == "birth_date":
            values[name] = parse_date(errors, name, form.get(name))
        else:
            values[name] = form.get(name)
    return values


def _consent_values(errors: dict, form, member_name: str) -> dict:
    """What `services.record_consent` needs from the consent fieldset (names start "consent_")."""
    return {
        "given_by": (form.get("consent_given_by") or "").strip() or member_name,
        "method": form.get("consent_method"),
        "scope": form.getlist("consent_scope"),
        "expires_on": parse_date(errors, "consent_expires_on", form.get("consent_expires_on")),
    }


def _consent_defaults() -> dict:
    return {
        "consent_method": ConsentMethod.verbal.value,
        "consent_scope": list(DEFAULT_CONSENT_SCOPE),
        "consent_expires_on": (
            deadlines.local_today() + timedelta(days=DEFAULT_CONSENT_DAYS)
        ).isoformat(),
    }


def _form_state(form, defaults: dict) -> dict:
    """Values to show in a form: what was posted, else the defaults (lists for multi-values)."""
    state = dict(defaults)
    if form:
        state = {key: form.get(key, "") for key in form}
        state["consent_scope"] = form.getlist("consent_scope")
        state.setdefault("consent_method", defaults.get("consent_method"))
    return state


def _prefixed(fields: dict, prefix: str) -> dict:
    return {f"{prefix}{name}": text for name, text in fields.items()}


def _record_consent(user: User, member: Member, form, errors: dict) -> None:
    """Record the consent the form's fieldset describes for a member already on the caseload;
    any problem (with those already in `errors`) is raised under the fieldset's names."""
    consent = _consent_values(errors, form, member.full_name)
    if errors:
        raise InvalidInput(errors)
    try:
        services.record_consent(user, member, **consent)
    except InvalidInput as exc:
        raise InvalidInput(_prefixed(exc.fields, "consent_")) from exc


def _add_member(user: User, form, errors: dict) -> Member:
    """Add the person the form describes, with their consent when the box is ticked (given by
    the member unless the form names someone); a date that can't be read goes to `errors`."""
    values = _member_values(errors, form)
    consent = None
    if form.get("consent_given") == "1":
        typed = ((form.get("first_name") or "").strip(), (form.get("last_name") or "").strip())
        consent = _consent_values(errors, form, " ".join(part for part in typed if part))
    try:
        return services.add_member(user, values, consent)
    except InvalidInput as exc:
        # The service names the consent's fields "consent.method"; the form's are "consent_method".
        raise InvalidInput({n.replace(".", "_", 1): t for n, t in exc.fields.items()}) from exc


# -- the coordinator dashboard -----------------------------------------------------------------


def _dashboard_filters() -> queries.DashboardFilters:
    """The dashboard's filters from the query string; one that can't be read is left off."""
    try:
        view = queries.DashboardView(request.args.get("view") or "all")
    except ValueError:
        view = queries.DashboardView.all
    try:
        urgency = Urgency(request.args["urgency"]) if request.args.get("urgency") else None
    except ValueError:
        urgency = None
    return queries.DashboardFilters(
        view=view,
        text=(request.args.get("q") or "").strip()[:200],
        mine=request.args.get("mine") == "1",
        urgency=urgency,
    )


def _inbox_tab() -> queries.InboxTab:
    try:
        return queries.InboxTab(request.args.get("tab") or "new")
    except ValueError:
        return queries.InboxTab.new


def _csv_response(download: exports.Download) -> Response:
    """The download, streamed while it is read (in the request's context, so its session)."""
    return Response(
        stream_with_context(download.lines),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename={download.filename}",
            "Cache-Control": "no-store",
        },
    )


@bp.get("/referrals")
@login_required_roles(Role.coordinator, Role.admin)
def index():
    """The coordinator's view of every referral their organization sent: what waits, what is
    overdue, what awaits an outcome, what closed, and how often the loop closes."""
    user = _actor()
    now = utcnow()
    filters = _dashboard_filters()
    page = queries.dashboard_page(
        user, filters, now, int_arg("page", 1), PER_PAGE, via="page:dashboard"
    )
    period = int_arg("period", DEFAULT_LOOP_PERIOD, LOOP_PERIODS)
    context = _shared_context(
        filters=filters,
        page=page,
        views=queries.DASHBOARD_VIEW_LABELS,
        counts=queries.dashboard_counts(user, now),
        loop=queries.closed_loop_rate(user, now - timedelta(days=period), now),
        period=period,
        periods=LOOP_PERIODS,
        page_url=lambda **kw: page_url("referrals.index", **kw),
        csv_url=page_url("referrals.index_csv"),
        rows=_rows_with_members(user, page.items),
    )
    partial = partial_for("referral-list")
    return _render_list(
        "referrals/_dashboard_list.html" if partial else "referrals/dashboard.html", context
    )


@bp.get("/referrals.csv")
@login_required_roles(Role.coordinator, Role.admin)
def index_csv():
    """The dashboard's list as filtered on screen, every page of it, as a spreadsheet."""
    user = _actor()
    now = utcnow()
    filters = _dashboard_filters()
    stmt, order = queries.dashboard_select(user, filters, now)
    described = {
        "view": str(filters.view),
        "q": filters.text,
        "mine": filters.mine,
        "urgency": str(filters.urgency) if filters.urgency else None,
    }
    download = exports.export_referrals(
        user, stmt, order, now, via="csv:dashboard", filters=described
    )
    return _csv_response(download)


def _rows_with_members(user: User, referrals: list[Referral]) -> list[tuple[Referral, dict]]:
    """Each referral with its member as `user` may see them, read for the whole page at once."""
    views = services.member_views([r.member for r in referrals], user)
    return [(r, views[r.member_id]) for r in referrals]


# -- referring a member ----------------------------------------------------------------------


def _service_for_referral() -> Service:
    service_id = parse_uuid(request.values.get("service_id"))
    service = db.session.get(Service, service_id) if service_id else None
    if service is None or not service.is_shown:
        abort(404, description="That service is not in the directory (any more).")
    return service


def _chosen_member(user: User, raw_id: str | None, listed: list[Member]) -> Member | None:
    """The caseload member the form has chosen, if the user may refer them (logged as seen)."""
    chosen_id = parse_uuid(raw_id)
    if chosen_id is None:
        return None
    for member in listed:
        if member.id == chosen_id:
            return member
    try:
        return access.load_member_for(user, chosen_id, via="page:refer")
    except NotFound:
        return None


def _refer_context(user: User, service: Service, state: dict, **extra) -> dict:
    member_q = (state.get("member_q") or "").strip()[:100]
    errors = extra.pop("errors", {})
    members = queries.caseload_page(user, member_q, 1, PICKER_SIZE, via="page:refer").items
    chosen = _chosen_member(user, state.get("member_id"), members)
    if chosen is not None and chosen not in members:
        members = [chosen, *members]
    return _shared_context(
        service=service,
        route=services.referral_route(service),
        form=state,
        chosen=chosen,
        # Nobody on the caseload yet: "someone new" is the only choice, so start there.
        new_member=state.get("member_id") == "new"
        or (not members and not member_q and not state.get("member_id")),
        chosen_consent=services.consent_in_force(chosen) if chosen is not None else None,
        chosen_latest_consent=chosen.consents[0]
        if chosen is not None and chosen.consents
        else None,
        members=members,
        member_q=member_q,
        consents_in_force={m.id: services.consent_in_force(m) for m in members},
        errors=errors,
        consent_open=state.get("consent_given") == "1"
        or any(name.startswith("consent_") for name in errors),
        **extra,
    )


@bp.route("/referrals/new", methods=["GET", "POST"])
@login_required_roles(Role.coordinator)
def new_referral():
    """Refer a member of the caseload (or someone new) to a service, with their consent."""
    user = _actor()
    if not request.values.get("service_id"):
        flash("Find the service in the directory first, then choose “Refer someone”.", "info")
        return redirect(url_for("directory.search"))
    service = _service_for_referral()
    if request.method == "POST":
        return _send_referral(user, service)
    state = {**_consent_defaults(), "urgency": Urgency.routine.value, **request.args.to_dict()}
    context = _refer_context(user, service, state)
    region = partial_for("member-choices", "consent-section")
    if region == "member-choices":
        return respond(render_template("referrals/_member_choices.html", **context))
    if region == "consent-section":
        return respond(render_template("referrals/_consent_section.html", **context))
    return respond(render_template("referrals/new_referral.html", **context))


def _send_referral(user: User, service: Service):
    form = request.form
    errors: dict = {}
    state = _form_state(form, _consent_defaults())
    member_choice = (form.get("member_id") or "").strip()
    if not member_choice and form.get("first_name", "").strip():
        member_choice = state["member_id"] = "new"
    try:
        if member_choice == "new":
            member = _add_member(user, form, errors)
        else:
            member_id = parse_uuid(member_choice)
            if member_id is None:
                raise InvalidInput({"member_id": "Choose a member, or add someone new."})
            member = access.get_member_for(user, member_id)
            if form.get("consent_given") == "1":
                _record_consent(user, member, form, errors)
        if errors:
            raise InvalidInput(errors)
        referral = services.send_referral(
            user,
            member,
            service,
            confirm_duplicate=form.get("confirm_duplicate") == "1",
            auto_escalate=form.get("auto_escalate") == "1",
            **{name: form.get(name) for name in services.REFERRAL_TEXTS},
        )
    except InvalidInput as exc:
        discard()
        return _refer_again(user, service, state, errors={**errors, **exc.fields}, status=400)
    except ConsentProblem as exc:
        discard()
        return _refer_again(user, service, state, consent_problem=exc.message, status=422)
    except DuplicateReferral as exc:
        discard()
        existing = db.session.get(Referral, uuid.UUID(exc.details["existing_referral_id"]))
        return _refer_again(
            user, service, state, duplicate=existing, duplicate_message=exc.message, status=409
        )
    except NotReferrable as exc:
        discard()
        return _refer_again(user, service, state, not_referrable=exc.message, status=422)
    flash(
        f"Referral sent to {referral.service_name}. "
        f"{referral.receiving_org.name} should answer by {deadline(referral.due_at)}.",
        "success",
    )
    return redirect(url_for("referrals.detail", referral_id=referral.id), code=303)


def _refer_again(user: User, service: Service, state: dict, *, status: int, **extra):
    """The referral form again, saying what stopped it (the refused write already undone)."""
    service = db.session.get(Service, service.id)
    if extra.get("duplicate") is None:
        state.pop("confirm_duplicate", None)
    context = _refer_context(user, service, state, **extra)
    _keep_audit_of_refusal_page()
    return respond(render_template("referrals/new_referral.html", **context), status)


# -- one referral ----------------------------------------------------------------------------


def _referral_context(user: User, referral: Referral, **extra) -> dict:
    allowed = access.actions_for(user, referral)
    forward_q = _forward_q()
    is_staff = access.is_receiving_staff(user, referral)
    delivery_by_link = referral.delivery == "email"
    side = access.side_of(user, referral)
    can_resend = side == Side.sending and next_best.can_resend(referral)
    told_by = member_status.recipient_of(referral.member) if side == Side.sending else None
    return _shared_context(
        can_resend=can_resend,
        suggestions=next_best.suggestions(referral) if can_resend else [],
        resent_to=next_best.resent_to(referral),
        referral=referral,
        side=side,
        link=links.current_link(referral) if delivery_by_link else None,
        member_told_by=told_by,
        agency_phone=contact_phone(referral.service) if referral.service is not None else None,
        actions=[a.value for a in allowed],
        view=services.member_view(referral.member, user),
        forward_q=forward_q,
        forward_choices=next_best.forward_choices(referral, forward_q)
        if Action.forward in allowed
        else [],
        is_staff=is_staff,
        notes=agency_work.notes_for(user, referral),
        colleagues=agency_work.colleagues(referral.receiving_org_id) if is_staff else [],
        assign_error=extra.pop("assign_error", None),
        note_error=extra.pop("note_error", None),
        action_error=extra.pop("action_error", None),
        message_error=extra.pop("message_error", None),
        **extra,
    )


@bp.get("/referrals/<uuid:referral_id>")
@login_required_roles()
def detail(referral_id: uuid.UUID):
    """Everything both sides know about one referral: status, history, the member (as consent
    allows), what the viewer may do next, and the thread between the two sides."""
    user = _actor()
    referral = access.load_referral_for(user, referral_id, via="page")
    context = _referral_context(user, referral)
    return respond(render_template("referrals/detail.html", **context))


@bp.post(f"/referrals/<uuid:referral_id>/<any({', '.join(actions.STEPS)}):action>")
@login_required_roles()
def act(referral_id: uuid.UUID, action: str):
    """Accept, decline, cancel, forward or close a referral with its outcome; from the inbox row
    (htmx: the row answers) or from the referral page (post, then back to it)."""
    user = _actor()
    referral = access.get_referral_for(user, referral_id)
    row = partial_for(f"referral-{referral.id}")
    try:
        actions.run_from_form(user, referral, action, request.form)
    except (NotFound, Forbidden):
        raise
    except ReferralError as exc:
        # Bad input, or the referral moved on (someone else acted first): say so in place.
        discard()
        error = {
            "action": action,
            "message": exc.message,
            "fields": getattr(exc, "fields", {}),
            "values": request.form.to_dict(),
        }
        if row:
            response = _inbox_row_response(user, referral_id, status=exc.status, error=error)
        else:
            referral = access.load_referral_for(user, referral_id, via="page")
            context = _referral_context(user, referral, action_error=error)
            response = respond(render_template("referrals/detail.html", **context), exc.status)
        _keep_audit_of_refusal_page()
        return response
    if row:
        return _inbox_row_response(user, referral_id, trigger="referral-changed")
    flash(_done_message(referral, action), "success")
    return redirect(_next_url(url_for("referrals.detail", referral_id=referral.id)), code=303)


def _done_message(referral: Referral, action: str) -> str:
    if action == "forward" and referral.forwarded_to is not None:
        return f"Forwarded to {referral.forwarded_to.service_name}."
    if action == "complete":
        return f"Outcome recorded: {label(referral.outcome)}. The loop is closed."
    return f"Referral {label(referral.status)}."


@bp.post("/referrals/<uuid:referral_id>/messages")
@login_required_roles()
def post_message(referral_id: uuid.UUID):
    """Write to the other side of the referral; the thread answers htmx, a plain post redirects."""
    user = _actor()
    referral = access.get_referral_for(user, referral_id)
    thread = partial_for(f"thread-{referral.id}")
    try:
        actions.run_from_form(user, referral, actions.MESSAGES, request.form)
    except InvalidInput as exc:
        discard()
        error = {"message": exc.fields.get("body", exc.message), "body": request.form.get("body")}
        if thread:
            referral = access.get_referral_for(user, referral_id)
            context = _referral_context(user, referral, message_error=error)
            return respond(render_template("referrals/_thread.html", **context), 400)
        referral = access.load_referral_for(user, referral_id, via="page")
        context = _referral_context(user, referral, message_error=error)
        _keep_audit_of_refusal_page()
        return respond(render_template("referrals/detail.html", **context), 400)
    if thread:
        context = _referral_context(user, referral)
        return respond(render_template("referrals/_thread.html", **context))
    return redirect(
        url_for("referrals.detail", referral_id=referral.id, _anchor=f"thread-{referral.id}"),
        code=303,
    )


@bp.post("/referrals/<uuid:referral_id>/resend")
@login_required_roles(Role.coordinator)
def resend(referral_id: uuid.UUID):
    """One click from "Next best services": send a declined or unanswered referral to another
    service, as a new referral linked to this one."""
    user = _actor()
    referral = access.get_referral_for(user, referral_id)
    service_id = parse_uuid(request.form.get("service_id"))
    service = db.session.get(Service, service_id) if service_id else None
    try:
        new = next_best.resend(referral, user, service)
    except (NotFound, Forbidden):
        raise
    except ReferralError as exc:
        discard()
        referral = access.load_referral_for(user, referral_id, via="page")
        error = {"action": "resend", "message": exc.message, "fields": {}, "values": {}}
        context = _referral_context(user, referral, action_error=error)
        _keep_audit_of_refusal_page()
        return respond(render_template("referrals/detail.html", **context), exc.status)
    flash(
        f"Referral sent to {new.service_name}. "
        f"{new.receiving_org.name} should answer by {local_time(new.due_at)}.",
        "success",
    )
    return redirect(url_for("referrals.detail", referral_id=new.id), code=303)


@bp.post("/referrals/<uuid:referral_id>/link/resend")
@login_required_roles(Role.coordinator)
def resend_link(referral_id: uuid.UUID):
    """Email the agency a new link to the referral; the old link stops working."""
    return _change_link(referral_id, _resend)


@bp.post("/referrals/<uuid:referral_id>/link/revoke")
@login_required_roles(Role.coordinator)
def revoke_link(referral_id: uuid.UUID):
    """Withdraw the agency's email link: it stops working at once."""
    return _change_link(referral_id, _revoke)


def _change_link(referral_id: uuid.UUID, change):
    """Change the agency's email link to a referral the coordinator may see; back to the
    referral with what `change(user, referral)` says happened."""
    user = _actor()
    referral = access.get_referral_for(user, referral_id)
    flash(change(user, referral), "success")
    return redirect(url_for("referrals.detail", referral_id=referral.id), code=303)


def _resend(user: User, referral: Referral) -> str:
    link = links.resend_link(user, referral)
    return f"A new link is on its way to {link.sent_to}; the old one no longer works."


def _revoke(user: User, referral: Referral) -> str:
    links.revoke_link(user, referral)
    return "The link no longer works. Re-send it when the agency should have one again."


@bp.post("/referrals/<uuid:referral_id>/member-link")
@login_required_roles(Role.coordinator)
def send_member_link(referral_id: uuid.UUID):
    """Send the member a new link to their status page; the old one stops working."""
    user = _actor()
    referral = access.get_referral_for(user, referral_id)
    try:
        link = member_status.send_new_link(user, referral)
    except InvalidInput as exc:
        discard()
        flash(exc.message, "error")
        return redirect(url_for("referrals.detail", referral_id=referral_id), code=303)
    flash(f"A new status link is on its way to the member ({link.sent_to}).", "success")
    return redirect(url_for("referrals.detail", referral_id=referral.id), code=303)


# -- the agency inbox ------------------------------------------------------------------------


def _inbox_row_context(
    user: User, referral: Referral, error: dict | None = None, view: dict | None = None
) -> dict:
    return {
        "referral": referral,
        "view": view or services.member_view(referral.member, user),
        "actions": [a.value for a in access.actions_for(user, referral)],
        "error": error,
    }


def _inbox_row_response(
    user: User,
    referral_id: uuid.UUID,
    *,
    status: int = 200,
    error: dict | None = None,
    trigger: str | None = None,
):
    referral = access.load_referral_for(user, referral_id, via="page:inbox", with_member=False)
    row = _inbox_row_context(user, referral, error)
    forward_q = _forward_q() if "forward" in row["actions"] else ""
    context = _shared_context(
        colleagues=agency_work.colleagues(user.organization_id),
        forward_q=forward_q,
        forward_choices=next_best.forward_choices(referral, forward_q),
        **row,
    )
    return respond(render_template("referrals/_inbox_row.html", **context), status, trigger=trigger)


@bp.get("/inbox")
@login_required_roles(*AGENCY_ROLES)
def inbox():
    """The agency's referrals: new, overdue, accepted (awaiting an outcome) and closed; answered
    in place; plus the switch that tells searches whether each service takes referrals."""
    user = _actor()
    now = utcnow()
    tab = _inbox_tab()
    counts = queries.inbox_counts(user, now)
    if partial_for("inbox-tabs"):
        context = _shared_context(tab=tab, counts=counts, tabs=queries.INBOX_TAB_LABELS)
        return respond(render_template("referrals/_inbox_tabs.html", **context))
    page = queries.inbox_page(user, tab, now, int_arg("page", 1), PER_PAGE, via="page:inbox")
    context = _shared_context(
        tab=tab,
        tabs=queries.INBOX_TAB_LABELS,
        counts=counts,
        page=page,
        rows=[
            _inbox_row_context(user, r, view=view)
            for r, view in _rows_with_members(user, page.items)
        ],
        colleagues=agency_work.colleagues(user.organization_id),
        agency_services=queries.agency_services(user),
        capacities=list(ReferralCapacity),
        listing_upkeep=listings.upkeep_counts(user.organization),
        page_url=lambda **kw: page_url("referrals.inbox", **kw),
        csv_url=page_url("referrals.inbox_csv"),
    )
    partial = partial_for("inbox-list")
    return _render_list(
        "referrals/_inbox_list.html" if partial else "referrals/inbox.html", context
    )


@bp.get("/inbox.csv")
@login_required_roles(*AGENCY_ROLES)
def inbox_csv():
    """One tab of the inbox, every page of it, as a spreadsheet."""
    user = _actor()
    now = utcnow()
    tab = _inbox_tab()
    stmt, order = queries.inbox_select(user, tab, now)
    download = exports.export_referrals(
        user, stmt, order, now, via="csv:inbox", filters={"tab": str(tab)}
    )
    return _csv_response(download)


@bp.post("/services/<uuid:service_id>/capacity")
@login_required_roles(*AGENCY_ROLES, Role.admin)
def set_capacity(service_id: uuid.UUID):
    """Say whether a service takes new referrals (accepting, waitlist, not accepting)."""
    user = _actor()
    service = db.get_or_404(Service, service_id)
    error = None
    try:
        services.set_service_capacity(user, service, request.form.get("referral_capacity"))
    except InvalidInput as exc:
        discard()
        service = db.session.get(Service, service_id)
        error = exc.fields.get("referral_capacity", exc.message)
    if partial_for(f"capacity-{service.id}"):
        context = _shared_context(
            service=service, capacities=list(ReferralCapacity), error=error, saved=error is None
        )
        return respond(
            render_template("referrals/_capacity.html", **context), 400 if error else 200
        )
    if error:
        flash(error, "error")
    else:
        flash(f"{service.name}: {CAPACITY_LABELS[ReferralCapacity(service.referral_capacity)]}.")
    default = (
        url_for("referrals.inbox")
        if user.is_agency_user
        else url_for("directory.service", service_id=service.id)
    )
    return redirect(_next_url(default), code=303)


# -- the caseload ----------------------------------------------------------------------------


@bp.get("/members")
@login_required_roles(Role.coordinator)
def members():
    """The coordinator's caseload, searchable by name or phone."""
    user = _actor()
    text = (request.args.get("q") or "").strip()[:100]
    page = queries.caseload_page(user, text, int_arg("page", 1), PER_PAGE, via="page:caseload")
    services.load_consents(page.items)
    context = _shared_context(
        page=page,
        q=text,
        consents_in_force={m.id: services.consent_in_force(m) for m in page.items},
        page_url=lambda **kw: page_url("referrals.members", **kw),
    )
    partial = partial_for("member-list")
    return _render_list(
        "referrals/_member_list.html" if partial else "referrals/members.html", context
    )


@bp.route("/members/new", methods=["GET", "POST"])
@login_required_roles(Role.coordinator)
def new_member():
    """Add someone to the caseload, with their consent when they give it."""
    user = _actor()
    errors: dict = {}
    state = _form_state(request.form, _consent_defaults())
    if request.method == "POST":
        try:
            member = _add_member(user, request.form, errors)
            if errors:
                raise InvalidInput(errors)
        except InvalidInput as exc:
            discard()
            errors = {**errors, **exc.fields}
        else:
            flash(f"{member.full_name} added to your caseload.", "success")
            return redirect(url_for("referrals.member", member_id=member.id), code=303)
    context = _shared_context(form=state, errors=errors)
    return respond(render_template("referrals/new_member.html", **context), 400 if errors else 200)


def _member_context(user: User, member: Member, **extra) -> dict:
    return _shared_context(
        member=member,
        consent=services.consent_in_force(member),
        today=deadlines.local_today(),
        referrals=queries.member_referrals(user, member),
        form=extra.pop("form", None) or _consent_defaults(),
        errors=extra.pop("errors", {}),
        **extra,
    )


@bp.get("/members/<uuid:member_id>")
@login_required_roles(Role.coordinator)
def member(member_id: uuid.UUID):
    """One member of the caseload: details, consent (record, revoke), referral history."""
    user = _actor()
    found = access.load_member_for(user, member_id, via="page")
    context = _member_context(user, found)
    return respond(render_template("referrals/member.html", **context))


def _member_form_state(member: Member) -> dict:
    """The edit form's values: the member's details as they are (dates as YYYY-MM-DD)."""
    state = {}
    for name in SHAREABLE_MEMBER_FIELDS:
        value = getattr(member, name)
        state[name] = value.isoformat() if isinstance(value, date) else (value or "")
    return state


@bp.route("/members/<uuid:member_id>/edit", methods=["GET", "POST"])
@login_required_roles(Role.coordinator)
def edit_member(member_id: uuid.UUID):
    """Correct a member's details (a new phone, a move, a name); the member's own coordinators
    only, with the same rules as adding them. A refusal keeps what was typed (422)."""
    user = _actor()
    if request.method == "GET":
        found = access.load_member_for(user, member_id, via="page:edit")
        access.require_own_member(user, found, "edit the member's details")
        context = _shared_context(member=found, form=_member_form_state(found), errors={})
        return respond(render_template("referrals/edit_member.html", **context))
    found = access.get_member_for(user, member_id)
    errors: dict = {}
    try:
        values = _member_values(errors, request.form)
        if errors:
            raise InvalidInput(errors)
        changed = services.update_member(user, found, **values)
    except InvalidInput as exc:
        discard()
        found = access.load_member_for(user, member_id, via="page:edit")
        context = _shared_context(
            member=found, form=request.form.to_dict(), errors={**errors, **exc.fields}
        )
        _keep_audit_of_refusal_page()
        return respond(render_template("referrals/edit_member.html", **context), 422)
    flash("Details saved." if changed else "Nothing changed.", "success" if changed else "info")
    return redirect(url_for("referrals.member", member_id=found.id), code=303)


@bp.post("/members/<uuid:member_id>/contact")
@login_required_roles(Role.coordinator)
def set_contact(member_id: uuid.UUID):
    """Record whether, and how, the member agreed to be told how their referrals go."""
    user = _actor()
    found = access.get_member_for(user, member_id)
    try:
        changed = member_status.set_contact(user, found, request.form.get("contact_by"))
    except InvalidInput as exc:
        discard()
        found = access.load_member_for(user, member_id, via="page")
        context = _member_context(user, found, contact_errors=exc.fields)
        _keep_audit_of_refusal_page()
        return respond(render_template("referrals/member.html", **context), 400)
    flash("Saved." if changed else "Nothing changed.", "success" if changed else "info")
    return redirect(url_for("referrals.member", member_id=found.id), code=303)


@bp.post("/members/<uuid:member_id>/consents")
@login_required_roles(Role.coordinator)
def record_consent(member_id: uuid.UUID):
    """Record the member's (new) consent to share the chosen fields with agencies."""
    user = _actor()
    found = access.get_member_for(user, member_id)
    errors: dict = {}
    try:
        if request.form.get("consent_given") != "1":
            errors["consent_given"] = "Tick the box to confirm the member gave this consent."
        _record_consent(user, found, request.form, errors)
    except InvalidInput as exc:
        discard()
        found = access.load_member_for(user, member_id, via="page")
        state = _form_state(request.form, _consent_defaults())
        context = _member_context(user, found, form=state, errors={**errors, **exc.fields})
        _keep_audit_of_refusal_page()
        return respond(render_template("referrals/member.html", **context), 400)
    flash("Consent recorded.", "success")
    return redirect(_next_url(url_for("referrals.member", member_id=found.id)), code=303)


@bp.post("/members/<uuid:member_id>/consents/<uuid:consent_id>/revoke")
@login_required_roles(Role.coordinator)
def revoke_consent(member_id: uuid.UUID, consent_id: uuid.UUID):
    """Withdraw a consent: agencies stop seeing the member's details, no new referral can go."""
    user = _actor()
    consent = access.get_consent_for(user, member_id, consent_id)
    cancelled = services.revoke_consent(user, consent)
    flash("Consent revoked. Agencies no longer see this member's details.", "success")
    if cancelled:
        flash(_cancelled_for_consent(len(cancelled)), "info")
    return redirect(url_for("referrals.member", member_id=member_id), code=303)


def _cancelled_for_consent(count: int) -> str:
    referrals = "1 referral" if count == 1 else f"{count} referrals"
    verb = "was" if count == 1 else "were"
    return (
        f"{referrals} still waiting for an agency's answer {verb} cancelled, since the member "
        "no longer consents to sharing their details; the agencies have been told."
    )


# -- notifications ---------------------------------------------------------------------------


@bp.get("/notifications")
@login_required_roles()
def notifications_page():
    """The user's newest notices; opening the page marks the ones shown as read."""
    user = _actor()
    items = notifications.notifications_for(user, limit=50)
    unread_ids = {n.id for n in items if n.read_at is None}
    notifications.mark_read(user, list(unread_ids))
    return respond(
        render_template("referrals/notifications.html", items=items, unread_ids=unread_ids),
        vary=False,
    )


@bp.get("/notifications/badge")
def notifications_badge():
    """The header's notifications link, polled by htmx so new notices show within a minute.

    Nothing to show for the public: 204, and htmx leaves the page alone (no sign-in redirect
    while someone types).
    """
    if current_actor() is None:
        return "", 204
    return respond(render_template("referrals/_notifications_link.html"), vary=False)


# -- the agency's own work: assignment, internal notes, the forward picker ---------------------


def _forward_q() -> str:
    """The words typed into the forward picker: its search box's GET (with or without htmx), or
    the forward form's copy of them, so a refused forward shows the same choices again."""
    return (request.values.get("forward_q") or "").strip()[:200]


@bp.get("/referrals/<uuid:referral_id>/forward-services")
@login_required_roles()
def forward_search(referral_id: uuid.UUID):
    """The forward picker's matches for the typed words (htmx, as you type); a plain GET goes
    to the referral page, which lists them under its forward form."""
    user = _actor()
    referral = access.get_referral_for(user, referral_id)
    if Action.forward not in access.actions_for(user, referral):
        raise Forbidden("Only the agency the referral was sent to can forward it, while it waits.")
    forward_q = _forward_q()
    if not partial_for(f"forward-choices-{referral.id}"):
        target = url_for("referrals.detail", referral_id=referral.id, forward_q=forward_q)
        return redirect(f"{target}#forward-{referral.id}", code=303)
    context = {
        "rid": referral.id,
        "forward_q": forward_q,
        "forward_choices": next_best.forward_choices(referral, forward_q),
    }
    return respond(render_template("referrals/_forward_choices.html", **context))


@bp.post("/referrals/<uuid:referral_id>/assign")
@login_required_roles()
def assign(referral_id: uuid.UUID):
    """Hand the referral to a colleague at the agency (or to oneself, or to nobody): from the
    inbox row (htmx: the row answers) or from the referral page (post, then back to it)."""
    user = _actor()
    referral = access.get_referral_for(user, referral_id)
    row = partial_for(f"referral-{referral.id}")
    try:
        agency_work.assign(referral, user, request.form.get("assignee_id"))
    except (NotFound, Forbidden):
        raise
    except ReferralError as exc:
        discard()
        fields = getattr(exc, "fields", {})
        if row:
            error = {"action": "assign", "message": exc.message, "fields": fields, "values": {}}
            response = _inbox_row_response(user, referral_id, status=exc.status, error=error)
        else:
            referral = access.load_referral_for(user, referral_id, via="page")
            context = _referral_context(
                user, referral, assign_error=fields.get("assignee_id", exc.message)
            )
            response = respond(render_template("referrals/detail.html", **context), exc.status)
        _keep_audit_of_refusal_page()
        return response
    if row:
        return _inbox_row_response(user, referral_id, trigger="referral-changed")
    who = referral.assigned_to.display_name if referral.assigned_to else "nobody"
    flash(f"Assigned to {who}.", "success")
    return redirect(_next_url(url_for("referrals.detail", referral_id=referral.id)), code=303)


@bp.post("/referrals/<uuid:referral_id>/notes")
@login_required_roles()
def add_note(referral_id: uuid.UUID):
    """Write an internal note (the agency's staff only); the notes region answers htmx, a plain
    post redirects back to it."""
    user = _actor()
    referral = access.get_referral_for(user, referral_id)
    region = partial_for(f"notes-{referral.id}")
    try:
        agency_work.add_note(referral, user, request.form.get("body"))
    except InvalidInput as exc:
        discard()
        error = {"message": exc.fields.get("body", exc.message), "body": request.form.get("body")}
        referral = access.get_referral_for(user, referral_id)
        if region:
            context = {"referral": referral, "notes": agency_work.notes_for(user, referral)}
            html = render_template("referrals/_notes.html", note_error=error, **context)
            return respond(html, 400)
        referral = access.load_referral_for(user, referral_id, via="page")
        context = _referral_context(user, referral, note_error=error)
        _keep_audit_of_refusal_page()
        return respond(render_template("referrals/detail.html", **context), 400)
    if region:
        context = {"referral": referral, "notes": agency_work.notes_for(user, referral)}
        return respond(render_template("referrals/_notes.html", **context))
    return redirect(
        url_for("referrals.detail", referral_id=referral.id, _anchor=f"notes-{referral.id}"),
        code=303,
    )
