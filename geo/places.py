"""Turning what a person types ("13202", "Utica, NY", "43.05,-76.15") into a point, offline.

US ZIP code centroids come from the `zipcodes` package (no network, no geocoding service); a city
is the centroid of its ZIP codes. Browser location arrives as latitude/longitude parameters.
"""

import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import cache, lru_cache
from statistics import fmean

import zipcodes

from geo import shapes
from geo.sql import EARTH_RADIUS_M

US_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR",
    "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
    "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA",
    "washington": "WA", "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
    "puerto rico": "PR", "guam": "GU", "virgin islands": "VI", "us virgin islands": "VI",
    "american samoa": "AS", "northern mariana islands": "MP",
}  # fmt: skip

_ZIP = re.compile(r"^(\d{5})(?:-\d{4})?$")
_ZIP_AT_END = re.compile(r"(?:^|[\s,])(\d{5})(?:-\d{4})?$")
_LATLON = re.compile(r"^\s*([-+]?\d{1,3}(?:\.\d+)?)\s*[,;\s]\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$")
_CITY_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "ft": "fort", "mt": "mount"}


@dataclass(frozen=True)
class Place:
    """A point a person searches near, and how they named it."""

    latitude: float
    longitude: float
    label: str
    kind: str  # "zip", "latlon", "city" or "browser"


class UnknownPlace(ValueError):
    """The text names no place we can find; the message says what to type instead."""


def _fold(text: str) -> str:
    """Lower case, no accents, no punctuation: how city names are compared."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9 ]+", " ", text.lower().replace("'", "")).split()
    return " ".join(_CITY_ABBREVIATIONS.get(w, w) for w in words)


@cache
def _zip_table() -> tuple[dict, dict]:
    """{zip: (lat, lon, city, state, tz)}, {(folded city, state): ((lat, lon, zip), ...)}.

    Built once from a fresh copy of the package's rows (`filter_by()`, not `list_all()`, which
    keeps 42,000 dicts alive): plain tuples the garbage collector need not walk.
    """
    by_zip: dict[str, tuple[float, float, str, str, str | None]] = {}
    by_city: dict[tuple[str, str], list[tuple[float, float, str]]] = defaultdict(list)
    for row in zipcodes.filter_by():
        try:
            lat, lon = float(row["lat"]), float(row["long"])
        except (TypeError, ValueError):
            continue
        if lat == 0 and lon == 0:
            continue
        by_zip[row["zip_code"]] = (lat, lon, row["city"], row["state"], row.get("timezone"))
        if not row.get("active", True):
            continue
        for city in [row["city"], *row.get("acceptable_cities", [])]:
            by_city[(_fold(city), row["state"])].append((lat, lon, row["zip_code"]))
    return by_zip, {key: tuple(points) for key, points in by_city.items()}


@cache
def _counties() -> dict[tuple[str, str], str]:
    """{(folded county name without "county", state): "Onondaga County"} from the ZIP rows."""
    found = {}
    for row in zipcodes.filter_by():
        name = (row.get("county") or "").strip()
        if name:
            key = _fold(name).removesuffix(" county").removesuffix(" parish").strip()
            found[(key, row["state"])] = name
    return found


def county(text: str) -> str:
    """A US county as "Onondaga County, NY" from "onondaga, ny" or "Onondaga County, New York"."""
    name, _, state = text.rpartition(",")
    code = _state_code(state) if name.strip() else None
    if code is None:
        raise UnknownPlace(
            f"Write the county and its state, e.g. Onondaga County, NY (not {text.strip()!r})."
        )
    key = _fold(name).removesuffix(" county").removesuffix(" parish").strip()
    found = _counties().get((key, code))
    if found is None:
        raise UnknownPlace(f"We know no county {name.strip()!r} in {code}.")
    return f"{found}, {code}"


@cache
def _county_of_zip() -> dict[str, str]:
    """{zip: "Onondaga County"} from the ZIP rows."""
    return {
        row["zip_code"]: row["county"].strip()
        for row in zipcodes.filter_by()
        if (row.get("county") or "").strip()
    }


def _nearest_zip(latitude: float, longitude: float) -> str | None:
    """The ZIP code whose centroid is nearest the point (to about 100 m, which ZIP centroids
    do not resolve anyway; kept per rounded point, since a scan of every ZIP costs ~15 ms)."""
    return _nearest_zip_rounded(round(latitude, 3), round(longitude, 3))


@lru_cache(maxsize=4096)
def _nearest_zip_rounded(latitude: float, longitude: float) -> str | None:
    scale = math.cos(math.radians(latitude))
    best, best_d = None, float("inf")
    for code, (lat, lon, *_rest) in _zip_table()[0].items():
        d = (lat - latitude) ** 2 + ((lon - longitude) * scale) ** 2
        if d < best_d:
            best, best_d = code, d
    return best


def fold_name(text: str) -> str:
    """A place name folded as `area_names_at` folds them."""
    return _fold(text)


def area_names_at(place: Place) -> frozenset[str]:
    """How a service area without a shape may name the place, folded: its ZIP code ("13202",
    "zip 13202") and its county ("onondaga county", "onondaga county ny"). A listing that
    serves "Onondaga County" or "ZIP 13202" covers a person searching there, though we hold
    no boundaries. The ZIP is the one searched for, else the nearest centroid's."""
    code = place.label[:5] if place.kind == "zip" else _nearest_zip(place.latitude, place.longitude)
    if code is None or code not in _zip_table()[0]:
        return frozenset()
    names = {code, f"zip {code}"}
    county_name = _county_of_zip().get(code)
    if county_name:
        state = _zip_table()[0][code][3]
        folded = _fold(county_name)
        names |= {folded, f"{folded} {_fold(state)}"}
    return frozenset(names)


