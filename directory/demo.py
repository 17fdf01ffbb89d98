"""The demo network: a believable directory for Syracuse and Onondaga County, New York.

Everything is built from the hand-written data in `demo_data/` (places, kinds of service,
organizations), real ZIP centroids from the `zipcodes` package, and a `random.Random` seeded per
record, so every run makes the same records with the same uuid5 ids. `seed_demo_directory()`
inserts only what is missing: records already in the database, including any an admin edited,
are left as they are. Organizations are fictional; phone numbers are 555-01xx numbers.
"""

import json
import math
import random
import re
import tomllib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import zipcodes
from shapely.geometry import MultiPoint, Polygon, mapping
from shapely.ops import unary_union
from sqlalchemy import insert, select

from directory import services as directory_services
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
    ServiceStatus,
)
from directory.search import sync as search_sync
from directory.taxonomy import load_open_eligibility, open_eligibility_term_id
from extensions import db

DEMO_DATASET = "demo"
DEMO_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://wraparound.invalid/demo")
DEMO_MARKER = "Demo data: this organization is fictional."
DATA_DIR = Path(__file__).parent / "demo_data"


def demo_id(*parts: object) -> uuid.UUID:
    """The stable id of a demo record, from the path of keys that names it."""
    return uuid.uuid5(DEMO_NAMESPACE, ":".join(str(p) for p in parts))


def _rng(*parts: object) -> random.Random:
    """A generator seeded by a record's keys, so adding a record never reshuffles the others."""
    seed = ":".join(["wraparound-demo", *(str(p) for p in parts)])
    return random.Random(seed)  # noqa: S311  (made-up demo content, not secrets)


def organization_id(key: str) -> uuid.UUID:
    """The id of a demo organization from its key in organizations.toml."""
    return demo_id("organization", key)


# Organizations that play a part in the demo referral network, by role (their `agency` in
# organizations.toml). The accounts helper attaches agency staff to these.
DEMO_AGENCY_KEYS = {
    "food_bank": "salt-city-food-bank",
    "shelter": "harbor-house",
    "medicaid_transportation": "cny-medicaid-ride-line",
    "behavioral_health": "onondaga-valley-behavioral-health",
    "legal_aid": "mid-state-legal-aid",
}
DEMO_AGENCY_IDS: dict[str, uuid.UUID] = {
    role: organization_id(key) for role, key in DEMO_AGENCY_KEYS.items()
}
# The Health Home whose care managers (coordinators) send the demo referrals.
DEMO_HEALTH_HOME_KEY = "cny-health-home"
DEMO_HEALTH_HOME_ID = organization_id(DEMO_HEALTH_HOME_KEY)

LANGUAGES = {
    "en": "English",
    "es": "Spanish",
    "ar": "Arabic",
    "ne": "Nepali",
    "so": "Somali",
    "my": "Burmese",
    "sw": "Swahili",
    "vi": "Vietnamese",
    "prs": "Dari",
    "uk": "Ukrainian",
    "kar": "Karen",
    "fr": "French",
    "rw": "Kinyarwanda",
    "ur": "Urdu",
    "ase": "American Sign Language",
}

ALL_DAYS = "MO,TU,WE,TH,FR,SA,SU"
WEEKDAYS = "MO,TU,WE,TH,FR"

