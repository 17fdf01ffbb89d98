"""Result cards: the page of services a search shows, read in one statement.

A card shows a service's name, organization, categories, cost, hours ("closes at 5 pm"), its
locations with their addresses, and the most specific phone number. As ORM objects that took
ten queries (a collection each); on PostgreSQL each round trip costs about a millisecond, so a
page of twenty cards took 25 ms. Here one SELECT returns a row a service, each collection nested
as a JSON array by a correlated subquery, and the rows become plain objects shaped like the
models for what cards read (`hours.schedules_for`, `contact_phone`, the search API), with
the models' own rules for a physical address, a tel: link and "free".
"""

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import JSON, bindparam, func, literal_column, select, type_coerce
from sqlalchemy.sql import ColumnElement

from directory import hours
from directory.models import (
    Address,
    Attribute,
    CostOption,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)
from extensions import db


@dataclass
class CardPhone:
    number: str
    extension: int | None = None
    tel_uri = Phone.tel_uri


@dataclass
class CardAddress:
    address_1: str = ""
    address_2: str | None = None
    city: str = ""
    state_province: str = ""
    postal_code: str = ""
    address_type: str = "physical"
    one_line = Address.one_line


@dataclass
class CardLocation:
    id: uuid.UUID
    name: str | None
    latitude: Decimal | None
    longitude: Decimal | None
    addresses: list[CardAddress] = field(default_factory=list)
    phones: list[CardPhone] = field(default_factory=list)
    schedules: list[SimpleNamespace] = field(default_factory=list)
    physical_address = Location.physical_address


@dataclass
class CardServiceAtLocation:
    id: uuid.UUID
    location_id: uuid.UUID
    location: CardLocation
    phones: list[CardPhone] = field(default_factory=list)
    schedules: list[SimpleNamespace] = field(default_factory=list)


@dataclass
class CardOrganization:
    id: uuid.UUID
    name: str
    phones: list[CardPhone] = field(default_factory=list)


@dataclass
class ServiceCard:
    """A service as its result card shows it (attribute names as on `Service`)."""

    id: uuid.UUID
    name: str
    description: str | None
    status: str
    referral_capacity: str | None
    fees_description: str | None
    organization: CardOrganization
    attributes: list[SimpleNamespace] = field(default_factory=list)  # .taxonomy_term: id/code/name
    cost_options: list[SimpleNamespace] = field(default_factory=list)  # .amount
    phones: list[CardPhone] = field(default_factory=list)
    schedules: list[SimpleNamespace] = field(default_factory=list)
    service_at_locations: list[CardServiceAtLocation] = field(default_factory=list)
    is_free = Service.is_free


def load_cards(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, ServiceCard]:
    """The cards of these services (any status; missing ids are left out), in one query."""
    if not ids:
        return {}
    statement = _statement(db.session.get_bind().dialect.name)
    rows = db.session.execute(statement, {"ids": list(ids)})
    return {card.id: card for card in map(_card, rows)}


# --- What a card shows (rules that serve a `Service` model as well) ---------------------------


def contact_phone(service, location=None):
    """The most specific number on record: at this location, the service's, else the org's."""
    for sal in service.service_at_locations:
        if location is None or sal.location_id == location.id:
            if sal.phones:
                return sal.phones[0]
    if service.phones:
        return service.phones[0]
    if location is not None and location.phones:
        return location.phones[0]
    return service.organization.phones[0] if service.organization.phones else None


def shown_location(service, nearest_location_id=None):
    """The location a result card shows: the nearest one to the place searched, else the first
    placed one, else any."""
    locations = [sal.location for sal in service.service_at_locations]
    for location in locations:
        if location.id == nearest_location_id:
            return location
    placed = [loc for loc in locations if loc.latitude is not None]
    return (placed or locations or [None])[0]


# --- The statement -----------------------------------------------------------------------------


def _json_array(dialect: str, columns: dict[str, ColumnElement], source) -> ColumnElement:
    """A scalar subquery: the rows of `source` as a JSON array of objects (always an array)."""
    pairs: list[Any] = []
    for key, column in columns.items():
        pairs.extend((literal_column(f"'{key}'"), column))  # our own names, never input
    if dialect == "postgresql":
        rows = func.coalesce(
            func.json_agg(func.json_build_object(*pairs)), literal_column("'[]'::json")
        )
    else:  # SQLite's JSON1: an empty group gives "[]"
        rows = func.json_group_array(func.json_object(*pairs))
    return type_coerce(source.with_only_columns(rows).scalar_subquery(), JSON)


def _term(column) -> ColumnElement:
    """A column of an attribute's taxonomy term, looked up by primary key. (Joined instead,
    PostgreSQL hashes the whole vocabulary once per service: thousands of AIRS terms.)"""
    return select(column).where(TaxonomyTerm.id == Attribute.taxonomy_term_id).scalar_subquery()


def _phone_columns() -> dict[str, ColumnElement]:
    return {"number": Phone.number, "extension": Phone.extension}


def _schedule_columns() -> dict[str, ColumnElement]:
    return {name: getattr(Schedule, name) for name in hours.RULE_FIELDS}


