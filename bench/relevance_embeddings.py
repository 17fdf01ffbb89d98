"""Meaning by static embeddings, measured on bench/relevance.py's requests (issue 14, item 2).

Not part of the app: WordLlama (`pip install --target DIR wordllama==0.4.0.post1`, 16 MB with
its 256-d weights) is loaded from WORDLLAMA_PATH (default /tmp/meaning/wl) with a cache folder
holding the packaged weights and tokenizer config (`WORDLLAMA_CACHE`, made from the package if
missing), never downloading. Three rankings of the demo directory's services, no place:

- categories: the request against every taxonomy category (name and parent name); a service
  scores the best of its categories;
- services: the request against each service's name, description and category names;
- fused: search()'s first 50 and the categories' first 50 by reciprocal rank (k = 60).
"""

import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from bench import relevance

WL_PATH = Path(os.environ.get("WORDLLAMA_PATH", "/tmp/meaning/wl"))
WL_CACHE = Path(os.environ.get("WORDLLAMA_CACHE", "/tmp/meaning/wlcache"))
FUSE_DEPTH = 50
RRF_K = 60


def load_model():
    """WordLlama from its wheel's own files: no download."""
    if str(WL_PATH) not in sys.path:
        sys.path.append(str(WL_PATH))  # after the app's packages: their numpy wins
    from wordllama import WordLlama

    package = WL_PATH / "wordllama"
    for sub, source in (
        ("weights", package / "weights" / "l2_supercat_256.safetensors"),
        ("tokenizers", package / "tokenizers" / "l2_supercat_tokenizer_config.json"),
        ("tokenizer", package / "tokenizers" / "l2_supercat_tokenizer_config.json"),
    ):
        target = WL_CACHE / sub / source.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return WordLlama.load(cache_dir=WL_CACHE, disable_download=True)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def _directory():
    """[(service name, [codes], text)] and {code: "name (parent name)"} from the database."""
    from sqlalchemy import select

    from directory.models import Attribute, Service, TaxonomyTerm
    from extensions import db

    terms = db.session.execute(select(TaxonomyTerm)).scalars().all()
    by_id = {t.id: t for t in terms}
    labels = {}
    for term in terms:
        parent = by_id.get(term.parent_id)
        labels[term.code] = f"{term.name} ({parent.name})" if parent else term.name
    codes: dict = {}
    for service_id, code in db.session.execute(
        select(Attribute.link_id, TaxonomyTerm.code).join(TaxonomyTerm)
    ):
        codes.setdefault(service_id, []).append(code)
    services = []
    for service in db.session.scalars(select(Service).order_by(Service.name)):
        mine = codes.get(service.id, [])
        text = ". ".join([service.name, service.description or "", *(labels[c] for c in mine)])
        services.append((service.name, mine, text))
    return services, labels


def compare(requests: list[dict], show: str) -> None:
    started = time.perf_counter()
    model = load_model()
    services, labels = _directory()
    codes = list(labels)
    category_vectors = _unit(model.embed([labels[c] for c in codes]))
    service_vectors = _unit(model.embed([text for _, _, text in services]))
    prepared = time.perf_counter() - started
    request_vectors = _unit(model.embed([r["text"] for r in requests]))
    column = {c: i for i, c in enumerate(codes)}
    member = np.zeros((len(services), len(codes)), dtype=bool)
    for row, (_, mine, _) in enumerate(services):
        for code in mine:
            member[row, column[code]] = True

    by_category, by_service, fused, fused_services = [], [], [], []
    started = time.perf_counter()
    for request, vector in zip(requests, request_vectors, strict=True):
        near = category_vectors @ vector
        category_scores = np.where(member, near[None, :], -np.inf).max(axis=1)
        order = np.argsort(-category_scores, kind="stable")
        ranked = [(services[i][0], services[i][1]) for i in order]
        by_category.append(relevance.outcome(request, ranked))
        order = np.argsort(-(service_vectors @ vector), kind="stable")
        nearest = [services[i][:2] for i in order]
        by_service.append(relevance.outcome(request, nearest))
        words = _searched(request)
        fused.append(relevance.outcome(request, _fuse(words, ranked[:FUSE_DEPTH])))
        fused_services.append(relevance.outcome(request, _fuse(words, nearest[:FUSE_DEPTH])))
    per_request_ms = (time.perf_counter() - started) * 1000 / len(requests)
    print(
        f"\n== WordLlama 256-d: {len(codes)} categories and {len(services)} services embedded "
        f"in {prepared:.1f} s; {per_request_ms:.2f} ms a request (all three rankings)"
    )
    for title, outcomes in (
        ("nearest categories", by_category),
        ("nearest services", by_service),
        ("search() + categories fused (RRF)", fused),
        ("search() + services fused (RRF)", fused_services),
    ):
        print(f"-- {title}")
        relevance.report(outcomes, "none" if title.startswith("search()") else show)


def _searched(request: dict) -> list[tuple[str, list[str]]]:
    """search()'s first FUSE_DEPTH near the place, as (name, codes)."""
    from directory import search
    from geo import places

    found = search.search(
        search.SearchQuery(
            text=request["text"], place=places.resolve_place(relevance.PLACE), per_page=FUSE_DEPTH
        )
    )
    return [
        (h.service.name, [a.taxonomy_term.code for a in h.service.attributes]) for h in found.hits
    ]


def _fuse(words: list, by_meaning: list) -> list[tuple[str, list[str]]]:
    """Two rankings by reciprocal rank. Services are keyed by name and categories (the demo
    repeats a service across agencies)."""
    score: dict = {}
    entries: dict = {}
    for ranking in (words, by_meaning):
        seen: set = set()
        for name, codes in ranking:
            key = (name, tuple(sorted(codes)))
            if key in seen:  # the same kind of service again: one vote per ranking
                continue
            seen.add(key)
            entries.setdefault(key, (name, codes))
            score[key] = score.get(key, 0.0) + 1 / (RRF_K + len(seen))
    return [entries[k] for k in sorted(score, key=lambda k: -score[k])]