# Hours patterns: each is a list of variants; a variant is a list of (byday, opens, closes),
# with an optional fourth item "MONTHLY" (byday then says which week, e.g. "2SA").
HOURS: dict[str, list[list[tuple[str, ...]]]] = {
    "office": [
        [(WEEKDAYS, "08:30", "16:30")],
        [(WEEKDAYS, "09:00", "17:00")],
        [(WEEKDAYS, "08:00", "16:00")],
        [("MO,TU,WE,TH", "08:30", "17:00"), ("FR", "08:30", "13:00")],
    ],
    "office_late": [
        [("MO,WE,FR", "09:00", "17:00"), ("TU,TH", "09:00", "19:00")],
        [(WEEKDAYS, "10:00", "18:00")],
        [("MO,TU,WE,TH", "09:00", "19:30"), ("FR", "09:00", "16:00")],
    ],
    "pantry": [
        [("TU,TH", "10:00", "13:00")],
        [("MO,WE", "10:00", "12:00"), ("TH", "17:00", "19:00")],
        [("WE", "09:30", "12:30"), ("SA", "09:00", "11:00")],
        [("TU", "16:00", "18:30"), ("SA", "10:00", "12:00")],
        [("MO,WE,FR", "09:00", "12:00")],
        [("TH", "13:00", "16:00")],
        [("MO,TU,WE,TH,FR", "10:00", "14:00")],
    ],
    "meal": [
        [(ALL_DAYS, "11:30", "13:00")],
        [(WEEKDAYS, "16:30", "18:00")],
        [(WEEKDAYS, "11:00", "12:30"), ("SA,SU", "12:00", "13:30")],
        [("MO,WE,FR", "17:00", "18:30")],
    ],
    "breakfast": [[(WEEKDAYS, "07:00", "09:00"), ("SA", "08:00", "10:00")]],
    "lunch": [[(WEEKDAYS, "11:30", "13:00")], [(WEEKDAYS, "11:45", "13:00")]],
    "clinic": [
        [(WEEKDAYS, "08:00", "17:00")],
        [("MO,WE,FR", "08:00", "17:00"), ("TU,TH", "08:00", "20:00")],
        [(WEEKDAYS, "08:00", "17:00"), ("SA", "09:00", "13:00")],
        [("MO,TU,TH,FR", "08:30", "17:00"), ("WE", "12:00", "20:00")],
    ],
    "class": [
        [("MO,WE", "09:00", "11:30"), ("TU,TH", "18:00", "20:00")],
        [("TU,TH", "09:30", "12:00")],
        [("MO,WE", "18:00", "20:30")],
        [("TU,TH", "13:00", "15:00"), ("SA", "10:00", "12:30")],
    ],
    "evening": [
        [("TU", "18:00", "20:00")],
        [("MO,TH", "17:30", "20:00")],
        [("WE", "18:30", "20:00")],
    ],
    "weekend": [[("SA", "09:00", "13:00")], [("SA,SU", "10:00", "14:00")]],
    "24x7": [[(ALL_DAYS, "00:00", "23:59")]],
    "overnight": [[(ALL_DAYS, "19:00", "07:00")]],
    "late": [[(ALL_DAYS, "17:00", "01:00")]],
    "late_weekend": [[("MO,TU,WE,TH", "14:00", "20:00"), ("FR,SA", "16:00", "02:00")]],
    "outreach": [[(WEEKDAYS, "07:00", "19:00"), ("SA,SU", "09:00", "17:00")]],
    "rides": [[(WEEKDAYS, "07:00", "18:00"), ("SA", "08:00", "12:00")]],
    "dosing": [[(WEEKDAYS, "05:30", "13:00"), ("SA,SU", "07:00", "10:00")]],
    "drop_in": [
        [(WEEKDAYS, "10:00", "18:00"), ("SA", "12:00", "16:00")],
        [("MO,TU,WE,TH", "09:00", "16:00"), ("FR", "09:00", "21:00"), ("SU", "12:00", "17:00")],
    ],
    "meetings": [[(ALL_DAYS, "19:00", "20:30"), ("SA,SU", "10:00", "11:30")]],
    "tax": [[("TU,TH", "17:00", "20:00"), ("SA", "09:00", "14:00")]],
    "library": [
        [("MO,TU,WE,TH", "09:00", "20:00"), ("FR", "09:00", "17:00"), ("SA", "10:00", "17:00")],
        [("MO,WE", "10:00", "20:00"), ("TU,TH,FR", "10:00", "18:00"), ("SA", "10:00", "14:00")],
    ],
    "after_school": [[(WEEKDAYS, "14:30", "18:00")], [(WEEKDAYS, "15:00", "18:30")]],
    "school_day": [[(WEEKDAYS, "08:00", "14:30")], [(WEEKDAYS, "07:30", "15:30")]],
    "child_care": [[(WEEKDAYS, "06:30", "18:00")], [(WEEKDAYS, "06:00", "17:30")]],
    "monthly": [
        [("2SA", "10:00", "12:00", "MONTHLY")],
        [("1TH", "16:00", "18:00", "MONTHLY")],
        [("3SA", "09:00", "11:00", "MONTHLY")],
        [("-1WE", "15:00", "17:30", "MONTHLY")],
    ],
}
_ORDINALS = {"1": "first", "2": "second", "3": "third", "4": "fourth", "-1": "last"}
_DAY_NAMES = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}

