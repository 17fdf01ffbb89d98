"""The Whoosh engine: the only module that imports whoosh.

`WhooshEngine` keeps an on-disk Whoosh index under SEARCH_INDEX_DIR (stemming analyser,
per-field postings, per-document columns); it scores BM25F with numpy over postings it caches,
and measures distances in numpy from the coordinates stored with each listing (geo outside
Whoosh). Its documents are built from `listings`; a vocabulary file beside the index feeds
typo suggestions; a fingerprint file says which state of the database it holds.
"""

import ctypes
import fcntl
import functools
import html
import json
import math
import os
import re
import shutil
import signal
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from stat import S_ISSOCK
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine
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
from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.support.charset import accent_map
from whoosh.writing import LockError

from directory import hours
from directory.languages import LANGUAGES
from directory.models import Service
from directory.search import feed, synonyms
from directory.search.engine import EngineQuery, EngineResult, IndexUnavailable, Near
from directory.search.listings import (
    db_fingerprint,
    hours_pattern,
    is_wheelchair_accessible,
    pattern_open,
    read_listings,
    service_languages,
    service_locations,
    service_timezone,
    term_chains,
)
from directory.search.query import Facet
from directory.search.spelling import edit_distance
from extensions import db
from geo import sql as geo_sql
from geo.spatialite import small_page_cache

INDEX_CHUNK = 500
MULTIPROCESS_FROM = 20_000  # rebuilds this big may analyse text in several processes
INDEX_MEMORY_MB = 48
"""Postings a one-process rebuild sorts in memory (by Whoosh's estimate; Python holds about
twice that) before it spills a sorted run to disk and, at the end, merges the runs: the
SEARCH_INDEX_MEMORY_MB setting. 48 keeps a rebuild of 34,000 services with 50 MB of text
(bench/import_memory.py) under 300 MB of RSS, app included; 1024 (no run spilled up to
100,000 services) ran a 50,000-service rebuild in 69 s instead of 94 s at 256, and held 700 MB."""
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
COVERING_CACHE_SIZE = 256  # places whose covering services' docnums are kept, per generation
SYNONYM_WEIGHT = 0.8  # a formal term found for a lay phrase weighs a little less than the words
CORRECTION_WEIGHT = 0.7


# --- Documents: what is indexed for a service --------------------------------------------------


def _document(service: Any, chains: dict[uuid.UUID, list]) -> dict[str, Any]:
    """The Whoosh fields of one service (a model, or a plain listing from `read_listings`)."""
    org = service.organization
    locations = service_locations(service)
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
        "h": hours_pattern(hours.schedules_for(service), zone),
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


def _documents(session: Session, ids: Collection[uuid.UUID]) -> tuple[list[dict], set]:
    """Documents for the indexable services among `ids`, and the ids that have none."""
    services = read_listings(session, ids)
    term_ids = {a.taxonomy_term_id for s in services for a in s.attributes}
    chains = term_chains(session, term_ids) if term_ids else {}
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
            distance = edit_distance(word, candidate, maxdist)
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
SNIPPET_CACHE_SIZE = 8192  # (description, concepts) snippets kept per process


@lru_cache(maxsize=50_000)
def _word_stem(word: str) -> str:
    """A word as the index compares it (lower case, no accents, stemmed); "" for little
    words the index drops."""
    stems = _stems(word)
    return stems[0] if stems else ""


@lru_cache(maxsize=SNIPPET_CACHE_SIZE)
def _snippet(text_: str, concepts: tuple, corrections: tuple) -> str | None:
    """`WhooshEngine.snippet`, kept per description and concepts: the same services come up
    for the same needs again and again (a pure function of its arguments: never stale)."""
    singles, phrases = _highlight_terms(concepts, corrections)
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
        self._covering: OrderedDict = OrderedDict()  # covering ids → their docnums

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
        covered = self._covered(near.covering)
        if len(covered):
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

    def _covered(self, covering: frozenset[bytes]) -> np.ndarray:
        """The docnums of the services whose areas cover a place, mapped once per place and
        generation (the search above keeps one frozenset per place, so this is a dict hit)."""
        with _CACHE_LOCK:
            found = self._covering.get(covering)
            if found is not None:
                self._covering.move_to_end(covering)
                return found
        docnums = [d for d in map(self.docnum.get, covering) if d is not None]
        found = np.array(docnums, dtype=np.int64)
        with _CACHE_LOCK:
            self._covering[covering] = found
            while len(self._covering) > COVERING_CACHE_SIZE:
                self._covering.popitem(last=False)
        return found

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
                state = pattern_open(segment.patterns[p], minute, default_tz)
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


