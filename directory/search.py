"""Directory search: words, place and filters in; ranked, faceted, highlighted services out.

The only module that imports whoosh. Layers, top to bottom:

1. `query_from_args()` turns request parameters into a `SearchQuery` (or a `SearchQueryError`
   with a message a person can act on); views and the JSON API share it.
2. `search()` expands lay words into concepts (`directory.synonyms`, shared by any backend),
   asks the database's spatial index which service areas cover the place (`geo.sql`), asks
   the engine for matches, retries with "any word" and then with corrected spellings when
   little is found, ranks (`directory.ranking`) and loads the page of services with
   everything a card shows (a fixed number of queries).
3. A `SearchEngine` matches text, place and filters and counts facets. `WhooshEngine` keeps an
   on-disk Whoosh index under SEARCH_INDEX_DIR (stemming analyser, per-field postings,
   per-document columns); it scores BM25F with numpy over postings it caches, and measures
   distances in numpy from the coordinates stored with each listing (geo outside Whoosh).
   A database-native engine can replace it without touching the layers above.

The index follows every committed change of a service and what it shows (organization,
locations, addresses, schedules, languages, categories, service areas): session events collect
the changed service ids at each flush and apply them in one writer pass after the commit.
Rolled-back work never reaches the index, because documents are always read from committed
rows. A missing or stale index (its fingerprint differs from the database's) is rebuilt when
the app starts.
"""

import html
import json
import logging
import math
import os
import re
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np
from flask import Flask, current_app, has_app_context
from sqlalchemy import Float, event, func, inspect, select, text, type_coerce
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from whoosh import columns, fields, index, scoring
from whoosh.analysis import (
    STOP_WORDS,
    CharsetFilter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
)
from whoosh.support.charset import accent_map
from whoosh.writing import LockError

from directory import cards, hours, ranking, synonyms
from directory.models import (
    Accessibility,
    Address,
    Attribute,
    CostOption,
    Language,
    Location,
    Organization,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    TaxonomyTerm,
)
from directory.query import MAX_PER_PAGE, Facet, Place, SearchHit, SearchQuery, SearchResults
from extensions import db
from geo import places
from geo import sql as geo_sql

log = logging.getLogger(__name__)

INDEX_VERSION = 3  # bump when documents change shape: a stale version is rebuilt at start-up
INDEXED_STATUSES = ("active", "temporarily closed")  # inactive and defunct services aren't found
DEFAULT_RADIUS_KM = 40.0
MAX_RADIUS_KM = 500.0
MAX_TEXT_LENGTH = 200
ALL_WORDS_ENOUGH = 5  # fewer matches of every word than this: any word may match
TYPO_RETRY_BELOW = 5  # fewer matches than this (or an unknown word): try corrected spellings
TOP_TEXT_MATCHES = 500  # without a place, rank this many best text matches (open-now boost)
SYNC_REBUILD_LIMIT = 5000  # a stale index this small is rebuilt while the app starts
INDEX_CHUNK = 500
MULTIPROCESS_FROM = 20_000  # rebuilds this big may analyse text in several processes
INDEX_MEMORY_MB = 1024
"""Postings a one-process rebuild sorts in memory before spilling a sorted run to disk: at
256 MB a 50,000-service rebuild spilled and merged runs and took 94 s; at 1024 MB, 69 s.
(100,000 services fit: about 1 GB by Whoosh's estimate.)"""
FIELD_WEIGHTS = {  # BM25F field boosts: a word in the name counts most
    "name": 3.0,
    "categories": 2.0,
    "organization": 1.5,
    "description": 1.0,
    "other": 0.7,  # eligibility, languages, city
}
TEXT_FIELDS = tuple(FIELD_WEIGHTS)
MULTIWORD_FIELDS = {"name", "categories", "organization", "description"}
BM25_K1, BM25_B = 1.2, 0.75
POSTINGS_CACHE_SIZE = 20_000  # terms whose postings are kept in memory, per segment
_CACHE_LOCK = threading.Lock()  # the caches below are shared by a server's threads
CONCEPT_CACHE_SIZE = 64  # concepts whose scores are kept, per index generation
COVERING_CACHE_SIZE = 1024  # places whose covering service areas are kept, per generation
SYNONYM_WEIGHT = 0.8  # a formal term found for a lay phrase weighs a little less than the words
CORRECTION_WEIGHT = 0.7
TRUE_WORDS = {"1", "true", "yes", "on", "y"}
FALSE_WORDS = {"0", "false", "no", "off", "n", ""}

# Canonical language values (ISO 639-1 where there is one), their names and other spellings.
LANGUAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "en": ("English", ("eng", "english", "ingles")),
    "es": ("Spanish", ("spa", "spanish", "espanol", "castellano")),
    "zh": ("Chinese", ("chi", "zho", "chinese", "mandarin", "cantonese", "zh-cn", "zh-tw")),
    "vi": ("Vietnamese", ("vie", "vietnamese", "tieng viet")),
    "ru": ("Russian", ("rus", "russian")),
    "ar": ("Arabic", ("ara", "arabic")),
    "fr": ("French", ("fre", "fra", "french", "francais")),
    "ht": ("Haitian Creole", ("hat", "haitian creole", "haitian", "kreyol", "creole")),
    "ko": ("Korean", ("kor", "korean")),
    "pt": ("Portuguese", ("por", "portuguese", "portugues")),
    "tl": ("Tagalog", ("tgl", "fil", "tagalog", "filipino")),
    "pl": ("Polish", ("pol", "polish", "polski")),
    "it": ("Italian", ("ita", "italian", "italiano")),
    "de": ("German", ("ger", "deu", "german", "deutsch")),
    "so": ("Somali", ("som", "somali")),
    "bn": ("Bengali", ("ben", "bengali", "bangla")),
    "hi": ("Hindi", ("hin", "hindi")),
    "ur": ("Urdu", ("urd", "urdu")),
    "ne": ("Nepali", ("nep", "nepali")),
    "my": ("Burmese", ("bur", "mya", "burmese")),
    "sw": ("Swahili", ("swa", "swahili")),
    "fa": ("Persian", ("per", "fas", "persian", "farsi", "dari")),
    "ja": ("Japanese", ("jpn", "japanese")),
    "uk": ("Ukrainian", ("ukr", "ukrainian")),
    "am": ("Amharic", ("amh", "amharic")),
    "yi": ("Yiddish", ("yid", "yiddish")),
    "ps": ("Pashto", ("pus", "pashto")),
    "ti": ("Tigrinya", ("tir", "tigrinya")),
    "km": ("Khmer", ("khm", "khmer", "cambodian")),
    "hmn": ("Hmong", ("hmong",)),
    "lo": ("Lao", ("lao",)),
    "el": ("Greek", ("gre", "ell", "greek")),
    "sq": ("Albanian", ("alb", "sqi", "albanian")),
    "ase": ("American Sign Language", ("asl", "american sign language", "sign language")),
}
_LANGUAGE_ALIASES = {
    alias: code
    for code, (name, aliases) in LANGUAGES.items()
    for alias in (code, name.lower(), *aliases)
}
_WHEELCHAIR = re.compile(r"wheel\s*chair|silla de ruedas", re.IGNORECASE)
_NOT_WHEELCHAIR = re.compile(
    r"\b(not|no|isn'?t|non|without)\b[\w\s-]{0,20}(wheel\s*chair|accessib)|inaccessible",
    re.IGNORECASE,
)


# --- Errors and query parsing ---------------------------------------------------------------


class SearchQueryError(ValueError):
    """A search parameter that can't be used; `message` says why, `field` which one."""

    code = "invalid_parameter"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class UnknownPlaceError(SearchQueryError):
    code = "unknown_place"


class UnknownCategoryError(SearchQueryError):
    code = "unknown_category"


def _get_list(args: Mapping, name: str) -> list[str]:
    values = args.getlist(name) if hasattr(args, "getlist") else args.get(name) or []
    if isinstance(values, str):
        values = [values]
    return [str(v).strip() for v in values if str(v).strip()]


def _flag(args: Mapping, name: str) -> bool:
    raw = str(args.get(name) or "").strip().lower()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise SearchQueryError(f"{name} must be true or false, not {raw!r}.", name)


def _number(args: Mapping, name: str, kind: type = float):
    raw = str(args.get(name)).strip()
    try:
        value = kind(raw)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise SearchQueryError(f"{name} must be {noun}, not {raw!r}.", name) from None
    if kind is float and not np.isfinite(value):
        raise SearchQueryError(f"{name} must be a finite number.", name)
    return value


