"""The HSDS 3.0 API under /hsds/: envelope, paging, filters ANDed, schemas, errors, places."""

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from directory.models import Service
from tests.directory.factories import (
    make_location,
    make_organization,
    make_service,
    make_taxonomy,
    make_taxonomy_term,
    square_around,
)
from tests.directory.hsds.schemas import assert_valid

SYRACUSE = (43.048122, -76.147424)  # ZIP 13202
UTICA = (43.100900, -75.232700)  # ZIP 13501, about 75 km east
ALBANY = (42.652600, -73.756200)  # ZIP 12207, about 200 km east


@pytest.fixture
def directory(db):
    """Three organizations' services in Syracuse, Utica and Albany, in two taxonomies."""
    everyday = make_taxonomy(db, name="Everyday Needs")
    food = make_taxonomy_term(db, taxonomy=everyday, name="Food", code="F")
    pantry = make_taxonomy_term(db, parent=food, name="Food Pantry", code="F-1")
    housing = make_taxonomy_term(db, taxonomy=everyday, name="Housing", code="H")
    legal_taxonomy = make_taxonomy(db, name="Legal Help")
    lawyer = make_taxonomy_term(db, taxonomy=legal_taxonomy, name="Free Lawyer", code="L")

    def service(organization, name, term, description, **where):
        """A service of the organization in one term; `where`: its location or place."""
        return make_service(
            db, organization=organization, name=name, term=term, description=description, **where
        )

    north = make_organization(db, name="Northside Center")
    pantry_service = service(north, "Food Pantry", pantry, "Groceries to take home every week.")
    rent = service(
        north,
        "Rent Help",
        housing,
        "Money toward rent and utility bills.",
        location=pantry_service.service_at_locations[0].location,
    )
    legal_org = make_organization(db, name="Mohawk Legal Aid")
    clinic = service(
        legal_org,
        "Legal Clinic",
        lawyer,
        "Free lawyers for eviction and benefits cases.",
        latitude=UTICA[0],
        longitude=UTICA[1],
        postal_code="13501",
    )
    outreach_org = make_organization(db, name="Capital Outreach")
    outreach = service(
        outreach_org,
        "Mobile Outreach",
        food,
        "A van that brings hot meals and blankets.",
        location=make_location(
            db,
            organization=outreach_org,
            latitude=ALBANY[0],
            longitude=ALBANY[1],
            postal_code="12207",
        ),
        area=square_around(*SYRACUSE, half_side_degrees=0.3),  # it drives to Syracuse
    )
    db.session.commit()
    return {
        "north": str(north.id),
        "legal_org": str(legal_org.id),
        "everyday": str(everyday.id),
        "legal_taxonomy": str(legal_taxonomy.id),
        "food": str(food.id),
        "pantry": str(pantry.id),
        "housing": str(housing.id),
        "lawyer": str(lawyer.id),
        "pantry_service": str(pantry_service.id),
        "rent": str(rent.id),
        "clinic": str(clinic.id),
        "outreach": str(outreach.id),
        "clinic_site": str(clinic.service_at_locations[0].id),
        "pantry_site": str(pantry_service.service_at_locations[0].id),
    }


