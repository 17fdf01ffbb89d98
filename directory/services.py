"""Writes to the directory. Services flush, never commit: the caller owns the transaction."""

from decimal import Decimal
from typing import Any

from directory.models import Location, ServiceArea
from geo import shapes


def place_location(location: Location, latitude: Any, longitude: Any) -> None:
    """Set a location's HSDS latitude/longitude and its point geometry together, or refuse both."""
    if latitude in (None, "") and longitude in (None, ""):
        location.latitude = location.longitude = None
        location.geom = None
        return
    lat, lon = shapes.validate_point(latitude, longitude)
    location.latitude = Decimal(str(round(lat, 6)))
    location.longitude = Decimal(str(round(lon, 6)))
    location.geom = shapes.to_db(shapes.make_point(lat, lon))


def set_service_area_extent(area: ServiceArea, extent: Any, extent_type: str | None = None) -> None:
    """Keep the HSDS extent text and its geometry in step; a text-only area has no geometry."""
    if extent in (None, ""):
        area.extent, area.extent_type, area.geom = None, extent_type, None
        return
    kind = (extent_type or "").strip().lower() or None
    if kind not in (None, "geojson", "wkt"):
        # HSDS allows topojson/kml/text: keep the text, draw no shape.
        area.extent, area.extent_type, area.geom = str(extent), extent_type, None
        return
    geometry = shapes.parse_area(extent, kind)
    area.extent = shapes.area_to_geojson(geometry)
    area.extent_type = "geojson"
    area.geom = shapes.to_db(geometry)