def query_from_args(args: Mapping, *, default_per_page: int = 20) -> SearchQuery:
    """A SearchQuery from request parameters (q, near or lat+lon, radius_km or radius_mi,
    category, language, free, open_now, wheelchair, page, per_page); SearchQueryError if bad."""
    text = str(args.get("q") or "").strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise SearchQueryError(f"q is too long (at most {MAX_TEXT_LENGTH} characters).", "q")

    place: Place | None = None
    lat, lon = args.get("lat"), args.get("lon")
    if lat not in (None, "") or lon not in (None, ""):
        if lat in (None, "") or lon in (None, ""):
            raise SearchQueryError("lat and lon must be given together.", "lat")
        try:
            place = places.place_from_latlon(lat, lon, "browser")
        except places.UnknownPlace as exc:
            raise UnknownPlaceError(str(exc), "lat") from None
    elif near := str(args.get("near") or "").strip():
        try:
            place = places.resolve_place(near)
        except places.UnknownPlace as exc:
            raise UnknownPlaceError(str(exc), "near") from None

    radius_km = None
    for name, to_km in (("radius_km", 1.0), ("radius_mi", geo_sql.KM_PER_MILE)):
        if args.get(name) not in (None, ""):
            radius = _number(args, name)
            if radius <= 0:
                raise SearchQueryError(f"{name} must be more than 0.", name)
            radius_km = radius * to_km
            if radius_km > MAX_RADIUS_KM:
                raise SearchQueryError(f"{name} must be at most {MAX_RADIUS_KM / to_km:g}.", name)
            break

    page = _number(args, "page", int) if args.get("page") not in (None, "") else 1
    if page < 1:
        raise SearchQueryError("page must be 1 or more.", "page")
    per_page = default_per_page
    if args.get("per_page") not in (None, ""):
        per_page = _number(args, "per_page", int)
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise SearchQueryError(f"per_page must be between 1 and {MAX_PER_PAGE}.", "per_page")

    languages = [v.strip() for raw in _get_list(args, "language") for v in raw.split(",")]
    return SearchQuery(
        text=text,
        place=place,
        radius_km=radius_km,
        categories=tuple(_get_list(args, "category")),
        languages=tuple(v for v in languages if v),
        free_only=_flag(args, "free"),
        open_now=_flag(args, "open_now"),
        wheelchair=_flag(args, "wheelchair"),
        page=page,
        per_page=per_page,
    )


def canonical_language(value: str) -> tuple[str, str]:
    """(value, label) for a language name or code: "Español", "spa", "es" → ("es", "Spanish")."""
    folded = synonyms.fold(value).strip()
    code = _LANGUAGE_ALIASES.get(folded) or _LANGUAGE_ALIASES.get(folded.split("-")[0])
    if code:
        return code, LANGUAGES[code][0]
    return folded, value.strip().title()


# --- The engine seam ------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineQuery:
    """What an engine is asked: concepts (above-engine expansion done) and exact filters."""

    concepts: tuple[synonyms.Concept, ...] = ()
    require_all: bool = True  # every concept must match (else any concept may)
    corrections: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # word → spellings
    category_ids: tuple[uuid.UUID, ...] = ()  # any of these terms (descendants included)
    languages: tuple[str, ...] = ()  # canonical values; any of them
    free_only: bool = False
    wheelchair: bool = False
    open_now: bool = False
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    default_tz: str = "America/New_York"
    top: int = TOP_TEXT_MATCHES  # without a place: how many best matches to return
    near: "Near | None" = None  # the place: services within the radius, or covering it


@dataclass(frozen=True)
class Near:
    """A place to search around: a radius, and the services whose areas cover the point
    (found with the database's spatial index, as 16-byte ids)."""

    latitude: float
    longitude: float
    radius_m: float
    covering: frozenset[bytes] = frozenset()


@dataclass
class EngineResult:
    """Matches as parallel arrays: every match when a place was given (distance re-ranks),
    else the best `top` (more concepts matched first, then higher score; by name when there
    are no words)."""

    total: int
    ids: Sequence[bytes]  # 16-byte service ids (uuid.bytes)
    scores: np.ndarray  # text scores, 0 without words
    coverage: np.ndarray  # share of the concepts each matches
    open_now: np.ndarray  # int8: 1 open, 0 closed, -1 no hours on record
    names: Sequence[str]  # lower-case names, for ties
    facets: dict[str, list[Facet]]
    best_score: float = 0.0
    distance_km: np.ndarray | None = None  # to the nearest location (NaN: none), with a place
    serves_area: np.ndarray | None = None  # bool: a service area covers the place
    location_ids: Sequence[str | None] | None = None  # the nearest location (hex), with a place

    @classmethod
    def empty(cls, facets: dict[str, list[Facet]]) -> "EngineResult":
        nothing = np.zeros(0)
        return cls(0, [], nothing, nothing, np.zeros(0, dtype=np.int8), [], facets)


class SearchEngine(Protocol):
    """A search backend: text, place, filters and facets over its copy of the directory.

    `request.near` limits the search to services with a location within the radius or an
    area covering the point (the covering ids come from the database's spatial index).
    """

    def search(self, request: EngineQuery) -> EngineResult: ...

    def generation(self) -> Hashable:
        """Changes whenever the indexed directory changes (for caches above the engine)."""

    def unknown_words(self, words: Iterable[str]) -> set[str]: ...

    def spellings(self, word: str, maxdist: int) -> list[tuple[str, int, int]]: ...

    def snippet(self, text: str, request: EngineQuery) -> str | None: ...

    def index(self, service_ids: Collection[uuid.UUID]) -> None: ...

    def delete(self, service_ids: Collection[uuid.UUID]) -> None: ...

    def rebuild(
        self, progress: Callable[[int, int], None] | None = None, procs: int | None = None
    ) -> int: ...


# --- Documents: what is indexed for a service --------------------------------------------------


def _locations(service: Service) -> list[Location]:
    return [sal.location for sal in service.service_at_locations if sal.location is not None]


def is_wheelchair_accessible(service: Service) -> bool:
    """True when an accessibility note of one of its locations mentions wheelchairs (and does
    not say "not wheelchair accessible")."""
    for location in _locations(service):
        for note in location.accessibility:
            words = " ".join(filter(None, (note.description, note.details)))
            if _WHEELCHAIR.search(words) and not _NOT_WHEELCHAIR.search(words):
                return True
    return False


def service_languages(service: Service) -> dict[str, str]:
    """{canonical value: label} of the languages spoken, at the service or its locations."""
    found: dict[str, str] = {}
    rows = list(service.languages)
    for location in _locations(service):
        rows.extend(location.languages)
    for row in rows:
        for raw in (row.code, row.name):
            if raw and raw.strip():
                value, label = canonical_language(raw)
                if value in LANGUAGES or raw is row.name:
                    found.setdefault(value, label)
                    break
    return found


def service_timezone(service: Service) -> str | None:
    """The IANA zone of the service's first located address (by its ZIP), for hours kept
    without a zone; None when unknown (callers then use DEFAULT_TIMEZONE)."""
    for location in _locations(service):
        for address in location.addresses:
            if zone := places.timezone_for_zip(address.postal_code):
                return zone
    return None


def _hours_pattern(schedules: list[Schedule], zone: str | None) -> str:
    """The hours as canonical JSON: identical hours share one pattern (evaluated once)."""
    rows = []
    for schedule in schedules:
        row = {}
        for name in hours.RULE_FIELDS:
            value = getattr(schedule, name)
            if isinstance(value, date | Decimal):
                value = str(value)
            row[name] = value
        rows.append(row)
    rows.sort(key=lambda r: json.dumps(r, sort_keys=True))
    return json.dumps({"s": rows, "z": zone}, sort_keys=True, separators=(",", ":"))


def _schedules_from_pattern(pattern: str) -> tuple[list[SimpleNamespace], str | None]:
    data = json.loads(pattern)
    schedules = []
    for row in data["s"]:
        values = dict(row)
        for name in ("valid_from", "valid_to", "dtstart", "until"):
            if values.get(name):
                values[name] = date.fromisoformat(values[name])
        if values.get("timezone") is not None:
            values["timezone"] = Decimal(values["timezone"])
        schedules.append(SimpleNamespace(**values))
    return schedules, data.get("z")


@lru_cache(maxsize=4096)
def _pattern_open(pattern: str, minute: datetime, default_tz: str) -> bool | None:
    schedules, zone = _schedules_from_pattern(pattern)
    if not schedules:
        return None
    return hours.is_open(schedules, minute, zone or default_tz)


def _term_chains(session: Session, term_ids: set[uuid.UUID]) -> dict[uuid.UUID, list]:
    """{term id: [term, parent, grandparent, ... root]} as (id, name) pairs, level by level."""
    known: dict[uuid.UUID, tuple[str, uuid.UUID | None]] = {}
    wanted = set(term_ids)
    while wanted:
        rows = session.execute(
            select(TaxonomyTerm.id, TaxonomyTerm.name, TaxonomyTerm.parent_id).where(
                TaxonomyTerm.id.in_(wanted)
            )
        ).all()
        for term_id, name, parent_id in rows:
            known[term_id] = (name, parent_id)
        wanted = {p for _, _, p in rows if p is not None and p not in known}
    chains = {}
    for term_id in term_ids:
        chain, current, seen = [], term_id, set()
        while current in known and current not in seen:
            seen.add(current)
            name, parent = known[current]
            chain.append((current, name))
            current = parent
        chains[term_id] = chain
    return chains


