"""Demo accounts for the demo network: same password for all, documented in the README."""

import logging
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select

from accounts.models import NetworkOrganization, OrgKind, Role, User
from accounts.services import create_organization, create_user, hash_password
from directory.demo import DEMO_AGENCY_IDS, DEMO_HEALTH_HOME_ID
from directory.models import Organization
from extensions import db

log = logging.getLogger(__name__)

DEMO_PASSWORD = "demo-password-1"  # noqa: S105  (public on purpose: demo only)
DEMO_COORDINATION_ORG = "Central New York Health Home"
DEMO_DOMAIN = "example.org"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    role: str
    organization: str | None
    created: bool


def seed_demo_accounts(
    agency_directory_ids: Mapping[str, uuid.UUID] | Iterable[uuid.UUID] | None = None,
    health_home_directory_id: uuid.UUID | None = None,
) -> list[DemoAccount]:
    """Create (once) the demo coordinators, admin and agency people; flushes, the caller commits.

    Agencies come from `agency_directory_ids` (default: `directory.demo.DEMO_AGENCY_IDS`): a
    mapping of short names to directory organization ids, or just the ids. The coordinators'
    Health Home links to `health_home_directory_id` (default `directory.demo.DEMO_HEALTH_HOME_ID`)
    when that listing exists. Running it again changes nothing.
    """
    agencies = _agency_ids(
        DEMO_AGENCY_IDS if agency_directory_ids is None else agency_directory_ids
    )
    if health_home_directory_id is None and agency_directory_ids is None:
        health_home_directory_id = DEMO_HEALTH_HOME_ID
    password_hash = hash_password(DEMO_PASSWORD)  # one hash: argon2 is slow on purpose
    accounts: list[DemoAccount] = []

    def ensure_user(email: str, role: Role, organization: NetworkOrganization | None, name: str):
        existing = db.session.scalar(select(User).where(User.email == email))
        if existing is None:
            user = create_user(
                email, role, organization.id if organization else None, full_name=name
            )
            user.password_hash = password_hash
        org_name = organization.name if organization else None
        accounts.append(DemoAccount(email, role, org_name, existing is None))

    coordination = _demo_coordination_org(health_home_directory_id)
    ensure_user(f"admin@wraparound.{DEMO_DOMAIN}", Role.admin, None, "Nadia Admin")
    ensure_user(
        f"coordinator1@cnyhh.{DEMO_DOMAIN}", Role.coordinator, coordination, "Carmen Rivera"
    )
    ensure_user(
        f"coordinator2@cnyhh.{DEMO_DOMAIN}", Role.coordinator, coordination, "Dwayne Carter"
    )

    for slug, directory_id in agencies:
        directory_org = db.session.get(Organization, directory_id)
        if directory_org is None:
            log.warning("demo agency %s (%s) is not in the directory; skipped", slug, directory_id)
            continue
        agency = db.session.scalar(
            select(NetworkOrganization).where(
                NetworkOrganization.directory_organization_id == directory_id
            )
        ) or create_organization(
            directory_org.name, OrgKind.agency, directory_organization_id=directory_id
        )
        slug = slug or _slug(directory_org.name)
        ensure_user(
            f"staff@{slug}.{DEMO_DOMAIN}", Role.agency_staff, agency, f"{agency.name} intake"
        )
        ensure_user(
            f"admin@{slug}.{DEMO_DOMAIN}", Role.agency_admin, agency, f"{agency.name} admin"
        )
    db.session.flush()
    created = sum(account.created for account in accounts)
    log.info("demo accounts: %d created, %d already there", created, len(accounts) - created)
    return accounts


def _demo_coordination_org(directory_id: uuid.UUID | None) -> NetworkOrganization:
    """The demo Health Home: linked to its directory listing when the demo directory has it."""
    listing = db.session.get(Organization, directory_id) if directory_id else None
    if listing is not None:
        linked = db.session.scalar(
            select(NetworkOrganization).where(
                NetworkOrganization.directory_organization_id == listing.id
            )
        )
        return linked or create_organization(
            listing.name, OrgKind.coordination, directory_organization_id=listing.id
        )
    existing = db.session.scalar(
        select(NetworkOrganization).where(
            NetworkOrganization.name == DEMO_COORDINATION_ORG,
            NetworkOrganization.kind == OrgKind.coordination,
        )
    )
    return existing or create_organization(DEMO_COORDINATION_ORG, OrgKind.coordination)


def _agency_ids(given) -> list[tuple[str | None, uuid.UUID]]:
    if isinstance(given, Mapping):
        return [(_slug(str(key)), uuid.UUID(str(value))) for key, value in given.items()]
    return [(None, uuid.UUID(str(value))) for value in given]


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:40].strip("-") or "agency"
