import json

import pytest
from sqlalchemy import func, inspect, select, text

from directory.models import Location, Organization, ServiceArea
from directory.services import place_location, set_service_area_extent
from geo.shapes import InvalidGeometry, from_db


def test_migrations_build_every_table_with_spatial_indexes(db):
    tables = set(inspect(db.engine).get_table_names())
    expected = {t.name for t in db.metadata.sorted_tables}
    assert expected <= tables
    if db.engine.dialect.name == "sqlite":
        rows = db.session.execute(
            text("SELECT f_table_name FROM geometry_columns WHERE spatial_index_enabled = 1")
        )
        assert {r[0] for r in rows} == {"location", "service_area"}
    else:
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("location")}
        assert {"idx_location_geom", "ix_location_geog"} <= indexes


def test_point_round_trips(db):
    org = Organization(name="Round Trip Org", description="")
    location = Location(name="Main office", organization=org)
    place_location(location, "43.048122", "-76.147424")
    db.session.add(location)
    db.session.commit()
    db.session.expire_all()

    stored = db.session.get(Location, location.id)
    point = from_db(stored.geom)
    assert (round(point.x, 6), round(point.y, 6)) == (-76.147424, 43.048122)
    assert float(stored.latitude) == pytest.approx(43.048122)


def test_multipolygon_service_area_round_trips(db):
    extent = {
        "type": "MultiPolygon",
        "coordinates": [
            [[[-76.2, 43.0], [-76.1, 43.0], [-76.1, 43.1], [-76.2, 43.1], [-76.2, 43.0]]],
            [[[-75.2, 43.0], [-75.1, 43.0], [-75.1, 43.1], [-75.2, 43.0]]],
        ],
    }
    area = ServiceArea(name="Two towns")
    set_service_area_extent(area, json.dumps(extent), "geojson")
    db.session.add(area)
    db.session.commit()
    db.session.expire_all()

    stored = from_db(db.session.get(ServiceArea, area.id).geom)
    assert stored.geom_type == "MultiPolygon"
    assert len(stored.geoms) == 2
    assert stored.bounds == pytest.approx((-76.2, 43.0, -75.1, 43.1))


def test_bad_coordinates_are_refused_and_nothing_is_written(db):
    location = Location(name="Nowhere")
    with pytest.raises(InvalidGeometry, match="latitude 123.0 is outside"):
        place_location(location, 123, -76)
    assert location.geom is None and location.latitude is None
    assert db.session.scalar(select(func.count()).select_from(Location)) == 0
