"""Search benchmark: build a directory of N services, index it, time 300 mixed searches.

    .venv/bin/python bench/search.py                       # 100,000 services, both databases
    .venv/bin/python bench/search.py --n 20000 --db sqlite
    .venv/bin/python bench/search.py --n 20000 --db postgres --queries 300 --seed 7

Each run uses a scratch database it creates and drops (SQLite: a temporary file; PostGIS: a
`wraparound_bench_*` database next to BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/postgres). Services get believable text (names,
descriptions, Open Eligibility categories, languages, hours, fees, accessibility) and
coordinates around the cities of one state (ZIP-code centroids, weighted by how many ZIP codes a
city has); a fifth have a service area (a county-sized circle), a few cover the whole state.

Searches go through `directory.search.search()`, the function the API and pages call (text
matching, spatial SQL, facets, ranking and loading the page of services), in one process:
a third words only, a third place only, a third words + place + filters. Reported: data load
time, index build time and size, p50/p95/p99 latency overall and per kind.
"""

import argparse
import gc
import math
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGETS = {20_000: 30.0, 100_000: 100.0}  # p95 ms for words + place searches
BUILD_TARGET_S = {100_000: 180.0}

KINDS = [
    # (Open Eligibility codes, name patterns, description sentences)
    (
        ["102-04"],
        ["{town} Food Pantry", "{saint} Church Food Cupboard", "{town} Community Pantry"],
        [
            "Free groceries, canned goods and fresh produce for families in need.",
            "Clients may visit once a month and take home a three-day supply of food.",
            "Bring a photo ID and proof of address if you have them; no one is turned away.",
            "Volunteers pack boxes with milk, eggs, bread and vegetables when available.",
        ],
    ),
    (
        ["102-05"],
        ["{town} Soup Kitchen", "{saint} Community Meals", "Hot Lunch at {town} Center"],
        [
            "Hot meals served daily in the church hall, no questions asked.",
            "Breakfast and lunch for anyone who is hungry, including children.",
            "Take-out dinners are available on weekends.",
        ],
    ),
    (
        ["102-06-02", "107-03-02"],
        ["SNAP Outreach of {county}", "{town} Benefits Enrollment", "Food Benefits Help Desk"],
        [
            "Help applying for SNAP food stamps and WIC, and renewing EBT benefits.",
            "Staff screen households for public benefits and help complete the application.",
            "Appointments by phone or walk-in; bring pay stubs and identification.",
        ],
    ),
    (
        ["101-02-03", "103-03"],
        ["{county} Rental Assistance", "Eviction Prevention Program", "{town} Housing Help"],
        [
            "Emergency rental assistance for tenants behind on rent or facing eviction.",
            "One-time grants toward back rent, security deposits and first month's rent.",
            "Case managers negotiate with landlords and connect tenants to housing court help.",
        ],
    ),
    (
        ["101-04", "103-01"],
        ["{town} Emergency Shelter", "{saint} House of Hospitality", "{town} Rescue Mission"],
        [
            "Emergency shelter beds for single adults and families experiencing homelessness.",
            "Overnight shelter with showers, laundry and a hot meal; check-in every evening.",
            "Case management helps guests move into permanent housing.",
        ],
    ),
    (
        ["101-02-06", "103-03-02"],
        ["{county} Energy Assistance", "HEAP Utility Help", "{town} Weatherization Program"],
        [
            "Help paying heating and electric bills through HEAP and emergency utility grants.",
            "Assistance for households with a shut-off notice from the utility company.",
            "Free weatherization and furnace repair for eligible homeowners and renters.",
        ],
    ),
    (
        ["106-01-02", "106-01-05", "106-01-04"],
        ["{town} Recovery Center", "{county} Addiction Services", "{saint} Treatment Center"],
        [
            "Outpatient and residential treatment for alcohol and drug addiction.",
            "Medically supervised detox and withdrawal management, open around the clock.",
            "Medication assisted treatment with buprenorphine and counseling.",
        ],
    ),
    (
        ["106-01-01", "108-07-09"],
        ["{town} AA Intergroup", "Narcotics Anonymous {county}", "{town} Recovery Meetings"],
        [
            "Alcoholics Anonymous and Narcotics Anonymous 12-step meetings every day.",
            "Peer support groups for people in recovery and their families.",
        ],
    ),
    (
        ["106-06-07-01", "106-04-08"],
        [
            "{county} Mental Health Clinic",
            "{town} Counseling Center",
            "Behavioral Health of {town}",
        ],
        [
            "Counseling and therapy for depression, anxiety and trauma, for adults and children.",
            "Psychiatric evaluation and medication management by appointment.",
            "Sliding scale fees; Medicaid and most insurance accepted.",
        ],
    ),
    (
        ["108-07-02", "108-07-07"],
        ["{county} Crisis Line", "Warmline of {town}", "{town} Mobile Crisis Team"],
        [
            "Someone to talk to, day or night: peer support by phone and text.",
            "Crisis counseling and suicide prevention; mobile team visits homes.",
        ],
    ),
    (
        ["111-01", "111-01-02"],
        ["{county} Legal Aid Society", "{town} Tenant Law Project", "Legal Services of {county}"],
        [
            "Free civil legal help for low-income residents: housing, benefits, family law.",
            "Attorneys represent tenants in eviction cases and appeal benefit denials.",
            "Immigration legal services, including citizenship and DACA renewals.",
        ],
    ),
    (
        ["109-03-03"],
        ["{town} Literacy Volunteers", "{county} Adult Learning Center", "ESL at {town} Library"],
        [
            "English as a second language classes for adults, mornings and evenings.",
            "GED preparation, basic literacy and computer classes.",
        ],
    ),
    (
        ["105-02-01", "105-02"],
        ["{county} Medical Transportation", "Rides to Care {town}", "{town} Senior Rides"],
        [
            "Non-emergency medical transportation to doctor appointments and dialysis.",
            "Door-to-door rides for seniors and people with disabilities.",
            "Schedule rides at least two days ahead; Medicaid members ride free.",
        ],
    ),
    (
        ["104-02", "104-02-01"],
        ["{saint} Clothing Closet", "{town} Kids Closet", "Coats for {county}"],
        [
            "Free clothing, shoes and winter coats for children and adults.",
            "School clothes and uniforms for students in August.",
        ],
    ),
    (
        ["104-01-02", "104-01"],
        ["{town} Diaper Bank", "{county} Baby Pantry"],
        [
            "Diapers, wipes and formula for families with babies and toddlers.",
            "Cribs and car seats on loan for new parents.",
        ],
    ),
    (
        ["106-06-09", "106-02"],
        ["{town} Family Health Center", "{county} Community Clinic", "{saint} Free Clinic"],
        [
            "Primary care, checkups, vaccinations and chronic disease management.",
            "Dental care and vision exams for children and adults.",
            "Uninsured patients pay on a sliding scale.",
        ],
    ),
    (
        ["110-01", "110-01-01"],
        ["{county} Workforce Center", "{town} Job Training Program", "Careers {town}"],
        [
            "Job search help, resume writing and interview practice.",
            "Paid job training in health care, construction and warehouse work.",
        ],
    ),
    (
        ["108-03-03", "108-03-05", "108-03-02"],
        ["{town} Child Care Council", "{saint} Head Start", "{town} After School Program"],
        [
            "Help finding and paying for child care, and free preschool for ages three to five.",
            "After school homework help, snacks and activities for children.",
        ],
    ),
]
STREETS = ["Main", "Oak", "State", "Elm", "Genesee", "Salina", "Erie", "Park"]
SAINTS = ["St. Mary's", "St. Joseph's", "Grace", "Trinity", "St. Paul's", "Bethany", "Zion"]
GENERIC = [
    "Services are confidential.",
    "Call ahead to confirm hours during holidays.",
    "Interpretation is available on request.",
    "Residents of the county are eligible; some programs have income limits.",
    "Walk-ins welcome during open hours.",
    "Parking and bus access nearby.",
]
HOURS = [
    [("MO,TU,WE,TH,FR", "09:00", "17:00")],
    [("MO,TU,WE,TH,FR", "08:30", "16:30")],
    [("MO,WE,FR", "10:00", "14:00")],
    [("MO,TU,WE,TH,FR,SA,SU", "00:00", "23:59")],
    [("MO,TU,WE,TH,FR,SA,SU", "19:00", "07:00")],
    [("TU,TH", "13:00", "19:00"), ("SA", "09:00", "12:00")],
    [("MO,TU,WE,TH", "11:00", "13:00")],
    [],
]
LANGUAGES = [("English", 0.92), ("Spanish", 0.35), ("Chinese", 0.05), ("Russian", 0.03)]
LANGUAGES += [("Haitian Creole", 0.02), ("Vietnamese", 0.02)]

