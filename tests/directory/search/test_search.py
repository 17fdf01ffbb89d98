"""Directory search, end to end on a real index and both databases: lay words, Spanish, typos,
distance, radius, service areas, open now across time zones, facets, pages.

The listings are a small directory in Tucson, AZ (Mountain Standard Time all year), written in
the words agencies use, never the words people search with.
"""

import json
import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from directory import cards, hours, search
from directory.search.engine import EngineQuery
from directory.search.query import Place, SearchQuery
from directory.search.whoosh_engine import WhooshEngine
from geo.places import resolve_place
from tests.directory.factories import (
    make_every_hsds_table,
    make_listing,
    make_taxonomy,
    make_taxonomy_term,
)

TUCSON_85701 = (32.2139, -110.9694)  # the ZIP code's centroid, where "near 85701" searches from
PHOENIX = (33.4484, -112.0740)
LAS_CRUCES = (32.3199, -106.7637)
WEEKDAYS = (("MO,TU,WE,TH,FR", "09:00", "17:00"),)
EVERY_DAY = "MO,TU,WE,TH,FR,SA,SU"
# Tuesday 2 July 2024: 02:30 in Tucson (UTC-7), and noon in Tucson.
TUESDAY_NIGHT = datetime(2024, 7, 2, 9, 30, tzinfo=UTC)
TUESDAY_NOON = datetime(2024, 7, 2, 19, 0, tzinfo=UTC)


def offset(km_north: float = 0.0, km_east: float = 0.0, origin=TUCSON_85701):
    """A point so many km north and east of the origin."""
    lat = origin[0] + km_north / 111.2
    lon = origin[1] + km_east / (111.32 * math.cos(math.radians(origin[0])))
    return (lat, lon)


def square(center, half_degrees: float) -> str:
    lat, lon = center
    d = half_degrees
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
    return json.dumps({"type": "Polygon", "coordinates": [[*ring, ring[0]]]})


