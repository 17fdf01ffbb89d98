"""What a service shows, read the same way for every engine: its locations, languages,
wheelchair access, time zone and hours, its categories' chains, the indexable services read in
plain queries, and the database fingerprint an index is checked against at start-up.
"""

import json
import re
import uuid
from collections.abc import Collection
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from types import SimpleNamespace

from sqlalchemy import Float, select, text, type_coerce
from sqlalchemy.orm import Session

from directory import hours, languages
from directory.models import (
    LISTED_STATUSES,
    Accessibility,
    Address,
    Attribute,
    CostOption,
    Language,
    Location,
    Organization,
    Schedule,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)
from geo import places

INDEX_VERSION = 4  # bump when documents change shape: a stale version is rebuilt at start-up

_WHEELCHAIR = re.compile(r"wheel\s*chair|silla de ruedas", re.IGNORECASE)
_NOT_WHEELCHAIR = re.compile(
    r"\b(not|no|isn'?t|non|without)\b[\w\s-]{0,20}(wheel\s*chair|accessib)|inaccessible",
    re.IGNORECASE,
)


def service_locations(service: Service) -> list[Location]:
    return [sal.location for sal in service.service_at_locations if sal.location is not None]


def is_wheelchair_accessible(service: Service) -> bool:
    """True when an accessibility note of one of its locations mentions wheelchairs (and does
    not say "not wheelchair accessible")."""
    for location in service_locations(service):
        for note in location.accessibility:
            words = " ".join(filter(None, (note.description, note.details)))
            if _WHEELCHAIR.search(words) and not _NOT_WHEELCHAIR.search(words):
                return True
    return False


def service_languages(service: Service) -> dict[str, str]:
    """{canonical value: label} of the languages spoken, at the service or its locations."""
    found: dict[str, str] = {}
    rows = list(service.languages)
    for location in service_locations(service):
        rows.extend(location.languages)
    for row in rows:
        for raw in (row.code, row.name):
            if raw and raw.strip():
                value, label = languages.canonical(raw)
                if value in languages.LANGUAGES or raw is row.name:
                    found.setdefault(value, label)
                    break
    return found


def service_timezone(service: Service) -> str | None:
    """The IANA zone of the service's first located address (by its ZIP), for hours kept
    without a zone; None when unknown (callers then use DEFAULT_TIMEZONE)."""
    for location in service_locations(service):
        for address in location.addresses:
            if zone := places.timezone_for_zip(address.postal_code):
                return zone
    return None


def hours_pattern(schedules: list[Schedule], zone: str | None) -> str:
    """The hours as canonical JSON: identical hours share one pattern (evaluated once)."""
    rows = []
    for schedule in schedules:
        row = {}
        for name in hours.RULE_FIELDS:
            value = getattr(schedule, name)
            if isinstance(value, date | Decimal):
                value = str(value)
            row[name] = value
        rows.append(row)
    rows.sort(key=lambda r: json.dumps(r, sort_keys=True))
    return json.dumps({"s": rows, "z": zone}, sort_keys=True, separators=(",", ":"))


def _schedules_from_pattern(pattern: str) -> tuple[list[SimpleNamespace], str | None]:
    data = json.loads(pattern)
    schedules = []
    for row in data["s"]:
        values = dict(row)
        for name in ("valid_from", "valid_to", "dtstart", "until"):
            if values.get(name):
                values[name] = date.fromisoformat(values[name])
        if values.get("timezone") is not None:
            values["timezone"] = Decimal(values["timezone"])
        schedules.append(SimpleNamespace(**values))
    return schedules, data.get("z")


@lru_cache(maxsize=4096)
def pattern_open(pattern: str, minute: datetime, default_tz: str) -> bool | None:
    schedules, zone = _schedules_from_pattern(pattern)
    if not schedules:
        return None
    return hours.is_open(schedules, minute, zone or default_tz)


def term_chains(session: Session, term_ids: set[uuid.UUID]) -> dict[uuid.UUID, list]:
    """{term id: [term, parent, grandparent, ... root]} as (id, name) pairs, level by level."""
    known: dict[uuid.UUID, tuple[str, uuid.UUID | None]] = {}
    wanted = set(term_ids)
    while wanted:
        rows = session.execute(
            select(TaxonomyTerm.id, TaxonomyTerm.name, TaxonomyTerm.parent_id).where(
                TaxonomyTerm.id.in_(wanted)
            )
        ).all()
        for term_id, name, parent_id in rows:
            known[term_id] = (name, parent_id)
        wanted = {p for _, _, p in rows if p is not None and p not in known}
    chains = {}
    for term_id in term_ids:
        chain, current, seen = [], term_id, set()
        while current in known and current not in seen:
            seen.add(current)
            name, parent = known[current]
            chain.append((current, name))
            current = parent
        chains[term_id] = chain
    return chains