# --- Worker processes of a multi-process rebuild -----------------------------------------------

PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_CHECK_SECONDS = 0.5


def _die_with_parent(parent_pid: int) -> None:
    """Make this forked worker die as soon as the process that started it does.

    Linux: the kernel sends SIGKILL when the parent dies (prctl PR_SET_PDEATHSIG). Elsewhere,
    or if that fails, a thread notices the parent is gone within PARENT_CHECK_SECONDS.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            threading.Event().wait(PARENT_CHECK_SECONDS)
        os._exit(1)

    if os.getppid() != parent_pid:  # died before the line above took effect
        os._exit(1)
    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _let_go_of_inherited_connections(engine: Engine) -> None:
    """Drop the database connections this worker inherited from its parent.

    A worker only analyses text; it never uses the database. Yet a fork shares the parent's
    sockets: while a worker lived, the parent's connection (mid-transaction, reading the
    directory) stayed open. The pool is forgotten without closing anything (closing would end
    the parent's session), and each inherited socket is pointed at /dev/null, so this process
    holds no connection at all.
    """
    engine.dispose(close=False)
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except FileNotFoundError:  # not Linux: the pool is forgotten, sockets stay until exit
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in fds:
            try:
                if fd != devnull and S_ISSOCK(os.fstat(fd).st_mode):
                    os.dup2(devnull, fd)
            except OSError:  # closed meanwhile (the listing's own descriptor)
                continue
    finally:
        os.close(devnull)


class _WorkerTask(SubWriterTask):
    """A Whoosh indexing worker that dies with its parent and holds no database connection."""

    def __init__(self, *args, engine: Engine, **kwargs):
        super().__init__(*args, **kwargs)
        self.engine = engine
        self.parent_pid = os.getpid()

    def run(self):
        _die_with_parent(self.parent_pid)
        _let_go_of_inherited_connections(self.engine)
        super().run()


class _WorkerWriter(MpWriter):
    """Whoosh's multi-process writer with our workers; cancelling stops them (Whoosh's own
    cancel only flags its copy of each worker, which then waits for work forever)."""

    def __init__(self, ix, *, engine: Engine, **kwargs):
        super().__init__(ix, **kwargs)
        self.engine = engine

    def _new_task(self):
        task = _WorkerTask(
            self.storage,
            self.indexname,
            self.jobqueue,
            self.resultqueue,
            self.subargs,
            self.multisegment,
            engine=self.engine,
        )
        self.tasks.append(task)
        task.start()
        return task

    def cancel(self):
        try:
            for task in self.tasks:
                task.kill()
                task.join(timeout=5)
        finally:
            super().cancel()


def _storage_errors(method):
    """Whoosh's lock timeouts and the index's file errors, raised as the protocol's own
    IndexUnavailable (the layers above never see a Whoosh exception)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (LockError, index.EmptyIndexError, OSError) as exc:
            raise IndexUnavailable(f"search index {self.directory}: {exc!r}") from exc

    return wrapper


