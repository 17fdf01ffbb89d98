"""Model → HSDS 3.0 JSON: valid against the published schemas, right types, bulk loading."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import event, select

from directory.hsds import serialize as hsds_json
from directory.models import (
    Attribute,
    Contact,
    Organization,
    Phone,
    Service,
    ServiceAtLocation,
    TaxonomyTerm,
)
from tests.directory.factories import (
    make_location,
    make_organization,
    make_service,
    make_taxonomy_term,
    name_change,
)
from tests.directory.hsds.schemas import assert_valid


def _load(db, model, id_, options):
    db.session.expunge_all()
    return db.session.scalars(select(model).where(model.id == id_).options(*options)).one()


class QueryCounter:
    """Counts SQL statements sent while it is active."""

    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def _count(self, *args, **kwargs):
        self.count += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


def test_full_service_validates_and_carries_every_child_with_json_types(db):
    service = make_service(db, minimum_age=Decimal("12.5"), maximum_age=Decimal("64"))
    service_id, organization_id = service.id, service.organization_id
    db.session.commit()

    data = hsds_json.service_full(_load(db, Service, service_id, hsds_json.SERVICE_FULL_OPTIONS))

    assert_valid("compiled/service.json", data)
    assert data["id"] == str(service_id)
    assert data["minimum_age"] == 12.5 and data["maximum_age"] == 64
    assert isinstance(data["maximum_age"], int)
    assert data["status"] == "active" and data["referral_capacity"] == "accepting"
    assert datetime.fromisoformat(data["last_modified"]).tzinfo is not None
    assert data["phones"][0]["number"] == "(315) 555-0100" and data["phones"][0]["extension"] == 12
    schedule = data["schedules"][0]
    assert (schedule["byday"], schedule["opens_at"], schedule["closes_at"]) == (
        "MO,TU,WE,TH,FR",
        "09:00",
        "17:00",
    )
    assert schedule["tz_name"] == "America/New_York"
    assert data["languages"][0]["code"] == "es"
    assert data["cost_options"][0]["amount"] == 0
    assert data["service_areas"][0]["extent_type"] == "geojson"
    assert "Polygon" in data["service_areas"][0]["extent"]
    sal = data["service_at_locations"][0]
    location = sal["location"]
    assert isinstance(location["latitude"], float) and location["latitude"] == 43.048122
    assert location["addresses"][0]["postal_code"] == "13202"
    assert data["organization"]["id"] == str(organization_id)
    assert "locations" not in data["organization"]  # one-to-one only inside a service
    (attribute,) = data["attributes"]
    assert attribute["link_entity"] == "service" and attribute["link_id"] == data["id"]
    term = attribute["taxonomy_term"]
    assert term["name"].startswith("Food Pantry")
    assert term["taxonomy_detail"]["name"] == term["taxonomy"]


def test_optional_fields_left_out_rather_than_null(db):
    service = make_service(db, description=None, email=None, url=None, minimum_age=None)
    db.session.commit()

    data = hsds_json.service_full(_load(db, Service, service.id, hsds_json.SERVICE_FULL_OPTIONS))

    assert {"description", "email", "url", "minimum_age", "program"}.isdisjoint(data)
    assert None not in data.values()
    assert_valid("compiled/service.json", data)


def test_service_list_item_has_one_to_one_fields_only(db):
    service = make_service(db)
    db.session.commit()

    item = hsds_json.service_list_item(
        _load(db, Service, service.id, hsds_json.SERVICE_LIST_OPTIONS)
    )

    assert_valid("compiled/service_list.json", item)
    assert not [k for k, v in item.items() if isinstance(v, list)]
    assert set(item["organization"]) <= set(hsds_json.table_fields("organization"))


def test_loosely_linked_children_are_nested(db):
    """Contacts of a location, phones of a contact, attributes on any object, change history."""
    service = make_service(db)
    location = service.service_at_locations[0].location
    contact = Contact(location_id=location.id, name="Ana Ruiz", email="ana@example.org")
    db.session.add(contact)
    db.session.flush()
    phone = Phone(contact_id=contact.id, number="315-555-0199")
    db.session.add(phone)
    accessible = make_taxonomy_term(db, name="Wheelchair accessible")
    db.session.flush()
    db.session.add(
        Attribute(link_id=location.id, link_entity="location", taxonomy_term_id=accessible.id)
    )
    db.session.add(name_change(service, "Old name", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)))
    db.session.commit()

    loaded = _load(db, Service, service.id, hsds_json.SERVICE_FULL_OPTIONS)
    data = hsds_json.service_full(loaded, with_metadata=True)

    assert_valid("compiled/service.json", data)
    nested_location = data["service_at_locations"][0]["location"]
    (nested_contact,) = nested_location["contacts"]
    assert nested_contact["name"] == "Ana Ruiz"
    assert nested_contact["phones"][0]["number"] == "315-555-0199"
    assert nested_location["attributes"][0]["taxonomy_term"]["name"] == "Wheelchair accessible"
    (record,) = data["metadata"]
    assert record["previous_value"] == "Old name"
    assert record["last_action_date"] == "2024-05-01T12:30:00Z"
    assert "metadata" not in hsds_json.service_full(loaded)  # history only when asked for


def test_serializing_a_page_costs_the_same_queries_for_one_service_or_many(db):
    def queries_for(count: int) -> int:
        ids = [make_service(db).id for _ in range(count)]
        db.session.commit()
        db.session.expunge_all()
        with QueryCounter(db.engine) as counter:
            services = db.session.scalars(
                select(Service).where(Service.id.in_(ids)).options(*hsds_json.SERVICE_FULL_OPTIONS)
            ).all()
            data = hsds_json.services_full(services, with_metadata=True)
        assert len(data) == count
        return counter.count

    assert 0 < queries_for(6) == queries_for(1)


def test_organization_full_and_list_validate(db):
    org = make_organization(db)
    make_service(db, organization=org)
    make_service(db, organization=org)
    make_location(db, organization=org)  # a site with no service yet
    db.session.commit()

    options = hsds_json.organization_options(full=True, services="list")
    full = hsds_json.organization_full(_load(db, Organization, org.id, options))
    assert_valid("compiled/organization.json", full)
    assert len(full["services"]) == 2 and len(full["locations"]) == 3
    assert not [k for k, v in full["services"][0].items() if isinstance(v, list)]

    options = hsds_json.organization_options(full=True, services="full")
    with_services = hsds_json.organization_full(
        _load(db, Organization, org.id, options), services="full"
    )
    assert_valid("compiled/organization.json", with_services)
    assert with_services["services"][0]["service_at_locations"]

    item = hsds_json.organization_list_item(_load(db, Organization, org.id, ()))
    assert_valid("compiled/organization_list.json", item)


def test_service_at_location_full_and_list_validate(db):
    service = make_service(db)
    service_id, sal_id = service.id, service.service_at_locations[0].id
    db.session.commit()

    full = hsds_json.service_at_location_full(
        _load(db, ServiceAtLocation, sal_id, hsds_json.SERVICE_AT_LOCATION_FULL_OPTIONS)
    )
    assert_valid("compiled/service_at_location.json", full)
    assert full["service"]["id"] == str(service_id)
    assert "service_at_locations" not in full["service"]
    assert full["location"]["addresses"]

    item = hsds_json.service_at_location_list_item(
        _load(db, ServiceAtLocation, sal_id, hsds_json.SERVICE_AT_LOCATION_LIST_OPTIONS)
    )
    assert_valid("compiled/service_at_location_list.json", item)
    assert item["location"]["latitude"] == 43.048122


def test_taxonomy_and_terms_validate(db):
    parent = make_taxonomy_term(db, name="Food")
    child = make_taxonomy_term(db, name="Food Pantry", parent=parent, term_uri=None)
    db.session.commit()

    term = db.session.get(TaxonomyTerm, child.id)
    data = hsds_json.taxonomy_term(term)
    assert_valid("taxonomy_term.json", data)
    assert data["parent_id"] == str(parent.id)
    assert data["taxonomy_id"] == str(term.taxonomy_id)
    assert data["taxonomy"] == term.taxonomy.name
    assert_valid("taxonomy.json", hsds_json.taxonomy(term.taxonomy))
    assert "taxonomy_detail" not in hsds_json.taxonomy_term(term, detail=False)


def test_json_values():
    assert hsds_json.json_value(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert hsds_json.json_value(Decimal("-76.147424")) == -76.147424
    assert hsds_json.json_value(Decimal("18.00")) == 18
    assert hsds_json.json_value(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05Z"
    assert hsds_json.json_value(datetime(2024, 1, 2).date()) == "2024-01-02"