ORGANIZATION_TYPES = {
    "congregation": "a congregation in {place} whose volunteers serve their neighbors",
    "community_group": "a volunteer-run community organization in {place}",
    "community_center": "a neighborhood community center in {place}",
    "community_association": (
        "a community association in {place} founded by and for refugee and immigrant families"
    ),
    "health_center": "a community health center in {place}",
    "clinic": "a licensed outpatient clinic in {place}",
    "volunteer_clinic": "a volunteer-staffed clinic in {place}",
    "hospital": "a hospital in {place}",
    "nonprofit": "a nonprofit organization based in {place}",
    "legal": "a nonprofit legal services organization in {place}",
    "library": "a public library in {place}",
    "school": "an adult education program in {place}",
    "child_care": "a licensed child care program in {place}",
    "government": "a public agency in {place}",
}

ACCESSIBLE = [
    ("Wheelchair accessible", "Step-free entrance and accessible restroom."),
    ("Wheelchair accessible", "Ramp at the side entrance; elevator to all floors."),
    ("Wheelchair accessible", "Ground-floor entrance with automatic doors."),
    ("Wheelchair accessible", "Accessible entrance from the parking lot; accessible restroom."),
]
NOT_ACCESSIBLE = [
    ("Not wheelchair accessible", "Entrance has steps and no ramp; staff can meet you outside."),
    ("Not wheelchair accessible", "Office is on the second floor with no elevator."),
    ("Limited wheelchair access", "Portable ramp on request; restroom is not accessible."),
]
EXTRA_ACCESS = [
    ("Accessible parking", "Marked accessible parking spaces next to the entrance."),
    ("Hearing loop", "Hearing loop at the front desk."),
    ("Large print", "Large-print forms available on request."),
    ("Service animals welcome", None),
]
SUITES = ["Suite 100", "Suite 200", "2nd Floor", "Room 104", "Suite 3", "Lower Level"]


class DemoDataError(ValueError):
    """The demo data files contradict themselves (a missing kind, a duplicate key...)."""


@dataclass(frozen=True)
class ZipPlace:
    """A real ZIP code of the metro: centroid from `zipcodes`, names from places.toml."""

    code: str
    city: str
    county: str
    latitude: float
    longitude: float
    place: str
    streets: tuple[str, ...]
    transit: str

    @property
    def urban(self) -> bool:
        return self.city == "Syracuse"


@dataclass
class DemoNetwork:
    """Every demo row, per table, as dicts ready for a bulk insert (built without a database)."""

    organizations: list[dict] = field(default_factory=list)
    locations: list[dict] = field(default_factory=list)
    addresses: list[dict] = field(default_factory=list)
    accessibility: list[dict] = field(default_factory=list)
    location_phones: list[dict] = field(default_factory=list)
    services: list[dict] = field(default_factory=list)
    service_phones: list[dict] = field(default_factory=list)
    schedules: list[dict] = field(default_factory=list)
    service_areas: list[dict] = field(default_factory=list)
    languages: list[dict] = field(default_factory=list)
    cost_options: list[dict] = field(default_factory=list)
    required_documents: list[dict] = field(default_factory=list)
    attributes: list[dict] = field(default_factory=list)
    service_at_locations: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class DemoSummary:
    """What a seed run did: rows added per table, and the totals of the demo network."""

    added: dict[str, int]
    organizations: int
    services: int
    locations: int

    def __str__(self) -> str:
        added = sum(self.added.values())
        return (
            f"demo network: {self.organizations} organizations, {self.services} services, "
            f"{self.locations} locations ({added} new rows)"
        )


# ---------------------------------------------------------------------------- data files


@cache
def _load(name: str) -> dict:
    with (DATA_DIR / name).open("rb") as handle:
        return tomllib.load(handle)


@cache
def _state_zip_records(state: str) -> tuple[dict, ...]:
    return tuple(zipcodes.filter_by(state=state))


def county_zips(county: str, state: str | None = None) -> list[dict]:
    """Active standard (street-address) ZIP codes of a county, from the zipcodes package."""
    state = state or _load("places.toml")["state"]
    return [
        z
        for z in _state_zip_records(state)
        if z["county"] == county and z["active"] and z["zip_code_type"] == "STANDARD"
    ]


@cache
def metro_places() -> dict[str, ZipPlace]:
    """The ZIP codes the demo network uses, keyed by code."""
    places = _load("places.toml")
    records = {z["zip_code"]: z for z in county_zips(places["county"], places["state"])}
    result = {}
    for code, extra in places["zip"].items():
        if code not in records:
            raise DemoDataError(f"ZIP {code} is not a standard ZIP code of {places['county']}")
        record = records[code]
        result[code] = ZipPlace(
            code=code,
            city=record["city"].title(),
            county=record["county"],
            latitude=float(record["lat"]),
            longitude=float(record["long"]),
            place=extra["place"],
            streets=tuple(extra["streets"]),
            transit=extra["transit"],
        )
    return result