def build_corpus(db) -> dict:
    """Fifteen listings (fourteen in Tucson, one in New Mexico) and a two-level taxonomy."""
    taxonomy = make_taxonomy(db, name="Tucson Community Taxonomy")
    top = {}
    terms = {}
    for parent, children in {
        "Housing": ["Rent Payment Assistance", "Affordable Housing Units", "Emergency Shelter"],
        "Food": ["Food Pantries", "Food Benefits"],
        "Health": ["Residential Treatment", "Medical Transportation", "Mutual Support Groups"],
        "Legal": ["Legal Aid"],
        "Education": ["English Language Classes"],
        "Support": ["Peer Support"],
        "Goods": ["Clothing"],
        "Utilities": ["Utility Assistance"],
    }.items():
        top[parent] = make_taxonomy_term(db, taxonomy=taxonomy, name=parent, code=parent[:3])
        for child in children:
            terms[child] = make_taxonomy_term(
                db, taxonomy=taxonomy, parent=top[parent], name=child, code=child.upper()
            )

    tucson = {"postal_code": "85701", "city": "Tucson", "state": "AZ"}
    listings = [
        dict(
            name="Eviction Defense Fund",
            description="Pays one month of back rent and deposits for households facing "
            "eviction. Bring your lease and the landlord's notice.",
            at=offset(1),
            terms=("Rent Payment Assistance",),
            languages=("English", "Spanish"),
            accessibility="Wheelchair accessible entrance on Stone Avenue",
        ),
        dict(
            name="Desert Harvest Pantry",
            description="Boxes of groceries and fresh produce every Tuesday.",
            at=offset(km_east=3),
            terms=("Food Pantries",),
            languages=("Spanish",),
            hours=(("TU", "10:00", "14:00"),),
            accessibility="Not wheelchair accessible: stairs only",
        ),
        dict(
            name="SNAP Enrollment Desk",
            description="Apply for SNAP (supplemental nutrition assistance) and renew EBT cards.",
            at=offset(-2.2),
            terms=("Food Benefits",),
        ),
        dict(
            name="Sonoran Recovery House",
            description="Residential substance use treatment and withdrawal management for "
            "adults, admissions around the clock.",
            at=offset(12),
            terms=("Residential Treatment",),
            hours=((EVERY_DAY, "00:00", "23:59"),),
            cost=Decimal("150"),
        ),
        dict(
            name="Saguaro Legal Clinic",
            description="Free attorneys for tenants, immigration cases and family court.",
            at=offset(km_east=-0.5),
            terms=("Legal Aid",),
            languages=("English", "Español"),
        ),
        dict(
            name="Pima Rides",
            description="Non-emergency medical transportation to appointments for Medicaid "
            "members in Pima County.",
            at=PHOENIX,
            postal_code="85004",
            city="Phoenix",
            terms=("Medical Transportation",),
            area=square(TUCSON_85701, 0.5),
        ),
        dict(
            name="Night Harbor Shelter",
            description="Emergency shelter beds for adults; check-in from 7 pm.",
            at=offset(-1.5),
            terms=("Emergency Shelter",),
            hours=((EVERY_DAY, "19:00", "07:00"),),
        ),
        dict(
            name="Literacy Volunteers of the Southwest",
            description="English as a second language classes and GED tutoring for adults.",
            at=offset(4),
            terms=("English Language Classes",),
        ),
        dict(
            name="Warmline Peer Support",
            description="Talk with a trained peer; counseling and support by phone.",
            at=offset(km_east=6),
            terms=("Peer Support",),
        ),
        dict(
            name="Second Stitch Closet",
            description="Free clothing and shoes for children and teens.",
            at=offset(2.5),
            terms=("Clothing",),
        ),
        dict(
            name="Desert Power Relief",
            description="Utility assistance for electric and gas shut-off notices (LIHEAP).",
            at=offset(km_east=7),
            terms=("Utility Assistance",),
        ),
        dict(
            name="Central Office of Alcoholics Anonymous",
            description="Alcoholics Anonymous meeting list and 12-step groups across town.",
            at=offset(3.5),
            terms=("Mutual Support Groups",),
            languages=("English", "Vietnamese"),
        ),
        dict(
            name="Garden Club of Tucson",
            description="Community gardening workshops; rent a garden plot by the season.",
            at=offset(0.3),
            cost=Decimal("25"),
        ),
        dict(
            name="Casa Nueva Housing Cooperative",
            description="Affordable housing apartments for low-income families.",
            at=offset(5),
            terms=("Affordable Housing Units",),
        ),
        dict(
            name="Mesilla Valley Food Bank",
            description="Food bank and groceries for families in Doña Ana County.",
            at=LAS_CRUCES,
            postal_code="88001",
            city="Las Cruces",
            state="NM",
            terms=("Food Pantries",),
        ),
    ]
    services = {}
    for listing in listings:
        values = {**tucson, "hours": WEEKDAYS, **listing}
        values["terms"] = tuple(terms[t] for t in values.get("terms", ()))
        services[listing["name"]] = make_listing(db, **values)
    db.session.commit()
    return {"services": services, "terms": terms, "top": top}


@pytest.fixture
def corpus(db):
    return build_corpus(db)


def names(results) -> list[str]:
    return [hit.service.name for hit in results.hits]


def run(**kwargs):
    kwargs.setdefault("now", TUESDAY_NOON)
    return search.search(SearchQuery(**kwargs))


# --- words people use ---------------------------------------------------------------------

LAY_SEARCHES = [
    ("help paying rent", "Eviction Defense Fund"),
    ("food stamps", "SNAP Enrollment Desk"),
    ("ride to the doctor", "Pima Rides"),
    ("rehab", "Sonoran Recovery House"),
    ("detox", "Sonoran Recovery House"),
    ("somewhere to sleep tonight", "Night Harbor Shelter"),
    ("ESL", "Literacy Volunteers of the Southwest"),
    ("AA meeting", "Central Office of Alcoholics Anonymous"),
    ("light bill", "Desert Power Relief"),
    ("someone to talk to", "Warmline Peer Support"),
    ("a lawyer for free", "Saguaro Legal Clinic"),
    ("my kid needs clothes", "Second Stitch Closet"),
    ("I need food near me", "Desert Harvest Pantry"),
    # Spanish
    ("comida", "Desert Harvest Pantry"),
    ("vivienda", "Casa Nueva Housing Cooperative"),
    ("renta", "Eviction Defense Fund"),
    ("abogado", "Saguaro Legal Clinic"),
    ("ayuda con la renta", "Eviction Defense Fund"),
    ("cupones de alimentos", "SNAP Enrollment Desk"),
    ("transporte al médico", "Pima Rides"),
]