def _document(service: Any, chains: dict[uuid.UUID, list]) -> dict[str, Any]:
    """The Whoosh fields of one service (a model, or a plain listing from `_listings`)."""
    org = service.organization
    locations = _locations(service)
    addresses = [a for loc in locations for a in loc.addresses]
    term_names, cat_ids, roots = [], set(), {}
    for attribute in service.attributes:
        chain = chains.get(attribute.taxonomy_term_id) or []
        for term_id, name in chain:
            term_names.append(name)
            cat_ids.add(term_id.hex)
        if chain:
            roots[str(chain[-1][0])] = chain[-1][1]
    languages = service_languages(service)
    language_words = [label for label in languages.values()]
    language_words += [" ".join(LANGUAGES[v][1]) for v in languages if v in LANGUAGES]
    flags = []
    if Service.is_free.fget(service):  # the model's rule, on a model or a plain listing
        flags.append("free")
    if is_wheelchair_accessible(service):
        flags.append("wheelchair")
    zone = service_timezone(service)
    name_text = " ".join(filter(None, (service.name, service.alternate_name)))
    org_text = " ".join(filter(None, (org.name, org.alternate_name))) if org else ""
    description = service.description or ""
    eligibility = " ".join(filter(None, (service.eligibility_description,)))
    categories = " ".join(dict.fromkeys(term_names))
    cities = " ".join(dict.fromkeys(a.city for a in addresses if a.city))
    zips = " ".join(dict.fromkeys(a.postal_code[:5] for a in addresses if a.postal_code))
    texts = {
        "name": name_text,
        "categories": categories,
        "organization": org_text,
        "description": description,
        "other": " ".join((eligibility, " ".join(language_words), cities)),
    }
    meta = {
        "n": (service.name or "").casefold(),
        "r": sorted(roots.items()),
        "l": sorted(languages.items()),
        "f": flags,
        "h": _hours_pattern(hours.schedules_for(service), zone),
        "w": [len(texts[name].split()) for name in TEXT_FIELDS],  # lengths, for BM25
        "p": [  # located locations, for distances (geo is measured outside Whoosh)
            [float(loc.latitude), float(loc.longitude), loc.id.hex]
            for loc in locations
            if loc.latitude is not None and loc.longitude is not None
        ],
    }
    return {
        "id": service.id.hex,
        "sid": service.id.bytes,
        "meta": json.dumps(meta, separators=(",", ":")).encode(),
        **texts,
        "zip": zips,
        "cat": " ".join(sorted(cat_ids)),
        "lang": " ".join(sorted(languages)),
        "flag": " ".join(flags),
        VOCABULARY_KEY: " ".join(
            (name_text, org_text, description, categories, eligibility, cities, *language_words)
        ),
    }


def _listings(session: Session, ids: Collection[uuid.UUID]) -> list[SimpleNamespace]:
    """The indexable services among `ids`, shaped like the models (what `_document`,
    `Service.is_free` and `hours.schedules_for` read), from twelve plain queries.

    Plain rows rather than ORM objects: a rebuild reads millions of rows, and building ORM
    objects was most of its time.
    """
    service, org = Service.__table__, Organization.__table__
    rows = session.execute(
        select(
            service.c.id,
            service.c.name,
            service.c.alternate_name,
            service.c.description,
            service.c.eligibility_description,
            service.c.fees_description,
            org.c.name,
            org.c.alternate_name,
        )
        .join(org, org.c.id == service.c.organization_id)
        .where(service.c.id.in_(list(ids)), service.c.status.in_(INDEXED_STATUSES))
    )
    services = {}
    for sid, name, alternate, description, eligibility, fees, org_name, org_alternate in rows:
        services[sid] = SimpleNamespace(
            id=sid,
            name=name,
            alternate_name=alternate,
            description=description,
            eligibility_description=eligibility,
            fees_description=fees,
            organization=SimpleNamespace(name=org_name, alternate_name=org_alternate),
            attributes=[],
            languages=[],
            cost_options=[],
            schedules=[],
            service_at_locations=[],
        )
    if not services:
        return []
    keys = list(services)
    attribute = Attribute.__table__
    for link_id, term_id in session.execute(
        select(attribute.c.link_id, attribute.c.taxonomy_term_id).where(
            attribute.c.link_entity == "service", attribute.c.link_id.in_(keys)
        )
    ):
        services[link_id].attributes.append(SimpleNamespace(taxonomy_term_id=term_id))
    language = Language.__table__
    for owner, code, name in session.execute(
        select(language.c.service_id, language.c.code, language.c.name).where(
            language.c.service_id.in_(keys)
        )
    ):
        services[owner].languages.append(SimpleNamespace(code=code, name=name))
    cost = CostOption.__table__
    for owner, amount in session.execute(
        select(cost.c.service_id, type_coerce(cost.c.amount, Float)).where(
            cost.c.service_id.in_(keys)
        )
    ):
        services[owner].cost_options.append(SimpleNamespace(amount=amount))
    for owner, schedule in _schedules(session, Schedule.__table__.c.service_id, keys):
        services[owner].schedules.append(schedule)

    sal, location = ServiceAtLocation.__table__, Location.__table__
    locations: dict = {}
    sals: dict = {}
    for sal_id, owner, location_id, latitude, longitude in session.execute(
        select(
            sal.c.id,
            sal.c.service_id,
            location.c.id,
            type_coerce(location.c.latitude, Float),
            type_coerce(location.c.longitude, Float),
        )
        .join(location, location.c.id == sal.c.location_id)
        .where(sal.c.service_id.in_(keys))
    ):
        place = locations.get(location_id)
        if place is None:
            place = locations[location_id] = SimpleNamespace(
                id=location_id,
                latitude=latitude,
                longitude=longitude,
                addresses=[],
                accessibility=[],
                languages=[],
                schedules=[],
            )
        sals[sal_id] = SimpleNamespace(location=place, schedules=[])
        services[owner].service_at_locations.append(sals[sal_id])
    if locations:
        places = list(locations)
        address = Address.__table__
        for owner, city, postal_code in session.execute(
            select(address.c.location_id, address.c.city, address.c.postal_code).where(
                address.c.location_id.in_(places)
            )
        ):
            locations[owner].addresses.append(SimpleNamespace(city=city, postal_code=postal_code))
        access = Accessibility.__table__
        for owner, description, details in session.execute(
            select(access.c.location_id, access.c.description, access.c.details).where(
                access.c.location_id.in_(places)
            )
        ):
            locations[owner].accessibility.append(
                SimpleNamespace(description=description, details=details)
            )
        for owner, code, name in session.execute(
            select(language.c.location_id, language.c.code, language.c.name).where(
                language.c.location_id.in_(places)
            )
        ):
            locations[owner].languages.append(SimpleNamespace(code=code, name=name))
        for owner, schedule in _schedules(session, Schedule.__table__.c.location_id, places):
            locations[owner].schedules.append(schedule)
        for owner, schedule in _schedules(
            session, Schedule.__table__.c.service_at_location_id, list(sals)
        ):
            sals[owner].schedules.append(schedule)
    return list(services.values())


def _schedules(session: Session, owner_column, owners: list):
    """(owner id, schedule) pairs: the schedule fields the hours rules read."""
    table = Schedule.__table__
    columns = [table.c[name] for name in hours.RULE_FIELDS]
    for owner, *values in session.execute(
        select(owner_column, *columns).where(owner_column.in_(owners))
    ):
        yield owner, SimpleNamespace(**dict(zip(hours.RULE_FIELDS, values, strict=True)))


def _documents(session: Session, ids: Collection[uuid.UUID]) -> tuple[list[dict], set]:
    """Documents for the indexable services among `ids`, and the ids that have none."""
    services = _listings(session, ids)
    term_ids = {a.taxonomy_term_id for s in services for a in s.attributes}
    chains = _term_chains(session, term_ids) if term_ids else {}
    docs = [_document(s, chains) for s in services]
    return docs, set(ids) - {s.id for s in services}


# --- The Whoosh engine ------------------------------------------------------------------------


def _analyzer():
    return (
        RegexTokenizer()
        | LowercaseFilter()
        | CharsetFilter(accent_map)
        | StopFilter()
        | StemFilter(cachesize=50000)
    )


def _schema() -> fields.Schema:
    analyzer = _analyzer()
    return fields.Schema(
        id=fields.ID(unique=True),
        sid=fields.COLUMN(columns.FixedBytesColumn(16)),
        meta=fields.COLUMN(columns.VarBytesColumn()),
        **{name: fields.TEXT(analyzer=analyzer, phrase=False) for name in TEXT_FIELDS},
        zip=fields.KEYWORD(),
        cat=fields.KEYWORD(),
        lang=fields.KEYWORD(),
        flag=fields.KEYWORD(),
    )


VOCABULARY_KEY = "_words"  # a document's plain words, for the spelling vocabulary (not indexed)
_VOCABULARY_WORD = re.compile(r"[a-z]{3,}")


def vocabulary_words(text_: str) -> set[str]:
    """The distinct plain words of a text (folded, three letters or more, no little words)."""
    words = set(_VOCABULARY_WORD.findall(synonyms.fold(text_)))
    return words - STOP_WORDS - synonyms.LITTLE_WORDS


class _Vocabulary:
    """Every word of the indexed listings with the number of services using it, in a text file
    beside the index ("word count" lines). Typo suggestions come from it. Counts only grow
    between rebuilds (a word of a deleted listing stays until the next rebuild)."""

    FILE = "vocabulary.txt"

    def __init__(self, directory: Path):
        self.path = directory / self.FILE
        self._loaded: tuple[float, dict[str, int], dict[str, list[str]]] | None = None

    def _load(self) -> tuple[dict[str, int], dict[str, list[str]]]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return {}, {}
        if self._loaded is None or self._loaded[0] != mtime:
            counts = {}
            for line in self.path.read_text(encoding="utf-8").splitlines():
                word, _, count = line.partition(" ")
                counts[word] = int(count or 1)
            by_letter: dict[str, list[str]] = {}
            for word in counts:
                by_letter.setdefault(word[0], []).append(word)
            self._loaded = (mtime, counts, by_letter)
        return self._loaded[1], self._loaded[2]

    def count(self, word: str) -> int:
        return self._load()[0].get(word, 0)

    def near(self, word: str, maxdist: int) -> list[tuple[str, int, int]]:
        """(word, edits, count) within maxdist edits, sharing the first letter."""
        counts, by_letter = self._load()
        found = []
        for candidate in by_letter.get(word[:1], ()):
            if candidate == word or abs(len(candidate) - len(word)) > maxdist:
                continue
            distance = _edit_distance(word, candidate, maxdist)
            if distance <= maxdist:
                found.append((candidate, distance, counts[candidate]))
        return found

    @staticmethod
    def write(path: Path, counts: Mapping[str, int]) -> None:
        scratch = path.with_name(f"{path.name}.{uuid.uuid4().hex}")
        lines = "".join(f"{word} {count}\n" for word, count in sorted(counts.items()))
        scratch.write_text(lines, encoding="utf-8")
        os.replace(scratch, path)

    def add(self, documents: Iterable[dict]) -> None:
        counts = dict(self._load()[0])
        for doc in documents:
            for word in vocabulary_words(doc[VOCABULARY_KEY]):
                counts[word] = counts.get(word, 0) + 1
        if self.path.parent.is_dir():
            self.write(self.path, counts)


