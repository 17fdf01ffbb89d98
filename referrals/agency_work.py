"""The receiving agency's own work on a referral: who of its staff handles it, and its notes.

Assigning hands a referral to a colleague of the same agency (or to oneself, or to nobody): it
is an "assigned" event on the timeline and the assignee is told. Internal notes are the agency's
working notes, apart from the message thread: only the receiving agency's signed-in staff read or
write them; never the coordinator's side, an email link's holder, or network admins. The access
log records that a note was written (its id), never its text, since notes may name the member's
circumstances and the log is read more widely than the referral.

Like `referrals.services`, these functions check, change, flush and return; they never commit.
"""

import logging
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from accounts.models import Role, User
from extensions import db, utcnow
from referrals import access, audit, notifications
from referrals.errors import ConcurrentUpdate, InvalidInput, NotAColleague, TransitionRefused
from referrals.models import AuditAction, AuditObject, Referral, ReferralEvent, ReferralNote

log = logging.getLogger(__name__)

MAX_NOTE = 4000
ASSIGNED = "assigned"  # the event's action (referrals.models.SWEEP_EVENT_ACTIONS)


def colleagues(organization_id: uuid.UUID | None) -> list[User]:
    """The active staff of an agency, by name: whom its referrals can be assigned to."""
    if organization_id is None:
        return []
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.organization_id == organization_id,
                User.role.in_([Role.agency_staff, Role.agency_admin]),
                User.active.is_(True),
            )
            .order_by(User.full_name, User.email)
        )
    )


def assign(
    referral: Referral,
    actor: User,
    assignee_id: uuid.UUID | str | None,
    now: datetime | None = None,
) -> Referral:
    """Hand an open referral to the colleague `assignee_id` names (None or "": nobody) at the
    receiving agency.

    Any of the agency's staff may (re)assign; the coordinator's side may not. An id that is not
    active staff of that agency (another agency's, a coordinator's, someone who left, nobody's)
    is refused (NotAColleague, 422). Assigning to whoever has it already changes nothing."""
    now = now or utcnow()
    access.require_receiving_staff(actor, referral, "assign it")
    assignee = None
    wanted = str(assignee_id or "").strip().lower()
    if wanted:
        found = [u for u in colleagues(referral.receiving_org_id) if str(u.id) == wanted]
        if not found:
            raise NotAColleague(
                "Choose someone on your agency's staff: that person can't be assigned this "
                "referral.",
                fields={"assignee_id": "Not an active member of your agency's staff."},
            )
        assignee = found[0]
    referral_id = referral.id
    db.session.refresh(referral, with_for_update=True)  # PostgreSQL: wait for a concurrent one
    if not referral.is_open:
        raise TransitionRefused(
            f"This referral is {referral.status}: there is nothing left to assign.",
            current_status=referral.status,
        )
    new_id = assignee.id if assignee is not None else None
    if referral.assigned_to_id == new_id:
        return referral
    before = referral.assigned_to_id
    referral.assigned_to_id = new_id
    note = f"Assigned to {assignee.display_name}." if assignee is not None else "Unassigned."
    db.session.add(
        ReferralEvent(
            referral=referral,
            actor_id=actor.id,
            at=now,
            from_status=referral.status,
            to_status=referral.status,
            action=ASSIGNED,
            note=note,
        )
    )
    try:
        db.session.flush()
    except StaleDataError as exc:
        raise ConcurrentUpdate(
            "Someone changed this referral at the same moment: look again, then assign it."
        ) from exc
    if assignee is not None:
        notifications.referral_assigned(referral, assignee, actor, now)
    audit.record(
        actor,
        AuditAction.update,
        AuditObject.referral,
        referral_id,
        {
            "assigned_to": [str(before) if before else None, str(new_id) if new_id else None],
        },
    )
    log.info("referral %s assigned to %s by %s", referral_id, new_id, actor.id)
    return referral


def add_note(
    referral: Referral, actor: User, body: str | None, now: datetime | None = None
) -> ReferralNote:
    """Write an internal note on the referral, for the receiving agency's staff alone."""
    now = now or utcnow()
    access.require_receiving_staff(actor, referral, "write internal notes")
    if body is not None and not isinstance(body, str):
        raise InvalidInput({"body": "Must be text."})
    body = (body or "").strip()
    if not body:
        raise InvalidInput({"body": "This is required."})
    if len(body) > MAX_NOTE:
        raise InvalidInput({"body": f"Use at most {MAX_NOTE} characters (this has {len(body)})."})
    note = ReferralNote(referral_id=referral.id, author_id=actor.id, body=body, created_at=now)
    db.session.add(note)
    db.session.flush()
    audit.record(
        actor,
        AuditAction.create,
        AuditObject.referral,
        referral.id,
        {"internal_note_id": str(note.id)},  # the fact, never the text
    )
    log.info("referral %s internal note %s by %s", referral.id, note.id, actor.id)
    return note


def notes_for(viewer: User | None, referral: Referral) -> list[ReferralNote]:
    """The referral's internal notes, oldest first, if `viewer` is the receiving agency's staff;
    nothing for anyone else (the pages and the API show notes only through this)."""
    if not access.is_receiving_staff(viewer, referral):
        return []
    return list(
        db.session.scalars(
            select(ReferralNote)
            .where(ReferralNote.referral_id == referral.id)
            .order_by(ReferralNote.created_at, ReferralNote.id)
        )
    )


def list_notes(viewer: User, referral: Referral) -> list[ReferralNote]:
    """`notes_for`, refusing those who are not the receiving agency's staff (the API's list)."""
    access.require_receiving_staff(viewer, referral, "read internal notes")
    return notes_for(viewer, referral)
