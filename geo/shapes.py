"""Parsing and validating points and areas, in plain shapely (no database)."""

import json
import math
from typing import Any

from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import from_shape, to_shape
from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import make_valid

from geo import SRID


class InvalidGeometry(ValueError):
    """Raised with a message a person can act on when a coordinate or an area can't be used."""


def parse_coordinate(value: Any, name: str) -> float:
    """A float from a number or a string with stray spaces; anything else is refused by name."""
    if isinstance(value, str):
        value = value.strip()
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidGeometry(f"{name} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise InvalidGeometry(f"{name} {value!r} is not a finite number")
    return number


def validate_point(latitude: Any, longitude: Any) -> tuple[float, float]:
    """Check WGS84 decimal degrees, which HSDS leaves unbounded; return (latitude, longitude).

    Refuses out-of-range values and (0, 0), the "null island" that exports write for "unknown".
    """
    lat = parse_coordinate(latitude, "latitude")
    lon = parse_coordinate(longitude, "longitude")
    if not -90 <= lat <= 90:
        raise InvalidGeometry(f"latitude {lat} is outside -90..90")
    if not -180 <= lon <= 180:
        raise InvalidGeometry(f"longitude {lon} is outside -180..180")
    if lat == 0 and lon == 0:
        raise InvalidGeometry("latitude 0, longitude 0 is a placeholder, not a place")
    return lat, lon


def make_point(latitude: Any, longitude: Any) -> Point:
    lat, lon = validate_point(latitude, longitude)
    return Point(lon, lat)


def _as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    if not geom.is_valid:
        geom = make_valid(geom)
    if isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    elif not isinstance(geom, MultiPolygon):
        polygons = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
        parts: list[Polygon] = []
        for g in polygons:
            parts.extend(g.geoms if isinstance(g, MultiPolygon) else [g])
        if not parts:
            raise InvalidGeometry(f"a service area must be a polygon, not a {geom.geom_type}")
        geom = MultiPolygon(parts)
    if geom.is_empty:
        raise InvalidGeometry("the service area is empty")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise InvalidGeometry("the service area has coordinates outside WGS84 degrees")
    return geom


def _geojson_geometry(data: Any) -> BaseGeometry:
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "FeatureCollection":
        geoms = [_geojson_geometry(f) for f in data.get("features") or []]
        if not geoms:
            raise InvalidGeometry("the GeoJSON FeatureCollection has no features")
        from shapely.ops import unary_union

        return unary_union(geoms)
    if kind == "Feature":
        return _geojson_geometry(data.get("geometry"))
    if kind in {"Polygon", "MultiPolygon", "GeometryCollection"}:
        try:
            return shape(data)
        except (ShapelyError, ValueError, TypeError, IndexError, KeyError) as exc:
            raise InvalidGeometry(f"the GeoJSON {kind} is malformed: {exc}") from None
    raise InvalidGeometry(f"GeoJSON of type {kind!r} is not an area")


def parse_area(extent: str | dict, extent_type: str | None = None) -> MultiPolygon:
    """A MultiPolygon from an HSDS service_area extent: GeoJSON (geometry, feature) or WKT."""
    if isinstance(extent, dict):
        return _as_multipolygon(_geojson_geometry(extent))
    text = (extent or "").strip()
    if not text:
        raise InvalidGeometry("the service area extent is empty")
    kind = (extent_type or "").strip().lower()
    if text.startswith("{") or kind == "geojson":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidGeometry(f"the service area is not valid GeoJSON: {exc.msg}") from None
        return _as_multipolygon(_geojson_geometry(data))
    if kind in {"", "wkt"}:
        if text.upper().startswith("SRID="):
            text = text.split(";", 1)[-1]
        try:
            return _as_multipolygon(wkt.loads(text))
        except ShapelyError as exc:
            raise InvalidGeometry(f"the service area is not valid WKT: {exc}") from None
    raise InvalidGeometry(f"service area extents of type {extent_type!r} are not supported")


def _rings(data: Any):
    """Every linear ring of the polygons in a GeoJSON object, as written (not yet repaired)."""
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "FeatureCollection":
        for feature in data.get("features") or []:
            yield from _rings(feature)
    elif kind == "Feature":
        yield from _rings(data.get("geometry"))
    elif kind == "GeometryCollection":
        for geometry in data.get("geometries") or []:
            yield from _rings(geometry)
    elif kind == "Polygon":
        yield from data.get("coordinates") or []
    elif kind == "MultiPolygon":
        for polygon in data.get("coordinates") or []:
            yield from polygon


def parse_uploaded_area(text: str) -> MultiPolygon:
    """A service area a person uploads as GeoJSON, checked as written: shapely would quietly
    close a ring whose last point is not its first, so that is refused here instead."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidGeometry(f"the file is not GeoJSON: {getattr(exc, 'msg', exc)}") from None
    for ring in _rings(data):
        if not isinstance(ring, list) or len(ring) < 4:
            raise InvalidGeometry("a polygon ring needs at least four points, the last the first")
        if ring[0] != ring[-1]:
            raise InvalidGeometry(
                "the polygon does not close: its last point must be the same as its first"
            )
    return parse_area(data)


def area_to_geojson(area: MultiPolygon) -> str:
    from shapely.geometry import mapping

    return json.dumps(mapping(area), separators=(",", ":"))


def to_db(geom: BaseGeometry) -> WKBElement:
    """The only way geometry goes into the database."""
    return from_shape(geom, srid=SRID)


def from_db(element: WKBElement | None) -> BaseGeometry | None:
    """The only way geometry comes out of the database."""
    return None if element is None else to_shape(element)
