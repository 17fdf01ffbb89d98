"""Keeping listings current: "Everything here is still correct", the listings nobody verified
for LISTING_STALE_DAYS (flagged on the agency's page and for network admins), and one reminder
email a month to the agency admins of an agency that has some.

Like the other services these flush and return; the request or the sweep command commits.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import exists, func, or_, select, update

from accounts.claims import agency_admins
from accounts.models import ListingSuggestion, NetworkOrganization, OrgKind, SuggestionStatus, User
from accounts.outbox import queue_email
from directory.models import Organization, Service, ServiceStatus
from directory.verification import network_today, stale_clause, stale_days
from extensions import db, utcnow
from web.paging import Page

log = logging.getLogger(__name__)

REMINDER_INTERVAL = timedelta(days=30)  # "one reminder a month"


def verify_listing(service: Service, user: User, today: date | None = None) -> Service:
    """Record that `user` checked the whole listing and it is still correct (HSDS
    `assured_date` and `assurer_email`); it stops being flagged as stale."""
    service.assured_date = today or network_today()
    service.assurer_email = user.email[:320]
    db.session.flush()
    log.info("service %s verified by user %s", service.id, user.id)
    return service


# -- what an agency runs ------------------------------------------------------------------------


@dataclass(frozen=True)
class AgencyListings:
    services: list[Service]  # stale first, then by name
    stale_ids: frozenset
    pending_suggestions: int


def agency_listings(agency: NetworkOrganization, today: date | None = None) -> AgencyListings:
    """The listed services of an agency's directory organization, the stale ones first."""
    if agency.directory_organization_id is None:
        return AgencyListings([], frozenset(), 0)
    services = list(
        db.session.scalars(
            select(Service)
            .where(
                Service.organization_id == agency.directory_organization_id,
                Service.status != ServiceStatus.defunct.value,
            )
            .order_by(Service.assured_date.asc().nulls_first(), Service.name, Service.id)
        )
    )
    stale = set(
        db.session.scalars(
            select(Service.id).where(
                Service.organization_id == agency.directory_organization_id, *stale_clause(today)
            )
        )
    )
    pending = db.session.scalar(
        select(func.count())
        .select_from(ListingSuggestion)
        .where(
            ListingSuggestion.organization_id == agency.directory_organization_id,
            ListingSuggestion.status == SuggestionStatus.pending.value,
        )
    )
    return AgencyListings(services, frozenset(stale), pending or 0)


def upkeep_counts(agency: NetworkOrganization | None, today: date | None = None) -> tuple:
    """(stale listings, suggestions waiting) of an agency: the flag its inbox shows."""
    if agency is None or agency.directory_organization_id is None:
        return 0, 0
    listing = agency.directory_organization_id
    stale = db.session.scalar(
        select(func.count())
        .select_from(Service)
        .where(Service.organization_id == listing, *stale_clause(today))
    )
    waiting = db.session.scalar(
        select(func.count())
        .select_from(ListingSuggestion)
        .where(
            ListingSuggestion.organization_id == listing,
            ListingSuggestion.status == SuggestionStatus.pending.value,
        )
    )
    return stale or 0, waiting or 0


# -- across the network (network admins) ----------------------------------------------------------


def _joined_agency_of(organization_id_column):
    return select(NetworkOrganization.name).where(
        NetworkOrganization.directory_organization_id == organization_id_column,
        NetworkOrganization.kind == OrgKind.agency.value,
        NetworkOrganization.joined_at.is_not(None),
    )


def stale_listings_page(page: int = 1, per_page: int = 50, today: date | None = None) -> Page:
    """Every stale listing, longest unverified first; items are (service, agency name or None)."""
    page, per_page = max(1, int(page)), min(100, max(1, int(per_page)))
    where = stale_clause(today)
    total = db.session.scalar(select(func.count()).select_from(Service).where(*where)) or 0
    agency = _joined_agency_of(Service.organization_id).scalar_subquery()
    rows = db.session.execute(
        select(Service, agency)
        .join(Organization, Organization.id == Service.organization_id)
        .where(*where)
        .order_by(Service.assured_date.asc().nulls_first(), Organization.name, Service.name)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page([(service, name) for service, name in rows], total, page, per_page)


# -- the monthly reminder -------------------------------------------------------------------------


def _has_stale_listings(today: date | None):
    return exists().where(
        Service.organization_id == NetworkOrganization.directory_organization_id,
        *stale_clause(today),
    )


def _due_for_reminder(now: datetime, today: date | None) -> tuple:
    """A joined agency with stale listings whose admins were not reminded in the last month."""
    return (
        NetworkOrganization.kind == OrgKind.agency.value,
        NetworkOrganization.joined_at.is_not(None),
        or_(
            NetworkOrganization.listings_reminded_at.is_(None),
            NetworkOrganization.listings_reminded_at <= now - REMINDER_INTERVAL,
        ),
        _has_stale_listings(today),
    )


def sweep_stale_reminders(now: datetime | None = None) -> list[uuid.UUID]:
    """Email the agency admins of each agency with stale listings, at most once a month, until
    they are verified. Returns the agencies reminded.

    Safe on several hosts at once: each agency is claimed by a conditional UPDATE (…WHERE
    listings_reminded_at is NULL or a month old); on PostgreSQL a second sweep waits for the
    first one's row lock, then matches nothing, so it writes no second email.
    """
    now = now or utcnow()
    today = network_today(now)
    candidates = db.session.scalars(
        select(NetworkOrganization.id)
        .where(*_due_for_reminder(now, today))
        .order_by(NetworkOrganization.id)
    ).all()
    reminded = []
    for agency_id in candidates:
        claimed = db.session.execute(
            update(NetworkOrganization)
            .where(NetworkOrganization.id == agency_id, *_due_for_reminder(now, today))
            .values(listings_reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            continue  # another sweep got there first
        agency = db.session.get(NetworkOrganization, agency_id, populate_existing=True)
        _remind(agency, today)
        reminded.append(agency_id)
    db.session.flush()
    return reminded


def _listings_url() -> str:
    return current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/") + "/listings"


def _remind(agency: NetworkOrganization, today: date) -> None:
    stale = db.session.scalars(
        select(Service.name)
        .where(Service.organization_id == agency.directory_organization_id, *stale_clause(today))
        .order_by(Service.name)
    ).all()
    names = "\n".join(f"- {name}" for name in stale[:50])
    more = f"\n…and {len(stale) - 50} more" if len(stale) > 50 else ""
    for admin in agency_admins(agency):
        queue_email(
            admin.email,
            f"Please check {len(stale)} listing{'s' if len(stale) != 1 else ''} of {agency.name}"[
                :300
            ],
            f"Hello {admin.display_name},\n\n"
            f"Nobody has confirmed these listings of {agency.name} in the last "
            f"{stale_days()} days, so the public directory now says they may be out of date:\n\n"
            f"{names}{more}\n\n"
            'Check each one and press "Everything here is still correct" (or fix what '
            f"changed) here:\n{_listings_url()}\n\n"
            "We remind you at most once a month until they are verified.",
        )
    log.info("stale-listing reminder for agency %s: %d listing(s)", agency.id, len(stale))
