"""Referral JSON API under /api/v1/: members, consent, referrals, messages, notifications.

Bearer tokens (accounts.auth). Errors are `{"error": {"code", "message", ...}}`: 400 bad input
(with `fields`), 401 no or bad token, 403 a record the caller sees but may not change, 404 a record
the caller may not see (never told apart from one that does not exist), 409 an illegal or
conflicting transition or a likely duplicate, 422 no consent in force / a service that can't take
referrals. Every request is one unit of work (web.unit_of_work): committed when it answers < 400,
rolled back on any error.
The endpoints that write (creating a member, consent or referral, and the referral actions) are
`web.idempotency.idempotent`: they answer from the rows they just wrote (nothing is read after
the commit) and take an `Idempotency-Key` header so a retry gets the first answer instead of
writing twice.
"""

import uuid
from datetime import date, datetime

from flask import Blueprint, g, jsonify, request

from accounts.auth import api_auth_required
from accounts.models import Role, User
from directory.models import Service
from extensions import db, utcnow
from referrals import (
    access,
    actions,
    agency_work,
    audit,
    deadlines,
    next_best,
    notifications,
    queries,
    services,
)
from referrals.errors import InvalidInput, NotFound, ReferralError
from referrals.models import (
    SHAREABLE_MEMBER_FIELDS,
    AuditAction,
    AuditObject,
    Consent,
    Member,
    Referral,
)
from referrals.states import Action, Status, fhir_task_status, label
from web import paging
from web.errors import json_error
from web.idempotency import idempotent

bp = Blueprint("referrals_api", __name__, url_prefix="/api/v1")

DEFAULT_PER_PAGE = 25


@bp.errorhandler(ReferralError)
def _referral_error(exc: ReferralError):
    return json_error(exc.status, exc.code, exc.message, **exc.details)


# -- reading the request ---------------------------------------------------------------------


def _body(allowed: set[str]) -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput(
            {"body": "Expected a JSON object."},
            message="Send a JSON object with the header Content-Type: application/json.",
        )
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput({name: "Unknown field." for name in unknown})
    return data


def _parse_date(errors: dict, name: str, value) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        errors[name] = "Enter a date as YYYY-MM-DD."
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors[name] = f"{value[:40]!r} is not a date: use YYYY-MM-DD."
        return None


def _parse_uuid(errors: dict, name: str, value, required: bool = True) -> uuid.UUID | None:
    if value in (None, ""):
        if required:
            errors[name] = "This is required."
        return None
    if not isinstance(value, str):
        errors[name] = "Must be an id (a UUID string)."
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        errors[name] = f"{value[:60]!r} is not a valid id."
        return None


def _parse_bool(errors: dict, name: str, value) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        errors[name] = "Must be true or false."
        return False
    return value


def _check_strings(errors: dict, data: dict, names) -> None:
    for name in names:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            errors[name] = "Must be text."


def _raise_if(errors: dict) -> None:
    if errors:
        raise InvalidInput(errors)


def _paging() -> tuple[int, int]:
    errors = {}
    values = {}
    for name, read in (
        ("page", lambda: paging.page_number(request.args)),
        ("per_page", lambda: paging.page_size(request.args, DEFAULT_PER_PAGE)),
    ):
        try:
            values[name] = read()
        except paging.BadPaging as exc:
            errors[name] = exc.message
    _raise_if(errors)
    return values["page"], values["per_page"]


def _actor() -> User:
    return g.api_user


# -- writing the response ------------------------------------------------------------------


