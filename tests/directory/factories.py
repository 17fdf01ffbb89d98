"""Small builders of directory records for tests, shared by every test folder.

Each builder adds to the session and flushes; the test commits when a request or a CLI command
must see the data. `make_service(db)` gives a realistic service: an organization, a physical
location with a point and a street address, a phone, Monday-Friday 9-5 hours, a taxonomy term
attribute, Spanish, a free cost option and a service area around the location. Override any
Service column by keyword; pass related records (organization=, location=, term=) to share them
between services, or False to leave them out.
"""

import itertools
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from directory.models import (
    Accessibility,
    Address,
    Attribute,
    ChangeRecord,
    Contact,
    CostOption,
    Funding,
    Language,
    Location,
    Organization,
    OrganizationIdentifier,
    Phone,
    Program,
    RequiredDocument,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    Taxonomy,
    TaxonomyTerm,
)
from directory.services import place_location, set_service_area_extent

SYRACUSE = (43.048122, -76.147424)  # a downtown point, ZIP 13202
_serial = itertools.count(1)


def _next() -> int:
    return next(_serial)


def square_around(latitude: float, longitude: float, half_side_degrees: float = 0.05) -> str:
    """A GeoJSON polygon centred on a point, for service areas."""
    lat, lon, d = latitude, longitude, half_side_degrees
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
    return json.dumps({"type": "Polygon", "coordinates": [[*ring, ring[0]]]})


def _add(db, model: type, values: dict[str, Any], overrides: dict[str, Any]):
    """A `model` row from the default `values`, any of them overridden, added and flushed."""
    row = model(**{**values, **overrides})
    db.session.add(row)
    db.session.flush()
    return row


def make_taxonomy(db, **overrides: Any) -> Taxonomy:
    n = _next()
    values = {"name": f"Test Taxonomy {n}", "description": "A taxonomy made by a test."}
    return _add(db, Taxonomy, values, overrides)


def make_taxonomy_term(
    db, *, taxonomy: Taxonomy | None = None, parent: TaxonomyTerm | None = None, **overrides: Any
) -> TaxonomyTerm:
    n = _next()
    taxonomy = taxonomy or (parent.taxonomy if parent else None) or make_taxonomy(db)
    values = {
        "name": f"Food Pantry {n}",
        "code": f"T-{n}",
        "description": "Free groceries to take home.",
        "taxonomy": taxonomy,
        "parent": parent,
    }
    return _add(db, TaxonomyTerm, values, overrides)


def make_organization(db, **overrides: Any) -> Organization:
    n = _next()
    values = {
        "name": f"Northside Community Center {n}",
        "description": "A neighbourhood center with a food pantry and benefits help.",
        "email": f"info{n}@northside.example.org",
        "website": "https://northside.example.org",
        "year_incorporated": 1987,
    }
    return _add(db, Organization, values, overrides)


def make_location(
    db,
    *,
    organization: Organization | None = None,
    latitude: float | None = SYRACUSE[0],
    longitude: float | None = SYRACUSE[1],
    postal_code: str = "13202",
    **overrides: Any,
) -> Location:
    n = _next()
    values = {"name": f"Main site {n}", "location_type": "physical", "organization": organization}
    location = Location(**{**values, **overrides})
    place_location(location, latitude, longitude)
    location.addresses.append(_street_address(n, "Syracuse", "NY", postal_code))
    db.session.add(location)
    db.session.flush()
    return location


def make_service(
    db,
    *,
    organization: Organization | None = None,
    location: Location | bool | None = None,
    term: TaxonomyTerm | bool | None = None,
    latitude: float = SYRACUSE[0],
    longitude: float = SYRACUSE[1],
    postal_code: str = "13202",
    area: str | bool | None = None,
    **overrides: Any,
) -> Service:
    """A service with everything a directory listing has (see the module docstring)."""
    n = _next()
    organization = organization or make_organization(db)
    values = {
        "name": f"Emergency Food Pantry {n}",
        "description": "Free groceries once a week; no ID needed.",
        "status": "active",
        "organization": organization,
        "email": f"pantry{n}@northside.example.org",
        "url": "https://northside.example.org/pantry",
        "minimum_age": Decimal("18"),
        "eligibility_description": "Adults living in the county.",
        "fees_description": "Free",
    }
    service = Service(**{**values, **overrides})
    db.session.add(service)
    service.phones.append(Phone(number="(315) 555-0100", type="voice", extension=12))
    service.schedules.append(
        Schedule(
            freq="WEEKLY",
            byday="MO,TU,WE,TH,FR",
            opens_at="09:00",
            closes_at="17:00",
            tz_name="America/New_York",
            description="Weekdays 9 to 5",
        )
    )
    service.languages.append(Language(name="Spanish", code="es"))
    service.cost_options.append(
        CostOption(option="Everything", amount=Decimal("0"), currency="USD")
    )
    if location is None:
        location = make_location(
            db,
            organization=organization,
            latitude=latitude,
            longitude=longitude,
            postal_code=postal_code,
        )
    if location:
        service.service_at_locations.append(ServiceAtLocation(location=location))
    if area is None:
        area = square_around(latitude, longitude)
    if area:
        _add_area(service, f"Around site {n}", area)
    if term is None:
        term = make_taxonomy_term(db)
    _categorize(db, service, [term] if term else [])
    return service