def _get(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def _names(page):
    return [item["name"] for item in page["contents"]]


def _service_names(page):
    return [item["service"]["name"] for item in page["contents"]]


# ------------------------------------------------------------------ meta


def test_root_says_version_profile_and_where_the_openapi_document_is(client):
    meta = _get(client, "/hsds/")

    assert meta["version"] == "3.0"
    assert meta["profile"].startswith("https://")
    assert meta["openapi_url"] == "http://localhost/hsds/openapi.json"
    document = _get(client, "/hsds/openapi.json")
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": "http://localhost/hsds"}]
    assert "REQUIRED" not in json.dumps(document["info"])
    assert {"/services", "/services/{id}", "/service_at_locations"} <= set(document["paths"])


def test_any_site_may_read_the_api(client):
    assert client.get("/hsds/").headers["Access-Control-Allow-Origin"] == "*"


# ------------------------------------------------------------------ services


def test_services_list_envelope_with_one_to_one_items(client, directory):
    page = _get(client, "/hsds/services")

    assert {k: v for k, v in page.items() if k != "contents"} == {
        "total_items": 4,
        "total_pages": 1,
        "page_number": 1,
        "size": 4,
        "first_page": True,
        "last_page": True,
        "empty": False,
    }
    assert _names(page) == ["Food Pantry", "Legal Clinic", "Mobile Outreach", "Rent Help"]
    for item in page["contents"]:
        assert_valid("compiled/service_list.json", item)
        assert not [key for key, value in item.items() if isinstance(value, list)]


def test_services_paging(client, directory):
    first = _get(client, "/hsds/services?per_page=3")
    second = _get(client, "/hsds/services?per_page=3&page=2")
    beyond = _get(client, "/hsds/services?per_page=3&page=5")

    assert (first["size"], first["total_pages"], first["first_page"], first["last_page"]) == (
        3,
        2,
        True,
        False,
    )
    assert (second["size"], second["page_number"], second["first_page"], second["last_page"]) == (
        1,
        2,
        False,
        True,
    )
    assert _names(first) + _names(second) == _names(_get(client, "/hsds/services"))
    assert beyond["empty"] is True and beyond["contents"] == [] and beyond["total_items"] == 4


def test_services_full_and_minimal(client, directory):
    full = _get(client, "/hsds/services?full=true")
    for item in full["contents"]:
        assert_valid("compiled/service.json", item)
        assert item["service_at_locations"] and item["attributes"]

    minimal = _get(client, "/hsds/services?minimal=true")
    assert minimal["total_items"] == 4
    assert all(set(item) == {"id", "last_modified"} for item in minimal["contents"])


SERVICE_FILTERS = [
    ("organization_id={north}", ["Food Pantry", "Rent Help"]),
    ("taxonomy_term_id={pantry}", ["Food Pantry"]),
    ("taxonomy_term_id={food}", ["Mobile Outreach"]),
    ("taxonomy_id={everyday}", ["Food Pantry", "Mobile Outreach", "Rent Help"]),
    ("taxonomy_id={legal_taxonomy}", ["Legal Clinic"]),
    ("taxonomy_id={everyday}&organization_id={north}", ["Food Pantry", "Rent Help"]),
    ("taxonomy_id={everyday}&taxonomy_term_id={housing}", ["Rent Help"]),
    ("taxonomy_id={legal_taxonomy}&organization_id={north}", []),
    ("modified_after=2025-01-01", ["Food Pantry", "Mobile Outreach", "Rent Help"]),
    ("modified_after=2025-01-01T00:00:00Z&organization_id={legal_org}", []),
    ("modified_after=2019-12-31T23:00:00-05:00&organization_id={legal_org}", ["Legal Clinic"]),
]


def test_services_filters_combine_with_and(client, db, directory):
    db.session.execute(
        update(Service)
        .where(Service.name == "Legal Clinic")
        .values(last_modified=datetime(2020, 1, 1, 4, 30, tzinfo=UTC))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()

    for query, expected in SERVICE_FILTERS:
        page = _get(client, "/hsds/services?" + query.format(**directory))

        assert _names(page) == expected, query
        assert page["total_items"] == len(expected), query
        assert page["empty"] is (not expected), query


def test_one_service_fully_nested(client, directory):
    data = _get(client, f"/hsds/services/{directory['pantry_service']}")

    assert_valid("compiled/service.json", data)
    assert data["name"] == "Food Pantry"
    assert data["attributes"][0]["taxonomy_term"]["name"] == "Food Pantry"
    assert data["service_at_locations"][0]["location"]["addresses"][0]["postal_code"] == "13202"


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/hsds/services?page=0", "page"),
        ("/hsds/services?page=two", "page"),
        ("/hsds/services?per_page=101", "per_page"),
        ("/hsds/services?per_page=0", "per_page"),
        ("/hsds/services?per_page=ten", "per_page"),
        ("/hsds/services?taxonomy_id=food", "taxonomy_id"),
        ("/hsds/services?taxonomy_term_id=1234", "taxonomy_term_id"),
        ("/hsds/services?organization_id=x", "organization_id"),
        ("/hsds/services?modified_after=yesterday", "modified_after"),
        ("/hsds/services?full=maybe", "full"),
        ("/hsds/services?format=xml", "format"),
        ("/hsds/services/not-a-uuid", "id"),
        ("/hsds/organizations?per_page=1000", "per_page"),
        ("/hsds/organizations/42", "id"),
        ("/hsds/taxonomy_terms?parent_id=top", "parent_id"),
        ("/hsds/taxonomy_terms?top_only=perhaps", "top_only"),
        ("/hsds/service_at_locations?postcode=00000", "postcode"),
        ("/hsds/service_at_locations?proximity=5000", "proximity"),
        ("/hsds/service_at_locations?postcode=13202&proximity=-1", "proximity"),
        ("/hsds/service_at_locations?postcode=13202&proximity=far", "proximity"),
        ("/hsds/service_at_locations?postcode=13202&proximity=nan", "proximity"),
    ],
)
def test_bad_parameters_are_400_with_a_json_error(client, url, parameter):
    error = _get(client, url, status=400)["error"]

    assert error["code"] == "invalid_parameter"
    assert error["parameter"] == parameter
    assert error["message"]