TEXT_QUERIES = [
    "food pantry", "help paying rent", "food stamps", "comida", "somewhere to sleep tonight",
    "detox", "rehab", "legal aid", "a lawyer for free", "abogado", "ESL", "english classes",
    "light bill", "ride to the doctor", "someone to talk to", "AA meeting", "my kid needs clothes",
    "diapers", "dental", "job training", "child care", "counseling", "vivienda", "renta",
    "shleter", "food pantyr", "evicton", "mental health", "free clinic", "winter coats",
    "hot meals", "immigration", "GED", "utility assistance", "medical transportation",
]  # fmt: skip


def _cities(state: str):
    """(city, [(lat, lon, zip)]) of a state, from the offline ZIP table."""
    from geo import places

    _by_zip, by_city = places._zip_table()
    cities = [(city, points) for (city, st), points in by_city.items() if st == state]
    if not cities:
        raise SystemExit(f"no ZIP codes for state {state!r}")
    return cities


def _circle(lat: float, lon: float, radius_km: float) -> dict:
    ring = []
    for i in range(33):
        angle = 2 * math.pi * i / 32
        dlat = radius_km / 111.2 * math.sin(angle)
        dlon = radius_km / (111.32 * math.cos(math.radians(lat))) * math.cos(angle)
        ring.append([round(lon + dlon, 5), round(lat + dlat, 5)])
    ring[-1] = ring[0]
    return {"type": "Polygon", "coordinates": [ring]}


