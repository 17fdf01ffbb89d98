"""The engine seam: what the search layers above ask of an engine, and what it answers.

`searching.search()` expands words into concepts and finds the service areas covering a place;
an engine matches text, place and filters over its own copy of the directory and counts facets.
`WhooshEngine` (`whoosh_engine.py`) is the one engine today; a database-native engine can
replace it without touching the layers above.
"""

import uuid
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

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


class SearchEngineError(Exception):
    """Something an engine could not do; the layers above catch only these, never a library's."""


class IndexUnavailable(SearchEngineError):
    """The index can't be read or written now: another writer holds it too long, or its files
    can't be reached. After a commit this leaves the index stale, to be rebuilt at start-up."""


class SearchEngine(Protocol):
    """A search backend: text, place, filters and facets over its copy of the directory.

    Everything the layers above call. `request.near` limits the search to services with a
    location within the radius or an area covering the point (the covering ids come from the
    database's spatial index). Failures of the engine's own storage raise IndexUnavailable.
    """

    # -- searching --

    def search(self, request: EngineQuery) -> EngineResult:
        """Matches of the concepts, near the place, passing the filters, with facet counts."""

    def generation(self) -> Hashable:
        """Changes whenever the indexed directory changes (for caches above the engine)."""

    def unknown_words(self, words: Iterable[str]) -> set[str]:
        """The words no indexed service contains (candidates for a spelling correction)."""

    def spellings(self, word: str, maxdist: int) -> list[tuple[str, int, int]]:
        """(indexed word, edits, services using it) within `maxdist` edits of `word`."""

    def snippet(self, text: str, request: EngineQuery) -> str | None:
        """Escaped HTML of a passage of `text` with the matched words in <mark>; None if none."""

    # -- following the database --

    def index(self, service_ids: Collection[uuid.UUID]) -> None:
        """Re-read these services from committed rows; replace or drop their documents."""

    def delete(self, service_ids: Collection[uuid.UUID]) -> None:
        """Drop these services' documents."""

    def rebuild(
        self, progress: Callable[[int, int], None] | None = None, procs: int | None = None
    ) -> int:
        """Index every indexable service afresh; returns how many."""

    # -- freshness --

    def is_fresh(self, fingerprint: Mapping[str, Any]) -> bool:
        """Whether the index holds the database state `fingerprint` describes
        (`listings.db_fingerprint`); a stale or missing index is rebuilt at start-up."""

    def mark_stale(self) -> None:
        """Remember that the index missed a change, so the next start-up rebuilds it."""

    # -- following the change feed (`feed`, `sync.Follower`) --

    def feed_position(self) -> Mapping[str, Any] | None:
        """The change-feed position stored with the index (None: none, e.g. no index yet).
        A rebuild stores the position it started from (`feed.start_position`)."""

    def save_feed_position(self, position: Mapping[str, Any]) -> None:
        """Store the position with the index, once the changes up to it are committed to it
        (a crash in between re-applies them)."""

    def applying(self, wait: float = 0.0) -> AbstractContextManager[bool]:
        """Hold the right to apply the feed to this index (one applier per index, across
        processes; a rebuild's swap takes it too); yields False if another holds it longer
        than `wait` seconds. Searches never wait for it."""


def current_engine(app: Flask | None = None) -> SearchEngine:
    """The engine `lifecycle.init_app` attached to the app (the current one by default)."""
    return (app or current_app).extensions["directory_search"]
