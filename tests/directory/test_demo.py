import hashlib
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import zipcodes
from shapely.geometry import MultiPolygon, Point
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from directory import hours
from directory.demo import (
    DEMO_AGENCY_IDS,
    DEMO_HEALTH_HOME_ID,
    DEMO_MARKER,
    build_demo_network,
    seed_demo_directory,
)
from directory.models import (
    Accessibility,
    Address,
    Attribute,
    CostOption,
    Language,
    Location,
    Organization,
    Phone,
    RequiredDocument,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    TaxonomyTerm,
)
from geo.shapes import from_db, parse_area

TODAY = date(2026, 3, 16)
ONONDAGA = [z for z in zipcodes.filter_by(state="NY") if z["county"] == "Onondaga County"]
ONONDAGA_ZIPS = {z["zip_code"] for z in ONONDAGA}
DOWNTOWN = Point(-76.1489, 43.0410)  # ZIP 13202's centroid
DEMO_TABLES = [
    Organization,
    Location,
    Address,
    Accessibility,
    Phone,
    Service,
    Schedule,
    ServiceArea,
    Language,
    CostOption,
    RequiredDocument,
    Attribute,
    ServiceAtLocation,
]
# Needs a coordinator must be able to find, as Open Eligibility codes (a service tagged with the
# code or any term under it counts).
REQUIRED_NEEDS = {
    "housing": {"103"},
    "emergency shelter": {"103-01", "101-04"},
    "food": {"102"},
    "transportation": {"105"},
    "mental health": {"106-06-07-01", "106-06-04-04"},
    "substance use": {"106-01"},
    "crisis": {"101-07"},
    "health care": {"106-06-09"},
    "dental": {"106-02"},
    "income and benefits": {"107"},
    "legal": {"111"},
    "education": {"109"},
    "employment": {"110"},
    "clothing": {"104-02"},
    "utilities": {"103-03-02", "101-02-06"},
    "child care": {"108-03-03"},
}
SEARCH_WORDS = [
    "rent",
    "back rent",
    "eviction",
    "emergency shelter",
    "food pantry",
    "free food",
    "snap",
    "food stamps",
    "medicaid",
    "rides",
    "detox",
    "outpatient substance use treatment",
    "rehab",
    "peer support",
    "someone to talk to",
    "counseling",
    "crisis line",
    "legal aid for eviction",
    "ged",
    "esl",
    "heap",
    "light bill",
    "clothing closet",
    "child care",
    "narcan",
]


@pytest.fixture
def seeded(db):
    summary = seed_demo_directory(today=TODAY)
    db.session.commit()
    return summary


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _services(db) -> list[Service]:
    return list(
        db.session.scalars(
            select(Service).options(
                selectinload(Service.schedules),
                selectinload(Service.phones),
                selectinload(Service.languages),
                selectinload(Service.cost_options),
                selectinload(Service.required_documents),
                selectinload(Service.attributes),
                selectinload(Service.service_areas),
                selectinload(Service.service_at_locations)
                .selectinload(ServiceAtLocation.location)
                .selectinload(Location.addresses),
            )
        )
    )


def _ancestor_codes(db) -> dict:
    """term id -> the codes of the term and all its parents."""
    terms = {t.id: t for t in db.session.scalars(select(TaxonomyTerm))}
    chains = {}
    for term_id, term in terms.items():
        codes, current = set(), term
        while current is not None:
            codes.add(current.code)
            current = terms.get(current.parent_id)
        chains[term_id] = codes
    return chains


def test_the_network_is_big_enough_and_covers_every_need(db, seeded):
    assert _count(db, Organization) >= 100
    assert _count(db, Service) >= 300
    assert seeded.services == _count(db, Service)

    chains = _ancestor_codes(db)
    codes_by_service = {
        s.id: set().union(*(chains[a.taxonomy_term_id] for a in s.attributes))
        for s in _services(db)
    }
    assert all(codes_by_service.values()), "every service has a category"
    for need, codes in REQUIRED_NEEDS.items():
        found = [sid for sid, have in codes_by_service.items() if have & codes]
        assert len(found) >= 3, f"only {len(found)} services for {need}"
    attribute_kinds = set(
        db.session.execute(select(Attribute.link_entity, Attribute.link_type)).all()
    )
    assert attribute_kinds == {("service", "category")}