def test_lay_words_find_the_service_meant_first(corpus):
    wrong = {}
    for text, expected in LAY_SEARCHES:
        found = names(run(text=text, place=resolve_place("85701"), radius_km=30))
        if not found or found[0] != expected:
            wrong[text] = found[:3]
    assert wrong == {}


def test_help_paying_rent_ranks_rent_assistance_above_a_listing_that_merely_says_rent(corpus):
    found = names(run(text="help paying rent"))
    assert found.index("Eviction Defense Fund") < found.index("Garden Club of Tucson")


def test_a_multi_word_lay_phrase_matches_only_as_a_phrase(corpus):
    assert "Pima Rides" in names(run(text="ride to the doctor"))
    assert "Pima Rides" not in names(run(text="doctor"))


def test_every_word_must_match_unless_that_finds_too_little(corpus):
    # Only the pantry has both words: too few, so any word may match, both-word matches first.
    found = names(run(text="groceries Tuesday"))
    assert found[0] == "Desert Harvest Pantry"
    assert "Mesilla Valley Food Bank" in found
    relaxed = names(run(text="groceries shoes"))  # no listing has both
    assert {"Second Stitch Closet", "Desert Harvest Pantry"} <= set(relaxed)


def test_words_in_names_weigh_more_than_words_in_descriptions(corpus):
    found = names(run(text="shelter"))
    assert found[0] == "Night Harbor Shelter"


def test_category_names_and_organization_names_are_searched(corpus):
    assert names(run(text="mutual support groups"))[0] == "Central Office of Alcoholics Anonymous"
    assert names(run(text="Casa Nueva Housing Cooperative Inc"))[0] == (
        "Casa Nueva Housing Cooperative"
    )


def test_parent_categories_are_searched_too(corpus):
    # "Utilities" is only the parent of the listing's term.
    assert names(run(text="utilities"))[0] == "Desert Power Relief"


def test_snippets_mark_the_matched_words_and_escape_the_rest(db, corpus):
    hit = run(text="rent").hits[0]
    assert hit.service.name == "Eviction Defense Fund"
    assert hit.snippet == (
        "Pays one month of back <mark>rent</mark> and deposits for households facing eviction. "
        "Bring your lease and the landlord&#x27;s notice."
    )


# --- typos ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "meant", "found"),
    [
        ("evicton", "eviction", "Eviction Defense Fund"),
        ("shleter", "shelter", "Night Harbor Shelter"),
        ("abogdo", "abogado", "Saguaro Legal Clinic"),
        ("fod stamps", "food stamps", "SNAP Enrollment Desk"),
        ("groseries", "groceries", "Desert Harvest Pantry"),
    ],
)
def test_misspelled_words_still_find_services_and_offer_did_you_mean(corpus, typed, meant, found):
    results = run(text=typed, place=resolve_place("85701"), radius_km=30)
    assert results.suggestion == meant
    assert names(results)[0] == found


def test_correct_words_get_no_suggestion(corpus):
    assert run(text="eviction").suggestion is None
    assert run(text="zzzzqqq").total == 0


# --- place ---------------------------------------------------------------------------------


def test_place_only_search_is_ordered_by_distance_within_the_radius(corpus):
    results = run(place=resolve_place("85701"), radius_km=4.2)
    assert names(results) == [
        "Garden Club of Tucson",  # 0.3 km
        "Saguaro Legal Clinic",  # 0.5 km
        "Eviction Defense Fund",  # 1 km
        "Night Harbor Shelter",  # 1.5 km
        "Pima Rides",  # serves the area (counted as 2 km)
        "SNAP Enrollment Desk",  # 2.2 km
        "Second Stitch Closet",  # 2.5 km
        "Desert Harvest Pantry",  # 3 km
        "Central Office of Alcoholics Anonymous",  # 3.5 km
        "Literacy Volunteers of the Southwest",  # 4 km
    ]
    distances = {hit.service.name: hit.distance_km for hit in results.hits}
    assert distances["Eviction Defense Fund"] == pytest.approx(1.0, abs=0.05)
    assert distances["Desert Harvest Pantry"] == pytest.approx(3.0, abs=0.05)