# ---------------------------------------------------------------------------- geometry


def hexagon(latitude: float, longitude: float, radius_km: float) -> Polygon:
    """A hexagon of about `radius_km` around a point: a stand-in for a ZIP area's boundary."""
    dlat = radius_km / 111.32
    dlon = radius_km / (111.32 * math.cos(math.radians(latitude)))
    return Polygon(
        [
            (
                longitude + dlon * math.cos(math.radians(a)),
                latitude + dlat * math.sin(math.radians(a)),
            )
            for a in range(0, 360, 60)
        ]
    )


def county_area(county: str) -> Polygon:
    """A county's approximate outline: the hull of its ZIP centroids, buffered a little."""
    points = MultiPoint([(float(z["long"]), float(z["lat"])) for z in county_zips(county)])
    return points.convex_hull.buffer(0.04, quad_segs=4)


def zip_area(codes: Iterable[str]) -> Any:
    """The union of ~2.5 km hexagons around the centroids of some ZIP codes."""
    places = metro_places()
    return unary_union([hexagon(places[c].latitude, places[c].longitude, 2.5) for c in codes])


@dataclass(frozen=True)
class AreaSpec:
    """A service area ready to store: the extent text, its type and its geometry element."""

    name: str
    description: str
    extent: str
    extent_type: str
    geom: Any


def _stored_area(name: str, description: str, geometry: Any) -> AreaSpec:
    # Through the same service every other writer uses, so text and geometry agree.
    area = ServiceArea()
    directory_services.set_service_area_extent(area, json.dumps(mapping(geometry)), "geojson")
    return AreaSpec(name, description, area.extent, area.extent_type, area.geom)


@cache
def _named_area(kind: str) -> AreaSpec:
    places = _load("places.toml")
    if kind == "county":
        county = places["county"]
        return _stored_area(county, f"Residents of {county}, New York", county_area(county))
    if kind == "city":
        codes = sorted(c for c, p in metro_places().items() if p.urban)
        return _stored_area(
            "City of Syracuse", "Residents of the City of Syracuse", zip_area(codes)
        )
    if kind == "region":
        counties = [places["county"], *places["neighbouring_counties"]]
        shape = unary_union([county_area(c) for c in counties])
        return _stored_area(
            places["region_name"],
            f"{places['region_name']}: {_join(counties)}",
            shape,
        )
    raise DemoDataError(f"unknown service area {kind!r}")


@cache
def _zips_area(codes: tuple[str, ...]) -> AreaSpec:
    label = f"ZIP codes {_join(codes)}"
    return _stored_area(label, f"Residents of {label}", zip_area(codes))


def nearest_zips(code: str, count: int) -> tuple[str, ...]:
    """A ZIP code and its nearest neighbours by centroid: a neighbourhood program's catchment."""
    places = metro_places()
    home = places[code]

    def distance(other: ZipPlace) -> float:
        dx = (other.longitude - home.longitude) * math.cos(math.radians(home.latitude))
        return math.hypot(dx, other.latitude - home.latitude)

    ranked = sorted(places.values(), key=lambda p: (distance(p), p.code))
    return tuple(sorted(p.code for p in ranked[:count]))


# ---------------------------------------------------------------------------- text helpers