ANALYZER = _analyzer()  # one instance, so its stemming cache is shared


@lru_cache(maxsize=4096)
def _stems(text_: str) -> tuple[str, ...]:
    return tuple(t.text for t in ANALYZER(text_))


@lru_cache(maxsize=256)
def _highlight_terms(
    concepts: tuple, corrections: tuple
) -> tuple[frozenset, dict[str, tuple[tuple[str, ...], ...]]]:
    """(single stems, phrases of stems by their first stem) to mark in snippets for these
    concepts. (Read only: the cached answer is shared.)"""
    extra = dict(corrections)
    singles: set[str] = set()
    phrases: dict[str, set[tuple[str, ...]]] = {}
    for concept in concepts:
        for alt in (concept.text, *concept.alternatives, *extra.get(concept.text, ())):
            stems = _stems(alt)
            if len(stems) == 1:
                singles.add(stems[0])
            elif stems:
                phrases.setdefault(stems[0], set()).add(stems)
    return frozenset(singles), {first: tuple(found) for first, found in phrases.items()}


_WORD = re.compile(r"\w+")
SNIPPET_CHARS = 200
SNIPPET_BEFORE = 50  # characters of context before the first match


@lru_cache(maxsize=50_000)
def _word_stem(word: str) -> str:
    """A word as the index compares it (lower case, no accents, stemmed); "" for little
    words the index drops."""
    stems = _stems(word)
    return stems[0] if stems else ""


class _Segment:
    """One segment's per-document columns, decoded once (a segment's documents never change,
    only which of them are deleted), and the postings read from it so far."""

    def __init__(self, reader):
        count = reader.doc_count_all()
        sid_column = reader.column_reader("sid", translate=False)
        meta_column = reader.column_reader("meta", translate=False)
        self.count = count
        self.sids: list[bytes] = [sid_column[i] for i in range(count)]
        self.names: list[str] = []
        pattern_ids: dict[str, int] = {}
        self.patterns: list[str] = []
        pattern_of = np.zeros(count, dtype=np.int32)
        lengths = np.zeros((count, len(TEXT_FIELDS)), dtype=np.float32)
        points: list[tuple[float, float, int]] = []
        self.location_ids: list[str] = []
        values: dict[tuple[str, str], list[int]] = {}
        self.labels: dict[tuple[str, str], str] = {}
        for i in range(count):
            raw = meta_column[i]
            meta = json.loads(raw) if raw else _EMPTY_META
            self.names.append(meta["n"])
            pattern = meta["h"]
            if pattern not in pattern_ids:
                pattern_ids[pattern] = len(self.patterns)
                self.patterns.append(pattern)
            pattern_of[i] = pattern_ids[pattern]
            lengths[i] = meta.get("w") or 1  # (an index from before lengths were kept)
            for lat, lon, location_id in meta.get("p", ()):
                points.append((lat, lon, i))
                self.location_ids.append(location_id)
            for facet, pairs in (("category", meta["r"]), ("language", meta["l"])):
                for value, label in pairs:
                    values.setdefault((facet, value), []).append(i)
                    self.labels[(facet, value)] = label
            for flag in meta["f"]:
                values.setdefault((flag, "true"), []).append(i)
        self.pattern_of = pattern_of
        self.lengths = {name: lengths[:, j] for j, name in enumerate(TEXT_FIELDS)}
        located = np.array(points, dtype=np.float64).reshape(-1, 3)
        self.location_lat, self.location_lon = located[:, 0], located[:, 1]
        self.location_doc = located[:, 2].astype(np.int64)  # in document order
        self.masks: dict[tuple[str, str], np.ndarray] = {}
        for key, docs in values.items():
            mask = np.zeros(count, dtype=bool)
            mask[docs] = True
            self.masks[key] = mask
        self._postings: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def postings(self, reader, field_name: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(local docnums, term frequencies) of a term in a field, deleted documents included
        (searches mask them out), so the cache outlives deletions."""
        key = (field_name, term)
        found = self._postings.get(key)
        if found is None:
            found = _read_postings(reader, field_name, term)
            if len(self._postings) >= POSTINGS_CACHE_SIZE:
                self._postings.clear()  # cheap to refill; only terms searched again come back
            self._postings[key] = found
        return found


def _read_postings(reader, field_name: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    """A term's postings as arrays. Whoosh's W3 matchers are read a block at a time (their
    block arrays are internal, so any other matcher is read posting by posting)."""
    if (field_name, term) not in reader:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    matcher = reader.postings(field_name, term)
    matcher = getattr(matcher, "child", matcher)  # deletions are masked by the search instead
    ids: list = []
    weights: list = []
    if all(hasattr(matcher, a) for a in ("_read_ids", "_read_weights", "_goto", "_lastblock")):
        while True:
            matcher._read_ids()
            matcher._read_weights()
            ids.extend(matcher._ids)
            weights.extend(matcher._weights)
            if matcher._lastblock:
                break
            matcher._goto(matcher._nextoffset)
    else:
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            matcher.next()
    return np.array(ids, dtype=np.int64), np.array(weights, dtype=np.float32)


_EMPTY_META = {"n": "", "r": [], "l": [], "f": [], "h": "{}", "w": [0] * 5}


def _leaf_readers(searcher) -> list[tuple[Any, int]]:
    """(segment reader, first docnum) of each segment; an index with no documents yet has an
    empty reader standing for no segment, and is left out (a new install searches fine)."""
    return [
        (reader, offset)
        for reader, offset in searcher.reader().leaf_readers()
        if reader.segment() is not None
    ]


class _View:
    """Every live document of one index generation: id ↔ docnum, names, facets, hours, and
    BM25F weights of the terms searched so far."""

    def __init__(self, searcher, segments: dict[str, _Segment]):
        self.parts: list[tuple[_Segment, int]] = []
        self.docnum: dict[bytes, int] = {}
        total = 0
        live_parts = []
        for reader, offset in _leaf_readers(searcher):
            segment_id = reader.segment().segment_id()
            if segment_id not in segments:
                segments[segment_id] = _Segment(reader)
            segment = segments[segment_id]
            self.parts.append((segment, offset))
            alive = np.ones(segment.count, dtype=bool)
            if reader.has_deletions():
                alive[[d for d in reader.deleted_docs_set if d < segment.count]] = False
            live_parts.append(alive)
            for i in np.flatnonzero(alive).tolist():
                self.docnum[segment.sids[i]] = offset + i
            total = offset + segment.count
        self.size = total
        self.location_lat = np.concatenate([s.location_lat for s, _ in self.parts] or [[]])
        self.location_lon = np.concatenate([s.location_lon for s, _ in self.parts] or [[]])
        self.location_doc = np.concatenate(
            [s.location_doc + offset for s, offset in self.parts] or [np.zeros(0, np.int64)]
        ).astype(np.int64)
        self.location_ids = [i for segment, _ in self.parts for i in segment.location_ids]
        self.sids = [sid for segment, _ in self.parts for sid in segment.sids]
        self.names = [name for segment, _ in self.parts for name in segment.names]
        self.alive = np.concatenate(live_parts) if live_parts else np.zeros(0, dtype=bool)
        self.live = np.flatnonzero(self.alive)
        self.offsets = np.array([offset for _, offset in self.parts], dtype=np.int64)
        live_count = max(1, len(self.live))
        self.average_length = {
            name: max(
                1.0,
                float(sum(float(s.lengths[name].sum()) for s, _ in self.parts) / live_count),
            )
            for name in TEXT_FIELDS
        }
        self._weights: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._name_ranks: np.ndarray | None = None
        self.concepts: OrderedDict = OrderedDict()  # concept → its scores, most recent last

    # -- terms --

    def term(self, readers, field_name: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(global docnums, BM25 weights) of a term in a field: idf × saturated, length-
        normalised frequency (k1 = 1.2, b = 0.75); keyword fields weigh 1."""
        key = (field_name, term)
        found = self._weights.get(key)
        if found is not None:
            return found
        ids_parts, tf_parts, length_parts = [], [], []
        for (segment, offset), reader in zip(self.parts, readers, strict=True):
            ids, tfs = segment.postings(reader, field_name, term)
            if len(ids):
                ids_parts.append(ids + offset)
                tf_parts.append(tfs)
                if field_name in TEXT_FIELDS:
                    length_parts.append(segment.lengths[field_name][ids])
        if not ids_parts:
            found = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        elif field_name not in TEXT_FIELDS:
            ids = np.concatenate(ids_parts)
            found = (ids, np.ones(len(ids), dtype=np.float32))
        else:
            ids = np.concatenate(ids_parts)
            tfs = np.concatenate(tf_parts)
            lengths = np.concatenate(length_parts)
            n, df = len(self.live), int(self.alive[ids].sum())  # live documents only
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths / self.average_length[field_name])
            found = (ids, (idf * tfs * (BM25_K1 + 1) / (tfs + norm)).astype(np.float32))
        if len(self._weights) >= POSTINGS_CACHE_SIZE:
            self._weights.clear()
        self._weights[key] = found
        return found

    def docs_with(self, readers, field_name: str, values: Iterable[str]) -> np.ndarray:
        """A mask of the documents having any of these keyword values."""
        mask = np.zeros(self.size, dtype=bool)
        for value in values:
            mask[self.term(readers, field_name, value)[0]] = True
        return mask

    # -- per document --

    def _split(self, docnums: np.ndarray):
        """(segment, local docnums, positions in `docnums`) for each segment."""
        if not len(docnums):
            return
        order = np.argsort(docnums, kind="stable")
        ordered = docnums[order]
        bounds = np.searchsorted(ordered, [*self.offsets[1:].tolist(), ordered[-1] + 1])
        start = 0
        for (segment, offset), end in zip(self.parts, bounds, strict=True):
            if end > start:
                yield segment, ordered[start:end] - offset, order[start:end]
            start = end

    def near(self, near: Near) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(candidate mask, distance km to the nearest location (NaN: none), index of that
        location (-1: none), serves-area mask), each over every document.

        Locations are filtered by a bounding box, then measured on the great circle, all in
        numpy over the stored coordinates (no Python loop over documents).
        """
        distance = np.full(self.size, np.nan)
        nearest = np.full(self.size, -1, dtype=np.int64)
        min_lon, min_lat, max_lon, max_lat = geo_sql.bounding_box(
            near.latitude, near.longitude, near.radius_m
        )
        lat, lon, doc = self.location_lat, self.location_lon, self.location_doc
        in_box = np.flatnonzero(
            (lat >= min_lat) & (lat <= max_lat) & (lon >= min_lon) & (lon <= max_lon)
        )
        in_box = in_box[self.alive[doc[in_box]]]
        metres = geo_sql.great_circle_m(near.latitude, near.longitude, lat[in_box], lon[in_box])
        inside = metres <= near.radius_m
        self._keep_nearest(distance, nearest, in_box[inside], metres[inside])
        serves = np.zeros(self.size, dtype=bool)
        covered = [d for d in map(self.docnum.get, near.covering) if d is not None]
        if covered:
            serves[covered] = True
            far = np.flatnonzero(serves & np.isnan(distance))
            # Their offices, wherever they are: locations are stored in document order.
            starts = np.searchsorted(doc, far, side="left")
            counts = np.searchsorted(doc, far, side="right") - starts
            offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            indices = np.repeat(starts, counts) + offsets
            measured = geo_sql.great_circle_m(
                near.latitude, near.longitude, lat[indices], lon[indices]
            )
            self._keep_nearest(distance, nearest, indices, measured)
        candidates = ~np.isnan(distance) & self.alive
        candidates[np.flatnonzero(serves)] = True
        return candidates & self.alive, distance / 1000, nearest, serves

    def _keep_nearest(self, distance, nearest, indices: np.ndarray, metres: np.ndarray) -> None:
        """Record, per document, the closest of these locations if closer than what it has."""
        if not len(indices):
            return
        docs = self.location_doc[indices]
        best = np.where(np.isnan(distance), np.inf, distance)
        np.minimum.at(best, docs, metres)
        closest = metres <= best[docs]
        distance[docs[closest]] = metres[closest]
        nearest[docs[closest]] = indices[closest]

    def name_ranks(self) -> np.ndarray:
        """Each document's place in alphabetical order (computed once per generation)."""
        if self._name_ranks is None:
            ranks = np.empty(self.size, dtype=np.int64)
            ranks[sorted(range(self.size), key=self.names.__getitem__)] = np.arange(self.size)
            self._name_ranks = ranks
        return self._name_ranks

    def open_now(self, docnums: np.ndarray, now: datetime, default_tz: str) -> np.ndarray:
        """Open at `now`, one per document: 1 open, 0 closed, -1 no hours on record."""
        minute = now.astimezone(UTC).replace(second=0, microsecond=0)
        out = np.full(len(docnums), -1, dtype=np.int8)
        for segment, local, positions in self._split(docnums):
            pattern_of = segment.pattern_of[local]
            patterns = np.unique(pattern_of)
            answers = np.full(len(segment.patterns), -1, dtype=np.int8)
            for p in patterns.tolist():
                state = _pattern_open(segment.patterns[p], minute, default_tz)
                answers[p] = -1 if state is None else int(state)
            out[positions] = answers[pattern_of]
        return out

    def facet_counts(self, docnums: np.ndarray, open_flags: np.ndarray) -> dict[str, list[Facet]]:
        counts: dict[tuple[str, str], int] = {}
        labels: dict[tuple[str, str], str] = {}
        for segment, local, _positions in self._split(docnums):
            for key, mask in segment.masks.items():
                n = int(mask[local].sum())
                if n:
                    counts[key] = counts.get(key, 0) + n
                    labels.setdefault(key, segment.labels.get(key, ""))
        facets: dict[str, list[Facet]] = {"category": [], "language": []}
        for (facet, value), n in counts.items():
            if facet in facets:
                facets[facet].append(Facet(value, labels[(facet, value)], n))
        for facet in facets.values():
            facet.sort(key=lambda f: (-f.count, f.label.casefold()))
        facets["free"] = [Facet("true", "Free of cost", counts.get(("free", "true"), 0))]
        facets["wheelchair"] = [
            Facet("true", "Wheelchair accessible", counts.get(("wheelchair", "true"), 0))
        ]
        facets["open_now"] = [Facet("true", "Open now", int((open_flags == 1).sum()))]
        return facets