@pytest.mark.parametrize(
    "path",
    ["services", "organizations", "taxonomies", "taxonomy_terms", "service_at_locations"],
)
def test_unknown_ids_are_404(client, path):
    error = _get(client, f"/hsds/{path}/00000000-0000-4000-8000-000000000000", status=404)["error"]

    assert error["code"] == "not_found"
    assert "00000000-0000-4000-8000-000000000000" in error["message"]


def test_unknown_path_is_a_json_404(client):
    assert _get(client, "/hsds/referrals", status=404)["error"]["code"] == "not_found"


# ------------------------------------------------------------------ organizations


def test_organizations_list_and_full_forms(client, directory):
    page = _get(client, "/hsds/organizations")
    assert _names(page) == ["Capital Outreach", "Mohawk Legal Aid", "Northside Center"]
    for item in page["contents"]:
        assert_valid("compiled/organization_list.json", item)
        assert "services" not in item and "locations" not in item

    full = _get(client, "/hsds/organizations?full=true")
    for item in full["contents"]:
        assert_valid("compiled/organization.json", item)
    north = next(o for o in full["contents"] if o["name"] == "Northside Center")
    assert sorted(s["name"] for s in north["services"]) == ["Food Pantry", "Rent Help"]
    assert all("service_at_locations" not in s for s in north["services"])

    with_services = _get(client, "/hsds/organizations?full_service=true&search=northside")
    (north,) = with_services["contents"]
    assert all(s["service_at_locations"] for s in north["services"])
    for service in north["services"]:
        assert_valid("compiled/service.json", service)


def test_one_organization(client, directory):
    data = _get(client, f"/hsds/organizations/{directory['north']}")
    assert_valid("compiled/organization.json", data)
    assert sorted(s["name"] for s in data["services"]) == ["Food Pantry", "Rent Help"]
    assert len(data["locations"]) == 1  # both services share one site

    full = _get(client, f"/hsds/organizations/{directory['north']}?full_service=true")
    assert_valid("compiled/organization.json", full)
    assert all(s["phones"] for s in full["services"])


def test_organization_search_takes_percent_literally(client, directory):
    assert _get(client, "/hsds/organizations?search=legal")["total_items"] == 1
    assert _get(client, "/hsds/organizations?search=100%25")["total_items"] == 0


# ------------------------------------------------------------------ taxonomies


def test_taxonomies(client, directory):
    page = _get(client, "/hsds/taxonomies")
    assert _names(page) == ["Everyday Needs", "Legal Help"]
    for item in page["contents"]:
        assert_valid("taxonomy.json", item)
    assert _names(_get(client, "/hsds/taxonomies?search=legal")) == ["Legal Help"]
    one = _get(client, f"/hsds/taxonomies/{directory['everyday']}")
    assert one["name"] == "Everyday Needs"


TERM_FILTERS = [
    ("taxonomy_id={everyday}", ["Food", "Food Pantry", "Housing"]),
    ("taxonomy_id={everyday}&top_only=true", ["Food", "Housing"]),
    ("parent_id={food}", ["Food Pantry"]),
    ("top_only=true", ["Food", "Free Lawyer", "Housing"]),
    ("search=food&top_only=true", ["Food"]),
    ("taxonomy_id={legal_taxonomy}&parent_id={food}", []),
]


def test_taxonomy_terms_filters(client, directory):
    for query, expected in TERM_FILTERS:
        page = _get(client, "/hsds/taxonomy_terms?" + query.format(**directory))

        assert _names(page) == expected, query
        for item in page["contents"]:
            assert_valid("taxonomy_term.json", item)


def test_one_taxonomy_term_names_its_taxonomy(client, directory):
    term = _get(client, f"/hsds/taxonomy_terms/{directory['pantry']}")

    assert_valid("taxonomy_term.json", term)
    assert term["parent_id"] == directory["food"]
    assert term["taxonomy"] == "Everyday Needs"
    assert term["taxonomy_detail"]["id"] == directory["everyday"]


# ------------------------------------------------------------------ services at locations


def test_service_at_locations_list_full_and_one(client, directory):
    page = _get(client, "/hsds/service_at_locations")
    assert page["total_items"] == 4
    for item in page["contents"]:
        assert_valid("compiled/service_at_location_list.json", item)

    full = _get(client, "/hsds/service_at_locations?full=true&per_page=2")
    assert full["size"] == 2 and full["total_pages"] == 2
    for item in full["contents"]:
        assert_valid("compiled/service_at_location.json", item)

    one = _get(client, f"/hsds/service_at_locations/{directory['clinic_site']}")
    assert_valid("compiled/service_at_location.json", one)
    assert one["service"]["name"] == "Legal Clinic"
    assert one["location"]["addresses"][0]["postal_code"] == "13501"


