"""Directory records as HSDS 3.0 JSON: one serializer for the exporter and the HSDS API.

Each object carries HSDS's one-to-one fields, named and ordered as in the HSDS datapackage
descriptor (`spec/datapackage.json`), plus two documented extensions: `referral_capacity` on
services and `tz_name` on schedules. Empty fields are left out, because the HSDS schemas type
every optional field without null. Numbers are numbers, dates ISO strings, ids UUID strings.
Fields of format "uri" or "email" are published in their normal form ("www.x.org" stored by an
older import or typed by a person is published as "https://www.x.org"), or left out when they
are not one: what we publish validates against the HSDS schemas with formats checked.

Full objects nest their children as the compiled HSDS schemas do; list items carry one-to-one
fields only (HSDS lists). Child collections are always present on full objects (maybe empty);
`attributes` (each with its taxonomy term nested) and `metadata` appear only when there are some.

Loading is in bulk, never one query per row: the `*_OPTIONS` tuples are the selectinload options
for the ORM relationships, and `Linked` fetches, for a whole page of objects at once, what the
models link loosely (attributes, change history, a location's contacts, a contact's phones).
"""

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, defer, selectinload

from directory import normalize
from directory.models import (
    Attribute,
    ChangeRecord,
    Contact,
    Location,
    Organization,
    Phone,
    Program,
    Service,
    ServiceArea,
    ServiceAtLocation,
    Taxonomy,
    TaxonomyTerm,
)
from extensions import db

HSDS_VERSION = "3.0"
SPEC_DIR = Path(__file__).parent / "spec"

# Our additions to HSDS objects, documented here and in the exported datapackage.json.
EXTENSION_FIELDS: dict[str, dict[str, str]] = {
    "service": {
        "referral_capacity": (
            "Wraparound extension: whether the agency takes new referrals for this service "
            "(accepting, waitlist or not_accepting)."
        ),
    },
    "schedule": {
        "tz_name": (
            "Wraparound extension: the IANA time zone of opens_at and closes_at, e.g. "
            "America/New_York (HSDS timezone is a fixed UTC offset, which can't follow "
            "daylight saving)."
        ),
    },
}

# Fields whose value is not a plain column of the same name.
_COMPUTED_FIELDS = {"taxonomy_term": {"taxonomy"}}

# SQL IN lists stay well under SQLite's and PostgreSQL's bound-parameter limits.
IN_CHUNK = 500

T = TypeVar("T")


@cache
def datapackage() -> dict[str, Any]:
    """The HSDS 3.0 Tabular Data Package descriptor, as published by Open Referral."""
    return json.loads((SPEC_DIR / "datapackage.json").read_text(encoding="utf-8"))


@cache
def hsds_fields(table: str) -> tuple[str, ...]:
    """A table's HSDS one-to-one fields in the descriptor's order (no extensions)."""
    for resource in datapackage()["resources"]:
        if resource["name"] == table:
            return tuple(field["name"] for field in resource["schema"]["fields"])
    raise KeyError(f"HSDS has no table named {table!r}")


# "uri" fields that identify rather than link: any scheme. The others are links people follow.
IDENTIFIER_URIS = {("organization", "uri"), ("taxonomy", "uri"), ("taxonomy_term", "term_uri")}


@cache
def value_forms(table: str) -> dict[str, str]:
    """A table's fields with a format HSDS checks: "web" (a link people follow: http or https),
    "uri" (an identifier) or "email". The importer checks the same fields the same way."""
    for resource in datapackage()["resources"]:
        if resource["name"] == table:
            forms = {}
            for field in resource["schema"]["fields"]:
                form = field.get("format")
                if form == "uri" and (table, field["name"]) not in IDENTIFIER_URIS:
                    form = "web"
                if form in ("web", "uri", "email"):
                    forms[field["name"]] = form
            return forms
    return {}


_PUBLISHED: dict[str, Callable[[str | None], str | None]] = {
    "web": normalize.web_url,
    "uri": normalize.published_uri,
    "email": normalize.valid_email,
}


@cache
def table_fields(table: str) -> tuple[str, ...]:
    """The fields we write for a table: HSDS's, then our documented extensions."""
    return hsds_fields(table) + tuple(EXTENSION_FIELDS.get(table, {}))