def generate(db, n: int, state: str, rng: random.Random, report) -> dict:
    """Insert n services (with everything they show) in bulk; return what queries need."""
    from directory import taxonomy
    from directory.models import (
        Accessibility,
        Address,
        Attribute,
        CostOption,
        Language,
        Location,
        Organization,
        Phone,
        Schedule,
        Service,
        ServiceArea,
        ServiceAtLocation,
        ServiceStatus,
    )
    from geo import shapes

    taxonomy.load_open_eligibility()
    db.session.commit()
    cities = _cities(state)
    weights = [len(points) for _, points in cities]
    all_points = [p for _, points in cities for p in points]
    lats = [p[0] for p in all_points]
    lons = [p[1] for p in all_points]
    state_box = {
        "type": "Polygon",
        "coordinates": [
            [
                [min(lons), min(lats)],
                [max(lons), min(lats)],
                [max(lons), max(lats)],
                [min(lons), max(lats)],
                [min(lons), min(lats)],
            ]
        ],
    }
    now = datetime.now(UTC)
    tables = {
        model: model.__table__
        for model in (
            Organization, Service, Location, Address, ServiceAtLocation, Schedule, Language,
            Attribute, CostOption, Accessibility, ServiceArea, Phone,
        )
    }  # fmt: skip
    chunk = 5000
    for start in range(0, n, chunk):
        rows = defaultdict(list)
        for _ in range(start, min(n, start + chunk)):
            city, points = cities[rng.choices(range(len(cities)), weights)[0]]
            lat0, lon0, zip_code = rng.choice(points)
            spread = 2.0 if len(points) > 5 else 4.0
            lat = lat0 + rng.gauss(0, spread) / 111.2
            lon = lon0 + rng.gauss(0, spread) / (111.32 * math.cos(math.radians(lat0)))
            codes, names, sentences = rng.choice(KINDS)
            town = city.title()
            name = rng.choice(names).format(town=town, county=f"{town} County",
                                            saint=rng.choice(SAINTS))  # fmt: skip
            words = rng.sample(sentences, k=min(len(sentences), rng.randint(2, 3)))
            words += rng.sample(GENERIC, k=2)
            org_id, service_id, location_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            modified = now - timedelta(days=rng.randint(0, 700))
            rows[Organization].append(
                {"id": org_id, "name": f"{name} Inc.", "description": "", "last_modified": modified}
            )
            rows[Service].append(
                {
                    "id": service_id,
                    "organization_id": org_id,
                    "name": name,
                    "description": " ".join(words),
                    "status": ServiceStatus.active.value,
                    "eligibility_description": rng.choice(
                        ["Adults 18 and older.", "Families with children.", "Seniors 60+.", None]
                    ),
                    "referral_capacity": rng.choice(["accepting", "accepting", "waitlist"]),
                    "last_modified": modified,
                    "dataset": "bench",
                }
            )
            point = shapes.to_db(shapes.make_point(lat, lon))
            rows[Location].append(
                {
                    "id": location_id,
                    "organization_id": org_id,
                    "name": f"{name} site",
                    "location_type": "physical",
                    "latitude": Decimal(f"{lat:.6f}"),
                    "longitude": Decimal(f"{lon:.6f}"),
                    "geom": point,
                    "last_modified": modified,
                }
            )
            rows[Address].append(
                {
                    "id": uuid.uuid4(),
                    "location_id": location_id,
                    "address_1": f"{rng.randint(1, 2999)} {rng.choice(STREETS)} Street",
                    "city": town,
                    "state_province": state,
                    "postal_code": zip_code,
                    "country": "US",
                    "address_type": "physical",
                }
            )
            rows[ServiceAtLocation].append(
                {"id": uuid.uuid4(), "service_id": service_id, "location_id": location_id}
            )
            number = f"{rng.randint(200, 989)}-555-{rng.randint(0, 9999):04d}"
            phone = {"organization_id": None, "service_id": None}  # one shape for executemany
            rows[Phone].append({**phone, "id": uuid.uuid4(), "organization_id": org_id,
                                "number": number})  # fmt: skip
            if rng.random() < 0.8:  # most services have a line of their own
                line = f"{number[:8]}{rng.randint(0, 9999):04d}"
                rows[Phone].append({**phone, "id": uuid.uuid4(), "service_id": service_id,
                                    "number": line})  # fmt: skip
            for byday, opens, closes in rng.choice(HOURS):
                rows[Schedule].append(
                    {
                        "id": uuid.uuid4(),
                        "service_id": service_id,
                        "freq": "WEEKLY",
                        "byday": byday,
                        "opens_at": opens,
                        "closes_at": closes,
                    }
                )
            for language, share in LANGUAGES:
                if rng.random() < share:
                    rows[Language].append(
                        {"id": uuid.uuid4(), "service_id": service_id, "name": language}
                    )
            for code in rng.sample(codes, k=rng.randint(1, len(codes))):
                rows[Attribute].append(
                    {
                        "id": uuid.uuid4(),
                        "link_id": service_id,
                        "link_entity": "service",
                        "link_type": "category",
                        "taxonomy_term_id": taxonomy.open_eligibility_term_id(code),
                    }
                )
            roll = rng.random()
            if roll < 0.9:
                amount = Decimal("0") if roll < 0.7 else Decimal(rng.choice([10, 25, 40]))
                rows[CostOption].append(
                    {
                        "id": uuid.uuid4(),
                        "service_id": service_id,
                        "amount": amount,
                        "currency": "USD",
                        "option": "Visit",
                    }  # fmt: skip
                )
            roll = rng.random()
            if roll < 0.45:
                note = (
                    "Wheelchair accessible entrance and restroom"
                    if roll < 0.4
                    else "Not wheelchair accessible (stairs)"
                )
                rows[Accessibility].append(
                    {"id": uuid.uuid4(), "location_id": location_id, "description": note}
                )
            roll = rng.random()
            if roll < 0.21:
                extent = state_box if roll < 0.01 else _circle(lat, lon, rng.uniform(10, 50))
                area = shapes.parse_area(extent)
                rows[ServiceArea].append(
                    {
                        "id": uuid.uuid4(),
                        "service_id": service_id,
                        "name": "Service area",
                        "extent": shapes.area_to_geojson(area),
                        "extent_type": "geojson",
                        "geom": shapes.to_db(area),
                    }
                )
        for model, table in tables.items():
            if rows[model]:
                db.session.execute(table.insert(), rows[model])
        db.session.commit()
        report(f"  {min(n, start + chunk):>7} services inserted")
    return {"cities": cities, "weights": weights}


