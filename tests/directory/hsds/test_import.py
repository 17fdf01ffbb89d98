"""`flask directory import-hsds PATH`: HSDS 3.0 JSON and CSV, legacy 1.x CSV, messy 211 exports."""

import json
import shutil
import uuid
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text

from directory.hsds.export import export_package
from directory.hsds.importing import import_path
from directory.hsds.importing.records import MODELS, TABLE_ORDER
from directory.hsds.importing.values import IdMapper
from directory.models import (
    Address,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    TaxonomyTerm,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "import"
MESSY = DATA / "legacy_messy"
V3_JSON = DATA / "v3_json"


def _counts(db) -> dict[str, int]:
    return {
        table: db.session.scalar(select(func.count()).select_from(MODELS[table]))
        for table in TABLE_ORDER
    }


def _service(db, name: str) -> Service:
    return db.session.scalars(select(Service).where(Service.name == name)).one()


def _reasons(report) -> dict[str, str]:
    return {f"{i.origin.file} {i.origin.where}": i.reason for i in report.rejected}


def _import(db, path, **options):
    report = import_path(path, **options)
    db.session.commit()
    return report


# --- HSDS 1.x -----------------------------------------------------------------------------------


def test_legacy_simple_sample_imports_services_locations_and_phones(db, shared_data):
    report = _import(db, shared_data / "data/hsds-1.x-sample/simple")

    assert report.format == "HSDS 1.x CSV"
    assert report.dataset == "hsds_simple_sample"
    assert report.rejected == []
    for table, created in {"organization": 10, "service": 13, "location": 10,
                           "service_at_location": 13, "phone": 5}.items():  # fmt: skip
        assert report.count(table).created == created, table
    helpline = _service(db, "Never Homeless Helpline")
    assert helpline.organization.name == "Sanctuary Example City"
    assert helpline.service_at_locations[0].location.name == "Sanctuary on 5th Street"
    laundry = _service(db, "Bubbles at The Cross")
    assert [p.number for p in laundry.phones] == ["(223) 4567 12534"]
    assert sorted((lang.name, lang.code) for lang in laundry.phones[0].languages) == [
        ("English", "en"),
        ("Spanish", "es"),
    ]
    office = db.session.scalars(
        select(Location).where(Location.name == "4830 Highland Drive")
    ).one()
    assert (office.latitude, office.longitude) == (Decimal("39.428192"), Decimal("-119.897426"))
    assert office.geom is not None
    assert office.dataset == "hsds_simple_sample"


def test_legacy_all_resources_sample_imports_schedules_taxonomy_and_the_rest(db, shared_data):
    report = _import(db, shared_data / "data/hsds-1.x-sample/all_resources")

    assert report.rejected == []
    helpline = _service(db, "Never Homeless Helpline")
    weekly = sorted((s for s in helpline.schedules if s.valid_from is None), key=lambda s: s.byday)
    assert [(s.freq, s.byday, s.opens_at, s.closes_at) for s in weekly] == [
        ("WEEKLY", "MO", "09:00", "17:00"),
        ("WEEKLY", "TU", "09:00", "17:00"),
        ("WEEKLY", "WE", "09:00", "17:00"),
    ]
    holiday = [s for s in helpline.schedules if s.valid_from is not None]
    assert [(h.valid_from, h.valid_to, h.opens_at) for h in holiday] == [
        (date(2019, 12, 24), date(2019, 12, 26), None)
    ]
    assert holiday[0].service_at_location_id == helpline.service_at_locations[0].id
    # The 1.x taxonomy row with its parent (named only by parent_id and parent_name), under AIRS.
    term = db.session.scalars(select(TaxonomyTerm).where(TaxonomyTerm.name == "Taxonomy A")).one()
    assert term.parent is not None and term.parent.name == "Parent taxonomy of A"
    assert term.taxonomy.name == "AIRS" and term.parent.taxonomy.name == "AIRS"
    # HSDS 3.0 dropped eligibility and payments: they land in the service's own text fields.
    assert helpline.eligibility_description == "adult"
    assert helpline.fees_description == "Payment accepted: cash, credit card."
    location = helpline.service_at_locations[0].location
    assert sorted((a.address_type, a.city) for a in location.addresses) == [
        ("physical", "New York City"),
        ("postal", "New York City"),
    ]
    assert [a.description for a in location.accessibility] == ["disabled_parking"]
    assert sorted(lang.name for lang in helpline.languages) == ["English", "Spanish"]
    assert [d.document for d in helpline.required_documents] == ["Sample required document"]
    assert [a.name for a in helpline.service_areas] == ["Sample service area"]
    assert [c.name for c in helpline.contacts] == ["Contact 1"]
    assert helpline.organization.organization_identifiers[0].identifier == "574374770"
    # The program's id is not a UUID (it is cut short in the sample): it gets a derived one.
    program_id = IdMapper("all_resources")("program", "7c92d010-1b0a-11e9-b56e-0800200c9a")
    assert helpline.organization.programs[0].id == program_id


def test_taxonomy_terms_become_service_attributes_with_their_parents(db):
    _import(db, MESSY)

    pantry = _service(db, "Food Pantry")
    terms = {a.taxonomy_term.code: a.taxonomy_term for a in pantry.attributes}
    assert set(terms) == {"BD-1800.2000", "BD-1800"}  # services_taxonomy.csv + taxonomy_ids
    assert all(a.link_entity == "service" for a in pantry.attributes)
    chain = []
    term = terms["BD-1800.2000"]
    while term is not None:
        chain.append(term.name)
        term = term.parent
    assert chain == ["Food Pantries", "Food", "Basic Needs"]
    assert terms["BD-1800"].taxonomy.name == "AIRS"
    shelter = _service(db, "Emergency Beds")
    housing = shelter.attributes[0].taxonomy_term
    assert (housing.code, housing.parent.name) == ("BH-1800", "Basic Needs Parent")


# --- messy 211 exports --------------------------------------------------------------------------


def test_messy_times_weekdays_and_holidays_become_hsds_3_schedules(db):
    report = _import(db, MESSY)

    pantry = _service(db, "Food Pantry")
    weekly = sorted(
        (s.byday, s.opens_at, s.closes_at) for s in pantry.schedules if s.valid_from is None
    )
    assert weekly == [
        ("MO", "09:00", "17:00"),  # weekday 1, "9:00am"-"5:00pm"
        ("TH", "09:00", "17:00"),  # "Thu", "9:00am - 5:00pm" in opens_at alone
        ("TU", "09:00", "12:00"),  # "Tuesday", "9 AM"-"noon"
        ("WE", "13:00", "17:30"),  # "wed ", "1:00 p.m."-"5:30 p.m."
    ]
    assert {s.freq for s in pantry.schedules if s.valid_from is None} == {"WEEKLY"}
    closure = [s for s in pantry.schedules if s.valid_from is not None]
    assert [(c.valid_from, c.valid_to, c.opens_at) for c in closure] == [
        (date(2024, 12, 24), date(2024, 12, 26), None)
    ]
    beds = _service(db, "Emergency Beds")
    regular = [s for s in beds.schedules if s.valid_from is None]
    assert [(s.byday, s.opens_at, s.closes_at) for s in regular] == [
        ("MO,TU,WE,TH,FR", "00:00", "23:59")  # "Mon-Fri", "24 hours"; Saturday "closed" skipped
    ]
    warnings = [str(w) for w in report.warnings]
    assert any("row 6 (id 64): marked closed on Saturday" in w for w in warnings)
    reasons = _reasons(report)
    assert reasons["regular_schedules.csv row 8"] == "'Funday' is not a day of the week"
    assert reasons["regular_schedules.csv row 9"] == "'25:99' is not a time"


def test_messy_coordinates_keep_the_location_without_a_point_and_say_so(db):
    report = _import(db, MESSY)

    locations = {loc.name: loc for loc in db.session.scalars(select(Location))}
    assert len(locations) == 6  # none dropped
    main = locations["Main Pantry"]
    assert (main.latitude, main.longitude) == (Decimal("43.048122"), Decimal("-76.147424"))
    swapped = locations["Westside Shelter"]  # -76.15, 43.05 with a Syracuse address
    assert (swapped.latitude, swapped.longitude) == (Decimal("43.05"), Decimal("-76.15"))
    assert swapped.geom is not None
    for name in ("Overflow Site", "Legal Office", "Satellite Office"):  # 0,0 / 200 / "not known"
        assert locations[name].latitude is None and locations[name].geom is None, name
        assert locations[name].service_at_locations, name  # still offered there
    warnings = {f"{w.origin.where}": w.reason for w in report.warnings if w.table == "location"}
    assert "placeholder" in warnings["row 4"] and "no map point" in warnings["row 4"]
    assert "outside -90..90" in warnings["row 5"]
    assert "'not known' is not a number" in warnings["row 6"]
    assert "swapped back" in warnings["row 3"]


def test_messy_text_encodings_and_spreadsheet_damage_are_cleaned(db):
    report = _import(db, MESSY)

    cafe = db.session.scalars(select(Organization).where(Organization.name.like("Caf%"))).one()
    assert cafe.name == "Café Hope Pantry"  # Windows-1252 file, trailing space
    assert cafe.description == "“Neighbors’ pantry” for everyone"
    assert cafe.year_incorporated == 1997  # "1997-01-01"
    assert cafe.organization_identifiers[0].identifier == "16-1234567"
    assert any("read as cp1252" in str(w) for w in report.warnings)
    pantry = _service(db, "Food Pantry")
    assert pantry.status == "active"  # "Active"
    assert pantry.is_free  # "Free"
    assert pantry.eligibility_description == "adult, family"
    assert pantry.description == "Groceries once a week"
    phone = db.session.scalars(select(Phone).where(Phone.number == "(315) 555-0100")).one()
    assert phone.extension == 12  # "x12"
    assert sorted(lang.code for lang in phone.languages) == ["en", "es"]  # "en, es"
    intake = db.session.scalars(select(Phone).where(Phone.number == "(315) 555-0111")).one()
    assert intake.description == "Intake"  # 1.x department
    assert sorted(lang.name for lang in intake.languages) == ["English", "Spanish"]
    addresses = {a.address_1: a for a in db.session.scalars(select(Address))}
    assert addresses["100 Main St"].country == "US"  # "USA"
    assert addresses["100 Main St"].address_2 == "Suite 2, Rear door"  # address_3 kept
    assert addresses["1 Court Sq"].postal_code == "07102"  # Excel dropped the zero
    assert addresses["9 Elm St"].country == "CA"
    defense = _service(db, "Eviction Defense")
    assert defense.status == "temporarily closed"
    assert defense.fees_description == "$0\nPayment accepted: cash."
    assert sorted((s.byday, s.opens_at, s.closes_at, s.description) for s in defense.schedules) == [
        ("MO", "09:00", "12:00", None),  # "9:00am-12:00pm; 1:00pm-5:00pm": two spans
        ("MO", "13:00", "17:00", None),
        ("SU", None, None, "By appointment"),
        ("TU", "09:00", "17:00", None),  # "9", "5": nine to five, not five in the morning
        ("WE", "09:00", "17:00", None),  # "9:00 AM EST"
    ]
    beds = _service(db, "Emergency Beds")
    assert sorted(lang.name for lang in beds.languages) == ["English", "Haitian Creole"]


# --- bad rows -----------------------------------------------------------------------------------


def test_bad_rows_are_listed_with_reasons_and_the_good_rows_import(db):
    report = _import(db, MESSY)

    reasons = _reasons(report)
    assert reasons["organizations.csv row 5"] == "no name"
    assert reasons["services.csv row 5"].startswith("status: 'sort of open' is not one of")
    # Rows that depend on a rejected row are rejected, saying which and why.
    assert reasons["services.csv row 4"] == (
        "its organization (id 3) was rejected (organizations.csv row 5)"
    )
    assert reasons["services_at_location.csv row 5"] == (
        "its service (id 12) was rejected (services.csv row 4)"
    )
    assert reasons["phones.csv row 4"] == "its service (id 12) was rejected (services.csv row 4)"
    assert "services.csv row 7" not in reasons  # kept under a placeholder organization
    assert reasons["services_at_location.csv row 8"] == (
        "its location (id 777) is not in the package or the directory"
    )
    assert reasons["phones.csv row 5"] == "no number"
    assert reasons["physical_addresses.csv row 6"].endswith("'Atlantis' is not a two-letter ISO "
                                                            "3166 code")  # fmt: skip
    assert report.count("service").rejected == 2
    assert report.count("service").created == 4
    names = set(db.session.scalars(select(Service.name)))
    assert names == {"Food Pantry", "Emergency Beds", "Eviction Defense", "Lost Service"}
    # A location whose organization was rejected stays, without the link.
    nameless = db.session.scalars(select(Location).where(Location.name == "Nameless Place")).one()
    assert nameless.organization_id is None


def test_bad_objects_in_json_are_rejected_one_by_one(db):
    report = _import(db, V3_JSON)

    reasons = _reasons(report)
    assert reasons["services.json [1]"] == "no name"
    assert reasons["services.json [2]"].startswith("status: 'gone' is not one of")
    assert reasons["services.json [3]"] == "expected a JSON object"
    assert reasons["services.json [0].phones[1]"] == "no number"
    assert reasons["services.json [0].schedules[1]"] == "byday: 'XX' is not a day of the week"
    meals = _service(db, "Hot Meals")
    assert [p.number for p in meals.phones] == ["(315) 555-0199"]
    assert [(s.byday, s.tz_name) for s in meals.schedules] == [
        ("MO,TU,WE,TH,FR", "America/New_York")
    ]
    assert meals.referral_capacity == "waitlist"
    term = meals.attributes[0].taxonomy_term
    assert (term.code, term.taxonomy.name) == ("BD-5000", "Test Categories")
    site = meals.service_at_locations[0].location
    assert (site.latitude, site.longitude) == (Decimal("43.07"), Decimal("-76.14"))  # swapped back
    assert [(s.byday, s.opens_at) for s in site.schedules] == [("SA", "10:00")]


def test_values_the_database_would_refuse_are_cleaned_or_dropped_with_a_warning(db, tmp_path):
    service = {
        "id": "0b9b3f0e-5d3c-4c7e-9d58-3c1f2a0f0001",
        "name": "Clinic\u0000 Night",
        "status": "Active",
        "minimum_age": "18 years",
        "maximum_age": "12",
        "organization": {"id": "0b9b3f0e-5d3c-4c7e-9d58-3c1f2a0f0002", "name": "O" * 600},
        "cost_options": [
            {"id": "0b9b3f0e-5d3c-4c7e-9d58-3c1f2a0f0003", "amount": "35.125", "currency": "$"}
        ],  # fmt: skip
        "schedules": [
            {
                "id": "0b9b3f0e-5d3c-4c7e-9d58-3c1f2a0f0004",
                "byday": "MO",
                "opens_at": "9am",
                "closes_at": "5pm",
                "count": "99999999999",
                "timezone": "-05:00",
                "tz_name": "Mars/Olympus",
            }
        ],  # fmt: skip
    }
    path = tmp_path / "services.json"
    path.write_text(json.dumps([service]))

    report = _import(db, path)
    again = _import(db, path)

    assert report.rejected == [] and not again.changed()
    clinic = db.session.get(Service, uuid.UUID(service["id"]))
    assert clinic.name == "Clinic Night" and clinic.status == "active"
    assert clinic.minimum_age is None and clinic.maximum_age is None  # 18 > 12: both dropped
    assert len(clinic.organization.name) == 500
    assert (clinic.cost_options[0].amount, clinic.cost_options[0].currency) == (
        Decimal("35.13"),
        "USD",
    )
    schedule = clinic.schedules[0]
    assert (schedule.opens_at, schedule.closes_at, schedule.count) == ("09:00", "17:00", None)
    assert (schedule.timezone, schedule.tz_name) == (Decimal("-5"), None)
    warnings = " | ".join(str(w) for w in report.warnings)
    for expected in (
        "minimum_age 18.00 is above maximum_age",
        "name cut to 500 characters",
        "count: '99999999999' is too large",
        "'Mars/Olympus' is not an IANA",
    ):
        assert expected in warnings


# --- idempotence --------------------------------------------------------------------------------


@pytest.mark.parametrize("package", ["legacy_messy", "v3_json", "all_resources", "spec_csv"])
def test_importing_the_same_package_twice_updates_nothing_and_duplicates_nothing(
    db, shared_data, package
):
    path = {
        "legacy_messy": MESSY,
        "v3_json": V3_JSON,
        "all_resources": shared_data / "data/hsds-1.x-sample/all_resources",
        "spec_csv": shared_data / "hsds/spec-3.0/examples/csv",
    }[package]
    first = _import(db, path)
    stored = _counts(db)

    second = _import(db, path)

    assert _counts(db) == stored
    for table, counts in second.counts.items():
        before = first.counts[table]
        assert counts.created == counts.updated == counts.removed == 0, table
        assert counts.unchanged == before.created + before.updated + before.unchanged, table
        assert counts.rejected == before.rejected, table
    assert [str(i) for i in second.rejected] == [str(i) for i in first.rejected]


def test_reimport_updates_changed_records_and_removes_children_no_longer_listed(db, tmp_path):
    package = tmp_path / "county"
    shutil.copytree(MESSY, package)
    _import(db, package)
    pantry = _service(db, "Food Pantry")
    pantry.referral_capacity = "not_accepting"  # set by the agency in our app
    db.session.commit()

    services = (package / "services.csv").read_text(encoding="utf-8-sig")
    (package / "services.csv").write_text(
        services.replace("Groceries once a week", "Groceries twice a week"), encoding="utf-8"
    )
    services = (package / "services.csv").read_text().splitlines()
    (package / "services.csv").write_text(
        "\n".join(line for line in services if not line.startswith("11,")) + "\n"
    )
    schedules = (package / "regular_schedules.csv").read_text().splitlines()
    (package / "regular_schedules.csv").write_text(
        "\n".join(line for line in schedules if not line.startswith("62,")) + "\n"
    )
    report = _import(db, package)

    assert report.count("service").updated == 1
    assert report.count("service").unchanged == 2
    assert report.count("service").removed == 0  # Emergency Beds left out: kept, retired
    assert report.count("service").retired == 1
    assert _service(db, "Emergency Beds").status == "inactive"
    assert report.count("schedule").removed == 1
    db.session.expire_all()
    pantry = _service(db, "Food Pantry")
    assert pantry.description == "Groceries twice a week"
    assert "WE" not in {s.byday for s in pantry.schedules}
    assert pantry.referral_capacity == "not_accepting"  # a 211 export doesn't reset it


def test_non_uuid_ids_are_derived_per_dataset_and_uuids_are_kept(db, runner):
    result = runner.invoke(args=["directory", "import-hsds", str(MESSY), "--dataset", "onondaga"])
    assert result.exit_code == 0, result.output

    pantry = _service(db, "Food Pantry")
    assert pantry.id == IdMapper("onondaga")("service", "10")
    assert pantry.dataset == pantry.organization.dataset == "onondaga"
    db.session.remove()
    result = runner.invoke(args=["directory", "import-hsds", str(MESSY), "--dataset", "cayuga"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).where(Service.name == "Food Pantry")) == 2

    _import(db, V3_JSON)
    meals = _service(db, "Hot Meals")
    assert meals.id == uuid.UUID("6a1f7c36-7f55-4c64-9c1e-2a8d7a4b2001")
    assert meals.dataset == "v3_json"


# --- HSDS 3.0 -----------------------------------------------------------------------------------


def test_hsds_3_json_examples_import_nested_objects(db, shared_data):
    examples = shared_data / "hsds/spec-3.0/examples"
    report = _import(db, examples / "service_full.json")

    assert report.format == "HSDS 3.0 JSON"
    assert report.rejected == []
    service = db.session.get(Service, uuid.UUID("ac148810-d857-441c-9679-408f346de14b"))
    assert service.organization.name == "Example Organization Inc."
    assert service.program.name == "Community Mental Health Support"
    assert service.minimum_age == 12 and service.maximum_age == 100
    assert service.fees_description.startswith("Non-NHS patients")
    sal = service.service_at_locations[0]
    location = sal.location
    assert location.name == "MyCity Civic Center"
    assert [a.city for a in location.addresses] == ["MyCity"]
    assert location.latitude is None and location.geom is None  # 100, 101 in the example
    # One phone nested in five places is one phone with five links.
    phone = db.session.get(Phone, uuid.UUID("1554f2e2-a373-45db-a3fa-9fc48a61c15e"))
    assert (phone.service_id, phone.location_id, phone.service_at_location_id) == (
        service.id,
        location.id,
        sal.id,
    )
    assert phone.organization_id == service.organization_id and phone.contact_id is not None
    assert [lang.name for lang in phone.languages] == ["Urdu"]
    schedule = db.session.get(Schedule, uuid.UUID("48102e86-bb50-41c4-8f1e-e269368c41d1"))
    assert (schedule.byday, schedule.opens_at, schedule.timezone) == ("TH,FR", "10:00:00", 3)
    attribute = service.attributes[0]
    assert attribute.link_entity == "service" and attribute.link_id == service.id
    assert attribute.taxonomy_term.taxonomy.id == uuid.UUID("5c4d79d7-cc55-470e-9f1f-8cad074e4892")
    area = db.session.get(ServiceArea, uuid.UUID("381c64f1-a724-4884-9c21-ac96c21cca3e"))
    assert (area.extent, area.geom) == ("extent", None)  # not GeoJSON: text, no shape
    assert {w.table for w in report.warnings} >= {"location", "service_area"}

    for name in ("organization_full.json", "service_at_location_full.json", "location.json",
                 "service_list.json", "organization_list.json", "taxonomy_term_list.json",
                 "taxonomy_list.json", "service_at_location_list.json"):  # fmt: skip
        again = _import(db, examples / name)
        assert again.rejected == [], name
    assert db.session.scalar(select(func.count()).select_from(Service)) == 1
    assert db.session.scalar(select(func.count()).select_from(Phone)) == 1


def test_hsds_3_csv_example_imports(db, shared_data):
    report = _import(db, shared_data / "hsds/spec-3.0/examples/csv")

    assert report.format == "HSDS 3.0 CSV"
    assert report.dataset == "examples"  # the descriptor's name is the template's own
    for table in ("organization", "service", "location", "service_at_location", "phone",
                  "schedule", "address", "language", "contact", "cost_option", "funding",
                  "taxonomy", "taxonomy_term", "metadata"):  # fmt: skip
        assert report.count(table).created == 1, table
    # The example's attribute says link_entity "link_entity": it is refused, with the reason.
    assert [(i.table, i.reason) for i in report.rejected] == [
        ("attribute", "link_entity: 'link_entity' is not an HSDS table")
    ]
    service = _service(db, "Community Counselling")
    assert service.organization.name == "Example Organization Inc."
    assert [p.number for p in service.phones] == ['"+44 1234 234567"']
    assert service.cost_options[0].amount == 35 and service.cost_options[0].currency == "GBP"


def test_a_zip_of_a_package_imports_like_the_folder(db, tmp_path):
    archive = tmp_path / "county-export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in MESSY.iterdir():
            zipped.write(path, f"export/{path.name}")

    report = _import(db, archive)

    assert report.dataset == "county-export"
    assert report.count("service").created == 4


def test_datapackage_resources_are_found_where_the_descriptor_says(db, tmp_path, shared_data):
    examples = shared_data / "hsds/spec-3.0/examples/csv"
    package = tmp_path / "pkg"
    (package / "data").mkdir(parents=True)
    resources = []
    for path in sorted(examples.glob("*.csv")):
        shutil.copy(path, package / "data" / path.name)
        resources.append({"name": path.stem.rstrip("s"), "path": f"data/{path.name}"})
    (package / "datapackage.json").write_text(
        json.dumps({"name": "county-211", "version": "3.0.0", "resources": resources})
    )

    report = _import(db, package)

    assert (report.format, report.dataset) == ("HSDS 3.0 CSV", "county-211")
    assert report.count("service").created == 1
    assert _service(db, "Community Counselling").dataset == "county-211"


def test_a_json_bundle_of_nested_objects_by_table_imports(db, tmp_path):
    services = json.loads((V3_JSON / "services.json").read_text())[:1]
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"services": services, "taxonomies": []}))

    report = _import(db, bundle)

    assert report.dataset == "bundle"
    assert _service(db, "Hot Meals").phones[0].number == "(315) 555-0199"