def test_descriptions_use_the_words_people_search_with(db, seeded):
    services = _services(db)
    text = " ".join(f"{s.name} {s.description}" for s in services).lower()

    missing = [word for word in SEARCH_WORDS if word not in text]
    assert not missing
    descriptions = [s.description for s in services]
    assert len(set(descriptions)) >= 0.9 * len(descriptions), "descriptions are too repetitive"
    assert all(len(d) >= 80 for d in descriptions)
    assert all(s.eligibility_description and s.application_process for s in services)
    assert all("{" not in d for d in descriptions), "a template placeholder was left unfilled"


def test_languages_hours_fees_ages_and_status_vary_like_a_real_directory(db, seeded):
    services = _services(db)

    languages = Counter(language.name for s in services for language in s.languages)
    assert languages["English"] == len(services)
    assert languages["Spanish"] >= 50
    assert {"Arabic", "Nepali", "Somali", "Burmese", "Swahili"} <= set(languages)

    schedules = [sc for s in services for sc in s.schedules]
    assert {sc.tz_name for sc in schedules} == {"America/New_York"}
    times = [t for sc in schedules for t in (sc.opens_at, sc.closes_at)]
    assert all(re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", t) for t in times)
    at = datetime(2026, 3, 18, 3, 30, tzinfo=UTC)  # a Tuesday night, 11:30 pm in Syracuse
    statuses = Counter(hours.open_status(s.schedules, at).text for s in services)
    assert statuses["Open 24 hours"] >= 10
    weekend = [
        s
        for s in services
        if any(d in (sc.byday or "") for sc in s.schedules for d in ("SA", "SU"))
    ]
    assert len(weekend) >= 20
    past_midnight = [s for s in services if any(sc.closes_at < sc.opens_at for sc in s.schedules)]
    assert past_midnight
    friday_night = datetime(2026, 3, 21, 4, 30, tzinfo=UTC)  # Saturday 12:30 am in Syracuse
    assert all(hours.is_open(s.schedules, friday_night) for s in past_midnight)
    weekday_office = [
        s
        for s in services
        if hours.weekly_hours(s.schedules)[0][1] in ("9 am – 5 pm", "8:30 am – 4:30 pm")
    ]
    assert len(weekday_office) >= 50

    free = [s for s in services if s.is_free]
    assert len(free) > len(services) / 2
    paid = [c for s in services for c in s.cost_options if c.amount and c.amount > 0]
    assert len(paid) >= 10
    assert any("sliding" in (s.fees_description or "").lower() for s in services)

    assert any(s.minimum_age is not None and s.minimum_age >= 60 for s in services)
    assert any(s.maximum_age is not None and s.maximum_age <= 18 for s in services)
    assert sum(bool(s.required_documents) for s in services) >= 100

    assert Counter(s.status for s in services)["temporarily closed"] >= 2
    capacity = Counter(s.referral_capacity for s in services)
    assert capacity["waitlist"] >= 10 and capacity["not_accepting"] >= 2
    assured = [s.assured_date for s in services]
    assert all(TODAY - timedelta(days=366) <= d <= TODAY for d in assured)
    assert max(assured) - min(assured) > timedelta(days=300)

    access = Counter(a.description for a in db.session.scalars(select(Accessibility)))
    assert access["Wheelchair accessible"] >= 50
    assert access["Not wheelchair accessible"] >= 5


def test_every_service_has_a_place_on_the_map_an_address_and_a_phone(db, seeded):
    lats = [float(z["lat"]) for z in ONONDAGA]
    lons = [float(z["long"]) for z in ONONDAGA]
    south, north, west, east = (
        min(lats) - 0.05,
        max(lats) + 0.05,
        min(lons) - 0.05,
        max(lons) + 0.05,
    )
    phone = re.compile(r"^\((315|680)\) 555-01\d\d$")

    for service in _services(db):
        assert service.service_at_locations, service.name
        assert any(phone.match(p.number) for p in service.phones), service.name
        for link in service.service_at_locations:
            location = link.location
            point = from_db(location.geom)
            assert south <= point.y <= north and west <= point.x <= east, location.name
            assert float(location.latitude) == pytest.approx(point.y)
            (address,) = location.addresses
            assert address.postal_code in ONONDAGA_ZIPS
            assert address.state_province == "NY" and address.country == "US"
            assert re.match(r"^\d+ \w", address.address_1)
            assert address.city


def test_service_areas_are_valid_and_coverage_reaches_people_far_from_the_office(db, seeded):
    areas = list(db.session.scalars(select(ServiceArea)))
    assert len(areas) >= 200
    kinds = Counter(a.name.split(" ")[0] for a in areas)
    assert kinds["Onondaga"] >= 50 and kinds["ZIP"] >= 30
    for area in areas:
        shape = from_db(area.geom)
        assert isinstance(shape, MultiPolygon) and shape.is_valid and not shape.is_empty
        assert area.extent_type == "geojson"
        assert parse_area(area.extent).equals(shape)

    for service in _services(db):
        for area in service.service_areas:
            office = from_db(service.service_at_locations[0].location.geom)
            assert from_db(area.geom).contains(office), (
                f"{service.name} doesn't serve its own office"
            )

    ride_line = DEMO_AGENCY_IDS["medicaid_transportation"]
    rides = db.session.scalars(select(Service).where(Service.organization_id == ride_line)).all()
    office = from_db(rides[0].service_at_locations[0].location.geom)
    km = ((office.x - DOWNTOWN.x) * 81.4) ** 2 + ((office.y - DOWNTOWN.y) * 111.2) ** 2
    assert km**0.5 > 20, "the ride line's office should be far from downtown"
    covering = set(
        db.session.scalars(
            select(ServiceArea.service_id).where(
                func.ST_Contains(ServiceArea.geom, func.ST_GeomFromText(DOWNTOWN.wkt, 4326))
            )
        )
    )
    assert {s.id for s in rides} <= covering
    skaneateles = Point(-76.4052, 42.9258)
    zip_areas = [a for a in areas if a.name.startswith("ZIP") and "13204" in a.name]
    assert zip_areas and not any(from_db(a.geom).contains(skaneateles) for a in zip_areas)


def test_demo_agencies_exist_and_take_referrals_for_their_need(db, seeded):
    chains = _ancestor_codes(db)
    expected = {
        "food_bank": "102",
        "shelter": "103-01",
        "medicaid_transportation": "105-02-01",
        "behavioral_health": "106-06-07-01",
        "legal_aid": "111",
    }
    assert set(DEMO_AGENCY_IDS) == set(expected)
    for role, code in expected.items():
        organization = db.session.get(Organization, DEMO_AGENCY_IDS[role])
        assert organization is not None, role
        matching = [
            s
            for s in organization.services
            if s.status == "active"
            and any(code in chains[a.taxonomy_term_id] for a in s.attributes)
        ]
        assert matching, f"{organization.name} offers nothing for {code}"
    health_home = db.session.get(Organization, DEMO_HEALTH_HOME_ID)
    assert "Health Home" in health_home.name


def test_demo_records_are_marked_as_demo(db, seeded):
    for model in (Organization, Service, Location):
        datasets = set(db.session.scalars(select(model.dataset)))
        assert datasets == {"demo"}, model.__name__
    organizations = db.session.scalars(select(Organization)).all()
    assert all(o.description.endswith(DEMO_MARKER) for o in organizations)
    assert all(o.website.endswith(".example.org") for o in organizations)


def test_seeding_again_adds_nothing_and_keeps_what_admins_changed(db, seeded):
    before = {m.__tablename__: set(db.session.scalars(select(m.id))) for m in DEMO_TABLES}
    service = db.session.scalars(select(Service).order_by(Service.name)).first()
    service.referral_capacity = "not_accepting"
    service.name = "Renamed by an agency admin"
    db.session.commit()

    summary = seed_demo_directory(today=TODAY + timedelta(days=40))
    db.session.commit()

    assert sum(summary.added.values()) == 0
    after = {m.__tablename__: set(db.session.scalars(select(m.id))) for m in DEMO_TABLES}
    assert after == before
    db.session.expire_all()
    kept = db.session.get(Service, service.id)
    assert (kept.name, kept.referral_capacity) == ("Renamed by an agency admin", "not_accepting")


def test_a_deleted_demo_service_comes_back_whole(db, seeded):
    service = db.session.scalars(select(Service).order_by(Service.name)).first()
    children = {
        "schedules": len(service.schedules),
        "languages": len(service.languages),
        "attributes": len(service.attributes),
    }
    service_id = service.id
    db.session.delete(service)
    db.session.commit()

    summary = seed_demo_directory(today=TODAY)
    db.session.commit()

    assert summary.added["service"] == 1 and summary.added["organization"] == 0
    restored = db.session.get(Service, service_id)
    assert restored is not None
    assert children == {
        "schedules": len(restored.schedules),
        "languages": len(restored.languages),
        "attributes": len(restored.attributes),
    }


DIGEST_SCRIPT = """
import hashlib
from datetime import date
from directory.demo import build_demo_network

network = build_demo_network(date(2026, 3, 16))
digest = hashlib.sha256()
for table, rows in sorted(vars(network).items()):
    for row in rows:
        values = {k: (bytes(v.data) if hasattr(v, "data") else v) for k, v in row.items()}
        digest.update(repr((table, sorted(values.items()))).encode())
print(digest.hexdigest())
"""


def test_the_network_is_the_same_in_another_process():
    """Seeds and ids must not depend on hash randomisation or set order."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": "0" if os.environ.get("PYTHONHASHSEED") else "1"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", DIGEST_SCRIPT],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    namespace: dict = {}
    script = DIGEST_SCRIPT.replace("print(digest.hexdigest())", "result = digest.hexdigest()")
    exec(script, namespace)  # noqa: S102  (our own constant script, run here as in the child)
    assert re.fullmatch(r"[0-9a-f]{64}", namespace["result"])
    assert result.stdout.strip() == namespace["result"]


def test_the_same_day_builds_the_same_rows_and_ids():
    first, second = build_demo_network(TODAY), build_demo_network(TODAY)

    def digest(network):
        data = repr(
            sorted(
                (
                    table,
                    [sorted((k, str(v)) for k, v in row.items() if k != "geom") for row in rows],
                )
                for table, rows in vars(network).items()
            )
        )
        return hashlib.sha256(data.encode()).hexdigest()

    assert digest(first) == digest(second)
    for table, rows in vars(first).items():
        ids = [row["id"] for row in rows]
        assert len(ids) == len(set(ids)), f"duplicate ids in {table}"


def test_seed_demo_command_commits_once_and_can_run_again(runner, db, monkeypatch):
    from directory import search
    from directory.search.query import SearchQuery

    monkeypatch.setattr(search, "reindex", lambda *args: pytest.fail("rebuilt, not followed"))
    result = runner.invoke(args=["directory", "seed-demo"])

    assert result.exit_code == 0, result.output
    match = re.search(r"(\d+) organizations, (\d+) services", result.output)
    assert match and int(match[1]) >= 100 and int(match[2]) >= 300
    counts = {m.__tablename__: _count(db, m) for m in DEMO_TABLES}
    assert counts["service"] == int(match[2])
    assert "Search index up to date: the change feed applied" in result.output
    assert "Demo referrals: 60 members" in result.output  # tests/referrals/test_demo.py
    assert search.search(SearchQuery(text="food pantry")).total > 0

    again = runner.invoke(args=["directory", "seed-demo"])

    assert again.exit_code == 0, again.output
    assert "(0 new rows)" in again.output
    assert {m.__tablename__: _count(db, m) for m in DEMO_TABLES} == counts
    assert "Search index unchanged: no new demo records" in again.output
    assert "Demo referrals: none added (60 demo members there)" in again.output


def test_seed_demo_command_writes_nothing_when_a_later_step_fails(runner, db, monkeypatch):
    import accounts.demo

    def broken_accounts(*args, **kwargs):
        raise RuntimeError("the accounts step failed")

    monkeypatch.setattr(accounts.demo, "seed_demo_accounts", broken_accounts)

    result = runner.invoke(args=["directory", "seed-demo"])

    assert result.exit_code != 0
    db.session.remove()
    assert _count(db, Organization) == 0 and _count(db, Service) == 0