def _street_address(n: int, city: str, state: str, postal_code: str) -> Address:
    return Address(
        address_1=f"{100 + n} Main Street",
        city=city,
        state_province=state,
        postal_code=postal_code,
        country="US",
        address_type="physical",
    )


def _add_area(service: Service, name: str, geojson: str) -> None:
    service_area = ServiceArea(name=name)
    set_service_area_extent(service_area, geojson, "geojson")
    service.service_areas.append(service_area)


def _categorize(db, service: Service, terms) -> None:
    """File the service under each term (a category attribute), flushing around it."""
    db.session.flush()
    for term in terms:
        db.session.add(
            Attribute(
                link_id=service.id,
                link_entity="service",
                link_type="category",
                taxonomy_term_id=term.id,
            )
        )
    db.session.flush()


def make_listing(
    db,
    name: str,
    description: str,
    *,
    at: tuple[float, float] | None,
    postal_code: str,
    city: str,
    state: str,
    terms: tuple[TaxonomyTerm, ...] = (),
    hours: tuple[tuple[str, str, str], ...] = (("MO,TU,WE,TH,FR", "09:00", "17:00"),),
    tz_name: str | None = None,
    languages: tuple[str, ...] = ("English",),
    cost: Decimal | None = Decimal("0"),
    accessibility: str | None = None,
    area: str | None = None,
    organization: Organization | None = None,
    **overrides: Any,
) -> Service:
    """A service built only from what is given (no defaults borrowed from another region):
    one location at `at` (None: no point) with a street address, hours as (byday, opens,
    closes) in `tz_name`, languages by name, a cost (None: no cost option), an accessibility
    note, a service area (GeoJSON) and category terms."""
    organization = organization or make_organization(db, name=f"{name} Inc.")
    service = Service(name=name, description=description, organization=organization, **overrides)
    db.session.add(service)
    location = Location(name=f"{name} office", location_type="physical", organization=organization)
    if at is not None:
        place_location(location, *at)
    location.addresses.append(_street_address(_next(), city, state, postal_code))
    if accessibility:
        from directory.models import Accessibility

        location.accessibility.append(Accessibility(description=accessibility))
    service.service_at_locations.append(ServiceAtLocation(location=location))
    for byday, opens, closes in hours:
        service.schedules.append(
            Schedule(freq="WEEKLY", byday=byday, opens_at=opens, closes_at=closes, tz_name=tz_name)
        )
    for language in languages:
        service.languages.append(Language(name=language))
    if cost is not None:
        service.cost_options.append(CostOption(option="Service", amount=cost, currency="USD"))
    if area:
        _add_area(service, f"{name} area", area)
    _categorize(db, service, terms)
    return service


def name_change(
    service: Service, previous: str, at: datetime = datetime(2024, 3, 1, 15, 45, tzinfo=UTC)
) -> ChangeRecord:
    """A history row: an admin renamed the service from `previous` to its name now."""
    return ChangeRecord(
        resource_id=service.id,
        resource_type="service",
        last_action_date=at,
        last_action_type="update",
        field_name="name",
        previous_value=previous,
        replacement_value=service.name,
        updated_by="admin@example.org",
    )


