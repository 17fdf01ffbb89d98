"""Who may see and act on which referral, member and service.

Every list starts from `visible_referrals` / `visible_members`, every single record is read through
`get_referral_for` / `get_member_for`: what a person may not see is NotFound, never told apart from
what does not exist. A record read to be shown is read with `load_referral_for` /
`load_member_for`, which also log the view in the access log. Seeing is not acting: `acting_side`
and `require_own_member` say who may change a record, and refuse with Forbidden those who only
see it.
"""

import uuid

from sqlalchemy import Select, false, select

from accounts.models import Role, User
from directory.models import Service
from extensions import db
from referrals import audit
from referrals.actors import LinkActor
from referrals.errors import Forbidden, NotFound
from referrals.models import AuditAction, AuditObject, Consent, Delivery, Member, Referral
from referrals.states import TRANSITIONS, Action, Side, Status


def side_of(user: User | None, referral: Referral) -> Side | None:
    """Which end of `referral` the user acts for, or None (another org, an admin, anonymous).

    An email link acts for the receiving agency of its own referral, and of no other."""
    if isinstance(user, LinkActor):
        return Side.receiving if user.referral_id == referral.id else None
    if user is None or user.organization_id is None:
        return None
    if user.role == Role.coordinator and user.organization_id == referral.sending_org_id:
        return Side.sending
    if user.is_agency_user and user.organization_id == referral.receiving_org_id:
        return Side.receiving
    return None


def can_view_referral(user: User | None, referral: Referral) -> bool:
    """Both sides of a referral and network admins see it; nobody else learns it exists."""
    return user is not None and (user.is_admin or side_of(user, referral) is not None)


def _visible(stmt: Select, user: User | None, coordinator, agency) -> Select:
    """`stmt` narrowed to what `user` may see: everything for network admins, `coordinator(org
    id)` for a coordinator, `agency(org id)` for agency staff, nothing for anyone else."""
    if user is None:
        return stmt.where(false())
    if user.is_admin:
        return stmt
    if user.organization_id is None:
        return stmt.where(false())
    if user.role == Role.coordinator:
        return stmt.where(coordinator(user.organization_id))
    if user.is_agency_user:
        return stmt.where(agency(user.organization_id))
    return stmt.where(false())


def visible_referrals(user: User | None) -> Select:
    """A select of the referrals `user` may see: the base of every list and inbox."""
    return _visible(
        select(Referral),
        user,
        coordinator=lambda org_id: Referral.sending_org_id == org_id,
        agency=lambda org_id: Referral.receiving_org_id == org_id,
    )


def can_view_member(user: User | None, member: Member) -> bool:
    """The member's organization and admins; an agency only once the member is referred to it."""
    return member.id in viewable_member_ids(user, [member])


def viewable_member_ids(user: User | None, members: list[Member]) -> set[uuid.UUID]:
    """The ids of those of `members` that `user` may see (`can_view_member`), in one query at
    most, however many there are."""
    if user is None or not members:
        return set()
    if user.is_admin:
        return {m.id for m in members}
    if user.organization_id is None:
        return set()
    if user.role == Role.coordinator:
        return {m.id for m in members if m.organization_id == user.organization_id}
    if user.is_agency_user:
        return set(
            db.session.scalars(
                select(Referral.member_id)
                .where(
                    Referral.member_id.in_([m.id for m in members]),
                    Referral.receiving_org_id == user.organization_id,
                )
                .distinct()
            )
        )
    return set()


def visible_members(user: User | None) -> Select:
    """A select of the members `user` may see (agencies: those referred to them)."""
    return _visible(
        select(Member),
        user,
        coordinator=lambda org_id: Member.organization_id == org_id,
        agency=lambda org_id: Member.id.in_(
            select(Referral.member_id).where(Referral.receiving_org_id == org_id)
        ),
    )


def get_referral_for(
    user: User | None, referral_id: uuid.UUID, *, via: str | None = None
) -> Referral:
    """The referral if `user` may see it; otherwise NotFound, whether or not it exists (a
    signed-in person's attempt on an existing one is logged as denied)."""
    return _get_visible(user, Referral, referral_id, can_view_referral, AuditObject.referral, via)


def get_member_for(user: User | None, member_id: uuid.UUID, *, via: str | None = None) -> Member:
    """The member if `user` may see them; otherwise NotFound, whether or not they exist (a
    signed-in person's attempt on an existing one is logged as denied)."""
    return _get_visible(user, Member, member_id, can_view_member, AuditObject.member, via)


def _get_visible(user, model, record_id, can_view, kind: AuditObject, via: str | None):
    """The `model` row if `can_view(user, row)`; otherwise NotFound "No such <kind>." (code
    <kind>_not_found), and a signed-in person's attempt on an existing row is logged as denied."""
    record = db.session.get(model, record_id)
    if record is None or not can_view(user, record):
        if record is not None and user is not None:
            audit.record_denied(user, kind, record.id, via)
        raise NotFound(f"No such {kind}.", code=f"{kind}_not_found")
    return record