def test_round_trip_of_imported_data_through_our_export(db, tmp_path, shared_data):
    """Import messy and sample data, export, import the export into an empty directory,
    export again: the same files."""
    _import(db, MESSY)
    _import(db, shared_data / "data/hsds-1.x-sample/all_resources")
    _import(db, shared_data / "hsds/spec-3.0/examples/service_full.json")
    export_package(tmp_path / "first")

    for source in ("json", "csv"):
        for table in reversed(TABLE_ORDER):
            db.session.execute(delete(MODELS[table]))
        db.session.commit()
        report = _import(db, tmp_path / "first" / source)
        assert [str(i) for i in report.rejected] == [], source
        export_package(tmp_path / source)
        for name in ("services.json", "organizations.json", "taxonomy_terms.json"):
            first = json.loads((tmp_path / "first" / "json" / name).read_text())
            again = json.loads((tmp_path / source / "json" / name).read_text())
            if source == "csv":  # CSV keeps metadata dates without their time
                first, again = _dates_only(first), _dates_only(again)
            assert again == first, (source, name)

    # The export's own folder (json/ and csv/ inside) imports its JSON: all already there, but
    # the times of day of the change history, which the CSV just imported did not have.
    report = _import(db, tmp_path / "first")
    assert report.format == "HSDS 3.0 JSON" and report.dataset == "first"
    changed = {t: c for t, c in report.counts.items() if c.created or c.updated or c.removed}
    assert set(changed) == {"metadata"}, changed