def _state_code(text: str) -> str | None:
    folded = _fold(text)
    if len(folded) == 2 and folded.upper() in US_STATES.values():
        return folded.upper()
    return US_STATES.get(folded)


def place_from_zip(code: str) -> Place:
    """The centroid of a US ZIP code."""
    found = _zip_table()[0].get(code)
    if found is None:
        raise UnknownPlace(f"{code} is not a US ZIP code we know.")
    lat, lon, city, state, _tz = found
    return Place(lat, lon, f"{code} ({city.title()}, {state})", "zip")


def place_from_city(city: str, state: str) -> Place:
    """The centroid of a city's ZIP codes, e.g. ("Utica", "NY")."""
    code = _state_code(state)
    if code is None:
        raise UnknownPlace(f"{state.strip()!r} is not a US state; use e.g. NY or New York.")
    points = _zip_table()[1].get((_fold(city), code))
    if not points:
        raise UnknownPlace(f"We can't find {city.strip()}, {code}. Try its ZIP code.")
    label = f"{city.strip().title()}, {code}"
    return Place(fmean(p[0] for p in points), fmean(p[1] for p in points), label, "city")


def place_from_latlon(latitude, longitude, kind: str = "latlon") -> Place:
    """A point given as numbers (typed "lat,lon", or the browser's location)."""
    try:
        lat, lon = shapes.validate_point(latitude, longitude)
    except shapes.InvalidGeometry as exc:
        raise UnknownPlace(f"That location can't be used: {exc}.") from None
    label = "your location" if kind == "browser" else f"{lat:.5f}, {lon:.5f}"
    return Place(lat, lon, label, kind)


def _city_without_state(text: str) -> Place:
    folded = _fold(text)
    states = sorted({state for (city, state) in _zip_table()[1] if city == folded})
    if len(states) == 1:
        return place_from_city(text, states[0])
    if states:
        examples = ", ".join(f"{text.strip().title()}, {s}" for s in states[:3])
        raise UnknownPlace(
            f"Several places are called {text.strip().title()}: add the state ({examples})."
        )
    raise UnknownPlace(
        f"We can't find {text.strip()!r}. Enter a ZIP code, a city and state (Utica, NY) "
        "or latitude,longitude."
    )


def resolve_place(text: str) -> Place:
    """A Place from a ZIP code, "lat,lon", "City, ST", "City, State" or "City ST 12345"."""
    raw = (text or "").strip()
    if not raw:
        raise UnknownPlace("Enter a ZIP code, a city and state (Utica, NY) or latitude,longitude.")
    if match := _ZIP.match(raw):
        return place_from_zip(match[1])
    if match := _LATLON.match(raw):
        return place_from_latlon(match[1], match[2])
    if match := _ZIP_AT_END.search(raw):
        return place_from_zip(match[1])
    if "," in raw:
        city, _, state = raw.rpartition(",")
        if city.strip():
            return place_from_city(city, state)
    words = raw.split()
    for size in (3, 2, 1):  # "Santa Fe New Mexico", "Utica New York", "Utica NY"
        if len(words) > size and _state_code(" ".join(words[-size:])):
            return place_from_city(" ".join(words[:-size]), " ".join(words[-size:]))
    return _city_without_state(raw)


def timezone_for_zip(code: str | None) -> str | None:
    """The IANA time zone of a US ZIP code ("America/Chicago"), for hours kept without one."""
    if not code:
        return None
    found = _zip_table()[0].get(code.strip()[:5])
    return found[4] if found else None


def km_from_zip(code: str | None, latitude: float, longitude: float) -> float | None:
    """How far a point lies from its US ZIP code's centroid, in km; None for an unknown ZIP.

    An imported point far from its own address's ZIP is usually a bad geocode, kept but checked.
    """
    found = _zip_table()[0].get((code or "").strip()[:5])
    if found is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (found[0], found[1], latitude, longitude))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h))) / 1000  # haversine