def make_queries(count: int, data: dict, rng: random.Random):
    """(kind, SearchQuery) triples: words, place, words + place + filters."""
    from directory.search.query import Place, SearchQuery

    cities, weights = data["cities"], data["weights"]
    tops = ["Food", "Housing", "Health", "Legal", "Care", "Education", "Work"]

    def place():
        city, points = cities[rng.choices(range(len(cities)), weights)[0]]
        lat, lon, zip_code = rng.choice(points)
        return Place(lat, lon, zip_code, "zip")

    queries = []
    for i in range(count):
        kind = ("words", "place", "words+place+filters")[i % 3]
        if kind == "words":
            query = SearchQuery(text=rng.choice(TEXT_QUERIES))
        elif kind == "place":
            query = SearchQuery(place=place(), radius_km=rng.choice([5, 10, 25, 40]))
        else:
            query = SearchQuery(
                text=rng.choice(TEXT_QUERIES),
                place=place(),
                radius_km=rng.choice([10, 25, 40]),
                languages=("Spanish",) if rng.random() < 0.3 else (),
                free_only=rng.random() < 0.3,
                open_now=rng.random() < 0.2,
                categories=(rng.choice(tops),) if rng.random() < 0.2 else (),
            )
        queries.append((kind, query))
    return queries


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
    return ordered[index]


