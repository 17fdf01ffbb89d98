"""The search seam: what goes into a directory search and what comes out.

Views, the JSON API and the benchmark build a `SearchQuery` and call `directory.search.search()`;
the engine behind it (Whoosh today, a database-native one for multi-host deployments later)
returns `SearchResults`. Synonym expansion, place parsing and ranking rules live above the engine.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from geo.places import Place  # re-exported: the search seam names it

if TYPE_CHECKING:
    from directory.cards import ServiceCard

__all__ = ["MAX_PER_PAGE", "Facet", "Place", "SearchHit", "SearchQuery", "SearchResults"]

MAX_PER_PAGE = 100


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

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))
