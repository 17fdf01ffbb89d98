"""Who may change a directory listing: edit it (`may_edit_listing`, with the agency staff
"editor" right), restore an earlier value, or keep it true (verify it, act on suggested fixes).

The directory knows no users; these rules join the two: a listing is a directory organization,
and an agency is a network organization listed as one (`directory_organization_id`).
"""

import logging
import uuid

from sqlalchemy import select

from accounts.models import NetworkOrganization, Role, User
from accounts.services import AccountError, can_manage_user
from directory.editing import Editor
from extensions import db

log = logging.getLogger(__name__)


def may_edit_listing(user, organization_id: uuid.UUID | None) -> bool:
    """Network admins edit any listing; an agency's admins, and its staff given the editor
    right, edit their own agency's listing. Coordinators and anonymous people edit none."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_admin:
        return True
    if organization_id is None or user.organization_id is None or not user.is_agency_user:
        return False
    if user.role == Role.agency_staff and not user.listing_editor:
        return False
    listed_as = db.session.scalar(
        select(NetworkOrganization.directory_organization_id).where(
            NetworkOrganization.id == user.organization_id
        )
    )
    return listed_as == organization_id


def may_restore(user) -> bool:
    """Only network admins put back an earlier value (an agency simply edits again)."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_admin)


def own_listing_id(user) -> uuid.UUID | None:
    """The directory organization an agency user's listing is, if they may edit it."""
    if user is None or not getattr(user, "is_authenticated", False) or user.organization is None:
        return None
    listing = user.organization.directory_organization_id
    return listing if may_edit_listing(user, listing) else None


def editor_of(user: User) -> Editor:
    return Editor(user.id, user.email)


def set_listing_editor(actor: User, user: User, allowed: bool) -> User:
    """Give agency staff the right to edit their agency's listing, or take it back."""
    if not can_manage_user(actor, user):
        raise AccountError("You can't manage this account.")
    if user.role != Role.agency_staff:
        raise AccountError("Only agency staff get this right; agency admins always have it.")
    user.listing_editor = allowed
    db.session.flush()
    log.info("user %s listing editor=%s by %s", user.id, allowed, actor.id)
    return user


def may_maintain_listing(user: User | None, organization_id: uuid.UUID | None) -> bool:
    """May `user` verify and fix the listings of the directory organization `organization_id`?"""
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return False
    if user.role == Role.admin:
        return True
    if user.role not in (Role.agency_admin, Role.agency_staff) or organization_id is None:
        return False
    agency = user.organization
    return agency is not None and agency.directory_organization_id == organization_id