@contextmanager
def scratch_database(kind: str, workdir: Path):
    """A database URL that exists for the duration of the block."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    import psycopg

    admin_url = os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = f"wraparound_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _size(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def run(
    kind: str, n: int, count: int, state: str, seed: int, procs: int = 1, freeze: bool = False
) -> dict:
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from directory import search
    from extensions import db

    workdir = Path(tempfile.mkdtemp(prefix=f"wrap-bench-{kind}-"))
    results: dict = {"db": kind, "n": n}
    try:
        with scratch_database(kind, workdir) as url:
            config = {
                "SQLALCHEMY_DATABASE_URI": url,
                "SEARCH_INDEX_DIR": str(workdir / "index"),
                "SEARCH_CHECK_AT_STARTUP": False,
                "SEARCH_SYNC": False,
                "SEARCH_INDEX_PROCS": procs,
                "SECRET_KEY": "bench",
            }
            app = create_app(config)
            with app.app_context():
                upgrade()
                started = time.perf_counter()
                data = generate(db, n, state, random.Random(seed), print)
                if kind == "postgres":  # planner statistics, as autovacuum would gather them
                    with db.engine.begin() as connection:  # (SQLite keeps none unless asked,
                        connection.execute(text("ANALYZE"))  # and the app never asks)
                results["load_s"] = time.perf_counter() - started
                print(f"  loaded in {results['load_s']:.1f} s; indexing...")
                started = time.perf_counter()
                indexed = search.reindex(procs=procs)
                results["build_s"] = time.perf_counter() - started
                results["index_mb"] = _size(workdir / "index")
                results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(f"  indexed {indexed} services in {results['build_s']:.1f} s")
                queries = make_queries(count, data, random.Random(seed + 1))
                for _kind, query in queries[:15]:  # warm-up: ZIP table, index views, caches
                    search.search(query)
                    db.session.remove()
                if freeze:  # what a server can do once started: stop re-scanning long-lived
                    gc.collect()  # objects in full collections (each took ~100 ms here)
                    gc.freeze()
                timings = defaultdict(list)
                totals = []
                full_collections = gc.get_stats()[2]["collections"]
                for kind_, query in queries:
                    started = time.perf_counter()
                    found = search.search(query)
                    elapsed = (time.perf_counter() - started) * 1000
                    db.session.remove()
                    timings[kind_].append(elapsed)
                    totals.append(found.total)
                results["latency"] = {
                    k: {
                        "p50": statistics.median(v),
                        "p95": _percentile(v, 0.95),
                        "p99": _percentile(v, 0.99),
                        "count": len(v),
                    }
                    for k, v in {**timings, "all": sum(timings.values(), [])}.items()
                }
                results["median_total"] = statistics.median(totals)
                results["gc_full"] = gc.get_stats()[2]["collections"] - full_collections
                db.engine.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="services to generate")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--state", default="NY", help="US state whose cities hold the services")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--procs", type=int, default=1, help="processes analysing text while indexing"
    )  # `flask directory reindex` uses 2 on a two-core machine
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after warm-up, as a server can after start-up (full garbage "
        "collections otherwise pause about one search in thirty)",
    )
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    reports = []
    for kind in kinds:
        print(f"== {kind}: {args.n} services in {args.state}, {args.queries} searches")
        reports.append(
            run(kind, args.n, args.queries, args.state, args.seed, args.procs, args.gc_freeze)
        )
    print()
    for r in reports:
        print(
            f"{r['db']:8} n={r['n']}: load {r['load_s']:.0f} s, index build {r['build_s']:.1f} s, "
            f"index {r['index_mb']:.0f} MB, median results {r['median_total']:.0f}, "
            f"peak memory {r['peak_rss_mb']:.0f} MB"
        )
        print(f"  full garbage collections during the searches: {r['gc_full']}")
        for kind, lat in r["latency"].items():
            print(
                f"  {kind:22} p50 {lat['p50']:6.1f} ms  p95 {lat['p95']:6.1f} ms  "
                f"p99 {lat['p99']:6.1f} ms  (n={lat['count']})"
            )
        target = TARGETS.get(r["n"])
        if target:
            p95 = r["latency"]["words+place+filters"]["p95"]
            verdict = "met" if p95 <= target else "MISSED"
            print(f"  target: words+place p95 <= {target:.0f} ms: {verdict}")
        build_target = BUILD_TARGET_S.get(r["n"])
        if build_target:
            verdict = "met" if r["build_s"] <= build_target else "MISSED"
            print(f"  target: index build <= {build_target:.0f} s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
