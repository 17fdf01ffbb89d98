"""The search engine contract: what the layers above the seam rely on, run through the
`SearchEngine` protocol once per engine (and per database).

A second engine joins by adding its name to ENGINES (as registered in
`directory.search.lifecycle.ENGINES`) and a way to break its storage to BREAK_STORAGE. Nothing
here imports an engine: the app builds it from SEARCH_ENGINE, and the tests reach it through
`current_engine()`, `search()` and commits.
"""

import shutil
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from directory import search
from directory.models import Service
from directory.search.engine import IndexUnavailable, SearchEngine, current_engine
from directory.search.listings import db_fingerprint
from directory.search.query import SearchQuery
from geo.places import resolve_place
from tests.directory.factories import make_listing
from tests.directory.search.test_search import (
    TUESDAY_NIGHT,
    TUESDAY_NOON,
    build_corpus,
    names,
    run,
)


def _break_whoosh(engine) -> None:
    """Whoosh: its index directory replaced by a plain file."""
    shutil.rmtree(engine.directory)
    engine.directory.write_text("not an index")


ENGINES = ["whoosh"]
BREAK_STORAGE = {"whoosh": _break_whoosh}


@pytest.fixture(params=ENGINES)
def engine_name(request) -> str:
    return request.param


@pytest.fixture
def app(make_app, engine_name):
    """The app on the engine under test (db, client and runner follow it)."""
    return make_app(SEARCH_ENGINE=engine_name)


@pytest.fixture
def corpus(db):
    return build_corpus(db)


def _engine() -> SearchEngine:
    return current_engine()


def _fingerprint(db) -> dict:
    with db.engine.connect() as connection:
        return db_fingerprint(connection)


def _listing(db, name="Treasure Valley Diaper Bank", description="Diapers and wipes for babies."):
    return make_listing(
        db, name, description, at=(43.6150, -116.2023), postal_code="83702", city="Boise",
        state="ID", tz_name="America/Boise",
    )  # fmt: skip


def _found(text: str) -> list[str]:
    return [hit.service.name for hit in search.search(SearchQuery(text=text)).hits]


def test_the_engine_has_every_method_of_the_protocol(app, make_app):
    engine = current_engine(app)
    methods = [name for name in vars(SearchEngine) if not name.startswith("_")]
    assert "mark_stale" in methods and "is_fresh" in methods
    assert [name for name in methods if not callable(getattr(engine, name, None))] == []
    with pytest.raises(ValueError, match="SEARCH_ENGINE must be one of"):
        make_app(SEARCH_ENGINE="no-such-engine")


# --- searching -------------------------------------------------------------------------------


def test_text_lay_phrases_any_word_and_snippets(corpus):
    rent = run(text="help paying rent")
    assert rent.hits[0].service.name == "Eviction Defense Fund"
    assert "back <mark>rent</mark>" in rent.hits[0].snippet
    assert "Pima Rides" in names(run(text="ride to the doctor"))
    assert "Pima Rides" not in names(run(text="doctor"))  # a lay phrase matches only whole
    assert {"Second Stitch Closet", "Desert Harvest Pantry"} <= set(
        names(run(text="groceries shoes"))
    )
    assert names(run(text="shelter"))[0] == "Night Harbor Shelter"  # the name weighs most


def test_place_radius_and_covering_service_areas(corpus):
    place = resolve_place("85701")
    assert names(run(place=place, radius_km=1.2)) == [
        "Garden Club of Tucson",
        "Saguaro Legal Clinic",
        "Eviction Defense Fund",
        "Pima Rides",  # its service area covers the place; its office is in Phoenix
    ]
    rides = run(text="medical transportation", place=place, radius_km=10).hits[0]
    assert (rides.service.name, rides.serves_area) == ("Pima Rides", True)
    assert rides.distance_km == pytest.approx(165, abs=10)
    assert run(text="food", place=resolve_place("99501"), radius_km=50).total == 0


def test_categories_languages_and_filters(corpus):
    place = resolve_place("85701")
    housing = {"Eviction Defense Fund", "Casa Nueva Housing Cooperative", "Night Harbor Shelter"}
    assert set(names(run(categories=("Hou",)))) == housing  # subcategories included
    spanish = {"Eviction Defense Fund", "Desert Harvest Pantry", "Saguaro Legal Clinic"}
    assert set(names(run(place=place, radius_km=20, languages=("es",)))) == spanish
    assert names(run(place=place, languages=("Spanish",), wheelchair=True)) == [
        "Eviction Defense Fund"
    ]
    free = set(names(run(place=place, radius_km=20, free_only=True, per_page=50)))
    assert free and not free & {"Sonoran Recovery House", "Garden Club of Tucson"}
    at_night = run(place=place, radius_km=20, open_now=True, now=TUESDAY_NIGHT)
    assert set(names(at_night)) == {"Night Harbor Shelter", "Sonoran Recovery House"}
    with pytest.raises(search.UnknownCategoryError):
        run(categories=("Knitting",))