def _join(items: Iterable[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _format(template: str, context: dict[str, str]) -> str:
    return template.format(**context)


def _phone_number(rng: random.Random, area_codes: list[str]) -> str:
    # 555-0100 to 555-0199 are reserved for fiction: nobody real can be called by mistake.
    return f"({rng.choice(area_codes)}) 555-01{rng.randint(0, 99):02d}"


def _schedule_description(byday: str, opens: str, closes: str) -> str:
    match = re.fullmatch(r"(-?\d)([A-Z]{2})", byday)
    if not match:
        return ""
    ordinal, day = _ORDINALS[match[1]], _DAY_NAMES[match[2]]
    return f"The {ordinal} {day} of every month, {opens}–{closes}."


def parse_schedule_text(text: str) -> list[tuple[str, str, str]]:
    """Hours written in the data files as "TH 17:00-18:30; SA 09:00-11:00"."""
    spans = []
    for part in text.split(";"):
        match = re.fullmatch(r"\s*([A-Z,]+)\s+(\d\d:\d\d)-(\d\d:\d\d)\s*", part)
        if not match:
            raise DemoDataError(f"can't read the hours {part!r}")
        spans.append((match[1], match[2], match[3]))
    return spans


# ---------------------------------------------------------------------------- building


@dataclass
class _Builder:
    today: date
    network: DemoNetwork = field(default_factory=DemoNetwork)

    def __post_init__(self) -> None:
        self.places = _load("places.toml")
        self.kinds = _load("services.toml")["kind"]
        self.zips = metro_places()
        self.county = self.places["county"]
        self.tz_name = self.places["tz_name"]
        self.area_codes = self.places["area_codes"]

    def build(self) -> DemoNetwork:
        seen: set[str] = set()
        for spec in _load("organizations.toml")["organization"]:
            if spec["key"] in seen:
                raise DemoDataError(f"organization key {spec['key']!r} is used twice")
            seen.add(spec["key"])
            self._organization(spec)
        missing = set(DEMO_AGENCY_KEYS.values()) | {DEMO_HEALTH_HOME_KEY}
        if not missing <= seen:
            raise DemoDataError(f"demo agencies missing from the data: {sorted(missing - seen)}")
        return self.network

    # -- organizations and their locations

    def _organization(self, spec: dict) -> None:
        key = spec["key"]
        rng = _rng("organization", key)
        org_id = organization_id(key)
        slug = key
        zips = [spec["zip"], *spec.get("sites", [])]
        for code in zips:
            if code not in self.zips:
                raise DemoDataError(f"{key}: ZIP {code} is not in places.toml")
        main_phone = _phone_number(rng, self.area_codes)
        entries = [self._entry(key, e) for e in spec["services"]]
        keys = [e["key"] for e in entries]
        if len(set(keys)) != len(keys):
            raise DemoDataError(f"{key}: two services share a key; give one a `key`")

        service_names = [self._service_name(key, e) for e in entries]
        description = spec.get("description") or self._organization_description(spec, service_names)
        legal_status = (
            "Government agency" if spec.get("type") == "government" else "Nonprofit 501(c)(3)"
        )
        self.network.organizations.append(
            {
                "id": org_id,
                "name": spec["name"],
                "alternate_name": spec.get("alternate_name"),
                "description": f"{description} {DEMO_MARKER}",
                "email": f"info@{slug}.example.org",
                "website": f"https://{slug}.example.org",
                "year_incorporated": spec.get("year"),
                "legal_status": legal_status,
                "dataset": DEMO_DATASET,
            }
        )
        location_ids = [
            self._location(spec, index, code, main_phone) for index, code in enumerate(zips)
        ]
        for entry, name in zip(entries, service_names, strict=True):
            self._service(spec, entry, name, location_ids, zips, main_phone)

    def _organization_description(self, spec: dict, service_names: list[str]) -> str:
        place = self.zips[spec["zip"]].place
        kind = ORGANIZATION_TYPES.get(spec.get("type", "nonprofit"))
        if kind is None:
            raise DemoDataError(f"{spec['key']}: unknown organization type {spec.get('type')!r}")
        intro = kind.format(place=place)
        since = f" since {spec['year']}" if spec.get("year") else ""
        return (
            f"{spec['name']} is {intro}, serving the community{since}. "
            f"Services include {_join(service_names)}."
        )

    def _location(self, spec: dict, index: int, code: str, phone: str) -> uuid.UUID:
        key = spec["key"]
        rng = _rng("location", key, index)
        place = self.zips[code]
        location_id = demo_id("location", key, index)
        latitude, longitude = self._jitter(rng, place)
        located = Location()
        directory_services.place_location(located, latitude, longitude)
        name = spec["name"] if index == 0 else f"{spec['name']}: {_place_title(place.place)}"
        self.network.locations.append(
            {
                "id": location_id,
                "location_type": "physical",
                "organization_id": organization_id(key),
                "name": name,
                "description": None,
                "transportation": place.transit,
                "latitude": located.latitude,
                "longitude": located.longitude,
                "geom": located.geom,
                "dataset": DEMO_DATASET,
            }
        )
        number = rng.randint(100, 1999) if place.urban else rng.randint(10, 8999)
        self.network.addresses.append(
            {
                "id": demo_id(location_id, "address"),
                "location_id": location_id,
                "address_1": f"{number} {rng.choice(place.streets)}",
                "address_2": rng.choice(SUITES) if rng.random() < 0.3 else None,
                "city": place.city,
                "region": place.county,
                "state_province": self.places["state"],
                "postal_code": place.code,
                "country": "US",
                "address_type": "physical",
            }
        )
        access = [rng.choice(ACCESSIBLE if rng.random() < 0.8 else NOT_ACCESSIBLE)]
        access += [extra for extra in EXTRA_ACCESS if rng.random() < 0.2]
        for n, (description, details) in enumerate(access):
            self.network.accessibility.append(
                {
                    "id": demo_id(location_id, "accessibility", n),
                    "location_id": location_id,
                    "description": description,
                    "details": details,
                    "url": None,
                }
            )
        self.network.location_phones.append(
            self._phone_row(demo_id(location_id, "phone"), phone, location_id=location_id)
        )
        return location_id

    def _jitter(self, rng: random.Random, place: ZipPlace) -> tuple[float, float]:
        """A point near the ZIP centroid: within ~0.7 km in the city, ~1.5 km in the towns."""
        radius_km = 0.7 if place.urban else 1.5
        distance = radius_km * math.sqrt(rng.random())
        angle = rng.uniform(0, 2 * math.pi)
        dlat = distance * math.sin(angle) / 111.32
        dlon = distance * math.cos(angle) / (111.32 * math.cos(math.radians(place.latitude)))
        return round(place.latitude + dlat, 6), round(place.longitude + dlon, 6)

    # -- services

    def _entry(self, org_key: str, raw: str | dict) -> dict:
        entry = {"kind": raw} if isinstance(raw, str) else dict(raw)
        if entry.get("kind") not in self.kinds:
            raise DemoDataError(f"{org_key}: unknown kind of service {entry.get('kind')!r}")
        entry.setdefault("key", entry["kind"])
        return entry

    def _service_name(self, org_key: str, entry: dict) -> str:
        if entry.get("name"):
            return entry["name"]
        rng = _rng("service-name", org_key, entry["key"])
        return rng.choice(self.kinds[entry["kind"]]["names"])

    def _service(
        self,
        spec: dict,
        entry: dict,
        name: str,
        location_ids: list[uuid.UUID],
        zips: list[str],
        main_phone: str,
    ) -> None:
        org_key = spec["key"]
        kind = self.kinds[entry["kind"]]
        rng = _rng("service", org_key, entry["key"])
        service_id = demo_id("service", org_key, entry["key"])
        site = entry.get("site", 0)
        place = self.zips[zips[site]]

        area_kind = entry.get("area", kind["area"])
        area = self._area(area_kind, place)
        area_text = {
            "county": self.county,
            "city": "the City of Syracuse",
            "region": self.places["region_name"],
            "none": place.place,
        }.get(area_kind, area.name if area else place.place)
        context = {
            "org": spec["name"],
            "place": place.place,
            "county": self.county,
            "area_text": area_text,
        }

        language_codes = self._languages(rng, spec)
        description = self._description(rng, kind, context, language_codes)
        capacity = entry.get("capacity") or kind.get("capacity") or self._capacity(rng, kind)
        wait_times = kind.get("wait_time") or []
        wait_time = rng.choice(wait_times) if wait_times and capacity != "accepting" else None
        fees_description, cost = self._fees(rng, kind)
        self.network.services.append(
            {
                "id": service_id,
                "organization_id": organization_id(org_key),
                "name": name,
                "description": description,
                "url": f"https://{org_key}.example.org/{_slug(name)}",
                "email": f"intake@{org_key}.example.org" if rng.random() < 0.6 else None,
                "status": entry.get("status", ServiceStatus.active.value),
                "alert": entry.get("alert"),
                "interpretation_services": (
                    "Free telephone interpreters for any other language."
                    if len(language_codes) > 2 or rng.random() < 0.3
                    else None
                ),
                "application_process": _format(rng.choice(kind["application"]), context),
                "fees_description": fees_description,
                "wait_time": wait_time,
                "eligibility_description": _format(rng.choice(kind["eligibility"]), context),
                "minimum_age": _age(kind.get("min_age")),
                "maximum_age": _age(kind.get("max_age")),
                "assured_date": self.today - timedelta(days=rng.randint(2, 360)),
                "assurer_email": "directory@cny-health-home.example.org",
                "referral_capacity": capacity,
                "dataset": DEMO_DATASET,
            }
        )
        self._service_phones(rng, service_id, kind, entry, main_phone)
        self._schedules(rng, service_id, kind, entry)
        if area is not None:
            self.network.service_areas.append(
                {
                    "id": demo_id(service_id, "area"),
                    "service_id": service_id,
                    "name": area.name,
                    "description": area.description,
                    "extent": area.extent,
                    "extent_type": area.extent_type,
                    "geom": area.geom,
                }
            )
        for code in language_codes:
            self.network.languages.append(
                {
                    "id": demo_id(service_id, "language", code),
                    "service_id": service_id,
                    "name": LANGUAGES[code],
                    "code": code,
                }
            )
        if cost is not None:
            self.network.cost_options.append({"id": demo_id(service_id, "cost"), **cost})
            self.network.cost_options[-1]["service_id"] = service_id
        documents = kind.get("documents", [])
        kept = [d for n, d in enumerate(documents) if n == 0 or rng.random() < 0.8]
        for n, document in enumerate(kept):
            self.network.required_documents.append(
                {
                    "id": demo_id(service_id, "document", n),
                    "service_id": service_id,
                    "document": document,
                    "uri": None,
                }
            )
        for code in kind["categories"]:
            self.network.attributes.append(
                {
                    "id": demo_id(service_id, "category", code),
                    "link_id": service_id,
                    "link_entity": "service",
                    "link_type": "category",
                    "taxonomy_term_id": open_eligibility_term_id(code),
                    "value": None,
                }
            )
        self.network.service_at_locations.append(
            {
                "id": demo_id(service_id, "at", site),
                "service_id": service_id,
                "location_id": location_ids[site],
                "description": None,
            }
        )

    def _area(self, kind: str, place: ZipPlace) -> AreaSpec | None:
        if kind == "none":
            return None
        if kind == "zips":
            return _zips_area(nearest_zips(place.code, 3))
        return _named_area(kind)

    def _languages(self, rng: random.Random, spec: dict) -> list[str]:
        codes = ["en"]
        for code in spec.get("languages", []):
            if code not in LANGUAGES:
                raise DemoDataError(f"{spec['key']}: unknown language code {code!r}")
            if rng.random() < 0.85:
                codes.append(code)
        if "es" not in codes and rng.random() < 0.2:
            codes.append("es")
        return codes

    def _description(
        self, rng: random.Random, kind: dict, context: dict[str, str], languages: list[str]
    ) -> str:
        parts = [_format(rng.choice(kind["intro"]), context)]
        details = kind.get("details", [])
        if details:
            chosen = rng.sample(range(len(details)), k=min(len(details), rng.randint(1, 2)))
            parts += [_format(details[n], context) for n in sorted(chosen)]
        others = [LANGUAGES[c] for c in languages if c != "en"]
        if others and rng.random() < 0.7:
            parts.append(f"Staff speak {_join(['English', *others])}.")
        return " ".join(parts)

    def _capacity(self, rng: random.Random, kind: dict) -> str:
        roll = rng.random()
        if roll < kind.get("waitlist_chance", 0.05):
            return "waitlist"
        if roll > 0.985:
            return "not_accepting"
        return "accepting"

    def _fees(self, rng: random.Random, kind: dict) -> tuple[str, dict | None]:
        fees = kind["fees"]
        text = kind.get("fee_text")
        if fees == "free":
            return text or rng.choice(["Free.", "Free of charge.", "No fee."]), None
        if fees in ("donation", "insurance"):
            return text or "Donations welcome.", None
        amount = kind.get("fee_amount", 0)
        if fees not in ("sliding", "fixed") or text is None:
            raise DemoDataError(f"fees {fees!r} need a fee_text")
        if not amount:
            return text, None
        return text, {
            "option": kind.get("fee_option"),
            "currency": "USD",
            "amount": Decimal(str(amount)),
            "amount_description": text,
            "valid_from": None,
            "valid_to": None,
        }

    def _phone_row(self, row_id: uuid.UUID, number: str, **owner: Any) -> dict:
        row = {
            "id": row_id,
            "location_id": None,
            "service_id": None,
            "organization_id": None,
            "number": number,
            "extension": None,
            "type": "voice",
            "description": None,
        }
        row.update(owner)
        return row

    def _service_phones(
        self,
        rng: random.Random,
        service_id: uuid.UUID,
        kind: dict,
        entry: dict,
        main_phone: str,
    ) -> None:
        around_the_clock = kind["hours"] == "24x7"
        if around_the_clock or rng.random() < 0.4:
            phone = self._phone_row(
                demo_id(service_id, "phone", 0),
                _phone_number(rng, self.area_codes),
                service_id=service_id,
            )
            phone["description"] = "24-hour line" if around_the_clock else "Intake line"
        else:
            phone = self._phone_row(
                demo_id(service_id, "phone", 0), main_phone, service_id=service_id
            )
            phone["extension"] = rng.randint(100, 899)
            phone["description"] = "Main office"
        self.network.service_phones.append(phone)
        if entry["kind"] in ("crisis_line", "dv_hotline", "warmline"):
            text = self._phone_row(
                demo_id(service_id, "phone", 1),
                _phone_number(rng, self.area_codes),
                service_id=service_id,
            )
            text.update(type="text", description="Text line")
            self.network.service_phones.append(text)

    def _schedules(
        self, rng: random.Random, service_id: uuid.UUID, kind: dict, entry: dict
    ) -> None:
        if entry.get("schedule"):
            spans: list[tuple[str, ...]] = list(parse_schedule_text(entry["schedule"]))
        else:
            pattern = entry.get("hours", kind["hours"])
            if pattern not in HOURS:
                raise DemoDataError(f"unknown hours pattern {pattern!r}")
            spans = list(rng.choice(HOURS[pattern]))
        for n, span in enumerate(spans):
            byday, opens, closes = span[:3]
            freq = span[3] if len(span) > 3 else "WEEKLY"
            self.network.schedules.append(
                {
                    "id": demo_id(service_id, "schedule", n),
                    "service_id": service_id,
                    "freq": freq,
                    "interval": 1,
                    "byday": byday,
                    "opens_at": opens,
                    "closes_at": closes,
                    "tz_name": self.tz_name,
                    "description": (
                        _schedule_description(byday, opens, closes) if freq == "MONTHLY" else None
                    ),
                }
            )


def _age(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _place_title(place: str) -> str:
    text = re.sub(r"^the ", "", place)
    return text[:1].upper() + text[1:]


def build_demo_network(today: date | None = None) -> DemoNetwork:
    """Every demo record as plain rows; pure (no database), the same for the same `today`."""
    return _Builder(today or date.today()).build()


# ---------------------------------------------------------------------------- writing


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing_ids(model: type, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    for chunk in _chunks(ids):
        found.update(db.session.scalars(select(model.id).where(model.id.in_(chunk))))
    return found


def _insert(model: type, rows: list[dict]) -> int:
    if rows:
        # render_nulls: rows whose None columns differ still go in one multi-row statement.
        db.session.execute(insert(model).execution_options(render_nulls=True), rows)
        search_sync.note_rows(db.session, model, [row["id"] for row in rows])  # a bulk write
    return len(rows)


def seed_demo_directory(today: date | None = None) -> DemoSummary:
    """Load the Open Eligibility taxonomy and the demo network; add what is missing, keep the rest.

    An organization, location or service already present is left untouched with everything
    under it, so re-seeding never duplicates a row nor undoes an admin's edits. Flushes, never
    commits: the caller owns the transaction.
    """
    load_open_eligibility()
    network = build_demo_network(today)

    new_orgs = _missing(Organization, network.organizations)
    new_locations = _missing(Location, network.locations)
    new_services = _missing(Service, network.services)
    new_links = _missing(ServiceAtLocation, network.service_at_locations)

    def under_locations(rows: list[dict]) -> list[dict]:
        return [r for r in rows if r["location_id"] in new_locations]

    def under_services(rows: list[dict], key: str = "service_id") -> list[dict]:
        return [r for r in rows if r[key] in new_services]

    added = {
        "organization": _insert(
            Organization, [r for r in network.organizations if r["id"] in new_orgs]
        ),
        "location": _insert(Location, [r for r in network.locations if r["id"] in new_locations]),
        "address": _insert(Address, under_locations(network.addresses)),
        "accessibility": _insert(Accessibility, under_locations(network.accessibility)),
        "service": _insert(Service, [r for r in network.services if r["id"] in new_services]),
        "phone": _insert(
            Phone,
            under_locations(network.location_phones) + under_services(network.service_phones),
        ),
        "schedule": _insert(Schedule, under_services(network.schedules)),
        "service_area": _insert(ServiceArea, under_services(network.service_areas)),
        "language": _insert(Language, under_services(network.languages)),
        "cost_option": _insert(CostOption, under_services(network.cost_options)),
        "required_document": _insert(RequiredDocument, under_services(network.required_documents)),
        "attribute": _insert(Attribute, under_services(network.attributes, "link_id")),
        "service_at_location": _insert(
            ServiceAtLocation, [r for r in network.service_at_locations if r["id"] in new_links]
        ),
    }
    db.session.flush()
    return DemoSummary(
        added=added,
        organizations=len(network.organizations),
        services=len(network.services),
        locations=len(network.locations),
    )


def _missing(model: type, rows: list[dict]) -> set[uuid.UUID]:
    ids = [r["id"] for r in rows]
    return set(ids) - _existing_ids(model, ids)
