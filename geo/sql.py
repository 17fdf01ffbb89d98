"""Spatial SQL for both databases: points within a radius, nearest points, areas covering a point.

Every query goes through a spatial index, never a scan of all rows:
- SpatiaLite: the R*Tree virtual table `idx_<table>_<geom>` is read first (CROSS JOIN fixes the
  join order) on a bounding box, then
  the exact great-circle distance on the WGS84 ellipsoid (`ST_Distance(a, b, 1)`, metres) or
  `ST_Covers` is checked on the few rows left.
- PostGIS: `ST_DWithin` on geography through the `(geom::geography)` expression index, distances
  on the spheroid, KNN `<->` for nearest; `ST_Covers` on geometry through the GiST index.

The functions return SQLAlchemy selectables with bound parameters (so callers can join them to
their own tables) or run them on a connection. Table and column names are identifiers checked here.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Float, String, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TextualSelect
from sqlalchemy.types import TypeEngine

from geo import SRID

KM_PER_MILE = 1.609344
METRES_PER_DEGREE_LAT = 110_574.0  # the shortest degree of latitude (at the equator)
METRES_PER_DEGREE_LON_EQUATOR = 111_320.0
MAX_RADIUS_M = 2_000_000.0
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def km_to_miles(km: float) -> float:
    """Kilometres to statute miles."""
    return km / KM_PER_MILE


def miles_to_km(miles: float) -> float:
    """Statute miles to kilometres."""
    return miles * KM_PER_MILE


def _name(identifier: str) -> str:
    if not _IDENTIFIER.match(identifier):
        raise ValueError(f"{identifier!r} is not a plain SQL identifier")
    return identifier


def bounding_box(latitude: float, longitude: float, radius_m: float) -> tuple[float, ...]:
    """(min_lon, min_lat, max_lon, max_lat) enclosing every point within radius_m of the point.

    Slightly generous (shortest degree of latitude, a 1 % margin); near the poles it widens to
    every longitude. Points across the antimeridian are not found (no US place needs it).
    """
    radius_m = min(float(radius_m), MAX_RADIUS_M) * 1.01
    dlat = radius_m / METRES_PER_DEGREE_LAT
    min_lat, max_lat = max(-90.0, latitude - dlat), min(90.0, latitude + dlat)
    widest = max(abs(min_lat), abs(max_lat))
    cos = math.cos(math.radians(widest))
    if widest >= 89.0 or cos * METRES_PER_DEGREE_LON_EQUATOR * 180 <= radius_m:
        return (-180.0, min_lat, 180.0, max_lat)
    dlon = radius_m / (METRES_PER_DEGREE_LON_EQUATOR * cos)
    return (max(-180.0, longitude - dlon), min_lat, min(180.0, longitude + dlon), max_lat)


def _point_sql(dialect: str, prefix: str) -> str:
    if dialect == "sqlite":
        return f"MakePoint(:{prefix}_lon, :{prefix}_lat, {SRID})"
    return f"ST_SetSRID(ST_MakePoint(:{prefix}_lon, :{prefix}_lat), {SRID})"


def distance_sql(dialect: str, geom: str, prefix: str = "d") -> str:
    """SQL for the great-circle distance in metres from `geom` to the point (:<prefix>_lat/lon)."""
    point = _point_sql(dialect, prefix)
    if dialect == "sqlite":
        return f"ST_Distance({geom}, {point}, 1)"
    return f"ST_Distance(({geom})::geography, ({point})::geography)"


def _columns(key: str, extra: Sequence[str], join: "Join | None" = None) -> str:
    columns = [f"t.{_name(c)} AS {c}" for c in (key, *extra)]
    if join is not None:
        columns += [f"j.{_name(c)} AS {c}" for c in join.columns]
    return ", ".join(columns)


def _rtree_box(table: str, geom: str, box: tuple[str, str, str, str], joined: str = "") -> str:
    """FROM and WHERE of a SpatiaLite R*Tree lookup: the rows of `table` (as t) whose bounding
    box meets the box given as the names of its (min_x, min_y, max_x, max_y) bind parameters.
    The CROSS JOIN makes SQLite read the index first."""
    min_x, min_y, max_x, max_y = box
    return (
        f"FROM idx_{table}_{geom} AS r CROSS JOIN {table} AS t{joined} "
        f"WHERE t.rowid = r.pkid AND r.xmin <= :{max_x} AND r.xmax >= :{min_x} "
        f"AND r.ymin <= :{max_y} AND r.ymax >= :{min_y}"
    )


@dataclass(frozen=True)
class Join:
    """Another table joined to the matched rows (`table.column = <key>`), read in that order:
    SpatiaLite would otherwise pick its own join order and may scan the other table."""

    table: str
    column: str
    columns: tuple[str, ...]


def within_radius(
    dialect: str,
    table: str,
    latitude: float,
    longitude: float,
    radius_m: float,
    *,
    key: str = "id",
    geom: str = "geom",
    extra: Sequence[str] = (),
    types: dict[str, TypeEngine] | None = None,
    limit: int | None = None,
    join: Join | None = None,
) -> TextualSelect:
    """Rows of `table` whose point lies within radius_m metres: columns key, *extra, distance_m
    (and the `join` table's columns, one row per joined row).

    With `limit`, the nearest first. The parameters are prefixed `w_` so the select can be
    combined with `covering()` in one statement.
    """
    table, geom = _name(table), _name(geom)
    joined_sqlite = joined_pg = ""
    if join is not None:
        on = f"j.{_name(join.column)} = t.{_name(key)}"
        joined_sqlite = f" CROSS JOIN {_name(join.table)} AS j"
        joined_pg = f" JOIN {_name(join.table)} AS j ON {on}"
    params = {"w_lat": latitude, "w_lon": longitude, "w_r": float(radius_m)}
    distance = distance_sql(dialect, f"t.{geom}", "w")
    if dialect == "sqlite":
        params.update(
            zip(
                ("w_minx", "w_miny", "w_maxx", "w_maxy"),
                bounding_box(latitude, longitude, radius_m),
                strict=True,
            )
        )
        sql = (
            f"SELECT {_columns(key, extra, join)}, {distance} AS distance_m "  # noqa: S608  (identifiers checked)
            f"{_rtree_box(table, geom, ('w_minx', 'w_miny', 'w_maxx', 'w_maxy'), joined_sqlite)} "
            f"AND {distance} <= :w_r"
        )
        if join is not None:
            sql += f" AND j.{_name(join.column)} = t.{_name(key)}"
    else:
        point = _point_sql(dialect, "w")
        sql = (
            f"SELECT {_columns(key, extra, join)}, {distance} AS distance_m "  # noqa: S608  (identifiers checked)
            f"FROM {table} AS t{joined_pg} "
            f"WHERE ST_DWithin((t.{geom})::geography, ({point})::geography, :w_r)"
        )
    if limit is not None:
        if dialect == "sqlite":
            sql += " ORDER BY distance_m"
        else:
            sql += f" ORDER BY (t.{geom})::geography <-> ({_point_sql(dialect, 'w')})::geography"
        sql += " LIMIT :w_limit"
        params["w_limit"] = int(limit)
    joined = join.columns if join is not None else ()
    column_types = {c: String() for c in (key, *extra, *joined)} | (types or {})
    return text(sql).bindparams(**params).columns(**column_types, distance_m=Float())


def covering(
    dialect: str,
    table: str,
    latitude: float,
    longitude: float,
    *,
    key: str = "id",
    geom: str = "geom",
    extra: Sequence[str] = (),
    types: dict[str, TypeEngine] | None = None,
) -> TextualSelect:
    """Rows of `table` whose (multi)polygon covers the point (its boundary included)."""
    table, geom = _name(table), _name(geom)
    params = {"c_lat": latitude, "c_lon": longitude}
    point = _point_sql(dialect, "c")
    if dialect == "sqlite":
        sql = (
            f"SELECT {_columns(key, extra)} "  # noqa: S608  (identifiers checked)
            f"{_rtree_box(table, geom, ('c_lon', 'c_lat', 'c_lon', 'c_lat'))} "
            # For a point, intersecting an area is being covered by it (its edge included),
            # and SpatiaLite answers it faster.
            f"AND ST_Intersects(t.{geom}, {point}) = 1"
        )
    else:
        sql = f"SELECT {_columns(key, extra)} FROM {table} AS t WHERE ST_Covers(t.{geom}, {point})"  # noqa: S608
    column_types = {key: String(), **{c: String() for c in extra}, **(types or {})}
    return text(sql).bindparams(**params).columns(**column_types)


def _dialect(bind: Connection | Session) -> str:
    """The dialect name of a connection, a session or a scoped session."""
    if isinstance(bind, Connection):
        return bind.dialect.name
    return bind.get_bind().dialect.name


EARTH_RADIUS_M = 6_371_008.8  # mean radius: great circles within 0.5 % of the ellipsoid


def great_circle_m(latitude: float, longitude: float, lats, lons) -> np.ndarray:
    """Haversine distances in metres from a point to arrays of points (vectorised)."""
    lat1, lon1 = math.radians(latitude), math.radians(longitude)
    lat2 = np.radians(np.asarray(lats, dtype=np.float64))
    lon2 = np.radians(np.asarray(lons, dtype=np.float64))
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(1.0, h)))


def rows_within(
    bind: Connection | Session,
    table: str,
    latitude: float,
    longitude: float,
    radius_m: float,
    *,
    key: str = "id",
    geom: str = "geom",
    join: Join | None = None,
    coordinates: tuple[str, str] = ("latitude", "longitude"),
) -> list[tuple]:
    """[(key, *join columns, distance_m)] of the rows within radius_m metres, in no order.

    For searches that may find thousands of points. SpatiaLite: the R*Tree finds the box and
    numpy measures great circles from the table's latitude/longitude columns (decoding each
    geometry in SQL costs about 10 µs a row). PostGIS: ST_DWithin and ST_Distance on geography,
    through the expression index.
    """
    dialect = _dialect(bind)
    if dialect != "sqlite":
        select = within_radius(dialect, table, latitude, longitude, radius_m, key=key, geom=geom,
                               join=join)  # fmt: skip
        return [tuple(row) for row in bind.execute(select).all()]
    table, geom = _name(table), _name(geom)
    lat_column, lon_column = (_name(c) for c in coordinates)
    joined, on = "", ""
    if join is not None:
        joined = f" CROSS JOIN {_name(join.table)} AS j"
        on = f" AND j.{_name(join.column)} = t.{_name(key)}"
    min_lon, min_lat, max_lon, max_lat = bounding_box(latitude, longitude, radius_m)
    sql = (
        f"SELECT {_columns(key, (), join)}, t.{lat_column}, t.{lon_column} "  # noqa: S608  (identifiers checked)
        f"{_rtree_box(table, geom, ('min_lon', 'min_lat', 'max_lon', 'max_lat'), joined)}{on}"
    )
    params = {"min_lon": min_lon, "min_lat": min_lat, "max_lon": max_lon, "max_lat": max_lat}
    rows = bind.execute(text(sql), params).all()
    if not rows:
        return []
    distances = great_circle_m(
        latitude, longitude, [row[-2] for row in rows], [row[-1] for row in rows]
    )
    keep = np.flatnonzero(distances <= radius_m)
    return [(*rows[i][:-2], float(distances[i])) for i in keep.tolist()]


def points_within(
    bind: Connection | Session,
    table: str,
    latitude: float,
    longitude: float,
    radius_m: float,
    *,
    key: str = "id",
    geom: str = "geom",
) -> list[tuple]:
    """[(key, distance_m)] of every point within radius_m metres, nearest first."""
    select = within_radius(_dialect(bind), table, latitude, longitude, radius_m, key=key, geom=geom)
    rows = bind.execute(select).all()
    return sorted(((row[0], row[1]) for row in rows), key=lambda r: r[1])


def nearest(
    bind: Connection | Session,
    table: str,
    latitude: float,
    longitude: float,
    count: int,
    *,
    max_m: float = 100_000.0,
    key: str = "id",
    geom: str = "geom",
) -> list[tuple]:
    """[(key, distance_m)] of the `count` nearest points within max_m metres, nearest first.

    PostGIS orders by the geography KNN operator; SpatiaLite widens a box search from 1 km
    until enough points are found (each step is an R*Tree lookup).
    """
    dialect = _dialect(bind)
    radius = max_m if dialect != "sqlite" else min(1_000.0, max_m)
    while True:
        select = within_radius(
            dialect, table, latitude, longitude, radius, key=key, geom=geom, limit=count
        )
        rows = [(row[0], row[1]) for row in bind.execute(select).all()]
        if len(rows) >= count or radius >= max_m:
            return rows
        radius = min(radius * 4, max_m)


def areas_covering(
    bind: Connection | Session,
    table: str,
    latitude: float,
    longitude: float,
    *,
    key: str = "id",
    geom: str = "geom",
) -> list:
    """Keys of the areas that contain the point."""
    select = covering(_dialect(bind), table, latitude, longitude, key=key, geom=geom)
    return [row[0] for row in bind.execute(select).all()]


__all__ = [
    "KM_PER_MILE",
    "Join",
    "areas_covering",
    "bounding_box",
    "covering",
    "distance_sql",
    "km_to_miles",
    "miles_to_km",
    "nearest",
    "great_circle_m",
    "points_within",
    "rows_within",
    "within_radius",
]