def test_facets_count_the_results(corpus):
    results = run(place=resolve_place("85701"), radius_km=20, now=TUESDAY_NOON)
    facets = {name: {f.label: f.count for f in values} for name, values in results.facets.items()}
    assert facets["language"] == {"English": 13, "Spanish": 3, "Vietnamese": 1}
    assert facets["free"] == {"Free of cost": 12}
    assert facets["wheelchair"] == {"Wheelchair accessible": 1}
    assert facets["open_now"] == {"Open now": 13}
    assert (facets["category"]["Housing"], facets["category"]["Health"]) == (3, 3)


def test_typo_retry_through_the_engines_vocabulary(corpus):
    engine = _engine()
    assert engine.unknown_words(["evicton", "eviction"]) == {"evicton"}
    assert engine.spellings("evicton", 1)[0][:2] == ("eviction", 1)
    results = run(text="evicton", place=resolve_place("85701"), radius_km=30)
    assert (results.suggestion, names(results)[0]) == ("eviction", "Eviction Defense Fund")
    assert run(text="eviction").suggestion is None


# --- following the database --------------------------------------------------------------------


def test_commits_are_followed_and_rollbacks_ignored(db):
    service = _listing(db)
    db.session.commit()
    engine = _engine()
    generation = engine.generation()
    assert _found("diapers") == ["Treasure Valley Diaper Bank"]
    service.name = "Boise Baby Supply Closet"
    service.description = "Cribs, car seats and strollers on loan."
    db.session.commit()
    assert engine.generation() != generation
    assert (_found("strollers"), _found("wipes")) == (["Boise Baby Supply Closet"], [])
    service.name = "Renamed But Rolled Back"
    db.session.flush()
    db.session.rollback()
    assert _found("rolled back") == []
    engine.delete([service.id])
    assert _found("strollers") == []
    engine.index([service.id])
    assert _found("strollers") == ["Boise Baby Supply Closet"]
    db.session.delete(service)
    db.session.commit()
    assert _found("strollers") == []


def test_freshness_staleness_and_rebuilds(db, make_app, engine_name):
    _listing(db)
    db.session.commit()
    engine = _engine()
    assert engine.is_fresh(_fingerprint(db))
    # A change no commit hook saw (a bulk UPDATE, another tool, a restore): stale.
    db.session.execute(
        update(Service).values(name="Snake River Diaper Depot", last_modified=datetime.now(UTC))
    )
    db.session.commit()
    assert not engine.is_fresh(_fingerprint(db))
    assert engine.rebuild() == 1
    assert engine.is_fresh(_fingerprint(db))
    assert _found("snake river") == ["Snake River Diaper Depot"]
    engine.mark_stale()
    assert not engine.is_fresh(_fingerprint(db))
    restarted = make_app(SEARCH_ENGINE=engine_name)  # start-up rebuilds a stale index
    assert current_engine(restarted).is_fresh(_fingerprint(db))


def test_applying_changes_keeps_a_stale_mark_until_a_rebuild(db, engine_name):
    """Only a rebuild makes an index fresh again: changes applied meanwhile (a page's commit,
    the change feed at start-up) leave it marked stale, so the next start-up still rebuilds."""
    service = _listing(db)
    db.session.commit()
    engine = _engine()
    engine.mark_stale()
    service.name = "Snake River Diaper Depot"
    db.session.commit()  # applied to the index by the commit hooks
    assert _found("snake river") == ["Snake River Diaper Depot"]
    assert not engine.is_fresh(_fingerprint(db))
    assert engine.rebuild() == 1
    assert engine.is_fresh(_fingerprint(db))


def test_an_unavailable_index_keeps_the_commit_and_marks_the_index_stale(
    db, make_app, engine_name, monkeypatch, caplog
):
    service = _listing(db)
    db.session.commit()
    engine = _engine()

    def unavailable(_service_ids):
        raise IndexUnavailable("another writer holds the index")

    monkeypatch.setattr(engine, "index", unavailable)
    # An address: a change the database fingerprint does not see, so only mark_stale tells.
    service.service_at_locations[0].location.addresses[0].city = "Meridian"
    db.session.commit()  # no error: the commit stands
    monkeypatch.undo()
    assert "search index update failed for 1 services" in caplog.text
    db.session.expire_all()
    assert service.service_at_locations[0].location.addresses[0].city == "Meridian"
    assert _found("meridian") == []  # the index missed it...
    assert not engine.is_fresh(_fingerprint(db))  # ...and knows it
    with make_app(SEARCH_ENGINE=engine_name).app_context():  # the next start-up catches up
        assert _found("meridian") == ["Treasure Valley Diaper Bank"]


def test_storage_failures_are_index_unavailable(db, engine_name):
    service = _listing(db)
    db.session.commit()
    engine = _engine()
    BREAK_STORAGE[engine_name](engine)
    with pytest.raises(IndexUnavailable):
        engine.index([service.id])
    with pytest.raises(IndexUnavailable):
        engine.delete([service.id])
    with pytest.raises(IndexUnavailable):
        search.search(SearchQuery(text="diapers"))
