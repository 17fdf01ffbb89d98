"""Directory search: words, place and filters in; ranked, faceted, highlighted services out.

Callers write `search.search(query)`; the package's layers, top to bottom:

1. `query`: `query_from_args()` turns request parameters into a `SearchQuery` (or a
   `SearchQueryError` with a message a person can act on); views and the JSON API share it.
2. `searching`: `search()` expands lay words into concepts (`synonyms`), finds the service
   areas covering the place, asks the engine for matches, retries with "any word" and then with
   corrected spellings (`spelling`), ranks (`ranking`) and loads the page of cards.
3. `engine`: the `SearchEngine` protocol the layers above call. `whoosh_engine` implements it
   (the only module that imports whoosh) from `listings`, the engine-neutral reads of what a
   service shows.

`sync` writes every committed change to the change feed (`feed`, a table in the database) and
keeps each process's index in step with it, whichever process or host committed; `lifecycle`
attaches the engine to the app, catches the index up at start-up, or rebuilds a missing or stale
one.
"""

from directory.search.lifecycle import catch_up, init_app, reindex
from directory.search.query import (
    DEFAULT_RADIUS_KM,
    Facet,
    Place,
    SearchHit,
    SearchQuery,
    SearchQueryError,
    SearchResults,
    UnknownCategoryError,
    UnknownPlaceError,
    query_from_args,
)
from directory.search.searching import search, service_ids_matching

__all__ = [
    "DEFAULT_RADIUS_KM",
    "Facet",
    "Place",
    "SearchHit",
    "SearchQuery",
    "SearchQueryError",
    "SearchResults",
    "UnknownCategoryError",
    "UnknownPlaceError",
    "catch_up",
    "init_app",
    "query_from_args",
    "reindex",
    "search",
    "service_ids_matching",
]
