"""Services whose organization is missing from the export, kept under a placeholder organization.

211 exports drop organizations (447 of 4,089 services in one): rejecting their services would
hide real help over a gap in the data. One placeholder is made per missing organization id,
under that id, so a later export that has the organization fills it in. It is named after the
service's location ("Westside Community Center"), else "Organization 99 (not in the export)",
and flagged for a network admin to review.
"""

import uuid
from collections import defaultdict

from sqlalchemy import select

from directory import models
from directory.hsds.importing.records import Origin, Package, Record
from directory.hsds.importing.report import Flag
from directory.hsds.importing.values import clean_text
from directory.hsds.serialize import chunked
from extensions import db, utcnow

REASON = "placeholder_organization"


def add_placeholder_organizations(package: Package) -> tuple[dict[uuid.UUID, str], list[Flag]]:
    """Add a placeholder organization record for each organization the package's services name
    but neither the package nor the directory holds.

    Returns the placeholder organizations, new and made by earlier imports, with their names
    (to count the services kept under them), and the flags to write for the new ones.
    """
    in_package = {record.id for record in package.records.get("organization", [])}
    wanted: dict[uuid.UUID, list[Record]] = defaultdict(list)
    for service in package.records.get("service", []):
        organization = service.values.get("organization_id")
        if isinstance(organization, uuid.UUID) and organization not in in_package:
            wanted[organization].append(service)
    if not wanted:
        return {}, []
    stored = _stored_names(set(wanted))
    placeholders = {i: stored[i] for i in _flagged(set(stored))}
    flags = []
    names = _location_names(package)
    for organization, services in wanted.items():
        source = services[0].refs.get("organization_id") or str(organization)
        origin = Origin(services[0].origin.file, services[0].origin.where, source)
        if organization in placeholders:  # made by an earlier import: listed again, as it was
            values = {"name": placeholders[organization]}
            package.add(Record("organization", organization, values, origin, mergeable=True))
            continue
        if organization in stored:
            continue  # a real organization, stored by an earlier import
        name = next(
            (names[s.id] for s in services if names.get(s.id)),
            f"Organization {source} (not in the export)",
        )
        package.add(Record("organization", organization, {"name": name}, origin, mergeable=True))
        placeholders[organization] = name
        listed = ", ".join(repr(clean_text(s.values.get("name")) or "?") for s in services[:5])
        more = f" and {len(services) - 5} more" if len(services) > 5 else ""
        detail = (
            f"Organization {source} is not in the export of {package.dataset!r}. A placeholder "
            f"named {name!r} was made so its {len(services)} service(s) stay listed: "
            f"{listed}{more}. Correct it in the source data and import again."
        )
        flags.append(Flag("organization", organization, REASON, detail))
    return placeholders, flags


def _stored_names(ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    table = models.Organization.__table__
    found = {}
    for batch in chunked(ids):
        query = select(table.c.id, table.c.name).where(table.c.id.in_(batch))
        found.update({row.id: row.name for row in db.session.execute(query)})
    return found


def _flagged(ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Those of the stored organizations that an import made as placeholders."""
    flag = models.ReviewFlag
    found: set[uuid.UUID] = set()
    for batch in chunked(ids):
        query = select(flag.record_id).where(
            flag.record_table == "organization", flag.reason == REASON, flag.record_id.in_(batch)
        )
        found.update(db.session.scalars(query))
    return found


def _location_names(package: Package) -> dict[uuid.UUID, str]:
    """Each service's first location's name, from the package."""
    locations = {
        record.id: clean_text(record.values.get("name"))
        for record in package.records.get("location", [])
    }
    names: dict[uuid.UUID, str] = {}
    for link in package.records.get("service_at_location", []):
        service, location = link.values.get("service_id"), link.values.get("location_id")
        name = locations.get(location)  # type: ignore[arg-type]
        if isinstance(service, uuid.UUID) and name and service not in names:
            names[service] = name
    return names


def resolve_found(package: Package, by: str = "import") -> int:
    """Close the open placeholder flags of organizations the package now holds for real."""
    flag = models.ReviewFlag
    ids = [record.id for record in package.records.get("organization", [])]
    resolved = 0
    for batch in chunked(ids):
        open_flags = db.session.scalars(
            select(flag).where(
                flag.record_table == "organization",
                flag.reason == REASON,
                flag.resolved_at.is_(None),
                flag.record_id.in_(batch),
            )
        ).all()
        for found in open_flags:
            found.resolved_at = utcnow()
            found.resolved_by = by
            resolved += 1
    return resolved
