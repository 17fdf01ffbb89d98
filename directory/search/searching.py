"""`search()`: words, place and filters in; ranked, faceted, highlighted services out.

Expands lay words into concepts (`synonyms`, shared by any engine), asks the database's spatial
index which service areas cover the place (`geo.sql`), asks the engine for matches, retries
with "any word" and then with corrected spellings when little is found, ranks (`ranking`) and
loads the page of services with everything a card shows (a fixed number of queries).
"""

import threading
import uuid
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
from flask import current_app
from sqlalchemy import func, or_, select

from directory import cards, languages
from directory.models import ServiceArea, TaxonomyTerm
from directory.search import crisis, explain, ranking, spelling, sync, synonyms
from directory.search.engine import (
    TOP_TEXT_MATCHES,
    EngineQuery,
    EngineResult,
    Near,
    SearchEngine,
    current_engine,
)
from directory.search.query import (
    DEFAULT_RADIUS_KM,
    Place,
    SearchHit,
    SearchQuery,
    SearchResults,
    UnknownCategoryError,
)
from extensions import db
from geo import places as geo_places
from geo import sql as geo_sql

ALL_WORDS_ENOUGH = 5  # fewer matches of every word than this: any word may match
TYPO_RETRY_BELOW = 5  # fewer matches than this (or an unknown word): try corrected spellings
CRISIS_FIRST = 3  # crisis services put first when the words signal danger
COVERING_CACHE_SIZE = 1024  # places whose covering service areas are kept, per generation
_CACHE_LOCK = threading.Lock()  # the cache below is shared by a server's threads


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
    ids = set(db.session.scalars(select(areas.c.service_id).where(areas.c.service_id.is_not(None))))
    return frozenset(map(_key, ids | _covering_by_name(place)))


def _covering_by_name(place: Place) -> set:
    """Services with an area named for the place's ZIP code or county but with no shape (a
    county or ZIP picked by name, as 211 exports and the listing editor write them)."""
    wanted = geo_places.area_names_at(place)
    if not wanted:
        return set()
    # The database narrows to names holding one of the words; Python compares the folded names.
    words = {name for name in wanted if name.isdigit()} | {
        max(name.split(), key=len) for name in wanted if name.endswith(" county")
    }
    rows = db.session.execute(
        select(ServiceArea.service_id, ServiceArea.name).where(
            ServiceArea.geom.is_(None),
            ServiceArea.service_id.is_not(None),
            or_(*(func.lower(ServiceArea.name).contains(word) for word in sorted(words))),
        )
    )
    return {service_id for service_id, name in rows if geo_places.fold_name(name) in wanted}


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


def _synonyms() -> synonyms.Synonyms:
    return synonyms.load(current_app.config.get("SEARCH_SYNONYMS_FILE"))


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


def _order(result: EngineResult, scores, distance, serves, has_text: bool, limit: int) -> list[int]:
    """Positions of the engine's best `limit` matches, best first (`ranking.order`)."""
    return ranking.order(
        scores=scores,
        coverage=result.coverage,
        distance_km=distance,
        serves_area=serves,
        names=result.names,
        keys=result.ids,
        has_text=has_text,
        limit=limit,
    )


def _match(search_engine: SearchEngine, text_: str, request: EngineQuery) -> _Match:
    """Search the words; when some are unknown and little is found, search likely spellings
    too and offer the corrected text as "did you mean"."""
    found = _run(search_engine, request)
    if not request.concepts:
        return found
    lexicon = _synonyms()
    typed = [w for w in spelling.typed_words(request.concepts) if not lexicon.knows(w)]
    unknown = search_engine.unknown_words(typed) if typed else set()
    if not unknown:
        return found
    corrections = {}
    for word in unknown:
        options = spelling.suggestions(search_engine, lexicon, word)
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
        languages=languages.with_varieties(languages.canonical(v)[0] for v in query.languages),
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
    sync.keep_up()  # changes committed by other processes and hosts first
    search_engine = current_engine()
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
    start = (query.page - 1) * query.per_page
    ranked = _ranked(result, has_text, start + query.per_page)
    total = result.total
    danger = crisis.detect(query.text)
    if danger is not None:
        ranked, total = _crisis_first(search_engine, request, danger, ranked, total)
    ranked = ranked[start : start + query.per_page]
    services = cards.load_cards([uuid.UUID(bytes=r.key) for r in ranked])
    hits = []
    for entry in ranked:
        service = services.get(uuid.UUID(bytes=entry.key))
        if service is None:  # deleted since the index was read
            continue
        hit = _hit(search_engine, request, entry, service, has_text)
        words = explain.card_words(service)
        hit.matched = explain.matched(request.concepts, words)
        if entry.untyped:  # put first for the danger in the words: say why
            hit.matched = explain.matched(entry.untyped, words, typed=False) + hit.matched
        hits.append(hit)
    return SearchResults(query, total, hits, result.facets, found.suggestion, danger)


@dataclass(frozen=True)
class _Ranked:
    """A match in a page: its place in an engine result, its combined score, and the concepts
    that found it when they were not typed (crisis services)."""

    result: EngineResult
    position: int
    score: float
    untyped: tuple[synonyms.Concept, ...] = ()

    @property
    def key(self) -> bytes:
        return self.result.ids[self.position]


def _ranked(result: EngineResult, has_text: bool, limit: int) -> list[_Ranked]:
    """The best `limit` matches, best first."""
    distance, serves = result.distance_km, result.serves_area
    relevance = result.scores / result.best_score if has_text and result.best_score else None
    combined = ranking.scores(relevance, distance, serves, result.open_now)
    positions = _order(result, combined, distance, serves, has_text, limit)
    return [_Ranked(result, i, float(combined[i])) for i in positions]


def _crisis_first(search_engine, request, danger, ranked, total) -> tuple[list[_Ranked], int]:
    """The crisis services near the place (any filters but the place dropped) ahead of the
    matches, each once; the total counts the ones the words did not find."""
    asked = EngineQuery(
        concepts=danger.service_concepts(),
        require_all=False,
        now=request.now,
        default_tz=request.default_tz,
        near=request.near,
    )
    first = [
        replace(entry, untyped=asked.concepts)
        for entry in _ranked(search_engine.search(asked), True, CRISIS_FIRST)
    ]
    keys = {entry.key for entry in first}
    rest = [entry for entry in ranked if entry.key not in keys]
    return first + rest, total + len(first) - (len(ranked) - len(rest))


def _hit(search_engine, request, entry: _Ranked, service, has_text) -> SearchHit:
    result, i = entry.result, entry.position
    distance, serves = result.distance_km, result.serves_area
    state = int(result.open_now[i])
    located = distance is not None and not np.isnan(distance[i])
    location = result.location_ids[i] if result.location_ids else None
    return SearchHit(
        service_id=service.id,
        score=entry.score,
        distance_km=float(distance[i]) if located else None,
        nearest_location_id=uuid.UUID(hex=location) if location else None,
        serves_area=bool(serves[i]) if serves is not None else False,
        open_now=None if state < 0 else bool(state),
        snippet=search_engine.snippet(service.description or "", request) if has_text else None,
        service=service,
    )


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
    sync.keep_up()
    result = _match(current_engine(), text_, request).result
    relevance = result.scores / result.best_score if result.best_score else None
    scores = ranking.scores(relevance, None, None, result.open_now)
    positions = _order(result, scores, None, None, True, limit)
    return [uuid.UUID(bytes=result.ids[i]) for i in positions]
