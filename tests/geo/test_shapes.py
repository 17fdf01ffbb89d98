import json

import pytest
from shapely.geometry import MultiPolygon

from geo.shapes import InvalidGeometry, make_point, parse_area, validate_point


@pytest.mark.parametrize(
    ("lat", "lon", "message"),
    [
        (91, -75, "latitude 91.0 is outside -90..90"),
        ("40.1", "-181", "longitude -181.0 is outside -180..180"),
        ("abc", "-75", "latitude 'abc' is not a number"),
        (0, 0, "placeholder"),
        ("nan", "1", "not a finite number"),
    ],
)
def test_bad_coordinates_are_refused_with_a_reason(lat, lon, message):
    with pytest.raises(InvalidGeometry, match=message):
        validate_point(lat, lon)


def test_coordinates_with_stray_spaces_are_read():
    assert validate_point(" 43.05 ", "-76.15 ") == (43.05, -76.15)
    point = make_point("43.05", "-76.15")
    assert (point.x, point.y) == (-76.15, 43.05)


SQUARE = [[-76.2, 43.0], [-76.1, 43.0], [-76.1, 43.1], [-76.2, 43.1], [-76.2, 43.0]]


def test_polygon_geojson_becomes_a_multipolygon():
    area = parse_area(json.dumps({"type": "Polygon", "coordinates": [SQUARE]}))
    assert isinstance(area, MultiPolygon)
    assert area.contains(make_point(43.05, -76.15))


def test_feature_collection_and_wkt_are_accepted():
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
    }
    collection = {"type": "FeatureCollection", "features": [feature]}
    assert parse_area(collection).area == pytest.approx(0.01)
    assert parse_area(
        "POLYGON((-76.2 43, -76.1 43, -76.1 43.1, -76.2 43.1, -76.2 43))"
    ).area == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("extent", "message"),
    [
        ("", "empty"),
        ("{not json", "not valid GeoJSON"),
        ('{"type": "Point", "coordinates": [1, 2]}', "not an area"),
        ("POLYGON((", "not valid WKT"),
        (
            '{"type": "Polygon", "coordinates": [[[-200, 0], [1, 0], [1, 1], [-200, 0]]]}',
            "outside WGS84",
        ),
    ],
)
def test_bad_areas_are_refused_with_a_reason(extent, message):
    with pytest.raises(InvalidGeometry, match=message):
        parse_area(extent)


def test_an_uploaded_area_must_close_its_rings():
    from geo.shapes import parse_uploaded_area

    ring = [[-76.2, 43.0], [-76.1, 43.0], [-76.1, 43.1], [-76.2, 43.1]]
    feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}}
    with pytest.raises(InvalidGeometry, match="does not close"):
        parse_uploaded_area(json.dumps(feature))
    with pytest.raises(InvalidGeometry, match="at least four points"):
        parse_uploaded_area(json.dumps({"type": "Polygon", "coordinates": [ring[:2]]}))
    with pytest.raises(InvalidGeometry, match="not GeoJSON"):
        parse_uploaded_area("POLYGON((0 0, 1 0, 1 1, 0 0))")
    closed = {"type": "MultiPolygon", "coordinates": [[[*ring, ring[0]]]]}
    assert isinstance(parse_uploaded_area(json.dumps(closed)), MultiPolygon)
