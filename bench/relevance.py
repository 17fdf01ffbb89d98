"""Relevance benchmark: do lay requests find the kind of help a 211 specialist would expect?

    .venv/bin/python bench/relevance.py                  # SQLite, every request
    .venv/bin/python bench/relevance.py --db postgres --show all
    .venv/bin/python bench/relevance.py --wordllama      # also: requests → nearest categories

Requests (bench/relevance_requests.json, written for this benchmark) are everyday phrasings in
English and Spanish: short, long, misspelt, emotional, indirect. Each names the Open Eligibility
categories a specialist would accept; a service in one of them or under one of them counts.
A third of the requests (`"part": "holdout"`, every third one) are kept aside while tuning.

The directory is the demo network (`flask directory seed-demo`: 332 services in Onondaga County
under the Open Eligibility taxonomy) in a scratch database; each request is searched through
`directory.search.search()` near downtown Syracuse (ZIP 13202), as a person there would.
Reported per part: hits@10 (an expected category among the first ten results) and MRR (1 / the
rank of the first such result, 0 past ten); per request, what came first.
"""

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REQUESTS = Path(__file__).with_name("relevance_requests.json")
PLACE = "13202"  # downtown Syracuse, the demo network's centre
TOP = 10


@dataclass
class Outcome:
    request: dict
    rank: int | None  # 1-based rank of the first result in an expected category
    first: str  # the first result: name [codes]
    crisis: bool = False


def load_requests(path: Path = REQUESTS) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def expected(codes: list[str], service_codes: list[str]) -> bool:
    """A service in one of the expected categories or under one of them."""
    return any(c == e or c.startswith(e + "-") for c in service_codes for e in codes)


def run_request(request: dict, place=None) -> Outcome:
    """Search the request's words near the place; where the first expected category came."""
    from directory import search

    query = search.SearchQuery(text=request["text"], place=place, per_page=TOP)
    found = search.search(query)
    ranked = [
        (hit.service.name, [a.taxonomy_term.code for a in hit.service.attributes])
        for hit in found.hits
        if hit.service is not None
    ]
    return outcome(request, ranked, getattr(found, "crisis", None) is not None)


def outcome(request: dict, ranked: list[tuple[str, list[str]]], crisis: bool = False) -> Outcome:
    """Where the first expected category came among the first TOP (name, codes) results."""
    ranked = ranked[:TOP]
    rank = next(
        (i for i, (_, codes) in enumerate(ranked, 1) if expected(request["expect"], codes)), None
    )
    first = f"{ranked[0][0]} [{', '.join(ranked[0][1])}]" if ranked else "(nothing)"
    return Outcome(request, rank, first, crisis)


def run_all(requests: list[dict]) -> list[Outcome]:
    from geo import places

    place = places.resolve_place(PLACE)
    return [run_request(r, place) for r in requests]


def summary(outcomes: list[Outcome]) -> str:
    n = len(outcomes)
    hits = sum(o.rank is not None for o in outcomes)
    mrr = sum(1 / o.rank for o in outcomes if o.rank) / n if n else 0.0
    return f"hits@{TOP} {hits}/{n} ({hits / n:.0%}), MRR {mrr:.3f}"


def report(outcomes: list[Outcome], show: str) -> None:
    for part in ("tune", "holdout"):
        chosen = [o for o in outcomes if o.request["part"] == part]
        print(f"  {part:8} {summary(chosen)}")
    for lang in ("en", "es"):
        chosen = [o for o in outcomes if o.request["lang"] == lang]
        print(f"  {lang:8} {summary(chosen)}")
    print(f"  {'all':8} {summary(outcomes)}")
    if show == "none":
        return
    print()
    for o in outcomes:
        if show == "misses" and o.rank is not None:
            continue
        mark = f"#{o.rank}" if o.rank else "MISS"
        part = "H" if o.request["part"] == "holdout" else " "
        print(f"  {mark:>4} {part} {o.request['id']:3} {o.request['text']!r}  →  {o.first}")


def build(kind: str, workdir: Path, url: str):
    """An app on a scratch database holding the demo directory, indexed."""
    from flask_migrate import upgrade

    from app import create_app
    from directory import search
    from directory.demo import seed_demo_directory
    from extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SEARCH_INDEX_DIR": str(workdir / "index"),
            "SEARCH_CHECK_AT_STARTUP": False,
            "SEARCH_SYNC": False,
            "SECRET_KEY": "bench",
        }
    )
    with app.app_context():
        upgrade()
        seed_demo_directory()
        db.session.commit()
        search.reindex()
    return app


def main(argv=None) -> int:
    from bench.search import scratch_database

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--show", choices=["none", "misses", "all"], default="misses")
    parser.add_argument("--json", type=Path, help="write every outcome here")
    parser.add_argument(
        "--wordllama",
        action="store_true",
        help="also rank by the taxonomy categories nearest the request (WordLlama embeddings)",
    )
    args = parser.parse_args(argv)
    requests = load_requests()
    workdir = Path(tempfile.mkdtemp(prefix="wrap-relevance-"))
    try:
        with scratch_database(args.db, workdir) as url:
            app = build(args.db, workdir, url)
            with app.app_context():
                outcomes = run_all(requests)
                print(f"== search() on {args.db}, {len(requests)} requests near ZIP {PLACE}")
                report(outcomes, args.show)
                if args.wordllama:
                    from bench import relevance_embeddings

                    relevance_embeddings.compare(requests, args.show)
                from extensions import db

                db.engine.dispose()
        if args.json:
            args.json.write_text(
                json.dumps(
                    [{"id": o.request["id"], "rank": o.rank, "first": o.first} for o in outcomes],
                    indent=1,
                )
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