@lru_cache(maxsize=4)
def _statement(dialect: str):
    """The cards query for a dialect, built once; the service ids are bound at execution."""
    sal = ServiceAtLocation

    def array(columns, source):
        return _json_array(dialect, columns, source)

    def at_locations(table, on):
        """Rows of `table` joined to the service's locations (a join, so its index is used)."""
        return select().select_from(sal).join(table, on).where(sal.service_id == Service.id)

    def of_locations(table, columns):
        """The arrays of a table's rows kept on the service's locations and on the service at
        each location (the phones, or the opening hours)."""
        on_location = {"owner": table.location_id, "row": table.id, **columns}
        on_service_at_location = {"owner": table.service_at_location_id, **columns}
        return (
            array(on_location, at_locations(table, table.location_id == sal.location_id)),
            array(
                on_service_at_location, at_locations(table, table.service_at_location_id == sal.id)
            ),
        )

    return (
        select(
            Service.id,
            Service.name,
            Service.description,
            Service.status,
            Service.referral_capacity,
            Service.fees_description,
            Organization.id,
            Organization.name,
            array(
                {
                    "id": Attribute.taxonomy_term_id,
                    "code": _term(TaxonomyTerm.code),
                    "name": _term(TaxonomyTerm.name),
                },
                select().where(Attribute.link_entity == "service", Attribute.link_id == Service.id),
            ),
            array(
                {"amount": CostOption.amount}, select().where(CostOption.service_id == Service.id)
            ),
            array(_phone_columns(), select().where(Phone.service_id == Service.id)),
            array(
                _phone_columns(),
                select().where(Phone.organization_id == Organization.id),
            ),
            array(_schedule_columns(), select().where(Schedule.service_id == Service.id)),
            array(
                {
                    "sal": sal.id,
                    "id": Location.id,
                    "name": Location.name,
                    "latitude": Location.latitude,
                    "longitude": Location.longitude,
                },
                select()
                .select_from(sal)
                .join(Location, Location.id == sal.location_id)
                .where(sal.service_id == Service.id),
            ),
            array(
                {
                    "owner": Address.location_id,
                    "row": Address.id,
                    "address_1": Address.address_1,
                    "address_2": Address.address_2,
                    "city": Address.city,
                    "state_province": Address.state_province,
                    "postal_code": Address.postal_code,
                    "address_type": Address.address_type,
                },
                at_locations(Address, Address.location_id == sal.location_id),
            ),
            *of_locations(Phone, _phone_columns()),
            *of_locations(Schedule, _schedule_columns()),
        )
        .join(Organization, Organization.id == Service.organization_id)
        .where(Service.id.in_(bindparam("ids", expanding=True)))
    )


# --- Rows into cards ---------------------------------------------------------------------------


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _phone(row: dict) -> CardPhone:
    return CardPhone(row["number"], row.get("extension"))


def _address(row: dict) -> CardAddress:
    return CardAddress(**{key: value for key, value in row.items() if key not in ("owner", "row")})


def _schedule(row: dict) -> SimpleNamespace:
    values = {name: row.get(name) for name in hours.RULE_FIELDS}
    for name in ("valid_from", "valid_to", "dtstart", "until"):
        if isinstance(values[name], str):
            values[name] = date.fromisoformat(values[name][:10])
    values["timezone"] = _decimal(values["timezone"])
    return SimpleNamespace(**values)


def _by_owner(rows: list[dict], make) -> dict[uuid.UUID, list]:
    """Rows grouped by the location or link they belong to; a location linked to the service
    twice brings its rows twice, kept once (by their "row" id)."""
    grouped: dict[uuid.UUID, list] = {}
    seen = set()
    for row in rows:
        if "row" in row:
            if row["row"] in seen:
                continue
            seen.add(row["row"])
        grouped.setdefault(_uuid(row["owner"]), []).append(make(row))
    return grouped


def _card(row) -> ServiceCard:
    (
        service_id, name, description, status, capacity, fees, org_id, org_name,
        terms, costs, phones, org_phones, schedules,
        locations, addresses, location_phones, sal_phones, location_hours, sal_hours,
    ) = row  # fmt: skip
    addresses_at = _by_owner(addresses, _address)
    phones_at = _by_owner(location_phones, _phone)
    hours_at = _by_owner(location_hours, _schedule)
    sal_phones_of = _by_owner(sal_phones, _phone)
    sal_hours_of = _by_owner(sal_hours, _schedule)
    places: dict[uuid.UUID, CardLocation] = {}
    links = []
    for place in locations:
        location_id = _uuid(place["id"])
        location = places.get(location_id)
        if location is None:
            location = places[location_id] = CardLocation(
                id=location_id,
                name=place["name"],
                latitude=_decimal(place["latitude"]),
                longitude=_decimal(place["longitude"]),
                addresses=addresses_at.get(location_id, []),
                phones=phones_at.get(location_id, []),
                schedules=hours_at.get(location_id, []),
            )
        link_id = _uuid(place["sal"])
        links.append(
            CardServiceAtLocation(
                id=link_id,
                location_id=location_id,
                location=location,
                phones=sal_phones_of.get(link_id, []),
                schedules=sal_hours_of.get(link_id, []),
            )
        )
    return ServiceCard(
        id=_uuid(service_id),
        name=name,
        description=description,
        status=status,
        referral_capacity=capacity,
        fees_description=fees,
        organization=CardOrganization(_uuid(org_id), org_name, [_phone(p) for p in org_phones]),
        attributes=[
            SimpleNamespace(
                taxonomy_term=SimpleNamespace(id=_uuid(t["id"]), code=t["code"], name=t["name"])
            )
            for t in terms
        ],
        cost_options=[SimpleNamespace(amount=_decimal(c["amount"])) for c in costs],
        phones=[_phone(p) for p in phones],
        schedules=[_schedule(s) for s in schedules],
        service_at_locations=links,
    )