def read_listings(session: Session, ids: Collection[uuid.UUID]) -> list[SimpleNamespace]:
    """The indexable services among `ids`, shaped like the models (what an engine's documents,
    `Service.is_free` and `hours.schedules_for` read), from twelve plain queries.

    Plain rows rather than ORM objects: a rebuild reads millions of rows, and building ORM
    objects was most of its time.
    """
    service, org = Service.__table__, Organization.__table__
    rows = session.execute(
        select(
            service.c.id,
            service.c.name,
            service.c.alternate_name,
            service.c.description,
            service.c.eligibility_description,
            service.c.fees_description,
            org.c.name,
            org.c.alternate_name,
        )
        .join(org, org.c.id == service.c.organization_id)
        .where(service.c.id.in_(list(ids)), service.c.status.in_(LISTED_STATUSES))
    )
    services = {}
    for sid, name, alternate, description, eligibility, fees, org_name, org_alternate in rows:
        services[sid] = SimpleNamespace(
            id=sid,
            name=name,
            alternate_name=alternate,
            description=description,
            eligibility_description=eligibility,
            fees_description=fees,
            organization=SimpleNamespace(name=org_name, alternate_name=org_alternate),
            attributes=[],
            languages=[],
            cost_options=[],
            schedules=[],
            service_at_locations=[],
        )
    if not services:
        return []
    keys = list(services)
    attribute = Attribute.__table__
    for link_id, term_id in session.execute(
        select(attribute.c.link_id, attribute.c.taxonomy_term_id).where(
            attribute.c.link_entity == "service", attribute.c.link_id.in_(keys)
        )
    ):
        services[link_id].attributes.append(SimpleNamespace(taxonomy_term_id=term_id))
    language, cost = Language.__table__, CostOption.__table__
    for owner, row in _by_owner(
        session, language.c.service_id, keys, code=language.c.code, name=language.c.name
    ):
        services[owner].languages.append(row)
    amount = type_coerce(cost.c.amount, Float)
    for owner, row in _by_owner(session, cost.c.service_id, keys, amount=amount):
        services[owner].cost_options.append(row)
    for owner, schedule in _schedules(session, Schedule.__table__.c.service_id, keys):
        services[owner].schedules.append(schedule)

    sal, location = ServiceAtLocation.__table__, Location.__table__
    locations: dict = {}
    sals: dict = {}
    for sal_id, owner, location_id, latitude, longitude in session.execute(
        select(
            sal.c.id,
            sal.c.service_id,
            location.c.id,
            type_coerce(location.c.latitude, Float),
            type_coerce(location.c.longitude, Float),
        )
        .join(location, location.c.id == sal.c.location_id)
        .where(sal.c.service_id.in_(keys))
    ):
        place = locations.get(location_id)
        if place is None:
            place = locations[location_id] = SimpleNamespace(
                id=location_id,
                latitude=latitude,
                longitude=longitude,
                addresses=[],
                accessibility=[],
                languages=[],
                schedules=[],
            )
        sals[sal_id] = SimpleNamespace(location=place, schedules=[])
        services[owner].service_at_locations.append(sals[sal_id])
    if locations:
        places = list(locations)
        for attr, table, fields in (
            ("addresses", Address.__table__, ("city", "postal_code")),
            ("accessibility", Accessibility.__table__, ("description", "details")),
            ("languages", language, ("code", "name")),
        ):
            columns = {name: table.c[name] for name in fields}
            for owner, row in _by_owner(session, table.c.location_id, places, **columns):
                getattr(locations[owner], attr).append(row)
        for owner, schedule in _schedules(session, Schedule.__table__.c.location_id, places):
            locations[owner].schedules.append(schedule)
        for owner, schedule in _schedules(
            session, Schedule.__table__.c.service_at_location_id, list(sals)
        ):
            sals[owner].schedules.append(schedule)
    return list(services.values())


def _by_owner(session: Session, owner_column, owners: list, **columns):
    """(owner id, a namespace of `columns`) pairs of the rows whose owner_column is in owners."""
    names = list(columns)
    for owner, *values in session.execute(
        select(owner_column, *columns.values()).where(owner_column.in_(owners))
    ):
        yield owner, SimpleNamespace(**dict(zip(names, values, strict=True)))


def _schedules(session: Session, owner_column, owners: list):
    """(owner id, schedule) pairs: the schedule fields the hours rules read."""
    table = Schedule.__table__
    fields = {name: table.c[name] for name in hours.RULE_FIELDS}
    return _by_owner(session, owner_column, owners, **fields)


def db_fingerprint(connection) -> dict:
    """What the index was built from: counts and latest edits of the indexed tables."""
    row = connection.execute(
        text(
            "SELECT (SELECT count(*) FROM service), (SELECT max(last_modified) FROM service), "
            "(SELECT max(last_modified) FROM organization), "
            "(SELECT max(last_modified) FROM location), "
            "(SELECT count(*) FROM attribute WHERE link_entity = 'service')"
        )
    ).one()
    services, service_at, org_at, location_at, attributes = row
    return {
        "version": INDEX_VERSION,
        "services": services,
        "service_modified": str(service_at),
        "organization_modified": str(org_at),
        "location_modified": str(location_at),
        "attributes": attributes,
    }
