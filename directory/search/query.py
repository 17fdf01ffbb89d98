"""The query object: what goes into a directory search and what comes out, how request
parameters become a query, and the errors when they can't.

Views, the JSON API and the benchmark build a `SearchQuery` and call `directory.search.search()`;
the engine behind it (Whoosh today, a database-native one for multi-host deployments later)
returns `SearchResults`. Synonym expansion, place parsing and ranking rules live above the engine.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from geo import places
from geo import sql as geo_sql
from geo.places import Place  # re-exported: the search seam names it
from web import paging

if TYPE_CHECKING:
    from directory.cards import ServiceCard
    from directory.search.crisis import Crisis

MAX_PER_PAGE = 100
DEFAULT_RADIUS_KM = 40.0
MAX_RADIUS_KM = 500.0
MAX_TEXT_LENGTH = 200
TRUE_WORDS = {"1", "true", "yes", "on", "y"}
FALSE_WORDS = {"0", "false", "no", "off", "n", ""}


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    place: Place | None = None
    radius_km: float | None = None
    categories: tuple[str, ...] = ()  # taxonomy term ids, codes or names; descendants match too
    languages: tuple[str, ...] = ()
    free_only: bool = False
    open_now: bool = False
    wheelchair: bool = False
    page: int = 1
    per_page: int = 20
    now: datetime | None = None  # "open now" is judged at this instant (default: the clock)


@dataclass
class SearchHit:
    service_id: uuid.UUID
    score: float
    distance_km: float | None = None  # to the nearest location, when a place was given
    nearest_location_id: uuid.UUID | None = None
    serves_area: bool = False  # the place lies inside one of the service's service areas
    open_now: bool | None = None  # None: no hours on record
    snippet: str | None = None  # highlighted HTML (escaped text with <mark>), safe to render
    service: "ServiceCard | None" = None  # what its result card shows (read in one query)
    matched: tuple[str, ...] = ()  # terms it matched through, not the words typed ("childcare")


@dataclass
class Facet:
    value: str
    label: str
    count: int


@dataclass
class SearchResults:
    query: SearchQuery
    total: int
    hits: list[SearchHit]
    facets: dict[str, list[Facet]] = field(default_factory=dict)
    suggestion: str | None = None  # "did you mean", when the words look misspelled
    crisis: "Crisis | None" = None  # the words signal danger: show the crisis lines first

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


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

    try:
        page = paging.page_number(args)
        per_page = paging.page_size(args, default_per_page, MAX_PER_PAGE)
    except paging.BadPaging as exc:
        raise SearchQueryError(exc.message, exc.parameter) from None

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