class _Picked(Sequence):
    """Items of a per-document list at some positions, read only when asked for (a search
    near a city may match thousands; a page shows twenty). Negative positions read None."""

    def __init__(self, items: list, positions: np.ndarray):
        self._items, self._positions = items, positions

    def __len__(self) -> int:
        return len(self._positions)

    def __getitem__(self, index):
        position = int(self._positions[index])
        return self._items[position] if position >= 0 else None


class WhooshEngine:
    """A Whoosh index on disk (BM25F, stemming, columns for facets and hours)."""

    FINGERPRINT_FILE = "wraparound.json"

    def __init__(self, directory: str | Path, procs: int = 1):
        self.directory = Path(directory)
        self.procs = max(1, procs)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._segments: dict[str, _Segment] = {}
        self._views: dict[tuple, _View] = {}
        self.vocabulary = _Vocabulary(self.directory)

    # -- opening --

    def _open(self):
        if not index.exists_in(str(self.directory)):
            self.directory.mkdir(parents=True, exist_ok=True)
            try:
                return index.create_in(str(self.directory), _schema())
            except FileExistsError:
                pass
        return index.open_dir(str(self.directory))

    def _identity(self) -> tuple:
        try:
            stat = os.stat(self.directory)
        except FileNotFoundError:
            return (None,)
        return (stat.st_ino,)

    def searcher(self):
        """This thread's searcher, reopened when the index changed or was rebuilt.

        A new searcher rather than `refresh()`: refreshing reuses segment readers whose cached
        deletions are stale, so replaced documents would still match.
        """
        identity = self._identity()
        cached = getattr(self._local, "searcher", None)
        if cached is not None:
            if cached[0] == identity and cached[1].up_to_date():
                return cached[1]
            cached[1].close()
        searcher = self._open().searcher(weighting=scoring.BM25F())
        self._local.searcher = (self._identity(), searcher)
        return searcher

    def _view(self, searcher) -> _View:
        key = tuple(
            (reader.segment().segment_id(), reader.segment().deleted_count())
            for reader, _ in _leaf_readers(searcher)
        )
        view = self._views.get(key)
        if view is None:
            with self._lock:
                view = self._views.get(key)
                if view is None:
                    view = _View(searcher, self._segments)
                    self._views = {key: view}  # only the current generation is kept
                    live = {k[0] for k in key}
                    self._segments = {k: v for k, v in self._segments.items() if k in live}
        return view

    # -- queries --

    def _add(self, total: np.ndarray, ids: np.ndarray, weights: np.ndarray, scale: float) -> None:
        if len(ids) * 32 < len(total):
            np.add.at(total, ids, weights * scale)
        else:
            total += np.bincount(ids, weights=weights * scale, minlength=len(total)).astype(
                np.float32
            )

    def _words_scores(self, view, readers, text_: str, weight: float, total) -> None:
        """Add the BM25F scores of one word or phrase to `total`. Several words count in a
        field only when all of them are in it (name, categories, organization, description)."""
        stems = _stems(text_)
        if not stems:
            return
        for name, boost in FIELD_WEIGHTS.items():
            if len(stems) == 1:
                ids, weights = view.term(readers, name, stems[0])
                if len(ids):
                    self._add(total, ids, weights, boost * weight)
                continue
            if name not in MULTIWORD_FIELDS:
                continue
            parts = [view.term(readers, name, stem) for stem in stems]
            if any(not len(ids) for ids, _ in parts):
                continue
            common = parts[0][0]
            for ids, _ in parts[1:]:
                common = np.intersect1d(common, ids, assume_unique=True)
            if not len(common):
                continue
            for ids, weights in parts:
                keep = np.isin(ids, common, assume_unique=True)
                self._add(total, ids[keep], weights[keep], boost * weight)
        digits = text_.strip()
        if re.fullmatch(r"\d{5}", digits):
            ids, weights = view.term(readers, "zip", digits)
            if len(ids):
                self._add(total, ids, weights, weight)

    def _concept_scores(self, view, readers, concept, corrections) -> np.ndarray:
        """Per-document scores of one concept: its words, formal terms and likely spellings
        (kept for the index generation: people search the same needs again and again)."""
        spellings = tuple(corrections.get(concept.text, ()))
        key = (concept, spellings)
        with _CACHE_LOCK:
            cached = view.concepts.get(key)
            if cached is not None:
                view.concepts.move_to_end(key)
        if cached is not None:
            return cached
        total = np.zeros(view.size, dtype=np.float32)
        self._words_scores(view, readers, concept.text, 1.0, total)
        for alternative in concept.alternatives:
            self._words_scores(view, readers, alternative, SYNONYM_WEIGHT, total)
        for spelling in spellings:
            self._words_scores(view, readers, spelling, CORRECTION_WEIGHT, total)
        total.flags.writeable = False
        with _CACHE_LOCK:
            view.concepts[key] = total
            while len(view.concepts) > CONCEPT_CACHE_SIZE:
                view.concepts.popitem(last=False)
        return total

    def search(self, request: EngineQuery) -> EngineResult:
        """Matches near the place (if any), or in the whole index, with facet counts.

        Text is scored with BM25F over term postings read from the index (cached per segment)
        and combined with numpy: every concept must match, or any of them.
        """
        searcher = self.searcher()
        view = self._view(searcher)
        readers = [reader for reader, _ in _leaf_readers(searcher)]

        # 1. The documents allowed: live, near the place, passing the exact filters.
        allowed = view.alive.copy()
        distance = nearest = serves = None
        if request.near is not None:
            candidates, distance, nearest, serves = view.near(request.near)
            allowed &= candidates
        if request.category_ids:
            allowed &= view.docs_with(readers, "cat", [c.hex for c in request.category_ids])
        if request.languages:
            allowed &= view.docs_with(readers, "lang", request.languages)
        if request.free_only:
            allowed &= view.docs_with(readers, "flag", ["free"])
        if request.wheelchair:
            allowed &= view.docs_with(readers, "flag", ["wheelchair"])

        # 2. The documents matching the words.
        scores = coverage = None
        if request.concepts:
            per_concept = [
                self._concept_scores(view, readers, c, request.corrections)
                for c in request.concepts
            ]
            hits = np.zeros(view.size, dtype=np.int32)
            scores = np.zeros(view.size, dtype=np.float32)
            for concept_scores in per_concept:
                hits += concept_scores > 0
                scores += concept_scores
            needed = len(per_concept) if request.require_all else 1
            allowed &= hits >= needed
            coverage = hits / len(per_concept)
        matched = np.flatnonzero(allowed)

        # 3. Open now: needed for the filter, the facet and the boost.
        open_flags = view.open_now(matched, request.now, request.default_tz)
        if request.open_now:
            matched, open_flags = matched[open_flags == 1], open_flags[open_flags == 1]
        facets = view.facet_counts(matched, open_flags)
        total = len(matched)
        if not total:
            return EngineResult.empty(facets)

        # 4. Every match when a place limits them (distance re-ranks), else the best ones.
        chosen = np.arange(total)
        if request.near is None and total > request.top:
            if scores is not None:  # more concepts matched first, then the higher score
                key = scores[matched] + coverage[matched] * (float(scores[matched].max()) + 1)
                chosen = np.argpartition(-key, request.top - 1)[: request.top]
            else:
                ranks = view.name_ranks()[matched]
                chosen = np.argpartition(ranks, request.top - 1)[: request.top]
        docs = matched[chosen]
        return EngineResult(
            total=total,
            ids=_Picked(view.sids, docs),
            scores=scores[docs].astype(np.float64) if scores is not None else np.zeros(len(docs)),
            coverage=coverage[docs] if coverage is not None else np.ones(len(docs)),
            open_now=open_flags[chosen],
            names=_Picked(view.names, docs),
            facets=facets,
            best_score=float(scores[matched].max()) if scores is not None else 0.0,
            distance_km=distance[docs] if distance is not None else None,
            serves_area=serves[docs] if serves is not None else None,
            location_ids=_Picked(view.location_ids, nearest[docs]) if nearest is not None else None,
        )

    def generation(self) -> Hashable:
        """The index's identity and generation: changes with every committed change."""
        searcher = self.searcher()
        return (str(self.directory), self._identity(), searcher.reader().generation())

    def unknown_words(self, words: Iterable[str]) -> set[str]:
        """The words no indexed service contains."""
        return {w for w in words if not self.vocabulary.count(w)}

    def spellings(self, word: str, maxdist: int) -> list[tuple[str, int, int]]:
        """(indexed word, edits, services using it) within `maxdist` edits of `word`, sharing
        its first letter; nearest, then most common, first."""
        return sorted(self.vocabulary.near(word, maxdist), key=lambda r: (r[1], -r[2], r[0]))

    def snippet(self, text_: str, request: EngineQuery) -> str | None:
        """Escaped HTML of a passage of `text_` around the first match, matched words and
        phrases in <mark>; None when nothing matches."""
        if not text_ or not request.concepts:
            return None
        singles, phrases = _highlight_terms(request.concepts, tuple(request.corrections.items()))
        words = [(m.start(), m.end(), _word_stem(m.group())) for m in _WORD.finditer(text_)]
        counted = [i for i, word in enumerate(words) if word[2]]  # little words don't count
        marked = {i for i in counted if words[i][2] in singles}
        stems = [words[i][2] for i in counted]
        for j, stem in enumerate(stems):
            for phrase in phrases.get(stem, ()):
                if tuple(stems[j : j + len(phrase)]) == phrase:
                    marked.update(counted[j : j + len(phrase)])
        if not marked:
            return None
        first = words[min(marked)][0]
        start = 0 if first < SNIPPET_BEFORE else text_.rfind(" ", 0, first - SNIPPET_BEFORE) + 1
        end = (
            len(text_)
            if start + SNIPPET_CHARS >= len(text_)
            else text_.rfind(" ", start, start + SNIPPET_CHARS)
        )
        end = end if end > first else min(len(text_), start + SNIPPET_CHARS)
        out, cursor = ["…" if start else ""], start
        for i in sorted(marked):
            word_start, word_end, _stem = words[i]
            if word_start < start or word_end > end:
                continue
            out += [html.escape(text_[cursor:word_start]), "<mark>"]
            out += [html.escape(text_[word_start:word_end]), "</mark>"]
            cursor = word_end
        out += [html.escape(text_[cursor:end]), "…" if end < len(text_) else ""]
        return "".join(out).strip()

    # -- writing --

    @contextmanager
    def _writer(self, ix=None):
        ix = ix or self._open()
        writer = ix.writer(timeout=30.0, delay=0.05)
        try:
            yield writer
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

    def index(self, service_ids: Collection[uuid.UUID]) -> None:
        """Re-read these services from the database and replace (or drop) their documents."""
        ids = list(dict.fromkeys(service_ids))
        if not ids:
            return
        self._note_pending(ids)
        written: list[dict] = []
        with Session(db.engine) as session, self._writer() as writer:
            for start in range(0, len(ids), INDEX_CHUNK):
                chunk = ids[start : start + INDEX_CHUNK]
                docs, gone = _documents(session, chunk)
                for doc in docs:
                    writer.update_document(**{k: v for k, v in doc.items() if k != VOCABULARY_KEY})
                for service_id in gone:
                    writer.delete_by_term("id", service_id.hex)
                written += [{VOCABULARY_KEY: doc[VOCABULARY_KEY]} for doc in docs]
                session.expunge_all()
            fingerprint = _db_fingerprint(session.connection())
        self.vocabulary.add(written)
        self._write_fingerprint(fingerprint)

    def delete(self, service_ids: Collection[uuid.UUID]) -> None:
        """Drop these services' documents."""
        with self._writer() as writer:
            for service_id in service_ids:
                writer.delete_by_term("id", service_id.hex)

    def rebuild(
        self, progress: Callable[[int, int], None] | None = None, procs: int | None = None
    ) -> int:
        """Index every service into a fresh directory, then swap it in; returns the count.

        Changes committed meanwhile are noted in a pending file and applied after the swap.
        With `procs` > 1 (default SEARCH_INDEX_PROCS), a big directory's text is analysed in
        that many worker processes (forked: only from a single-threaded process, like the
        `flask directory reindex` command; the app's own rebuilds use one).
        """
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        building = self.directory.with_name(f"{self.directory.name}.building-{uuid.uuid4().hex}")
        pending = self._pending_path()
        pending.write_text("")
        try:
            building.mkdir()
            ix = index.create_in(str(building), _schema())
            with Session(db.engine) as session:
                fingerprint = _db_fingerprint(session.connection())
                ids = list(
                    session.scalars(
                        select(Service.id)
                        .where(Service.status.in_(INDEXED_STATUSES))
                        .order_by(Service.id)
                    )
                )
                procs = (procs or self.procs) if len(ids) >= MULTIPROCESS_FROM else 1
                if procs > 1:  # analysis in worker processes while this one reads the database
                    writer = ix.writer(procs=procs, limitmb=128, multisegment=True)
                else:
                    writer = ix.writer(limitmb=INDEX_MEMORY_MB)
                counts: dict[str, int] = {}
                try:
                    for start in range(0, len(ids), INDEX_CHUNK):
                        docs, _gone = _documents(session, ids[start : start + INDEX_CHUNK])
                        for doc in docs:
                            for word in vocabulary_words(doc.pop(VOCABULARY_KEY)):
                                counts[word] = counts.get(word, 0) + 1
                            writer.add_document(**doc)
                        session.expunge_all()
                        if progress:
                            progress(min(start + INDEX_CHUNK, len(ids)), len(ids))
                except BaseException:
                    writer.cancel()
                    raise
                writer.commit()
            _Vocabulary.write(building / _Vocabulary.FILE, counts)
            (building / self.FINGERPRINT_FILE).write_text(json.dumps(fingerprint))
            self._swap(building)
        finally:
            shutil.rmtree(building, ignore_errors=True)
            changed = self._take_pending()
        if changed:
            self.index(changed)
        if progress and not ids:
            progress(0, 0)
        return len(ids)

    def _swap(self, building: Path) -> None:
        old = self.directory.with_name(f"{self.directory.name}.old-{uuid.uuid4().hex}")
        if self.directory.exists():
            os.rename(self.directory, old)
        os.rename(building, self.directory)
        shutil.rmtree(old, ignore_errors=True)

    def _pending_path(self) -> Path:
        return self.directory.with_name(f"{self.directory.name}.pending")

    def _note_pending(self, ids: Iterable[uuid.UUID]) -> None:
        """While a rebuild runs, remember changed ids so the new index gets them too."""
        path = self._pending_path()
        if path.exists():
            with path.open("a") as handle:
                handle.write("".join(f"{i.hex}\n" for i in ids))

    def _take_pending(self) -> list[uuid.UUID]:
        path = self._pending_path()
        try:
            lines = path.read_text().split()
            path.unlink()
        except FileNotFoundError:
            return []
        return [uuid.UUID(hex=line) for line in dict.fromkeys(lines)]

    # -- freshness --

    def stored_fingerprint(self) -> dict | None:
        try:
            return json.loads((self.directory / self.FINGERPRINT_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _write_fingerprint(self, fingerprint: dict) -> None:
        if not self.directory.is_dir():
            return
        path = self.directory / self.FINGERPRINT_FILE
        scratch = path.with_name(f"{path.name}.{uuid.uuid4().hex}")
        scratch.write_text(json.dumps(fingerprint))
        os.replace(scratch, path)

    def is_fresh(self, fingerprint: dict) -> bool:
        return index.exists_in(str(self.directory)) and self.stored_fingerprint() == fingerprint


def _db_fingerprint(connection) -> dict:
    """What the index was built from: counts and latest edits of the indexed tables."""
    row = connection.execute(
        text(
            "SELECT (SELECT count(*) FROM service), (SELECT max(last_modified) FROM service), "
            "(SELECT max(last_modified) FROM organization), "
            "(SELECT max(last_modified) FROM location), "
            "(SELECT count(*) FROM attribute WHERE link_entity = 'service')"
        )
    ).one()
    services, service_at, org_at, location_at, attributes = row
    return {
        "version": INDEX_VERSION,
        "services": services,
        "service_modified": str(service_at),
        "organization_modified": str(org_at),
        "location_modified": str(location_at),
        "attributes": attributes,
    }


# --- Keeping the index in step with commits ---------------------------------------------------

_PENDING_KEY = "directory_search_pending"
_hooks_installed = False


def _services_at_locations(connection, location_ids: set) -> set[uuid.UUID]:
    if not location_ids:
        return set()
    return set(
        connection.scalars(
            select(ServiceAtLocation.service_id).where(
                ServiceAtLocation.location_id.in_(location_ids)
            )
        )
    )


def _affected_service_ids(connection, objects: Iterable) -> set[uuid.UUID]:
    """The services whose documents change when these objects change."""
    services: set[uuid.UUID] = set()
    locations: set[uuid.UUID] = set()
    sal_ids: set[uuid.UUID] = set()
    organizations: set[uuid.UUID] = set()
    terms: set[uuid.UUID] = set()
    for obj in objects:
        if isinstance(obj, Service):
            services.add(obj.id)
        elif isinstance(obj, Organization):
            organizations.add(obj.id)
        elif isinstance(obj, Location):
            locations.add(obj.id)
        elif isinstance(obj, ServiceAtLocation):
            services.add(obj.service_id)
        elif isinstance(obj, Schedule | Language):
            services.add(obj.service_id)
            locations.add(obj.location_id)
            if isinstance(obj, Schedule):
                sal_ids.add(obj.service_at_location_id)
        elif isinstance(obj, Address | Accessibility):
            locations.add(obj.location_id)
        elif isinstance(obj, CostOption | ServiceArea):
            services.add(obj.service_id)
        elif isinstance(obj, Attribute):
            if obj.link_entity == "service":
                services.add(obj.link_id)
        elif isinstance(obj, TaxonomyTerm):
            terms.add(obj.id)
    services.discard(None)
    locations.discard(None)
    sal_ids.discard(None)
    organizations.discard(None)
    terms.discard(None)
    if organizations:
        services |= set(
            connection.scalars(select(Service.id).where(Service.organization_id.in_(organizations)))
        )
    if sal_ids:
        services |= set(
            connection.scalars(
                select(ServiceAtLocation.service_id).where(ServiceAtLocation.id.in_(sal_ids))
            )
        )
    services |= _services_at_locations(connection, locations)
    if terms:
        tree = select(TaxonomyTerm.id).where(TaxonomyTerm.id.in_(terms)).cte(recursive=True)
        tree = tree.union(select(TaxonomyTerm.id).where(TaxonomyTerm.parent_id == tree.c.id))
        services |= set(
            connection.scalars(
                select(Attribute.link_id).where(
                    Attribute.link_entity == "service",
                    Attribute.taxonomy_term_id.in_(select(tree.c.id)),
                )
            )
        )
    return services


_TRACKED = (
    Service,
    Organization,
    Location,
    ServiceAtLocation,
    Schedule,
    Language,
    Address,
    Accessibility,
    CostOption,
    Attribute,
    TaxonomyTerm,
    ServiceArea,
)


def _pending(session) -> set:
    return session.info.setdefault(_PENDING_KEY, set())


def _before_flush(session, _flush_context, _instances) -> None:
    # Deleted rows: find their services while the links still exist.
    gone = [o for o in session.deleted if isinstance(o, _TRACKED)]
    if gone:
        _pending(session).update(_affected_service_ids(session.connection(), gone))


def _after_flush(session, _flush_context) -> None:
    changed = [o for o in (*session.new, *session.dirty) if isinstance(o, _TRACKED)]
    if changed:
        _pending(session).update(_affected_service_ids(session.connection(), changed))


def _after_commit(session) -> None:
    ids = session.info.pop(_PENDING_KEY, None)
    if not ids or not has_app_context():
        return
    if not current_app.config.get("SEARCH_SYNC", True):
        return
    try:
        engine(current_app).index(ids)
    except (LockError, OSError, SQLAlchemyError):
        # The commit stands; the index is marked stale and rebuilt at the next start-up.
        log.exception("search index update failed for %d services", len(ids))
        _mark_stale(current_app)


def _after_soft_rollback(session, previous_transaction) -> None:
    if previous_transaction.parent is None and not previous_transaction.nested:
        session.info.pop(_PENDING_KEY, None)


def _install_session_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _after_soft_rollback)
    _hooks_installed = True


def _mark_stale(app: Flask) -> None:
    try:
        (Path(app.config["SEARCH_INDEX_DIR"]) / WhooshEngine.FINGERPRINT_FILE).unlink()
    except FileNotFoundError:
        pass


# --- Start-up ---------------------------------------------------------------------------------


def engine(app: Flask | None = None) -> WhooshEngine:
    """The app's search engine."""
    return (app or current_app).extensions["directory_search"]


def init_app(app: Flask) -> None:
    """Attach the engine and session hooks; rebuild a missing or stale index.

    Cheap and safe when the tables don't exist yet (`flask db upgrade` on an empty database).
    A small directory is rebuilt at once; a big one in a background thread, while the old
    index (if any) keeps answering.
    """
    _install_session_hooks()
    procs = app.config.get("SEARCH_INDEX_PROCS", 1)
    app.extensions["directory_search"] = WhooshEngine(app.config["SEARCH_INDEX_DIR"], procs)
    if app.config.get("SEARCH_CHECK_AT_STARTUP", True):
        _check_index(app)


def _check_index(app: Flask) -> None:
    search_engine = engine(app)
    try:
        with app.app_context(), db.engine.connect() as connection:
            if not inspect(connection).has_table("service"):
                return
            fingerprint = _db_fingerprint(connection)
    except SQLAlchemyError as exc:
        log.warning("search index not checked: the database is not ready (%s)", exc)
        return
    if search_engine.is_fresh(fingerprint):
        return
    limit = app.config.get("SEARCH_SYNC_REBUILD_LIMIT", SYNC_REBUILD_LIMIT)
    if fingerprint["services"] <= limit:
        with app.app_context():
            count = search_engine.rebuild()
        log.info("search index rebuilt at start-up: %d services", count)
        return

    def background() -> None:
        with app.app_context():
            try:
                count = search_engine.rebuild()
                log.info("search index rebuilt in the background: %d services", count)
            except Exception:
                log.exception("background search index rebuild failed")

    log.warning(
        "search index is stale: rebuilding %d services in the background", fingerprint["services"]
    )
    threading.Thread(target=background, name="search-reindex", daemon=True).start()


def reindex(progress: Callable[[int, int], None] | None = None, procs: int | None = None) -> int:
    """Rebuild the whole index from the database (the `flask directory reindex` command)."""
    return engine().rebuild(progress, procs)


# --- Searching --------------------------------------------------------------------------------


def _key(value) -> bytes:
    """A service id from the database (UUID, or hex text on SQLite) as 16 bytes."""
    return value.bytes if isinstance(value, uuid.UUID) else bytes.fromhex(value)


_covering_cache: OrderedDict = OrderedDict()


def _covering(place: Place, generation: Hashable) -> frozenset[bytes]:
    """Ids of the services with a service area covering the place (the database's spatial
    index: SpatiaLite R*Tree, PostGIS GiST). Remembered per place until the index changes:
    a service area edit reindexes its service, which changes the generation."""
    key = (generation, round(place.latitude, 6), round(place.longitude, 6))
    with _CACHE_LOCK:
        found = _covering_cache.get(key)
    if found is None:
        found = _covering_query(place)
        with _CACHE_LOCK:
            _covering_cache[key] = found
            while len(_covering_cache) > COVERING_CACHE_SIZE:
                _covering_cache.popitem(last=False)
    return found


def _covering_query(place: Place) -> frozenset[bytes]:
    dialect = db.session.get_bind().dialect.name
    areas = geo_sql.covering(
        dialect, "service_area", place.latitude, place.longitude, extra=("service_id",)
    ).subquery()
    ids = db.session.scalars(select(areas.c.service_id).where(areas.c.service_id.is_not(None)))
    return frozenset(map(_key, ids))


def _resolve_categories(values: Iterable[str]) -> tuple[uuid.UUID, ...]:
    """Term ids for category parameters given as ids, codes or names (any taxonomy)."""
    ids: set[uuid.UUID] = set()
    for value in values:
        found: set[uuid.UUID] = set()
        try:
            as_id = uuid.UUID(value)
        except ValueError:
            as_id = None
        if as_id is not None:
            found |= set(
                db.session.scalars(select(TaxonomyTerm.id).where(TaxonomyTerm.id == as_id))
            )
        if not found:
            found |= set(
                db.session.scalars(
                    select(TaxonomyTerm.id).where(
                        (TaxonomyTerm.code == value)
                        | (func.lower(TaxonomyTerm.name) == value.lower())
                    )
                )
            )
        if not found:
            raise UnknownCategoryError(f"There is no category {value!r}.", "category")
        ids |= found
    return tuple(sorted(ids))


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count one), or limit + 1 when larger."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def max_edits(word: str) -> int:
    """Typing mistakes forgiven in a word: none under 3 letters, one up to 6, else two."""
    if len(word) < 3:
        return 0
    return 1 if len(word) <= 6 else 2


