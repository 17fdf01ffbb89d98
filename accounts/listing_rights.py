"""Who may keep a listing true (verify it, act on suggested fixes).

Kept apart so it can be merged with the edit rule (`may_edit_listing`, with the "editor"
right) when that lands: network admins maintain every listing; agency admins and agency staff
maintain the listings of their own agency's directory organization.
"""

import uuid

from accounts.models import Role, User


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
