"""What network admins look through: every organization of the network and every account, in
pages, and directory listings found by name (to link an organization to its listing)."""

import uuid

from sqlalchemy import func, or_, select

from accounts.models import NetworkOrganization, OrgKind, Role, User
from extensions import db
from web.paging import Page, paginate

PER_PAGE = 50


def organizations_page(kind: str = "", page: int = 1, per_page: int = PER_PAGE) -> Page:
    """(organization, number of accounts) by name; `kind` an OrgKind, or "" for all."""
    counts = (
        select(User.organization_id, func.count().label("users"))
        .group_by(User.organization_id)
        .subquery()
    )
    query = (
        select(NetworkOrganization, func.coalesce(counts.c.users, 0))
        .outerjoin(counts, counts.c.organization_id == NetworkOrganization.id)
        .order_by(func.lower(NetworkOrganization.name), NetworkOrganization.id)
    )
    if kind in set(OrgKind):
        query = query.where(NetworkOrganization.kind == kind)
    return paginate(query, page, per_page, scalars=False)


def users_page(
    organization_id: uuid.UUID | None = None,
    role: str = "",
    active: bool | None = None,
    text: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page:
    """Accounts by email, filtered by organization, role, active state and a part of the email
    or name (each filter left out when empty)."""
    query = select(User).order_by(func.lower(User.email), User.id)
    if organization_id:
        query = query.where(User.organization_id == organization_id)
    if role in set(Role):
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active.is_(active))
    if text:
        term = text.lower()
        query = query.where(
            or_(
                func.lower(User.email).contains(term, autoescape=True),
                func.lower(User.full_name).contains(term, autoescape=True),
            )
        )
    return paginate(query, page, per_page)


def all_organizations() -> list[NetworkOrganization]:
    return list(
        db.session.scalars(
            select(NetworkOrganization).order_by(func.lower(NetworkOrganization.name))
        )
    )


def directory_organizations_named(term: str, also: uuid.UUID | None = None, limit: int = 20):
    """Directory organizations whose name contains `term`, by name (and `also` first, when it
    is not among them: the listing already linked)."""
    from directory.models import Organization

    found = []
    if term.strip():
        found = list(
            db.session.scalars(
                select(Organization)
                .where(
                    func.lower(Organization.name).contains(term.strip().lower(), autoescape=True)
                )
                .order_by(Organization.name)
                .limit(limit)
            )
        )
    if also and all(org.id != also for org in found):
        current = db.session.get(Organization, also)
        if current is not None:
            found.insert(0, current)
    return found