def test_the_radius_leaves_out_what_is_further(corpus):
    close = set(names(run(place=resolve_place("85701"), radius_km=1.2)))
    assert close == {
        "Garden Club of Tucson",
        "Saguaro Legal Clinic",
        "Eviction Defense Fund",
        "Pima Rides",
    }
    wide = run(text="food bank", place=resolve_place("85701"), radius_km=500)
    assert "Mesilla Valley Food Bank" in names(wide)
    assert "Mesilla Valley Food Bank" not in names(
        run(text="food bank", place=resolve_place("85701"), radius_km=50)
    )


def test_a_service_area_covering_the_place_matches_though_the_office_is_far(corpus):
    results = run(text="medical transportation", place=resolve_place("85701"), radius_km=10)
    hit = results.hits[0]
    assert hit.service.name == "Pima Rides"
    assert hit.serves_area is True
    assert hit.distance_km == pytest.approx(165, abs=10)  # the Phoenix office
    outside = Place(LAS_CRUCES[0], LAS_CRUCES[1], "Las Cruces", "latlon")
    assert "Pima Rides" not in names(run(text="medical transportation", place=outside))


def test_a_county_or_zip_named_without_a_shape_covers_the_people_searching_there(db):
    """211 exports and the listing editor name areas ("Pima County", "ZIP 85701") with no
    boundary; a person searching in that county or ZIP is served, whatever the office's distance."""
    from directory.models import ServiceArea

    phoenix = {"at": (33.4484, -112.0740), "postal_code": "85004", "city": "Phoenix", "state": "AZ"}
    county = make_listing(db, "Desert Rides", "Rides to medical visits.", **phoenix)
    by_zip = make_listing(db, "Barrio Rides", "Rides to medical visits.", **phoenix)
    make_listing(db, "Valley Rides", "Rides to medical visits.", **phoenix)
    county.service_areas.append(ServiceArea(name="Pima County, AZ"))
    by_zip.service_areas.append(ServiceArea(name="ZIP 85701"))
    db.session.commit()

    near_zip = run(text="rides", place=resolve_place("85701"), radius_km=10)
    assert set(names(near_zip)) == {"Desert Rides", "Barrio Rides"}
    assert all(hit.serves_area for hit in near_zip.hits)
    # Elsewhere in Pima County (Ajo, 85321): the county's service; not the ZIP's.
    in_county = run(text="rides", place=resolve_place("85321"), radius_km=10)
    assert names(in_county) == ["Desert Rides"]
    outside = Place(LAS_CRUCES[0], LAS_CRUCES[1], "Las Cruces", "latlon")
    assert names(run(text="rides", place=outside, radius_km=10)) == []


def test_text_and_distance_combine(corpus):
    # Both match "free"; the clinic 0.5 km away beats the closet 2.5 km away.
    found = names(run(text="free", place=resolve_place("85701"), radius_km=20))
    assert found.index("Saguaro Legal Clinic") < found.index("Second Stitch Closet")


def test_nothing_in_range_is_nothing_found(corpus):
    anchorage = resolve_place("99501")
    results = run(text="food", place=anchorage, radius_km=50)
    assert (results.total, results.hits) == (0, [])
    assert run(place=anchorage).total == 0


def test_miles_and_browser_location_through_query_parameters(corpus):
    lat, lon = offset(1)
    query = search.query_from_args({"lat": str(lat), "lon": str(lon), "radius_mi": "0.5"})
    assert query.radius_km == pytest.approx(0.8047, abs=0.001)
    assert query.place.kind == "browser"
    found = names(search.search(query))
    assert found[0] == "Eviction Defense Fund"


# --- open now ------------------------------------------------------------------------------


def test_open_now_follows_hours_past_midnight(corpus):
    night = run(text="shelter", now=TUESDAY_NIGHT)
    assert night.hits[0].service.name == "Night Harbor Shelter"
    assert night.hits[0].open_now is True
    noon = run(text="shelter", now=TUESDAY_NOON)
    assert noon.hits[0].open_now is False


def test_open_now_filter_at_night_and_at_noon(corpus):
    place = resolve_place("85701")
    at_night = set(names(run(place=place, radius_km=20, open_now=True, now=TUESDAY_NIGHT)))
    assert at_night == {"Night Harbor Shelter", "Sonoran Recovery House"}
    at_noon = set(names(run(place=place, radius_km=20, open_now=True, now=TUESDAY_NOON)))
    assert "Night Harbor Shelter" not in at_noon
    assert {"Desert Harvest Pantry", "Eviction Defense Fund"} <= at_noon


