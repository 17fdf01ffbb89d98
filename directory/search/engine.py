"""The engine seam: what the search layers above ask of an engine, and what it answers.

`searching.search()` expands words into concepts and finds the service areas covering a place;
an engine matches text, place and filters over its own copy of the directory and counts facets.
`WhooshEngine` (`whoosh_engine.py`) is the one engine today; a database-native engine can
replace it without touching the layers above.
"""

import uuid
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
from flask import Flask, current_app

from directory.search import synonyms
from directory.search.query import Facet

TOP_TEXT_MATCHES = 500  # without a place, rank this many best text matches (open-now boost)


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


def engine(app: Flask | None = None) -> SearchEngine:
    """The app's search engine."""
    return (app or current_app).extensions["directory_search"]
