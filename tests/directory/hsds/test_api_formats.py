"""What /hsds/ publishes validates against the HSDS 3.0 schemas with formats checked (uuid, uri,
email, date-time), on imported messy exports and on values stored before the import checked them
or typed by people, not only on tidy demo data."""

import json
import uuid
from pathlib import Path

import pytest
from jsonschema.exceptions import FormatError
from sqlalchemy import select

from directory.hsds.importing import import_path
from directory.models import (
    Accessibility,
    Contact,
    Location,
    Organization,
    Service,
    TaxonomyTerm,
)
from tests.directory.hsds.schemas import assert_valid, assert_valid_page, format_checker

IMPORTS = Path(__file__).resolve().parents[2] / "data" / "import"


@pytest.mark.parametrize(
    ("form", "value"),
    [
        ("uri", "www.example.org"),
        ("uri", "example.org"),
        ("uri", "https://example.org/a b"),
        ("email", "not-an-email"),
        ("email", "a@b"),
        ("email", "a b@example.org"),
        ("date-time", "2024-03-01"),
        ("date-time", "2024-13-01T00:00:00Z"),
        ("date-time", "2024-03-01T10:00:00"),  # no offset
        ("uuid", "12"),
    ],
)
def test_the_format_checker_refuses_what_is_not_of_its_format(form, value):
    with pytest.raises(FormatError):
        format_checker().check(value, form)


@pytest.mark.parametrize(
    ("form", "value"),
    [
        ("uri", "https://www.example.org"),
        ("uri", "urn:isbn:0451450523"),
        ("email", "info@example.org"),
        ("date-time", "2024-03-01T10:00:00Z"),
        ("date-time", "2024-03-01T10:00:00.5-05:00"),
        ("uuid", "0b9b3f0e-5d3c-4c7e-9d58-3c1f2a0f0001"),
    ],
)
def test_the_format_checker_accepts_what_is(form, value):
    format_checker().check(value, form)


def _stored_before_the_checks(db) -> dict[str, uuid.UUID]:
    """Values an older import stored as-is, or a person typed: published only if valid."""
    org = db.session.scalars(select(Organization).where(Organization.name == "Hope Pantry")).one()
    org.website, org.email, org.uri = "www.old-hope.example", "not-an-email", "hope pantry"
    service = db.session.scalars(select(Service).where(Service.name == "Food Pantry")).first()
    service.url, service.email = "javascript:alert(1)", "Pantry <PANTRY@HOPE.EXAMPLE>"
    service.assurer_email = "checker at example dot org"
    location = db.session.scalars(select(Location).where(Location.name == "Hope Main")).one()
    location.url = "hope.example/map"
    location.accessibility.append(Accessibility(description="Ramp", url="n/a"))
    service.contacts.append(Contact(name="Old contact", email="old@@example.org"))
    term = db.session.scalars(select(TaxonomyTerm)).first()
    term.term_uri = "BD-1800 food"
    db.session.commit()
    return {"org": org.id, "service": service.id, "location": location.id}


def _walk(client) -> list[tuple[str, str, dict]]:
    """(url, schema, object) for every object every /hsds/ endpoint returns, lists and items."""
    found: list[tuple[str, str, dict]] = []

    def page(url: str, schema: str | None) -> list[dict]:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_json()
        assert_valid_page(body)
        assert body["total_items"] <= 100, "raise per_page: the walk must see every row"
        if schema:
            found.extend((url, schema, item) for item in body["contents"])
        return body["contents"]

    def one(url: str, schema: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, url
        found.append((url, schema, response.get_json()))

    per = "per_page=100"
    services = page(f"/hsds/services?{per}", "compiled/service_list.json")
    page(f"/hsds/services?full=true&{per}", "compiled/service.json")
    for item in page(f"/hsds/services?minimal=true&{per}", None):
        format_checker().check(item["id"], "uuid")
        format_checker().check(item["last_modified"], "date-time")
    for line in (
        client.get("/hsds/services?format=ndjson&full=true").get_data(as_text=True).splitlines()
    ):
        found.append(("/hsds/services?format=ndjson", "compiled/service.json", json.loads(line)))
    for service in services:
        one(f"/hsds/services/{service['id']}", "compiled/service.json")
    organizations = page(f"/hsds/organizations?{per}", "compiled/organization_list.json")
    page(f"/hsds/organizations?full=true&{per}", "compiled/organization.json")
    page(f"/hsds/organizations?full_service=true&{per}", "compiled/organization_list.json")
    for org in organizations:
        one(f"/hsds/organizations/{org['id']}", "compiled/organization.json")
        one(f"/hsds/organizations/{org['id']}?full_service=true", "compiled/organization.json")
    for taxonomy in page(f"/hsds/taxonomies?{per}", "taxonomy.json"):
        one(f"/hsds/taxonomies/{taxonomy['id']}", "taxonomy.json")
    for term in page(f"/hsds/taxonomy_terms?{per}", "taxonomy_term.json"):
        one(f"/hsds/taxonomy_terms/{term['id']}", "taxonomy_term.json")
    sites = page(f"/hsds/service_at_locations?{per}", "compiled/service_at_location_list.json")
    page(f"/hsds/service_at_locations?full=true&{per}", "compiled/service_at_location.json")
    for site in sites:
        one(f"/hsds/service_at_locations/{site['id']}", "compiled/service_at_location.json")
    return found


def test_every_hsds_response_validates_with_formats_after_importing_messy_exports(db, client):
    for package in ("legacy_values", "legacy_messy", "v3_json"):
        import_path(IMPORTS / package)
        db.session.commit()
    ids = _stored_before_the_checks(db)

    objects = _walk(client)

    assert len(objects) > 60
    for url, schema, data in objects:
        try:
            assert_valid(schema, data)
        except AssertionError as exc:
            raise AssertionError(f"{url}: {exc}") from None
    # Old values are published in their normal form when they have one, else left out.
    org = client.get(f"/hsds/organizations/{ids['org']}").get_json()
    assert org["website"] == "https://www.old-hope.example"
    assert "email" not in org and "uri" not in org
    service = client.get(f"/hsds/services/{ids['service']}").get_json()
    assert "url" not in service and "assurer_email" not in service
    assert service["email"] == "PANTRY@hope.example"
    (site,) = [s for s in service["service_at_locations"] if s["location"]["name"] == "Hope Main"]
    assert site["location"]["url"] == "https://hope.example/map"
    ramp = [a for a in site["location"]["accessibility"] if a["description"] == "Ramp"]
    assert ramp and "url" not in ramp[0]
    contact = [c for c in service["contacts"] if c["name"] == "Old contact"]
    assert contact and "email" not in contact[0]