def test_hours_without_a_zone_are_read_in_the_listing_zip_codes_zone(db, corpus):
    # 22:00 UTC is 15:00 in Tucson (open) but 18:00 in New York, the deployment default.
    late_afternoon = datetime(2024, 7, 2, 22, 0, tzinfo=UTC)
    hit = run(text="Eviction Defense Fund", now=late_afternoon).hits[0]
    assert hit.open_now is True


def test_open_now_in_another_time_zone(db):
    taxonomy = make_taxonomy(db)
    term = make_taxonomy_term(db, taxonomy=taxonomy, name="Tax Preparation", code="TAX")
    common = {"terms": (term,), "hours": WEEKDAYS, "state": "NM"}
    make_listing(
        db,
        "Rio Grande Tax Help",
        "Free tax preparation.",
        at=(35.0844, -106.6504),
        postal_code="87102",
        city="Albuquerque",
        tz_name="America/Denver",
        **common,
    )
    make_listing(
        db,
        "Gila Tax Help",
        "Free tax preparation.",
        at=(32.2217, -110.9265),
        postal_code="85701",
        city="Tucson",
        tz_name="America/Phoenix",
        **{**common, "state": "AZ"},
    )
    db.session.commit()
    # 23:30 UTC in July: 17:30 in Albuquerque (closed), 16:30 in Tucson (open).
    results = run(text="tax preparation", now=datetime(2024, 7, 2, 23, 30, tzinfo=UTC))
    status = {hit.service.name: hit.open_now for hit in results.hits}
    assert status == {"Rio Grande Tax Help": False, "Gila Tax Help": True}
    assert results.hits[0].service.name == "Gila Tax Help"  # the open one first
    assert results.facets["open_now"][0].count == 1


# --- filters and facets --------------------------------------------------------------------


def test_facet_counts_describe_the_results(corpus):
    results = run(place=resolve_place("85701"), radius_km=20)
    assert results.total == 14
    facets = {name: {f.label: f.count for f in values} for name, values in results.facets.items()}
    assert facets["language"] == {"English": 13, "Spanish": 3, "Vietnamese": 1}
    assert facets["free"] == {"Free of cost": 12}
    assert facets["wheelchair"] == {"Wheelchair accessible": 1}
    assert facets["open_now"] == {"Open now": 13}  # at noon, all but the night shelter
    assert facets["category"]["Housing"] == 3
    assert facets["category"]["Health"] == 3
    assert "Rent Payment Assistance" not in facets["category"]  # top-level categories only


def test_filters_narrow_and_facets_follow(corpus):
    place = resolve_place("85701")
    spanish = run(place=place, radius_km=20, languages=("Spanish",))
    assert set(names(spanish)) == {
        "Eviction Defense Fund",
        "Desert Harvest Pantry",
        "Saguaro Legal Clinic",
    }
    assert {f.label: f.count for f in spanish.facets["language"]}["Spanish"] == 3
    assert names(run(place=place, languages=("es",), wheelchair=True)) == ["Eviction Defense Fund"]
    not_free = {"Sonoran Recovery House", "Garden Club of Tucson"}
    free = set(names(run(place=place, radius_km=20, free_only=True, per_page=50)))
    assert free and not (free & not_free)


def test_category_filter_by_id_code_or_name_includes_subcategories(corpus):
    housing = corpus["top"]["Housing"]
    expected = {"Eviction Defense Fund", "Casa Nueva Housing Cooperative", "Night Harbor Shelter"}
    for value in (str(housing.id), housing.code, "housing"):
        assert set(names(run(categories=(value,)))) == expected
    pantries = run(text="groceries", categories=("Food Pantries",))
    assert set(names(pantries)) == {"Desert Harvest Pantry", "Mesilla Valley Food Bank"}
    with pytest.raises(search.UnknownCategoryError, match="no category 'Knitting'"):
        run(categories=("Knitting",))


def test_category_facet_values_filter_back(corpus):
    results = run(place=resolve_place("85701"), radius_km=20)
    food = next(f for f in results.facets["category"] if f.label == "Food")
    narrowed = run(place=resolve_place("85701"), radius_km=20, categories=(food.value,))
    assert narrowed.total == food.count == 2


