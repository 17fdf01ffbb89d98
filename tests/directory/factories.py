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
from decimal import Decimal
from typing import Any

from directory.models import (
    Address,
    Attribute,
    CostOption,
    Language,
    Location,
    Organization,
    Phone,
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


def make_taxonomy(db, **overrides: Any) -> Taxonomy:
    n = _next()
    values = {"name": f"Test Taxonomy {n}", "description": "A taxonomy made by a test."}
    taxonomy = Taxonomy(**{**values, **overrides})
    db.session.add(taxonomy)
    db.session.flush()
    return taxonomy


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
    term = TaxonomyTerm(**{**values, **overrides})
    db.session.add(term)
    db.session.flush()
    return term


def make_organization(db, **overrides: Any) -> Organization:
    n = _next()
    values = {
        "name": f"Northside Community Center {n}",
        "description": "A neighbourhood center with a food pantry and benefits help.",
        "email": f"info{n}@northside.example.org",
        "website": "https://northside.example.org",
        "year_incorporated": 1987,
    }
    org = Organization(**{**values, **overrides})
    db.session.add(org)
    db.session.flush()
    return org


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
    location.addresses.append(
        Address(
            address_1=f"{100 + n} Main Street",
            city="Syracuse",
            state_province="NY",
            postal_code=postal_code,
            country="US",
            address_type="physical",
        )
    )
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
    service.phones.append(Phone(number="315-555-0100", type="voice", extension=12))
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
        service_area = ServiceArea(name=f"Around site {n}")
        set_service_area_extent(service_area, area, "geojson")
        service.service_areas.append(service_area)
    db.session.flush()
    if term is None:
        term = make_taxonomy_term(db)
    if term:
        db.session.add(
            Attribute(
                link_id=service.id,
                link_entity="service",
                link_type="category",
                taxonomy_term_id=term.id,
            )
        )
    db.session.flush()
    return service