def _spellings(search_engine: SearchEngine, lexicon: synonyms.Synonyms, word: str) -> list[str]:
    """Likely intended words, from the index's own vocabulary and the synonyms file."""
    limit = max_edits(word)
    if not limit:
        return []
    ranked = [(w, d, f) for w, d, f in search_engine.spellings(word, limit)]
    indexed = {w for w, _, _ in ranked}
    for candidate in lexicon.vocabulary:
        if candidate[:1] != word[:1] or candidate in indexed or candidate == word:
            continue
        distance = _edit_distance(word, candidate, limit)
        if distance <= limit:
            ranked.append((candidate, distance, 0))
    ranked.sort(key=lambda r: (r[1], -r[2], r[0]))
    return [w for w, _, _ in ranked]


def _synonyms() -> synonyms.Synonyms:
    return synonyms.load(current_app.config.get("SEARCH_SYNONYMS_FILE"))


def _typed_words(concepts: Iterable[synonyms.Concept]) -> list[str]:
    """Words typed outside any known lay phrase (the ones that may be misspelled)."""
    return [c.text for c in concepts if not c.alternatives and not c.is_phrase]


@dataclass
class _Match:
    request: EngineQuery
    result: EngineResult
    suggestion: str | None = None


def _run(search_engine: SearchEngine, request: EngineQuery) -> _Match:
    """Every word first; if that finds little, any word."""
    result = search_engine.search(request)
    if len(request.concepts) > 1 and result.total < ALL_WORDS_ENOUGH:
        relaxed = replace(request, require_all=False)
        more = search_engine.search(relaxed)
        if more.total > result.total:
            return _Match(relaxed, more)
    return _Match(request, result)