def json_value(value: Any) -> Any:
    """A database value as JSON: UUID and dates as strings, Decimal as int or float."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def one_to_one(table: str, obj: Any, computed: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object's one-to-one HSDS fields as JSON values, leaving out the empty ones."""
    skip = _COMPUTED_FIELDS.get(table, ())
    forms = value_forms(table)
    out: dict[str, Any] = {}
    for name in table_fields(table):
        if computed is not None and name in computed:
            value = json_value(computed[name])
        elif name in skip:
            continue
        else:
            value = json_value(getattr(obj, name, None))
        if value is not None and name in forms:
            value = _PUBLISHED[forms[name]](value)
        if value is not None:
            out[name] = value
    return out


def _by_id(obj: Any) -> str:
    return str(obj.id)


def _sorted(objects: Iterable[T]) -> list[T]:
    """Children in a stable order (by id): the database keeps no order of its own."""
    return sorted(objects, key=_by_id)


def chunked(values: Iterable[T], size: int = IN_CHUNK) -> Iterable[list[T]]:
    """Split values into lists short enough for one SQL IN clause or one executemany."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class Linked:
    """Children the models link loosely, fetched in bulk for every object of a response.

    Serializing runs twice: a first pass asks for everything it would nest (and gets nothing),
    `load()` fetches it all in a few IN queries, and the second pass builds the JSON.
    """

    def __init__(self, *, with_metadata: bool = False, session: Session | None = None) -> None:
        self.with_metadata = with_metadata
        self.session = session if session is not None else db.session
        self.collecting = True
        self._object_ids: set[uuid.UUID] = set()
        self._location_ids: set[uuid.UUID] = set()
        self._contact_ids: set[uuid.UUID] = set()
        self._attributes: dict[uuid.UUID, list[Attribute]] = {}
        self._metadata: dict[uuid.UUID, list[ChangeRecord]] = {}
        self._location_contacts: dict[uuid.UUID, list[Contact]] = {}
        self._contact_phones: dict[uuid.UUID, list[Phone]] = {}
        self._taxonomies: list[Taxonomy] = []

    def _ask(self, wanted: set[uuid.UUID], found: dict[uuid.UUID, list], key: uuid.UUID) -> list:
        """Collecting: note the key and answer nothing yet; afterwards: what load() found."""
        if self.collecting:
            wanted.add(key)
            return []
        return found.get(key, [])

    def attributes(self, object_id: uuid.UUID) -> list[Attribute]:
        return self._ask(self._object_ids, self._attributes, object_id)

    def metadata(self, object_id: uuid.UUID) -> list[ChangeRecord]:
        if self.collecting or not self.with_metadata:
            return []
        return self._metadata.get(object_id, [])

    def location_contacts(self, location_id: uuid.UUID) -> list[Contact]:
        return self._ask(self._location_ids, self._location_contacts, location_id)

    def contact_phones(self, contact_id: uuid.UUID) -> list[Phone]:
        return self._ask(self._contact_ids, self._contact_phones, contact_id)

    def load(self) -> None:
        """Fetch everything the collecting pass asked for, in a few queries per kind."""
        for ids in chunked(self._location_ids):
            for contact in self.session.scalars(
                select(Contact).where(Contact.location_id.in_(ids))
            ):
                self._location_contacts.setdefault(contact.location_id, []).append(contact)
        location_contacts = [c for cs in self._location_contacts.values() for c in cs]
        contact_ids = self._contact_ids | {c.id for c in location_contacts}
        for ids in chunked(contact_ids):
            query = (
                select(Phone)
                .options(selectinload(Phone.languages))
                .where(Phone.contact_id.in_(ids))
            )
            for phone in self.session.scalars(query):
                self._contact_phones.setdefault(phone.contact_id, []).append(phone)
        # What the first pass could not see: the contacts and phones fetched just now.
        object_ids = set(self._object_ids)
        object_ids.update(c.id for c in location_contacts)
        for phones in self._contact_phones.values():
            for phone in phones:
                object_ids.add(phone.id)
                object_ids.update(language.id for language in phone.languages)
        for ids in chunked(object_ids):
            for attribute in self.session.scalars(
                select(Attribute).where(Attribute.link_id.in_(ids))
            ).unique():
                self._attributes.setdefault(attribute.link_id, []).append(attribute)
        # Terms' taxonomies into the identity map (held here: it keeps weak references only),
        # so `term.taxonomy` costs no query.
        taxonomy_ids = {
            a.taxonomy_term.taxonomy_id
            for attributes in self._attributes.values()
            for a in attributes
            if a.taxonomy_term.taxonomy_id
        }
        for ids in chunked(taxonomy_ids):
            self._taxonomies += self.session.scalars(select(Taxonomy).where(Taxonomy.id.in_(ids)))
        if self.with_metadata:
            for ids in chunked(object_ids):
                query = select(ChangeRecord).where(ChangeRecord.resource_id.in_(ids))
                for record in self.session.scalars(query):
                    self._metadata.setdefault(record.resource_id, []).append(record)
        self.collecting = False


def with_linked(
    build: Callable[[Linked], T], *, with_metadata: bool = False, session: Session | None = None
) -> T:
    """Run a serializer twice around one bulk fetch of loosely linked children."""
    linked = Linked(with_metadata=with_metadata, session=session)
    build(linked)
    linked.load()
    return build(linked)


# ------------------------------------------------------------------ loader options

_PHONE_LANGUAGES = selectinload(Phone.languages)

LOCATION_ITEM_OPTIONS = (defer(Location.geom),)
LOCATION_FULL_OPTIONS = (
    defer(Location.geom),
    selectinload(Location.addresses),
    selectinload(Location.phones).options(_PHONE_LANGUAGES),
    selectinload(Location.schedules),
    selectinload(Location.languages),
    selectinload(Location.accessibility),
)
SERVICE_LIST_OPTIONS = (selectinload(Service.organization), selectinload(Service.program))
_SERVICE_OWN_OPTIONS = (
    *SERVICE_LIST_OPTIONS,
    selectinload(Service.phones).options(_PHONE_LANGUAGES),
    selectinload(Service.schedules),
    selectinload(Service.service_areas).options(defer(ServiceArea.geom)),
    selectinload(Service.languages),
    selectinload(Service.cost_options),
    selectinload(Service.required_documents),
    selectinload(Service.contacts),
    selectinload(Service.fundings),
)
_SAL_OWN_OPTIONS = (
    selectinload(ServiceAtLocation.phones).options(_PHONE_LANGUAGES),
    selectinload(ServiceAtLocation.schedules),
    selectinload(ServiceAtLocation.contacts),
    selectinload(ServiceAtLocation.location).options(*LOCATION_FULL_OPTIONS),
)
SERVICE_FULL_OPTIONS = (
    *_SERVICE_OWN_OPTIONS,
    selectinload(Service.service_at_locations).options(*_SAL_OWN_OPTIONS),
)
SERVICE_AT_LOCATION_LIST_OPTIONS = (
    selectinload(ServiceAtLocation.location).options(*LOCATION_ITEM_OPTIONS),
    selectinload(ServiceAtLocation.service).options(*SERVICE_LIST_OPTIONS),
)
SERVICE_AT_LOCATION_FULL_OPTIONS = (
    *_SAL_OWN_OPTIONS,
    selectinload(ServiceAtLocation.service).options(*_SERVICE_OWN_OPTIONS),
)
ORGANIZATION_FULL_OPTIONS = (
    selectinload(Organization.fundings),
    selectinload(Organization.contacts),
    selectinload(Organization.phones).options(_PHONE_LANGUAGES),
    selectinload(Organization.locations).options(*LOCATION_FULL_OPTIONS),
    selectinload(Organization.programs),
    selectinload(Organization.organization_identifiers),
)


def organization_options(*, full: bool, services: str | None) -> tuple:
    """Loader options for organizations, with their services as None, "list" or "full"."""
    options: tuple = ORGANIZATION_FULL_OPTIONS if full else ()
    if services == "list":
        options += (selectinload(Organization.services).options(*SERVICE_LIST_OPTIONS),)
    elif services == "full":
        options += (selectinload(Organization.services).options(*SERVICE_FULL_OPTIONS),)
    return options


# ------------------------------------------------------------------ building blocks


def _annotate(out: dict[str, Any], obj: Any, linked: Linked) -> dict[str, Any]:
    """Add an object's attributes and change history, when it has some."""
    attributes = linked.attributes(obj.id)
    if attributes:
        out["attributes"] = [attribute(a) for a in _sorted(attributes)]
    records = linked.metadata(obj.id)
    if records:
        out["metadata"] = [
            metadata(r) for r in sorted(records, key=lambda r: (r.last_action_date, str(r.id)))
        ]
    return out