def _iso(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _person(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"id": str(user.id), "name": user.display_name}


def _member_json(
    member: Member, viewer: User, *, detail: bool = False, view: dict | None = None
) -> dict:
    view = view or services.member_view(member, viewer)
    body = {
        "id": str(member.id),
        "restricted": view["restricted"],
        "shared_fields": view["shared_fields"],
    }
    body.update({name: _iso(value) for name, value in view["fields"].items()})
    if not view["restricted"]:
        consent = services.consent_in_force(member)
        body["organization_id"] = str(member.organization_id)
        body["created_at"] = _iso(member.created_at)
        body["consent"] = _consent_json(consent) if consent else None
        if detail:
            body["consents"] = [_consent_json(c) for c in member.consents]
    return body


def _member_views(members: list[Member], viewer: User) -> dict:
    """Members as `viewer` may see them, with the consents `_member_json` shows, read for a
    whole page at once."""
    services.load_consents(members)
    return services.member_views(members, viewer)


def _consent_json(consent: Consent) -> dict:
    today = deadlines.local_today()
    return {
        "id": str(consent.id),
        "given_by": consent.given_by,
        "method": consent.method,
        "scope": list(consent.scope or []),
        "given_at": _iso(consent.given_at),
        "expires_on": _iso(consent.expires_on),
        "revoked_at": _iso(consent.revoked_at),
        "in_force": consent.is_valid_on(today),
    }


def _referral_json(
    referral: Referral, viewer: User, *, detail: bool = False, member_view: dict | None = None
) -> dict:
    side = access.side_of(viewer, referral)
    now = utcnow()
    body = {
        "id": str(referral.id),
        "status": referral.status,
        "fhir_task_status": fhir_task_status(referral.status, referral.outcome),
        "member": _member_json(referral.member, viewer, view=member_view),
        "service": {"id": _iso(referral.service_id), "name": referral.service_name},
        "receiving_organization": {
            "id": str(referral.receiving_org_id),
            "name": referral.receiving_org.name,
        },
        "sending_organization": {
            "id": str(referral.sending_org_id),
            "name": referral.sending_org.name,
        },
        "sent_by": _person(referral.sending_user),
        "need": referral.need,
        "note": referral.note,
        "urgency": referral.urgency,
        "delivery": referral.delivery,  # network, email (an emailed link) or phone
        "decline_reason": referral.decline_reason,
        "decline_text": referral.decline_text,
        "cancel_reason": referral.cancel_reason,
        "cancel_text": referral.cancel_text,
        "outcome": referral.outcome,
        "outcome_text": referral.outcome_text,
        "forwarded_from_id": _iso(referral.forwarded_from_id),
        "forwarded_to_id": _iso(referral.forwarded_to_id),
        "resent_from_id": _iso(referral.resent_from_id),  # re-sent after a decline/no answer
        "auto_escalate": referral.auto_escalate,
        "sent_at": _iso(referral.sent_at),
        "due_at": _iso(referral.due_at),
        "responded_at": _iso(referral.responded_at),
        "closed_at": _iso(referral.closed_at),
        "overdue": referral.is_overdue_at(now),
        "outcome_due_at": _iso(deadlines.outcome_due(referral)),
        "outcome_overdue": referral.is_outcome_overdue,
        "your_side": side.value if side else None,
        "assigned_to": _person(referral.assigned_to),
        "allowed_actions": [a.value for a in access.actions_for(viewer, referral)],
        "version": referral.version_id,
    }
    if detail:
        body["events"] = [
            {
                "at": _iso(event.at),
                "action": event.action,
                "from_status": event.from_status,
                "to_status": event.to_status,
                "reason": event.reason,
                "reason_label": label(event.reason),
                "note": event.note,
                "actor": _person(event.actor),
            }
            for event in referral.events
        ]
        body["messages"] = [
            {
                "id": str(message.id),
                "at": _iso(message.created_at),
                "body": message.body,
                "author": _person(message.author),
            }
            for message in referral.messages
        ]
    return body


def _paged(found: paging.Page, actor: User, page: int, per_page: int, members: list, item_json):
    """A page of members or referrals as JSON; `item_json(item, views)` writes one, with the
    views of the page's `members` read at once."""
    views = _member_views(members, actor)
    items = [item_json(item, views) for item in found.items]
    return jsonify(items=items, page=page, per_page=per_page, total=found.total)


def _detail(load, to_json, record_id: uuid.UUID):
    """One member or referral the caller may see, in full."""
    actor = _actor()
    return jsonify(to_json(load(actor, record_id, via="api"), actor, detail=True))


# -- members ---------------------------------------------------------------------------------

CONSENT_FIELDS = {"given_by", "method", "scope", "expires_on"}


def _consent_values(errors: dict, data, prefix: str = "") -> dict:
    """The consent object's values, dates parsed; the services check the rest."""
    if not isinstance(data, dict):
        errors[prefix.rstrip(".") or "consent"] = "Expected an object."
        return {}
    for name in sorted(set(data) - CONSENT_FIELDS):
        errors[f"{prefix}{name}"] = "Unknown field."
    values = {name: data.get(name) for name in ("given_by", "method", "scope")}
    values["expires_on"] = _parse_date(errors, f"{prefix}expires_on", data.get("expires_on"))
    for name, problem in services.consent_problems(**values).items():
        errors.setdefault(f"{prefix}{name}", problem)
    return values


@bp.post("/members")
@api_auth_required(Role.coordinator)
@idempotent
def create_member():
    """Add a member to the caller's caseload, with their consent when it is given."""
    actor = _actor()
    data = _body({*SHAREABLE_MEMBER_FIELDS, "consent"})
    errors: dict = {}
    values = {name: data.get(name) for name in SHAREABLE_MEMBER_FIELDS if name in data}
    if "birth_date" in values:
        values["birth_date"] = _parse_date(errors, "birth_date", values["birth_date"])
    for name, problem in services.member_problems(values).items():
        errors.setdefault(name, problem)
    consent = _consent_values(errors, data["consent"], "consent.") if "consent" in data else None
    _raise_if(errors)
    member = services.add_member(actor, values, consent)
    return jsonify(_member_json(member, actor, detail=True)), 201


@bp.get("/members")
@api_auth_required()
def list_members():
    """The members the caller may see: their caseload, or (agencies) those referred to them."""
    actor = _actor()
    page, per_page = _paging()
    found = queries.caseload_page(actor, "", page, per_page, via="api:list")
    return _paged(
        found, actor, page, per_page, found.items, lambda m, v: _member_json(m, actor, view=v[m.id])
    )


@bp.get("/members/<uuid:member_id>")
@api_auth_required()
def get_member(member_id: uuid.UUID):
    """One member, as much of them as the caller may see."""
    return _detail(access.load_member_for, _member_json, member_id)


@bp.patch("/members/<uuid:member_id>")
@api_auth_required()
def update_member(member_id: uuid.UUID):
    """Change some of a member's details (the fields sent; null clears an optional one), by
    the rules of adding a member; the caller's own caseload only. Agencies keep seeing only
    what the consent in force shares."""
    actor = _actor()
    member = access.get_member_for(actor, member_id)
    access.require_own_member(actor, member, "edit the member's details")
    values = _body(set(SHAREABLE_MEMBER_FIELDS))
    errors: dict = {}
    if "birth_date" in values:
        values["birth_date"] = _parse_date(errors, "birth_date", values["birth_date"])
    _raise_if(errors)
    services.update_member(actor, member, **values)
    return jsonify(_member_json(member, actor, detail=True))


@bp.post("/members/<uuid:member_id>/consents")
@api_auth_required()
@idempotent
def record_consent(member_id: uuid.UUID):
    """Record a (new) consent for a member of the caller's caseload."""
    actor = _actor()
    member = access.get_member_for(actor, member_id)
    data = _body(CONSENT_FIELDS)
    errors: dict = {}
    values = _consent_values(errors, data)
    _raise_if(errors)
    consent = services.record_consent(actor, member, **values)
    return jsonify(_consent_json(consent)), 201


@bp.post("/members/<uuid:member_id>/consents/<uuid:consent_id>/revoke")
@api_auth_required()
def revoke_consent(member_id: uuid.UUID, consent_id: uuid.UUID):
    """Withdraw a member's consent; says which waiting referrals that cancelled."""
    actor = _actor()
    consent = access.get_consent_for(actor, member_id, consent_id)
    cancelled = services.revoke_consent(actor, consent)
    body = _consent_json(consent)
    body["cancelled_referral_ids"] = [str(r.id) for r in cancelled]
    return jsonify(body)


# -- referrals -------------------------------------------------------------------------------


@bp.post("/referrals")
@api_auth_required(Role.coordinator)
@idempotent
def send_referral():
    """Refer a member of the caller's caseload to a service."""
    actor = _actor()
    data = _body(
        {"member_id", "service_id", "need", "note", "urgency", "confirm_duplicate", "auto_escalate"}
    )
    errors: dict = {}
    member_id = _parse_uuid(errors, "member_id", data.get("member_id"))
    service_id = _parse_uuid(errors, "service_id", data.get("service_id"))
    _check_strings(errors, data, services.REFERRAL_TEXTS)
    confirm = _parse_bool(errors, "confirm_duplicate", data.get("confirm_duplicate"))
    auto_escalate = _parse_bool(errors, "auto_escalate", data.get("auto_escalate"))
    _raise_if(errors)
    member = access.get_member_for(actor, member_id)
    service = db.session.get(Service, service_id)
    try:
        referral = services.send_referral(
            actor,
            member,
            service,
            confirm_duplicate=confirm,
            auto_escalate=auto_escalate,
            **{name: data.get(name) for name in services.REFERRAL_TEXTS},
        )
    except ReferralError as exc:
        if exc.code == "duplicate_referral":
            exc.message += ' To send it anyway, repeat the request with "confirm_duplicate": true.'
        raise
    return jsonify(_referral_json(referral, actor, detail=True)), 201


@bp.get("/referrals")
@api_auth_required()
def list_referrals():
    """The referrals the caller may see (their org's, or sent to their agency), newest first."""
    actor = _actor()
    stmt = access.visible_referrals(actor)
    page, per_page = _paging()
    errors: dict = {}
    status = request.args.get("status")
    if status:
        statuses = [s.strip() for s in status.split(",") if s.strip()]
        unknown = [s for s in statuses if s not in set(Status)]
        if unknown:
            errors["status"] = f"Unknown status {unknown[0][:40]!r}: use {', '.join(Status)}."
        else:
            stmt = stmt.where(Referral.status.in_(statuses))
    overdue = request.args.get("overdue")
    if overdue:
        if overdue not in ("true", "false"):
            errors["overdue"] = "Use true or false."
        elif overdue == "true":
            stmt = stmt.where(Referral.status == Status.sent, Referral.due_at <= utcnow())
    outcome_overdue = request.args.get("outcome_overdue")
    if outcome_overdue:
        if outcome_overdue not in ("true", "false"):
            errors["outcome_overdue"] = "Use true or false."
        elif outcome_overdue == "true":
            stmt = stmt.where(queries.outcome_overdue_condition())
        else:
            stmt = stmt.where(~queries.outcome_overdue_condition())
    member_id = request.args.get("member_id")
    if member_id:
        parsed = _parse_uuid(errors, "member_id", member_id)
        if parsed:
            stmt = stmt.where(Referral.member_id == parsed)
    _raise_if(errors)
    found = queries.referral_page(
        actor,
        stmt,
        (Referral.sent_at.desc(), Referral.id),
        page,
        per_page,
        via="api:list",
        member_via="api:referral-list",
    )
    members = [r.member for r in found.items]
    return _paged(
        found,
        actor,
        page,
        per_page,
        members,
        lambda r, views: _referral_json(r, actor, member_view=views[r.member_id]),
    )


@bp.get("/referrals/<uuid:referral_id>")
@api_auth_required()
def get_referral(referral_id: uuid.UUID):
    """One referral with its history (events) and the thread between the two sides."""
    return _detail(access.load_referral_for, _referral_json, referral_id)


NEXT_BEST_LIMIT = 5
MAX_NEXT_BEST = 10


@bp.get("/referrals/<uuid:referral_id>/next-best")
@api_auth_required()
def next_best_services(referral_id: uuid.UUID):
    """The services a declined or unanswered referral could go to instead, best first (as on the
    referral page): only for the coordinators who sent it. `can_resend` false: nothing to do
    (it is not stuck, or it was re-sent already and that one is still open). Sending it on is
    the referral page's one click ("Send this referral there")."""
    actor = _actor()
    referral = access.get_referral_for(actor, referral_id)
    access.require_sending_side(actor, referral, "see where to send it next")
    errors: dict = {}
    limit = NEXT_BEST_LIMIT
    raw = request.args.get("limit")
    if raw is not None:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_NEXT_BEST:
            errors["limit"] = f"Give a whole number from 1 to {MAX_NEXT_BEST}."
        else:
            limit = int(raw)
    _raise_if(errors)
    audit.record(
        actor, AuditAction.view, AuditObject.referral, referral.id, {"via": "api:next-best"}
    )
    can_resend = next_best.can_resend(referral)
    found = next_best.suggestions(referral, limit=limit) if can_resend else []
    return jsonify(
        referral_id=str(referral.id),
        status=referral.status,
        can_resend=can_resend,
        resent_to=[
            {"id": str(r.id), "service_name": r.service_name, "status": r.status}
            for r in next_best.resent_to(referral)
        ],
        items=[
            {
                "service_id": str(s.service.id),
                "service_name": s.service.name,
                "organization": s.service.organization.name,
                "distance_km": None if s.distance_km is None else round(s.distance_km, 2),
                "serves_area": s.serves_area,
                "delivery": s.delivery,
            }
            for s in found
        ],
    )


def _action_values(action: actions.ReferralAction, data: dict) -> dict:
    """The action's values from the JSON body: text fields must be strings, a service an id."""
    errors: dict = {}
    texts = [name for name, kind in action.fields.items() if kind is actions.Field.text]
    _check_strings(errors, data, texts)
    _raise_if(errors)
    values = {name: data.get(name) for name in texts}
    for name, kind in action.fields.items():
        if kind is actions.Field.service:
            service_id = _parse_uuid(errors, name, data.get(name))
            _raise_if(errors)
            values[name] = db.session.get(Service, service_id)
    return values


@bp.post(f"/referrals/<uuid:referral_id>/<any({', '.join(actions.ACTIONS)}):action>")
@api_auth_required()
@idempotent
def act(referral_id: uuid.UUID, action: str):
    """Act on a referral: accept, decline (with a reason), cancel (with a reason), forward (to a
    service_id; both referrals come back) or complete it (with the outcome); or write to the
    other side (`messages`: the message comes back, 201)."""
    actor = _actor()
    referral = access.get_referral_for(actor, referral_id)
    chosen = actions.ACTIONS[action]
    data = _body(set(chosen.fields)) if request.get_data(cache=True).strip() else {}
    result = chosen.run(referral, actor, _action_values(chosen, data))
    if action == actions.MESSAGES:
        return jsonify(
            id=str(result.id),
            at=_iso(result.created_at),
            body=result.body,
            author=_person(result.author),
        ), 201
    body = _referral_json(referral, actor, detail=True)
    if action == Action.forward:
        body["forwarded_referral"] = _referral_json(result, actor)
    return jsonify(body)


# -- notifications and capacity ------------------------------------------------------------


@bp.get("/notifications")
@api_auth_required()
def list_notifications():
    """The caller's newest notices and how many are unread."""
    actor = _actor()
    unread_only = request.args.get("unread") == "true"
    items = notifications.notifications_for(actor, unread_only=unread_only)
    return jsonify(
        unread_count=notifications.unread_count(actor),
        items=[
            {
                "id": str(n.id),
                "kind": n.kind,
                "text": n.text,
                "referral_id": _iso(n.referral_id),
                "created_at": _iso(n.created_at),
                "read_at": _iso(n.read_at),
            }
            for n in items
        ],
    )


@bp.post("/notifications/read")
@api_auth_required()
def read_notifications():
    """Mark the caller's notices read: the ones listed in `ids`, or all of them."""
    actor = _actor()
    data = _body({"ids"}) if request.get_data(cache=True).strip() else {}
    ids = None
    if "ids" in data:
        raw = data["ids"]
        if not isinstance(raw, list):
            raise InvalidInput({"ids": "Must be a list of ids."})
        errors: dict = {}
        ids = [_parse_uuid(errors, "ids", value) for value in raw]
        _raise_if(errors)
    count = notifications.mark_read(actor, ids)
    return jsonify(marked_read=count, unread_count=notifications.unread_count(actor))


@bp.post("/services/<uuid:service_id>/referral-capacity")
@api_auth_required()
def set_capacity(service_id: uuid.UUID):
    """The agency says whether a service takes new referrals (accepting/waitlist/not_accepting)."""
    actor = _actor()
    service = db.session.get(Service, service_id)
    if service is None:
        raise NotFound("No such service.", code="service_not_found")
    data = _body({"referral_capacity"})
    services.set_service_capacity(actor, service, data.get("referral_capacity"))
    return jsonify(id=str(service.id), referral_capacity=service.referral_capacity)


# -- the agency's own work: assignment and internal notes --------------------------------------


@bp.post("/referrals/<uuid:referral_id>/assign")
@api_auth_required()
@idempotent
def assign(referral_id: uuid.UUID):
    """Hand the referral to a colleague at the receiving agency (`assignee_id`; null: nobody).
    The agency's staff only; someone not on its staff is refused (422 not_a_colleague)."""
    actor = _actor()
    referral = access.get_referral_for(actor, referral_id)
    data = _body({"assignee_id"})
    errors: dict = {}
    assignee_id = _parse_uuid(errors, "assignee_id", data.get("assignee_id"), required=False)
    _raise_if(errors)
    agency_work.assign(referral, actor, assignee_id)
    return jsonify(_referral_json(referral, actor, detail=True))


def _note_json(note) -> dict:
    return {
        "id": str(note.id),
        "at": _iso(note.created_at),
        "body": note.body,
        "author": _person(note.author),
    }


@bp.get("/referrals/<uuid:referral_id>/notes")
@api_auth_required()
def list_notes(referral_id: uuid.UUID):
    """The receiving agency's internal notes on the referral, oldest first (its staff only)."""
    actor = _actor()
    referral = access.get_referral_for(actor, referral_id)
    notes = agency_work.list_notes(actor, referral)
    return jsonify(items=[_note_json(note) for note in notes])


@bp.post("/referrals/<uuid:referral_id>/notes")
@api_auth_required()
@idempotent
def add_note(referral_id: uuid.UUID):
    """Write an internal note (`body`): the agency's staff see it, the coordinator never does."""
    actor = _actor()
    referral = access.get_referral_for(actor, referral_id)
    data = _body({"body"})
    note = agency_work.add_note(referral, actor, data.get("body"))
    return jsonify(_note_json(note)), 201