PLACE_FILTERS = [
    # Within 5 km of the 13202 centroid: the downtown site; Albany's outreach serves Syracuse.
    ("postcode=13202&proximity=5000", ["Food Pantry", "Rent Help", "Mobile Outreach"]),
    # 100 km reaches Utica too; nearest first, area-only matches ordered by their distance.
    (
        "postcode=13202&proximity=100000",
        ["Food Pantry", "Rent Help", "Legal Clinic", "Mobile Outreach"],
    ),
    ("postcode=13202&proximity=100000&organization_id={legal_org}", ["Legal Clinic"]),
    ("postcode=13202&proximity=5000&taxonomy_term_id={lawyer}", []),
    (
        "postcode=13202&proximity=5000&taxonomy_id={everyday}&organization_id={north}",
        ["Food Pantry", "Rent Help"],
    ),
    # A postcode alone: a service area covering it, or a site in it.
    ("postcode=13501", ["Legal Clinic"]),
    ("postcode=12207", ["Mobile Outreach"]),
    ("postcode=13202-1234", ["Food Pantry", "Rent Help", "Mobile Outreach"]),
    ("organization_id={north}", ["Food Pantry", "Rent Help"]),
    ("modified_after=2999-01-01T00:00:00Z", []),
    ("modified_after=2000-01-01&organization_id={north}", ["Food Pantry", "Rent Help"]),
]


def test_service_at_locations_by_postcode_and_proximity(client, directory):
    for query, expected in PLACE_FILTERS:
        page = _get(client, "/hsds/service_at_locations?" + query.format(**directory))

        assert _service_names(page) == expected, query
        assert page["total_items"] == len(expected), query


def test_ndjson_streams_every_row_without_paging(client, directory):
    response = client.get("/hsds/services?format=ndjson&per_page=1&full=true")

    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == 4
    for line in lines:
        assert_valid("compiled/service.json", json.loads(line))
    sites = client.get("/hsds/service_at_locations?format=ndjson&postcode=13501")
    assert [
        json.loads(line)["service"]["name"] for line in sites.get_data(as_text=True).splitlines()
    ] == ["Legal Clinic"]


# ------------------------------------------------------------------ full-text search


def test_search_ranks_services_and_ands_with_filters(client, directory):
    assert _names(_get(client, "/hsds/services?search=legal clinic"))[0] == "Legal Clinic"
    assert _names(_get(client, "/hsds/services?search=groceries"))[0] == "Food Pantry"
    lawyers = _get(
        client, "/hsds/services?search=lawyer&organization_id={north}".format(**directory)
    )
    assert lawyers["empty"] and lawyers["total_items"] == 0
    sites = _get(client, "/hsds/service_at_locations?search=eviction&postcode=13202&proximity=5000")
    assert sites["empty"]
    sites = _get(client, "/hsds/service_at_locations?search=eviction&postcode=13501")
    assert _service_names(sites) == ["Legal Clinic"]
    assert _get(client, "/hsds/services?search=zzzqqq")["total_items"] == 0


def test_search_pages_keep_the_relevance_order(client, directory):
    everything = _get(client, "/hsds/services?search=food")
    assert everything["total_items"] >= 2
    pages = [
        _get(client, f"/hsds/services?search=food&per_page=1&page={n}")
        for n in range(1, everything["total_items"] + 1)
    ]
    assert [_names(p)[0] for p in pages] == _names(everything)
    assert pages[-1]["last_page"] and not pages[0]["last_page"]


@pytest.mark.parametrize(
    "url",
    [
        "/hsds/services?full=true",
        "/hsds/services",
        "/hsds/organizations?full=true&full_service=true",
        "/hsds/organizations?full_service=true",
        "/hsds/service_at_locations?full=true",
        "/hsds/service_at_locations?postcode=13202&proximity=500000",
        "/hsds/taxonomy_terms",
    ],
)
def test_a_page_costs_the_same_queries_for_few_or_many_rows(client, db, url):
    """No query per row: ten services cost what two do."""
    from tests.directory.hsds.test_serialize import QueryCounter

    def queries_with(count: int) -> int:
        for _ in range(count):
            make_service(db)
        db.session.commit()
        with QueryCounter(db.engine) as counter:
            page = _get(client, url)
        assert page["total_items"] >= count
        return counter.count

    assert 0 < queries_with(2) == queries_with(8)