def _plain(table: str, obj: Any, linked: Linked) -> dict[str, Any]:
    return _annotate(one_to_one(table, obj), obj, linked)


def _plains(table: str, objects: Iterable[Any], linked: Linked) -> list[dict[str, Any]]:
    return [_plain(table, o, linked) for o in _sorted(objects)]


def metadata(record: ChangeRecord) -> dict[str, Any]:
    """A change-history row as an HSDS metadata object."""
    return one_to_one("metadata", record)


def taxonomy(tax: Taxonomy) -> dict[str, Any]:
    """A taxonomy as HSDS (the /taxonomies items)."""
    return one_to_one("taxonomy", tax)


def taxonomy_term(term: TaxonomyTerm, *, detail: bool = True) -> dict[str, Any]:
    """A taxonomy term, with its taxonomy's name and (detail=True) the taxonomy itself."""
    parent_taxonomy = term.taxonomy if term.taxonomy_id else None
    name = parent_taxonomy.name if parent_taxonomy is not None else None
    out = one_to_one("taxonomy_term", term, {"taxonomy": name})
    if detail and parent_taxonomy is not None:
        out["taxonomy_detail"] = taxonomy(parent_taxonomy)
    return out


def attribute(attr: Attribute) -> dict[str, Any]:
    """An attribute with its taxonomy term nested, as HSDS JSON has it."""
    out = one_to_one("attribute", attr)
    out["taxonomy_term"] = taxonomy_term(attr.taxonomy_term)
    return out


