"""GET /api/v1/services and /api/v1/services/<id>: shape, search, paging, errors."""

import pytest

from tests.directory.search.test_search import build_corpus, offset


@pytest.fixture
def corpus(db):
    return build_corpus(db)


def test_search_results_have_the_documented_shape(client, corpus):
    response = client.get("/api/v1/services?q=help+paying+rent&near=85701&radius_km=20")
    assert response.status_code == 200
    body = response.get_json()
    assert {"total", "page", "per_page", "results", "facets", "suggestion", "place"} <= set(body)
    assert (body["page"], body["per_page"]) == (1, 20)
    first = body["results"][0]
    service = corpus["services"]["Eviction Defense Fund"]
    assert first["id"] == str(service.id)
    assert first["name"] == "Eviction Defense Fund"
    assert first["organization"] == {
        "id": str(service.organization_id),
        "name": "Eviction Defense Fund Inc.",
    }
    assert [c["name"] for c in first["categories"]] == ["Rent Payment Assistance"]
    assert first["distance_km"] == pytest.approx(1.0, abs=0.05)
    assert first["distance_mi"] == pytest.approx(0.62, abs=0.05)
    assert first["serves_area"] is False
    assert first["open_now"] in (True, False)
    location = first["locations"][0]
    assert set(location) == {"id", "name", "address", "latitude", "longitude"}
    assert location["address"].endswith("Tucson, AZ 85701")
    assert location["latitude"] == pytest.approx(offset(1)[0], abs=1e-5)
    assert "<mark>rent</mark>" in first["snippet"]
    assert body["place"]["label"] == "85701 (Tucson, AZ)"


def test_words_without_a_place_have_no_distance(client, corpus):
    body = client.get("/api/v1/services?q=comida").get_json()
    assert {r["name"] for r in body["results"][:2]} == {
        "Desert Harvest Pantry",
        "Mesilla Valley Food Bank",
    }
    assert "distance_km" not in body["results"][0]
    assert body["place"] is None


def test_service_area_coverage_is_reported(client, corpus):
    body = client.get(
        "/api/v1/services?q=ride+to+the+doctor&near=Tucson,+AZ&radius_km=5"
    ).get_json()
    first = body["results"][0]
    assert (first["name"], first["serves_area"]) == ("Pima Rides", True)
    assert first["distance_km"] > 100


def test_filters_and_facets_through_the_api(client, corpus):
    body = client.get(
        "/api/v1/services?near=85701&radius_km=20&language=Spanish&free=true&per_page=50"
    ).get_json()
    assert {r["name"] for r in body["results"]} == {
        "Eviction Defense Fund",
        "Desert Harvest Pantry",
        "Saguaro Legal Clinic",
    }
    assert {f["label"]: f["count"] for f in body["facets"]["language"]}["Spanish"] == 3
    housing = client.get("/api/v1/services?category=Housing&category=Legal").get_json()
    assert housing["total"] == 4


def test_did_you_mean(client, corpus):
    body = client.get("/api/v1/services?q=evicton").get_json()
    assert body["suggestion"] == "eviction"
    assert body["results"][0]["name"] == "Eviction Defense Fund"


def test_pages(client, corpus):
    first = client.get("/api/v1/services?near=85701&radius_km=20&per_page=5").get_json()
    third = client.get("/api/v1/services?near=85701&radius_km=20&per_page=5&page=3").get_json()
    assert (first["total"], len(first["results"]), first["pages"]) == (14, 5, 3)
    assert len(third["results"]) == 4
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in third["results"]}


# The refused query strings, by the error code they answer with, and a part of each message.
BAD_PARAMETERS = {
    "unknown_place": {
        "near=00000": "not a US ZIP code",
        "near=Atlantis,+ZZ": "not a US state",
        "lat=abc&lon=-110": "latitude 'abc' is not a number",
    },
    "invalid_parameter": {
        "near=85701&radius_km=0": "radius_km must be more than 0",
        "near=85701&radius_km=-3": "radius_km must be more than 0",
        "near=85701&radius_km=ten": "radius_km must be a number",
        "near=85701&radius_km=nan": "finite",
        "near=85701&radius_km=9000": "at most 500",
        "per_page=101": "per_page must be between 1 and 100",
        "per_page=0": "per_page must be between 1 and 100",
        "page=0": "page must be 1 or more",
        "page=two": "page must be a whole number",
        "page=1.5": "page must be a whole number",
        "lat=32.2": "lat and lon must be given together",
        "open_now=maybe": "open_now must be true or false",
        "q=" + "x" * 201: "q is too long",
    },
    "unknown_category": {"category=Knitting": "no category 'Knitting'"},
}


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        (query, code, message)
        for code, rows in BAD_PARAMETERS.items()
        for query, message in rows.items()
    ],
)
def test_bad_parameters_are_400_with_a_message(client, corpus, query, code, message):
    response = client.get(f"/api/v1/services?{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == code
    assert message in error["message"]


def test_one_service_whole(client, corpus):
    service = corpus["services"]["Saguaro Legal Clinic"]
    response = client.get(f"/api/v1/services/{service.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == str(service.id)
    assert body["name"] == "Saguaro Legal Clinic"
    assert body["organization"]["name"] == "Saguaro Legal Clinic Inc."
    assert body["schedules"][0]["opens_at"] == "09:00"
    assert {lang["name"] for lang in body["languages"]} == {"English", "Español"}


@pytest.mark.parametrize("service_id", ["5032b5d0-5346-4f2c-833d-93e1457d7ed3", "not-a-uuid", "0"])
def test_unknown_service_is_404(client, corpus, service_id):
    response = client.get(f"/api/v1/services/{service_id}")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