def make_every_hsds_table(db) -> Service:
    """A service whose organization, sites and details fill every HSDS table at least once.

    For exports, imports and round trips: programs, identifiers, contacts with phones (on the
    organization, service, site and location), accessibility, funding, required documents, a
    holiday closure, a child taxonomy term, attributes on several kinds of object, history.
    """
    taxonomy = make_taxonomy(
        db, name="Every Table Taxonomy", uri="https://example.org/tax", version="2.1"
    )
    food = make_taxonomy_term(db, taxonomy=taxonomy, name="Food", code="F")
    pantry = make_taxonomy_term(
        db,
        parent=food,
        name="Pantry",
        code="F-1",
        language="en",
        term_uri="https://example.org/tax/F-1",
    )
    org = make_organization(
        db,
        alternate_name="Northside",
        legal_status="nonprofit",
        uri="https://northside.example.org/about",
        logo="https://northside.example.org/logo.png",
    )
    parent = make_organization(db, name="Northside Federation")
    org.parent_organization_id = parent.id
    program = Program(organization_id=org.id, name="Nutrition", description="Food programs.")
    db.session.add(program)
    db.session.add(
        OrganizationIdentifier(
            organization_id=org.id,
            identifier_scheme="US-EIN",
            identifier_type="EIN",
            identifier="12-3456789",
        )
    )
    db.session.add(Funding(organization_id=org.id, source="County grant"))
    db.session.flush()
    org_contact = Contact(
        organization_id=org.id,
        name="Director",
        title="Executive Director",
        email="director@northside.example.org",
    )
    db.session.add(org_contact)
    db.session.add(Phone(organization_id=org.id, number="(315) 555-0111", type="fax"))
    location = make_location(
        db,
        organization=org,
        description="Side door on Elm St.",
        transportation="Bus 12",
        external_identifier="SITE-7",
        external_identifier_type="local",
        url="https://northside.example.org/map",
    )
    location.addresses.append(
        Address(
            address_1="PO Box 12",
            city="Syracuse",
            state_province="NY",
            postal_code="13201",
            country="US",
            address_type="postal",
            attention="Intake",
        )
    )
    location.accessibility.append(
        Accessibility(description="Ramp", details="At the side door", url="https://example.org/a")
    )
    location.languages.append(Language(name="Arabic", code="ar", note="Tuesdays"))
    location.schedules.append(
        Schedule(
            freq="WEEKLY",
            byday="SA",
            opens_at="10:00",
            closes_at="12:00",
            timezone=Decimal("-5"),
            wkst="MO",
            interval=1,
            dtstart=date(2024, 1, 6),
            until=date(2026, 12, 31),
            count=100,
            notes="Saturday mornings",
            attending_type="in person",
        )
    )
    location_phone = Phone(number="(315) 555-0122", description="Front desk")
    location.phones.append(location_phone)
    location_phone.languages.append(Language(name="Spanish", code="es"))
    service = make_service(
        db,
        organization=org,
        location=location,
        term=pantry,
        program=program,
        alternate_name="The Pantry",
        interpretation_services="Phone interpreters",
        application_process="Walk in",
        wait_time="Same day",
        accreditations="State registered",
        licenses="Food handling",
        maximum_age=Decimal("120"),
        alert="Closed on Thanksgiving",
        assured_date=date(2024, 2, 1),
        assurer_email="checker@example.org",
        referral_capacity="waitlist",
    )
    sal = service.service_at_locations[0]
    sal.description = "Pantry in the basement"
    sal.schedules.append(
        Schedule(
            valid_from=date(2024, 11, 28),
            valid_to=date(2024, 11, 28),
            description="Closed for Thanksgiving",
        )
    )
    sal.phones.append(Phone(number="(315) 555-0133"))
    service.required_documents.append(
        RequiredDocument(document="Photo ID", uri="https://example.org/id")
    )
    service.fundings.append(Funding(source="Food bank"))
    service.cost_options[0].valid_from = date(2024, 1, 1)
    service.cost_options[0].amount_description = "Nothing to pay"
    service.service_areas.append(
        ServiceArea(
            name="Onondaga County",
            description="Text only",
            extent="Onondaga County, NY",
            extent_type="text",
        )
    )
    db.session.flush()
    db.session.add_all(
        [
            Contact(service_id=service.id, name="Pantry lead", email="pantry@example.org"),
            Contact(service_at_location_id=sal.id, name="Basement desk"),
            Contact(location_id=location.id, name="Site manager", department="Facilities"),
        ]
    )
    db.session.flush()
    db.session.add(Phone(contact_id=org_contact.id, number="(315) 555-0144", extension=3))
    db.session.add_all(
        [
            Attribute(
                link_id=location.id,
                link_entity="location",
                taxonomy_term_id=food.id,
                link_type="serves",
                value="yes",
            ),
            Attribute(link_id=org.id, link_entity="organization", taxonomy_term_id=food.id),
            name_change(service, "Pantry"),
        ]
    )
    db.session.flush()
    return service