def _phone(phone: Phone, linked: Linked) -> dict[str, Any]:
    out = one_to_one("phone", phone)
    out["languages"] = _plains("language", phone.languages, linked)
    return _annotate(out, phone, linked)


def _phones(phones: Iterable[Phone], linked: Linked) -> list[dict[str, Any]]:
    return [_phone(p, linked) for p in _sorted(phones)]


def _contact(contact: Contact, linked: Linked) -> dict[str, Any]:
    out = one_to_one("contact", contact)
    out["phones"] = _phones(linked.contact_phones(contact.id), linked)
    return _annotate(out, contact, linked)


def _contacts(contacts: Iterable[Contact], linked: Linked) -> list[dict[str, Any]]:
    return [_contact(c, linked) for c in _sorted(contacts)]


def _location_full(location: Location, linked: Linked) -> dict[str, Any]:
    out = one_to_one("location", location)
    out["languages"] = _plains("language", location.languages, linked)
    out["addresses"] = _plains("address", location.addresses, linked)
    out["contacts"] = _contacts(linked.location_contacts(location.id), linked)
    out["accessibility"] = _plains("accessibility", location.accessibility, linked)
    out["phones"] = _phones(location.phones, linked)
    out["schedules"] = _plains("schedule", location.schedules, linked)
    return _annotate(out, location, linked)


def _service_at_location_own(sal: ServiceAtLocation, linked: Linked) -> dict[str, Any]:
    out = one_to_one("service_at_location", sal)
    out["contacts"] = _contacts(sal.contacts, linked)
    out["phones"] = _phones(sal.phones, linked)
    out["schedules"] = _plains("schedule", sal.schedules, linked)
    out["location"] = _location_full(sal.location, linked)
    return _annotate(out, sal, linked)


def _program_item(program: Program | None) -> dict[str, Any] | None:
    return None if program is None else one_to_one("program", program)


def _service_full(service: Service, linked: Linked, *, with_locations: bool = True) -> dict:
    out = one_to_one("service", service)
    out["phones"] = _phones(service.phones, linked)
    out["schedules"] = _plains("schedule", service.schedules, linked)
    out["service_areas"] = _plains("service_area", service.service_areas, linked)
    if with_locations:
        out["service_at_locations"] = [
            _service_at_location_own(sal, linked) for sal in _sorted(service.service_at_locations)
        ]
    out["languages"] = _plains("language", service.languages, linked)
    out["organization"] = organization_list_item(service.organization)
    out["funding"] = _plains("funding", service.fundings, linked)
    out["cost_options"] = _plains("cost_option", service.cost_options, linked)
    if service.program is not None:
        out["program"] = _program_item(service.program)
    out["required_documents"] = _plains("required_document", service.required_documents, linked)
    out["contacts"] = _contacts(service.contacts, linked)
    return _annotate(out, service, linked)