def _match(search_engine: SearchEngine, text_: str, request: EngineQuery) -> _Match:
    """Search the words; when some are unknown and little is found, search likely spellings
    too and offer the corrected text as "did you mean"."""
    found = _run(search_engine, request)
    if not request.concepts:
        return found
    lexicon = _synonyms()
    typed = [w for w in _typed_words(request.concepts) if not lexicon.knows(w)]
    unknown = search_engine.unknown_words(typed) if typed else set()
    if not unknown:
        return found
    corrections = {}
    for word in unknown:
        options = _spellings(search_engine, lexicon, word)
        if options:
            corrections[word] = options
    if not corrections:
        return found
    words = [corrections[w][0] if w in corrections else w for w in synonyms.tokens(text_)]
    corrected_text = " ".join(words)
    concepts = tuple(lexicon.expand(corrected_text))
    extra = {options[0]: tuple(options[1:3]) for options in corrections.values()}
    fuzzy = _run(search_engine, replace(request, concepts=concepts, corrections=extra))
    if fuzzy.result.total > found.result.total or found.result.total < TYPO_RETRY_BELOW:
        fuzzy.suggestion = corrected_text
        return fuzzy if fuzzy.result.total >= found.result.total else found
    return found


def _engine_query(query: SearchQuery, now: datetime) -> EngineQuery:
    return EngineQuery(
        concepts=tuple(_synonyms().expand(query.text)),
        category_ids=_resolve_categories(query.categories),
        languages=tuple(dict.fromkeys(canonical_language(v)[0] for v in query.languages)),
        free_only=query.free_only,
        wheelchair=query.wheelchair,
        open_now=query.open_now,
        now=now,
        default_tz=current_app.config.get("DEFAULT_TIMEZONE", "America/New_York"),
        top=max(TOP_TEXT_MATCHES, query.page * query.per_page),
    )