class WhooshEngine:
    """A Whoosh index on disk (BM25F, stemming, columns for facets and hours)."""

    FINGERPRINT_FILE = "wraparound.json"
    FEED_FILE = "feed.json"  # the change-feed position (`feed.Position`), written after commits

    def __init__(
        self, directory: str | Path, procs: int = 1, memory_mb: int = INDEX_MEMORY_MB
    ) -> None:
        self.directory = Path(directory)
        self.procs = max(1, procs)
        self.memory_mb = max(1, memory_mb)
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

    @_storage_errors
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
        return _snippet(text_, request.concepts, tuple(request.corrections.items()))

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

    @_storage_errors
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
            fingerprint = db_fingerprint(session.connection())
        self.vocabulary.add(written)
        stored = self.stored_fingerprint()
        # Applying changes keeps a fresh index fresh; it must not make fresh an index marked
        # stale or built in an older document shape (only a rebuild does that).
        if stored is not None and stored.get("version") == fingerprint["version"]:
            self._write_fingerprint(fingerprint)

    @_storage_errors
    def delete(self, service_ids: Collection[uuid.UUID]) -> None:
        """Drop these services' documents."""
        with self._writer() as writer:
            for service_id in service_ids:
                writer.delete_by_term("id", service_id.hex)

    @_storage_errors
    def rebuild(
        self, progress: Callable[[int, int], None] | None = None, procs: int | None = None
    ) -> int:
        """Index every service into a fresh directory, then swap it in; returns the count.

        Changes committed meanwhile are noted in a pending file and applied after the swap;
        the change feed brings the new index up to date from the position it started at (the
        index joins the feed's consumers first, so nothing it needs is trimmed meanwhile).
        With `procs` > 1 (default SEARCH_INDEX_PROCS), a big directory's text is analysed in
        that many worker processes (forked: only from a single-threaded process, like the
        `flask directory reindex` command; the app's own rebuilds use one).
        """
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        building = self.directory.with_name(f"{self.directory.name}.building-{uuid.uuid4().hex}")
        with db.engine.begin() as connection:  # nothing this index needs is trimmed meanwhile
            feed.hold(connection, feed.consumer_name(str(self.directory)))
        rebuilding = self._rebuild_lock(fcntl.LOCK_SH)  # several rebuilds may run; no clean-up
        pending = self._pending_path()
        try:
            pending.write_text("")
            building.mkdir()
            ix = index.create_in(str(building), _schema())
            with Session(db.engine) as session, small_page_cache(session.connection()):
                fingerprint = db_fingerprint(session.connection())
                position = feed.start_position(session.connection())  # before reading rows
                ids = list(
                    session.scalars(
                        select(Service.id).where(Service.is_listed).order_by(Service.id)
                    )
                )
                procs = (procs or self.procs) if len(ids) >= MULTIPROCESS_FROM else 1
                if procs > 1:  # analysis in worker processes while this one reads the database
                    writer = _WorkerWriter(
                        ix, engine=db.engine, procs=procs, limitmb=128, multisegment=True
                    )
                else:
                    writer = ix.writer(limitmb=self.memory_mb)
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
            (building / self.FEED_FILE).write_text(json.dumps(position.to_json()))
            with self.applying(wait=None):  # no applier writes to the old index meanwhile
                self._swap(building)
        finally:
            shutil.rmtree(building, ignore_errors=True)
            changed = self._take_pending()
            os.close(rebuilding)
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

    def _rebuild_lock(self, mode: int) -> int:
        """An flock on a file beside the index: shared by each running rebuild, exclusive for
        the clean-up. The kernel releases it when its holders die, `kill -9` included (a
        rebuild's workers share it, and die with the rebuild). Returns the descriptor."""
        path = self.directory.with_name(f"{self.directory.name}.rebuild.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, mode)
        except OSError:
            os.close(fd)
            raise
        return fd

    def remove_leftovers(self) -> list[str]:
        """Remove what a rebuild that died left beside the index (half-built `building-*` and
        `old-*` folders, the pending-changes file), unless a rebuild is running now; returns
        the names removed. Called at start-up."""
        if not self.directory.parent.is_dir():
            return []
        try:
            fd = self._rebuild_lock(fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return []  # a live rebuild (here or in another process) owns them
        removed = []
        try:
            for kind in ("building-", "old-"):
                for path in self.directory.parent.glob(f"{self.directory.name}.{kind}*"):
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path.name)
            pending = self._pending_path()
            if pending.exists():
                pending.unlink()
                removed.append(pending.name)
        finally:
            os.close(fd)
        return removed

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

    def is_fresh(self, fingerprint: Mapping[str, Any]) -> bool:
        """An index exists and was last written from the database state `fingerprint` names."""
        return index.exists_in(str(self.directory)) and self.stored_fingerprint() == fingerprint

    def mark_stale(self) -> None:
        """Drop the fingerprint: the next start-up finds the index stale and rebuilds it."""
        try:
            (self.directory / self.FINGERPRINT_FILE).unlink()
        except FileNotFoundError:
            pass

    # -- following the change feed --

    def feed_position(self) -> dict | None:
        """The position in feed.json inside the index folder (it goes with the index)."""
        if not index.exists_in(str(self.directory)):
            return None
        try:
            return json.loads((self.directory / self.FEED_FILE).read_text())
        except (OSError, json.JSONDecodeError):
            return None

    @_storage_errors
    def save_feed_position(self, position: Mapping[str, Any]) -> None:
        """Replace feed.json atomically (after the index commit that applied the changes)."""
        path = self.directory / self.FEED_FILE
        scratch = path.with_name(f"{path.name}.{uuid.uuid4().hex}")
        scratch.write_text(json.dumps(dict(position)))
        os.replace(scratch, path)

    @contextmanager
    def applying(self, wait: float | None = 0.0):
        """An flock on a file beside the index (it outlives rebuilds' swaps), held while the
        feed is applied; `wait` None waits as long as it takes. The kernel lets go of it when
        the holder dies, `kill -9` included."""
        path = self.directory.with_name(f"{self.directory.name}.apply.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if wait is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
                held = True
            else:
                deadline = time.monotonic() + wait
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        held = True
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            held = False
                            break
                        time.sleep(0.02)
            yield held
        finally:
            os.close(fd)