def _organization_full(org: Organization, linked: Linked, services: str | None) -> dict:
    out = one_to_one("organization", org)
    out["funding"] = _plains("funding", org.fundings, linked)
    out["contacts"] = _contacts(org.contacts, linked)
    out["phones"] = _phones(org.phones, linked)
    out["locations"] = [_location_full(loc, linked) for loc in _sorted(org.locations)]
    out["programs"] = _plains("program", org.programs, linked)
    out["organization_identifiers"] = _plains(
        "organization_identifier", org.organization_identifiers, linked
    )
    _annotate(out, org, linked)
    if services is not None:
        out["services"] = _services(org.services, linked, services)
    return out


def _services(services: Iterable[Service], linked: Linked, form: str) -> list[dict[str, Any]]:
    if form == "full":
        return [_service_full(s, linked) for s in _sorted(services)]
    return [service_list_item(s) for s in _sorted(services)]


def _service_at_location_full(sal: ServiceAtLocation, linked: Linked) -> dict[str, Any]:
    out = _service_at_location_own(sal, linked)
    out["service"] = _service_full(sal.service, linked, with_locations=False)
    return out


# ------------------------------------------------------------------ public serializers


def service_list_item(service: Service) -> dict[str, Any]:
    """A service in an HSDS list: one-to-one fields, its organization and program."""
    out = one_to_one("service", service)
    out["organization"] = organization_list_item(service.organization)
    if service.program is not None:
        out["program"] = _program_item(service.program)
    return out


def service_minimal(service: Service) -> dict[str, Any]:
    """A service as `minimal=true` lists it: id and last modified time only."""
    return {"id": str(service.id), "last_modified": json_value(service.last_modified)}


def service_full(
    service: Service, linked: Linked | None = None, *, with_metadata: bool = False
) -> dict[str, Any]:
    """A fully nested service (GET /services/{id}, services.json)."""
    if linked is None:
        return services_full([service], with_metadata=with_metadata)[0]
    return _service_full(service, linked)


def services_full(
    services: Sequence[Service], *, with_metadata: bool = False, session: Session | None = None
) -> list[dict[str, Any]]:
    """Fully nested services for a page, with one bulk fetch of their loose children."""
    return with_linked(
        lambda linked: [_service_full(s, linked) for s in services],
        with_metadata=with_metadata,
        session=session,
    )


def organization_list_item(org: Organization) -> dict[str, Any]:
    """An organization in an HSDS list: its one-to-one fields."""
    return one_to_one("organization", org)


def organization_full(
    org: Organization, *, services: str | None = "list", with_metadata: bool = False
) -> dict[str, Any]:
    """A fully nested organization; its services as list items, full services, or none."""
    return organizations_full([org], services=services, with_metadata=with_metadata)[0]


def organizations_full(
    orgs: Sequence[Organization],
    *,
    services: str | None = "list",
    with_metadata: bool = False,
    session: Session | None = None,
) -> list[dict[str, Any]]:
    """Fully nested organizations for a page or an export batch."""
    return with_linked(
        lambda linked: [_organization_full(o, linked, services) for o in orgs],
        with_metadata=with_metadata,
        session=session,
    )


def organization_with_services(org: Organization, services: Sequence[dict]) -> dict[str, Any]:
    """An organization list item carrying already serialized services."""
    return {**organization_list_item(org), "services": list(services)}


def service_at_location_list_item(sal: ServiceAtLocation) -> dict[str, Any]:
    """A service at a location in an HSDS list: one-to-one fields, its location and service."""
    out = one_to_one("service_at_location", sal)
    out["location"] = one_to_one("location", sal.location)
    out["service"] = service_list_item(sal.service)
    return out


def service_at_location_full(sal: ServiceAtLocation, *, with_metadata: bool = False) -> dict:
    """A fully nested service at a location, its service nested too (without its other sites)."""
    return services_at_location_full([sal], with_metadata=with_metadata)[0]


def services_at_location_full(
    sals: Sequence[ServiceAtLocation], *, with_metadata: bool = False
) -> list[dict[str, Any]]:
    """Fully nested services-at-locations for a page."""
    return with_linked(
        lambda linked: [_service_at_location_full(s, linked) for s in sals],
        with_metadata=with_metadata,
    )