def search(query: SearchQuery) -> SearchResults:
    """Services for a search: matching the words (lay words and typos forgiven), near the
    place (within the radius, or serving it), passing the filters, best first, one page.

    Raises UnknownCategoryError for a category that doesn't exist.
    """
    now = query.now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    request = _engine_query(query, now)
    search_engine = engine()
    if query.place is not None:
        place = query.place
        radius_m = (query.radius_km or DEFAULT_RADIUS_KM) * 1000
        request = replace(
            request,
            near=Near(
                place.latitude,
                place.longitude,
                radius_m,
                _covering(place, search_engine.generation()),
            ),
        )
    found = _match(search_engine, query.text, request)
    result, request = found.result, found.request

    has_text = bool(request.concepts)
    distance, serves = result.distance_km, result.serves_area
    relevance = result.scores / result.best_score if has_text and result.best_score else None
    combined = ranking.scores(relevance, distance, serves, result.open_now)
    start = (query.page - 1) * query.per_page
    positions = ranking.order(
        scores=combined,
        coverage=result.coverage,
        distance_km=distance,
        serves_area=serves,
        names=result.names,
        keys=result.ids,
        has_text=has_text,
        limit=start + query.per_page,
    )[start:]
    services = cards.load_cards([uuid.UUID(bytes=result.ids[i]) for i in positions])
    hits = []
    for i in positions:
        service = services.get(uuid.UUID(bytes=result.ids[i]))
        if service is None:  # deleted since the index was read
            continue
        state = int(result.open_now[i])
        located = distance is not None and not np.isnan(distance[i])
        location = result.location_ids[i] if result.location_ids else None
        hits.append(
            SearchHit(
                service_id=service.id,
                score=float(combined[i]),
                distance_km=float(distance[i]) if located else None,
                nearest_location_id=uuid.UUID(hex=location) if location else None,
                serves_area=bool(serves[i]) if serves is not None else False,
                open_now=None if state < 0 else bool(state),
                snippet=search_engine.snippet(service.description or "", request)
                if has_text
                else None,
                service=service,
            )
        )
    return SearchResults(query, result.total, hits, result.facets, found.suggestion)


def service_ids_matching(text_: str, limit: int = 10000) -> list[uuid.UUID]:
    """Ids of the services matching the words, most relevant first (for the HSDS API `search`);
    empty when the text has no searchable words."""
    concepts = tuple(_synonyms().expand(text_))
    if not concepts:
        return []
    request = EngineQuery(
        concepts=concepts,
        default_tz=current_app.config.get("DEFAULT_TIMEZONE", "America/New_York"),
        top=limit,
    )
    result = _match(engine(), text_, request).result
    relevance = result.scores / result.best_score if result.best_score else None
    positions = ranking.order(
        scores=ranking.scores(relevance, None, None, result.open_now),
        coverage=result.coverage,
        distance_km=None,
        serves_area=None,
        names=result.names,
        keys=result.ids,
        has_text=True,
        limit=limit,
    )
    return [uuid.UUID(bytes=result.ids[i]) for i in positions]