def _dates_only(node):
    if isinstance(node, dict):
        return {k: v[:10] if k == "last_action_date" else _dates_only(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_dates_only(item) for item in node]
    return node


# --- all or nothing -----------------------------------------------------------------------------


def _break(tmp_path: Path, how: str) -> Path:
    package = tmp_path / "county"
    shutil.copytree(MESSY, package)
    services = package / "services.csv"
    if how == "unterminated quote":
        text = services.read_text(encoding="utf-8-sig")
        services.write_text(text.replace('BD-1800"', "BD-1800"))
    elif how == "ragged row":
        with services.open("a") as stream:
            stream.write("16,2,,Extra, with, many, commas,,,,,,,,,,,,,,,\n")
    elif how == "truncated csv":
        services.write_bytes(services.read_bytes()[:-40])
    elif how == "missing column":
        lines = services.read_text(encoding="utf-8-sig").splitlines()
        lines[0] = lines[0].replace(",name,", ",title,")
        services.write_text("\n".join(lines) + "\n")
    elif how == "empty csv":
        services.write_text("")
    elif how == "bad datapackage":
        (package / "datapackage.json").write_text('{"name": "county", "resources": [')
    elif how == "broken json":
        shutil.rmtree(package)
        package.mkdir()
        text = (V3_JSON / "services.json").read_text()
        (package / "services.json").write_text(text[: len(text) // 2])
    elif how == "empty folder":
        shutil.rmtree(package)
        package.mkdir()
    elif how == "unknown format":
        package = tmp_path / "services.xlsx"
        package.write_bytes(b"PK\x03\x04 not really a spreadsheet")
    elif how == "unknown csv files":
        shutil.rmtree(package)
        package.mkdir()
        (package / "clients.csv").write_text("id,name\n1,Ann\n")
    return package


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("unterminated quote", "services.csv line"),
        ("ragged row", "services.csv row 8 has 22 fields but the header has 16"),
        ("truncated csv", "services.csv row 7 has"),
        ("missing column", "services.csv has no 'name' column"),
        ("empty csv", "services.csv is empty"),
        ("bad datapackage", "datapackage.json is not valid JSON"),
        ("broken json", "services.json is not valid JSON (line"),
        ("empty folder", "holds no HSDS files"),
        ("unknown format", "services.xlsx: unknown format"),
        ("unknown csv files", "none with an HSDS table's name"),
    ],
)
def test_a_malformed_package_changes_nothing_and_says_why(db, runner, tmp_path, how, message):
    _import(db, V3_JSON)  # something already stored, which must stay as it is
    before = _counts(db)
    db.session.remove()

    result = runner.invoke(args=["directory", "import-hsds", str(_break(tmp_path, how))])

    assert result.exit_code != 0
    assert message in result.output
    assert "Nothing was imported." in result.output
    assert _counts(db) == before


def test_flushed_work_is_undone_by_a_rollback(db):
    """import_path flushes but never commits: the caller's rollback leaves nothing behind."""
    report = import_path(MESSY)
    assert report.count("service").created == 4
    assert db.session.scalar(select(func.count()).select_from(Service)) == 4

    db.session.rollback()

    assert all(count == 0 for count in _counts(db).values())


def test_cli_prints_progress_counts_and_rejections_by_reason(db, runner):
    result = runner.invoke(args=["directory", "import-hsds", str(MESSY)])

    assert result.exit_code == 0, result.output
    assert "read services.csv: 6 rows" in result.stderr
    assert "Imported HSDS 1.x CSV" in result.stdout
    header = next(line for line in result.stdout.splitlines() if line.startswith("object type"))
    assert header.split()[2:] == ["created", "updated", "unchanged", "repaired", "placeholder",
                                  "rejected", "retired", "removed"]  # fmt: skip
    service_line = next(line for line in result.stdout.splitlines() if line.startswith("service "))
    assert service_line.split() == ["service", "4", "0", "0", "0", "1", "2", "0", "0"]
    assert "Rejected: 12" in result.stdout
    assert "its organization (id …) was rejected (organizations.csv row …)" in result.stdout
    assert "e.g. services.csv row 4 (id 12): its organization (id 3) was rejected" in result.stdout
    assert "Warnings: " in result.stdout
    assert db.session.scalar(select(func.count()).select_from(ServiceAtLocation)) == 5


def _found(text: str) -> list[str]:
    from directory import search
    from directory.search.query import SearchQuery

    return [hit.service.name for hit in search.search(SearchQuery(text=text)).hits]


def _no_rebuild(monkeypatch) -> None:
    from directory import search

    monkeypatch.setattr(search, "reindex", lambda *args: pytest.fail("rebuilt, not followed"))


def test_imported_services_are_searchable_after_the_command(db, runner, app, monkeypatch):
    _no_rebuild(monkeypatch)  # the app built its (empty) index at start-up; it follows
    result = runner.invoke(args=["directory", "import-hsds", str(MESSY)])
    assert result.exit_code == 0, result.output

    assert "Search index up to date: the change feed applied" in result.stdout
    assert _found("eviction") == ["Eviction Defense"]


def test_a_host_without_an_index_builds_it_after_the_import(db, runner, app):
    runner.invoke(args=["directory", "import-hsds", str(V3_JSON)])
    shutil.rmtree(app.config["SEARCH_INDEX_DIR"])  # the feed can't bring up what isn't there

    result = runner.invoke(args=["directory", "import-hsds", str(MESSY)])

    assert result.exit_code == 0, result.output
    services = db.session.scalar(select(func.count()).select_from(Service).where(Service.is_shown))
    assert f"Search index rebuilt: {services} services" in result.stdout
    assert _found("eviction") == ["Eviction Defense"]


def test_a_large_import_ends_with_the_index_holding_every_service(
    db, runner, tmp_path, monkeypatch
):
    """More changes than a request applies (they go to the background) and than one chunk:
    the command waits for them and applies the rest, a chunk at a time."""
    from directory import search
    from directory.search import sync
    from directory.search.query import SearchQuery

    size = sync.APPLY_CHUNK + sync.IN_REQUEST_LIMIT + 1
    runner.invoke(args=["directory", "import-hsds", str(MESSY)])
    _no_rebuild(monkeypatch)

    result = runner.invoke(args=["directory", "import-hsds", str(_make_package(tmp_path, size))])

    assert result.exit_code == 0, result.output
    assert "Search index up to date: the change feed applied" in result.stdout
    assert search.search(SearchQuery(text="rent job")).total == size
    assert _found(f"service {size}")[0] == f"Service {size}"


def test_the_import_commit_alone_reaches_the_search_index(db, runner):
    """The import writes with Core statements, which no flush hook sees; it names the rows it
    wrote, so the commit feeds their services to the search change feed like any other."""
    runner.invoke(args=["directory", "import-hsds", str(V3_JSON)])  # an index with documents
    _import(db, MESSY)

    assert _found("eviction") == ["Eviction Defense"]


def test_a_reimport_by_command_updates_and_drops_search_documents(
    db, runner, tmp_path, monkeypatch
):
    package = tmp_path / "county"
    shutil.copytree(MESSY, package)
    runner.invoke(args=["directory", "import-hsds", str(package)])
    assert _found("eviction") == ["Eviction Defense"]
    assert _found("twice") == []
    services = (package / "services.csv").read_text(encoding="utf-8-sig")
    services = services.replace("Groceries once a week", "Groceries twice a week")
    services = services.replace("temporarily closed", "inactive")  # Eviction Defense
    (package / "services.csv").write_text(services, encoding="utf-8")
    _no_rebuild(monkeypatch)

    result = runner.invoke(args=["directory", "import-hsds", str(package)])

    assert result.exit_code == 0, result.output
    assert "Search index up to date: the change feed applied" in result.stdout
    assert _found("twice") == ["Food Pantry"]
    assert _found("eviction") == []  # inactive services aren't found


def test_an_unchanged_reimport_leaves_the_index_alone(db, runner, monkeypatch):
    from directory import search

    runner.invoke(args=["directory", "import-hsds", str(MESSY)])
    monkeypatch.setattr(search, "reindex", lambda *args: pytest.fail("rebuilt for nothing"))

    result = runner.invoke(args=["directory", "import-hsds", str(MESSY)])

    assert result.exit_code == 0, result.output
    assert "Search index" not in result.output
    assert _found("eviction") == ["Eviction Defense"]


def test_a_failed_index_update_keeps_the_import_and_says_what_to_run(db, runner, monkeypatch):
    from directory import search

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(search, "catch_up", broken)

    result = runner.invoke(args=["directory", "import-hsds", str(MESSY)])

    assert result.exit_code == 0, result.output
    assert "was not brought up to date (disk full); run 'flask directory reindex'" in result.stderr
    assert db.session.scalar(select(func.count()).select_from(Service)) == 4


# --- speed --------------------------------------------------------------------------------------


def _make_package(tmp_path: Path, services: int) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_package", DATA / "make_package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_legacy_package(tmp_path / f"p{services}", services)


def test_lookups_are_batched_not_one_query_per_row(db, tmp_path):
    from sqlalchemy import event

    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for size in (40, 400):
            statements.clear()
            report = import_path(_make_package(tmp_path, size))
            assert report.count("schedule").created == 6 * size
            per_size = len(statements)
            db.session.rollback()
            if size == 40:
                small = per_size
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    # Ten times the rows, barely more statements: lookups and writes go in batches.
    assert per_size <= small + 20, (small, per_size)


def test_an_import_refreshes_postgresql_planner_statistics(db, runner):
    result = runner.invoke(args=["directory", "import-hsds", str(MESSY)])
    assert result.exit_code == 0, result.output

    db.session.remove()
    if db.engine.dialect.name == "postgresql":  # the planner sees the imported rows at once
        estimated = db.session.scalar(
            text("SELECT reltuples FROM pg_class WHERE oid = 'service'::regclass")
        )
        assert estimated == db.session.scalar(select(func.count()).select_from(Service)) == 4
    else:  # SQLite plans without statistics, as the spatial queries were tested
        tables = db.session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
        assert "sqlite_stat1" not in set(tables)
