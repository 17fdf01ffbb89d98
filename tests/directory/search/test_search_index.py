"""The index follows committed changes, ignores rolled-back ones, and heals at start-up."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, text, update
from whoosh import index as whoosh_index

from directory import search
from directory.models import Location, Organization, Schedule, Service, TaxonomyTerm
from directory.search import listings
from directory.search.query import SearchQuery
from directory.search.whoosh_engine import WhooshEngine
from geo.places import resolve_place
from tests.directory.factories import make_listing, make_taxonomy_term

BOISE = (43.6150, -116.2023)
MONDAY_10AM_BOISE = datetime(2024, 3, 4, 17, 0, tzinfo=UTC)  # 10:00 MST


def listing(db, name="Treasure Valley Diaper Bank", description="Diapers and wipes for babies."):
    return make_listing(
        db,
        name,
        description,
        at=BOISE,
        postal_code="83702",
        city="Boise",
        state="ID",
        tz_name="America/Boise",
    )


def found(text_: str = "", **kwargs) -> list[str]:
    results = search.search(SearchQuery(text=text_, **kwargs))
    return [hit.service.name for hit in results.hits]


def test_a_committed_edit_is_searchable_at_once(db):
    service = listing(db)
    db.session.commit()
    assert found("diapers") == ["Treasure Valley Diaper Bank"]
    service.name = "Boise Baby Supply Closet"
    service.description = "Cribs, car seats and strollers on loan."
    db.session.commit()
    assert found("strollers") == ["Boise Baby Supply Closet"]
    assert found("wipes") == []


def test_deleted_services_and_organizations_leave_the_index(db):
    kept = listing(db, "Boise Food Co-op Pantry", "Groceries for members.")
    dropped = listing(db, "Ada County Pantry", "Groceries on Fridays.")
    db.session.commit()
    assert set(found("groceries")) == {"Boise Food Co-op Pantry", "Ada County Pantry"}
    db.session.delete(dropped)
    db.session.commit()
    assert found("groceries") == ["Boise Food Co-op Pantry"]
    db.session.delete(db.session.get(Organization, kept.organization_id))
    db.session.commit()
    assert found("groceries") == []


def test_rolled_back_changes_never_reach_the_index(db):
    service = listing(db)
    db.session.commit()
    service.name = "Renamed But Rolled Back"
    db.session.flush()
    listing(db, "Never Committed Pantry", "Groceries that never were.")
    db.session.rollback()
    assert found("rolled back") == []
    assert found("groceries") == []
    assert found("diapers") == ["Treasure Valley Diaper Bank"]


def test_a_savepoint_rollback_keeps_the_rest_of_the_transaction(db):
    listing(db, "Kept Pantry", "Groceries kept.")
    nested = db.session.begin_nested()
    listing(db, "Savepoint Pantry", "Groceries undone.")
    nested.rollback()
    db.session.commit()
    assert found("groceries") == ["Kept Pantry"]


def test_changes_to_what_a_listing_shows_reindex_its_service(db):
    service = listing(db)
    db.session.commit()
    location = service.service_at_locations[0].location

    location.addresses[0].city = "Meridian"
    db.session.commit()
    assert found("meridian") == ["Treasure Valley Diaper Bank"]

    db.session.get(Organization, service.organization_id).name = "Gem State Family Network"
    db.session.commit()
    assert found("gem state family") == ["Treasure Valley Diaper Bank"]

    term = make_taxonomy_term(db, name="Layette Kits", code="LK")
    db.session.commit()
    assert found("layette kits") == []
    from directory.models import Attribute

    db.session.add(Attribute(link_id=service.id, link_entity="service", taxonomy_term_id=term.id))
    db.session.commit()
    assert found("layette kits") == ["Treasure Valley Diaper Bank"]
    db.session.get(TaxonomyTerm, term.id).name = "Newborn Bundles"
    db.session.commit()
    assert found("newborn bundles") == ["Treasure Valley Diaper Bank"]


def test_schedule_edits_change_open_now(db):
    service = listing(db)
    db.session.commit()
    query = {"text_": "diapers", "open_now": True, "now": MONDAY_10AM_BOISE}
    assert found(**query) == ["Treasure Valley Diaper Bank"]
    service.schedules[0].opens_at = "13:00"
    db.session.commit()
    assert found(**query) == []


def test_moving_or_deleting_a_location_changes_where_the_service_is_found(db):
    service = listing(db)
    db.session.commit()
    boise = resolve_place("83702")
    assert found(place=boise, radius_km=5) == ["Treasure Valley Diaper Bank"]
    location = service.service_at_locations[0].location
    db.session.delete(db.session.get(Location, location.id))
    db.session.commit()
    assert found(place=boise, radius_km=5) == []
    assert found("diapers") == ["Treasure Valley Diaper Bank"]  # still listed, no address


def test_a_big_batch_is_indexed_in_one_writer_pass(app, db):
    listing(db, "First of many", "Warm coats.")
    db.session.commit()
    directory = app.config["SEARCH_INDEX_DIR"]
    before = whoosh_index.open_dir(directory).latest_generation()
    for n in range(40):
        listing(db, f"Coat Drive {n}", "Warm coats for winter.")
    db.session.commit()
    assert whoosh_index.open_dir(directory).latest_generation() == before + 1
    assert search.search(SearchQuery(text="coats")).total == 41


def test_a_missing_index_is_rebuilt_at_start_up(make_app, app, db):
    listing(db)
    db.session.commit()
    directory = Path(app.config["SEARCH_INDEX_DIR"])
    import shutil

    shutil.rmtree(directory)
    fresh = make_app()
    with fresh.app_context():
        assert found("diapers") == ["Treasure Valley Diaper Bank"]


def test_a_stale_index_is_rebuilt_at_start_up(make_app, app, db):
    listing(db)
    db.session.commit()
    # A change the app never saw (another tool, a restore): the fingerprint no longer matches.
    db.session.execute(
        update(Service).values(name="Snake River Diaper Depot", last_modified=datetime.now(UTC))
    )
    db.session.commit()
    assert found("snake river") == []
    fresh = make_app()
    with fresh.app_context():
        assert found("snake river") == ["Snake River Diaper Depot"]


def test_an_index_of_an_older_shape_is_rebuilt(make_app, app, db, monkeypatch):
    listing(db)
    db.session.commit()
    monkeypatch.setattr(listings, "INDEX_VERSION", listings.INDEX_VERSION + 1)
    rebuilt = []
    original = WhooshEngine.rebuild
    monkeypatch.setattr(
        WhooshEngine, "rebuild", lambda self, p=None: rebuilt.append(1) or original(self, p)
    )
    make_app()
    assert rebuilt == [1]
    rebuilt.clear()
    make_app()  # fresh now: not rebuilt again
    assert rebuilt == []


def test_creating_the_app_on_an_empty_database_neither_fails_nor_indexes(tmp_path):
    from app import create_app

    index_dir = tmp_path / "index"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}",
            "SEARCH_INDEX_DIR": str(index_dir),
        }
    )
    assert app is not None
    assert not index_dir.exists()


def test_reindex_command_rebuilds_everything(runner, app, db):
    listing(db)
    listing(db, "Payette Pantry", "Groceries.")
    db.session.commit()
    db.session.execute(delete(Schedule))  # raw: not seen by the index
    db.session.execute(text("UPDATE service SET description = 'Formula and bottles.'"))
    db.session.commit()
    result = runner.invoke(args=["directory", "reindex"])
    assert result.exit_code == 0, result.output
    assert "Search index rebuilt: 2 services" in result.output
    with app.app_context():
        assert set(found("bottles")) == {"Treasure Valley Diaper Bank", "Payette Pantry"}


@pytest.mark.parametrize("statuses", [("inactive",), ("defunct",)])
def test_services_leaving_service_leave_the_index(db, statuses):
    service = listing(db)
    db.session.commit()
    service.status = statuses[0]
    db.session.commit()
    assert found("diapers") == []
    service.status = "active"
    db.session.commit()
    assert found("diapers") == ["Treasure Valley Diaper Bank"]


def test_moving_a_service_area_changes_who_it_serves(db):
    from directory.models import ServiceArea
    from directory.services import set_service_area_extent
    from tests.directory.search.test_search import square

    far_office = (44.0682, -114.7420)  # Challis, Idaho: far from Boise
    service = make_listing(
        db,
        "Sawtooth Mobile Clinic",
        "Checkups from a van.",
        at=far_office,
        postal_code="83226",
        city="Challis",
        state="ID",
        area=square(BOISE, 0.3),
    )
    db.session.commit()
    boise = resolve_place("83702")
    hits = search.search(SearchQuery(place=boise, radius_km=10)).hits
    assert [(h.service.name, h.serves_area) for h in hits] == [("Sawtooth Mobile Clinic", True)]
    area = db.session.get(ServiceArea, service.service_areas[0].id)
    set_service_area_extent(area, square(far_office, 0.3), "geojson")
    db.session.commit()
    assert found(place=boise, radius_km=10) == []


def test_reindex_command_checks_its_options(runner, db):
    listing(db)
    db.session.commit()
    assert runner.invoke(args=["directory", "reindex", "--procs", "1"]).exit_code == 0
    refused = runner.invoke(args=["directory", "reindex", "--procs", "0"])
    assert refused.exit_code != 0
    assert "--procs" in refused.output


def test_a_new_install_with_no_services_searches_without_error(db, client):
    assert search.search(SearchQuery(text="food", place=resolve_place("83702"))).total == 0

    response = client.get("/api/v1/services?q=food&near=83702")
    assert response.status_code == 200
    assert response.get_json()["total"] == 0
    page = client.get("/search?q=food")
    assert page.status_code == 200
    assert "No services" in page.get_data(as_text=True)
