"""The access log: who viewed or changed which member, consent or referral, when and from where."""

import logging
import uuid
from datetime import datetime

from flask import has_request_context, request
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from accounts.models import User
from extensions import db, utcnow
from referrals.models import AuditAction, AuditLog, AuditObject
from web.paging import Page

MAX_PER_PAGE = 200
log = logging.getLogger(__name__)


def record(
    actor: User | None,
    action: AuditAction | str,
    object_type: AuditObject | str,
    object_id: uuid.UUID | None,
    detail: dict | None = None,
) -> AuditLog:
    """Add one audit row to the current unit of work (it commits or rolls back with the change)."""
    entry = _entry(actor, action, object_type, object_id, detail)
    db.session.add(entry)
    return entry


def record_denied(
    actor: User, object_type: AuditObject | str, object_id: uuid.UUID, via: str | None
) -> None:
    """A refused read of a record that exists but is not the actor's to see, written in its own
    transaction: the request answers 404 and rolls back, and the attempt must stay in the log."""
    detail = {"via": via} if via else {"path": request.path} if has_request_context() else None
    entry = _entry(actor, AuditAction.denied, object_type, object_id, detail)
    try:
        with Session(db.engine) as session, session.begin():
            session.add(entry)
    except SQLAlchemyError:
        log.exception("could not log the denied read of %s %s", object_type, object_id)


def _entry(actor, action, object_type, object_id, detail) -> AuditLog:
    link_id = getattr(actor, "link_id", None)  # an email link (referrals.actors.LinkActor)
    if link_id is not None:
        detail = {**(detail or {}), "link_id": str(link_id)}
    entry = AuditLog(
        actor_id=actor.id if actor is not None else None,
        actor_label=(actor.email if actor is not None else "system"),
        action=str(AuditAction(action)),
        object_type=str(AuditObject(object_type)),
        object_id=object_id,
        at=utcnow(),
        detail=detail,
    )
    if has_request_context():
        entry.ip = (request.remote_addr or "")[:45] or None
        entry.user_agent = (request.user_agent.string or "")[:500] or None
    return entry


def record_views(actor: User | None, object_type: AuditObject | str, ids, via: str) -> None:
    """One `view` row per record shown in a list: 'who saw this member' must find list views too."""
    for object_id in ids:
        record(actor, AuditAction.view, object_type, object_id, {"via": via})


def query_log(
    *,
    actor_id: uuid.UUID | None = None,
    object_type: str | None = None,
    object_id: uuid.UUID | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """The log for admins, newest first, filtered by actor, object, action and [since, until)."""
    page = max(1, int(page))
    per_page = min(MAX_PER_PAGE, max(1, int(per_page)))
    conditions = []
    if actor_id is not None:
        conditions.append(AuditLog.actor_id == actor_id)
    if object_type is not None:
        conditions.append(AuditLog.object_type == str(AuditObject(object_type)))
    if object_id is not None:
        conditions.append(AuditLog.object_id == object_id)
    if action is not None:
        conditions.append(AuditLog.action == str(AuditAction(action)))
    if since is not None:
        conditions.append(AuditLog.at >= since)
    if until is not None:
        conditions.append(AuditLog.at < until)
    total = db.session.scalar(select(func.count()).select_from(AuditLog).where(*conditions))
    items = db.session.scalars(
        select(AuditLog)
        .where(*conditions)
        .order_by(AuditLog.at.desc(), AuditLog.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total or 0, page, per_page)