def get_consent_for(user: User | None, member_id: uuid.UUID, consent_id: uuid.UUID) -> Consent:
    """One of the member's consents if `user` may see the member; otherwise NotFound."""
    member = get_member_for(user, member_id)
    consent = db.session.get(Consent, consent_id)
    if consent is None or consent.member_id != member.id:
        raise NotFound("No such consent.", code="consent_not_found")
    return consent


def load_referral_for(
    user: User | None, referral_id: uuid.UUID, *, via: str, with_member: bool = True
) -> Referral:
    """The referral, to show to `user`: `get_referral_for`, then the view is logged (`via` names
    the screen), and the view of its member too (as `<via>:referral`) unless `with_member` is
    False."""
    referral = get_referral_for(user, referral_id, via=via)
    audit.record(user, AuditAction.view, AuditObject.referral, referral.id, {"via": via})
    if with_member:
        audit.record(
            user,
            AuditAction.view,
            AuditObject.member,
            referral.member_id,
            {"via": f"{via}:referral"},
        )
    return referral


def load_member_for(user: User | None, member_id: uuid.UUID, *, via: str) -> Member:
    """The member, to show to `user`: `get_member_for`, then the view is logged (`via` names the
    screen)."""
    member = get_member_for(user, member_id, via=via)
    audit.record(user, AuditAction.view, AuditObject.member, member.id, {"via": via})
    return member


def _sides_for(user: User | None, referral: Referral) -> set[Side]:
    """The sides `user` may act for: their own; for a referral by phone, the coordinator also
    records the agency's answer (the agency has no other way into Wraparound)."""
    side = side_of(user, referral)
    if side is None:
        return set()
    if side == Side.sending and referral.delivery == Delivery.phone:
        return {Side.sending, Side.receiving}
    return {side}


def actions_for(user: User | None, referral: Referral) -> list[Action]:
    """What `user` may do to the referral now: its status's next steps, for their side of it."""
    sides = _sides_for(user, referral)
    status = Status(referral.status)
    return [
        action
        for (current, action), transition in TRANSITIONS.items()
        if current == status and sides & transition.sides
    ]


def is_own_member(user: User | None, member: Member) -> bool:
    """A coordinator of the member's organization: the people who may change the record."""
    return (
        user is not None
        and user.role == Role.coordinator
        and user.organization_id == member.organization_id
    )


def require_own_member(user: User, member: Member, doing: str) -> None:
    """Refuse anyone but the member's own coordinators: Forbidden if they see the member at all
    (`doing` says what they tried), else NotFound."""
    if is_own_member(user, member):
        return
    if can_view_member(user, member):
        raise Forbidden(f"Only coordinators of the member's organization can {doing}.")
    raise NotFound("No such member.", code="member_not_found")


def acting_side(actor: User, referral: Referral, action: Action | None = None) -> Side:
    """The end of the referral `actor` acts for in `action`; Forbidden for those who only see it
    (admins), NotFound for everyone else. The coordinator of a referral by phone records the
    agency's steps (accept, decline, forward, outcome) for it, as the receiving side."""
    side = side_of(actor, referral)
    if side is not None:
        transition = TRANSITIONS.get((Status(referral.status), action)) if action else None
        if (
            transition is not None
            and side not in transition.sides
            and Side.receiving in _sides_for(actor, referral) & transition.sides
        ):
            return Side.receiving
        return side
    if can_view_referral(actor, referral):
        raise Forbidden(
            "Only the sending coordinator's organization and the receiving agency act on a "
            "referral."
        )
    raise NotFound("No such referral.", code="referral_not_found")


def can_manage_service(user: User | None, service: Service) -> bool:
    """The agency that offers the service (any of its staff) and network admins."""
    if user is None:
        return False
    if user.is_admin:
        return True
    if not user.is_agency_user or user.organization is None:
        return False
    return user.organization.directory_organization_id == service.organization_id


def require_sending_side(user: User, referral: Referral, doing: str) -> None:
    """Refuse anyone but the sending coordinator's organization: Forbidden for those who see the
    referral (`doing` says what they tried), NotFound for everyone else."""
    if side_of(user, referral) == Side.sending:
        return
    if can_view_referral(user, referral):
        raise Forbidden(f"Only the coordinators who sent this referral can {doing}.")
    raise NotFound("No such referral.", code="referral_not_found")


def is_receiving_staff(user: User | None, referral: Referral) -> bool:
    """A signed-in member of the receiving agency's staff (not an email link, not the coordinator
    who records a phone referral's answers): the people of the agency's own work on it."""
    return (
        user is not None
        and not isinstance(user, LinkActor)
        and user.is_agency_user
        and side_of(user, referral) == Side.receiving
    )


def require_receiving_staff(user: User, referral: Referral, doing: str) -> None:
    """Refuse anyone but the receiving agency's staff: Forbidden for those who see the referral
    (`doing` says what they tried), NotFound for everyone else."""
    if is_receiving_staff(user, referral):
        return
    if can_view_referral(user, referral):
        raise Forbidden(f"Only staff of the agency the referral was sent to can {doing}.")
    raise NotFound("No such referral.", code="referral_not_found")
