"""Spatial SQL on SpatiaLite and PostGIS: radius, distance, nearest, coverage, index use."""

import json
import math

import pytest
from sqlalchemy import Uuid, text

from directory.models import Location, ServiceArea
from directory.services import place_location, set_service_area_extent
from geo import sql

SEATTLE = (47.6062, -122.3321)
KM_PER_DEGREE_LAT = 111.2


def _haversine_km(a, b):
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _east(km):
    return (SEATTLE[0], SEATTLE[1] + km / (111.32 * math.cos(math.radians(SEATTLE[0]))))


def _north(km):
    return (SEATTLE[0] + km / KM_PER_DEGREE_LAT, SEATTLE[1])


@pytest.fixture
def points(db):
    spots = {
        "1 km north": _north(1),
        "5 km north": _north(5),
        "5 km east": _east(5),
        "10 km north": _north(10),
        "Portland": (45.5152, -122.6784),
    }
    ids = {}
    for name, (lat, lon) in spots.items():
        location = Location(name=name)
        place_location(location, lat, lon)
        db.session.add(location)
        db.session.flush()
        ids[location.id] = name
    db.session.add(Location(name="no point"))
    db.session.commit()
    return ids, spots


def test_points_within_a_radius_with_great_circle_distances(db, points):
    ids, spots = points
    found = sql.points_within(db.session, "location", *SEATTLE, 5_500, key="id")
    names = [ids[_uuid(key)] for key, _ in found]
    assert names == ["1 km north", "5 km north", "5 km east"] or names == [
        "1 km north",
        "5 km east",
        "5 km north",
    ]
    for key, distance_m in found:
        expected = _haversine_km(SEATTLE, spots[ids[_uuid(key)]]) * 1000
        assert distance_m == pytest.approx(expected, rel=0.01)


def test_rows_within_measure_the_same_distances_from_coordinates(db, points):
    ids, spots = points
    rows = sql.rows_within(db.session, "location", *SEATTLE, 5_500)
    found = {ids[_uuid(key)]: distance for key, distance in rows}
    assert set(found) == {"1 km north", "5 km north", "5 km east"}
    for name, distance_m in found.items():
        assert distance_m == pytest.approx(_haversine_km(SEATTLE, spots[name]) * 1000, rel=0.01)


def test_great_circle_in_numpy():
    metres = sql.great_circle_m(*SEATTLE, [SEATTLE[0], 45.5152], [SEATTLE[1], -122.6784])
    assert metres[0] == 0
    assert metres[1] == pytest.approx(_haversine_km(SEATTLE, (45.5152, -122.6784)) * 1000, rel=1e-3)


def test_the_radius_is_a_circle_not_a_box(db, points):
    ids, _ = points
    # A box of ±4.9 km would hold the corner (4.5 km north, 4.5 km east) = 6.4 km away.
    corner = Location(name="corner")
    lat = _north(4.5)[0]
    lon = _east(4.5)[1]
    place_location(corner, lat, lon)
    db.session.add(corner)
    db.session.commit()
    found = {k for k, _ in sql.points_within(db.session, "location", *SEATTLE, 4_900)}
    assert {ids.get(_uuid(k), "corner") for k in found} == {"1 km north"}


def test_nearest_points_in_order(db, points):
    ids, _ = points
    nearest = sql.nearest(db.session, "location", *SEATTLE, 2, max_m=300_000)
    assert [ids[_uuid(k)] for k, _ in nearest] == ["1 km north", ids[_uuid(nearest[1][0])]]
    assert ids[_uuid(nearest[1][0])] in {"5 km north", "5 km east"}
    far = sql.nearest(db.session, "location", *SEATTLE, 10, max_m=300_000)
    assert [ids[_uuid(k)] for k, _ in far][-1] == "Portland"
    assert len(far) == 5
    assert sql.nearest(db.session, "location", *SEATTLE, 3, max_m=500) == []


def _square(lat, lon, half):
    ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half]]
    ring += [[lon - half, lat + half], [lon - half, lat - half]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def test_areas_covering_a_point_include_their_edge(db):
    inside = ServiceArea(name="around Seattle")
    set_service_area_extent(inside, _square(*SEATTLE, 0.2), "geojson")
    elsewhere = ServiceArea(name="around Portland")
    set_service_area_extent(elsewhere, _square(45.5152, -122.6784, 0.2), "geojson")
    edge = ServiceArea(name="edge")
    set_service_area_extent(edge, _square(SEATTLE[0], SEATTLE[1] - 0.1, 0.1), "geojson")
    db.session.add_all([inside, elsewhere, edge])
    db.session.commit()
    found = {_uuid(k) for k in sql.areas_covering(db.session, "service_area", *SEATTLE)}
    assert found == {inside.id, edge.id}


def test_miles_and_kilometres():
    assert sql.miles_to_km(10) == pytest.approx(16.09344)
    assert sql.km_to_miles(16.09344) == pytest.approx(10)


def test_bounding_box_holds_the_circle_and_widens_near_the_pole():
    min_lon, min_lat, max_lon, max_lat = sql.bounding_box(*SEATTLE, 10_000)
    assert max_lat - SEATTLE[0] > 10 / KM_PER_DEGREE_LAT
    assert SEATTLE[1] - min_lon > 10 / (111.32 * math.cos(math.radians(max_lat)))
    assert sql.bounding_box(89.5, 0, 200_000)[::2] == (-180.0, 180.0)


def test_identifiers_are_checked():
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        sql.within_radius("sqlite", "location; drop table x", 0, 0, 1)


def _plan(db, select) -> str:
    connection = db.session.connection()
    compiled = select.compile(dialect=connection.dialect)
    if connection.dialect.name == "sqlite":
        params = tuple(compiled.params[name] for name in compiled.positiontup)
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
        return "\n".join(str(row[-1]) for row in rows)
    connection.execute(text("SET LOCAL enable_seqscan = off"))
    rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).all()
    return "\n".join(row[0] for row in rows)


def test_radius_and_coverage_queries_go_through_the_spatial_indexes(db, points):
    dialect = db.engine.dialect.name
    radius_plan = _plan(db, sql.within_radius(dialect, "location", *SEATTLE, 5000))
    area_plan = _plan(db, sql.covering(dialect, "service_area", *SEATTLE))
    joined = sql.Join("service_at_location", "location_id", ("service_id",))
    joined_plan = _plan(db, sql.within_radius(dialect, "location", *SEATTLE, 5000, join=joined))
    if dialect == "sqlite":
        assert "VIRTUAL TABLE INDEX" in radius_plan and "SCAN t" not in radius_plan
        assert "VIRTUAL TABLE INDEX" in area_plan and "SCAN t" not in area_plan
        # The joined table is searched by its index for each point found, never scanned.
        assert "SEARCH j USING INDEX ix_service_at_location_location_id" in joined_plan
    else:
        assert "ix_location_geog" in radius_plan
        assert "idx_service_area_geom" in area_plan
        assert "ix_location_geog" in joined_plan


def test_a_select_joins_other_tables(db, points):
    ids, _ = points
    within = sql.within_radius(
        db.engine.dialect.name, "location", *SEATTLE, 1_500, types={"id": Uuid()}
    ).subquery()
    from sqlalchemy import select

    rows = db.session.execute(
        select(Location.name, within.c.distance_m).join(within, within.c.id == Location.id)
    ).all()
    assert [(name, round(d / 1000)) for name, d in rows] == [("1 km north", 1)]


def _uuid(value):
    import uuid

    return value if isinstance(value, uuid.UUID) else uuid.UUID(hex=value)