# --- pages ---------------------------------------------------------------------------------


def test_pages_split_the_ranked_list_without_gaps_or_repeats(corpus):
    place = resolve_place("85701")
    everything = names(run(place=place, radius_km=20, per_page=100))
    pages = [names(run(place=place, radius_km=20, page=p, per_page=4)) for p in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [4, 4, 4, 2]
    assert sum(pages, []) == everything
    last = run(place=place, radius_km=20, page=4, per_page=4)
    assert (last.total, last.pages) == (14, 4)
    assert run(place=place, radius_km=20, page=9, per_page=4).hits == []


def test_browse_without_words_or_place_is_alphabetical(corpus):
    found = names(run(per_page=3))
    assert found == [
        "Casa Nueva Housing Cooperative",
        "Central Office of Alcoholics Anonymous",
        "Desert Harvest Pantry",
    ]


def test_inactive_services_are_not_found(db, corpus):
    corpus["services"]["Night Harbor Shelter"].status = "inactive"
    db.session.commit()
    assert "Night Harbor Shelter" not in names(run(text="shelter"))


def _card_view(service) -> dict:
    """What a result card and the search API show of a service, card or model alike."""
    at = datetime(2025, 1, 15, 17, 30, tzinfo=UTC)
    return {
        "name": service.name,
        "organization": (service.organization.id, service.organization.name),
        "org_phones": sorted(p.tel_uri for p in service.organization.phones),
        "phones": sorted(p.tel_uri for p in service.phones),
        "free": service.is_free,
        "categories": sorted(a.taxonomy_term.name for a in service.attributes),
        "status": (service.status, service.referral_capacity),
        "hours": hours.open_status(hours.schedules_for(service), at, "America/Phoenix"),
        "locations": sorted(
            (
                str(sal.location_id),
                sal.location.name,
                float(sal.location.latitude) if sal.location.latitude is not None else None,
                sal.location.physical_address.one_line() if sal.location.addresses else None,
                tuple(sorted(p.tel_uri for p in sal.location.phones)),
                tuple(sorted(p.tel_uri for p in sal.phones)),
                len(sal.location.schedules) + len(sal.schedules),
            )
            for sal in service.service_at_locations
        ),
    }


def test_result_cards_show_what_the_records_say(db, corpus):
    # The corpus, and a service with phones and hours at every level, a postal address first.
    services = [*corpus["services"].values(), make_every_hsds_table(db)]
    db.session.commit()
    loaded = cards.load_cards([s.id for s in services])
    assert set(loaded) == {s.id for s in services}
    for service in services:
        assert _card_view(loaded[service.id]) == _card_view(service), service.name


def test_a_page_of_result_cards_is_one_query(db, corpus):
    from sqlalchemy import event

    ids = [s.id for s in corpus["services"].values()]
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert len(cards.load_cards(ids)) == len(ids)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(statements) == 1


def test_service_ids_matching_for_the_hsds_api(corpus):
    ids = search.service_ids_matching("help paying rent")
    assert ids[0] == corpus["services"]["Eviction Defense Fund"].id
    assert search.service_ids_matching("near me") == []
    assert len(search.service_ids_matching("free", limit=2)) == 2


def test_snippets_escape_mark_whole_phrases_and_show_a_window(tmp_path):
    from directory.search.synonyms import Concept

    engine = WhooshEngine(tmp_path / "index")
    request = EngineQuery(concepts=(Concept("rents", ("legal aid",)),))
    text_ = "Tenants <b>&</b> families get legal help; the aid pays back rent. Legal aid clinic."
    snippet = engine.snippet(text_, request)
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in snippet  # the listing's text is escaped
    assert "back <mark>rent</mark>" in snippet  # stems match ("rents" ~ "rent")
    assert "<mark>Legal</mark> <mark>aid</mark> clinic" in snippet  # the phrase, whole
    assert "get legal help" in snippet  # "legal" alone is not the phrase "legal aid"
    long_text = "Intro words. " * 40 + "We help with rent." + " More words." * 40
    window = engine.snippet(long_text, request)
    assert window.startswith("…") and window.endswith("…")
    assert "<mark>rent</mark>" in window and len(window) < 260
    assert engine.snippet("Nothing relevant here.", request) is None
