"""Issue 10, item 4: page and per_page are bounded everywhere: JSON answers 400 naming the
parameter, pages fall back to a page they can show; never an overflow from the database."""

import pytest

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "path",
    [
        "/hsds/organizations",
        "/hsds/services",
        "/hsds/service_at_locations",
        "/hsds/taxonomies",
        "/hsds/taxonomy_terms",
        "/api/v1/services",
    ],
)
@pytest.mark.parametrize("page", [HUGE, "10001", "0", "-1", "two"])
def test_public_lists_refuse_a_page_out_of_range(client, path, page):
    response = client.get(f"{path}?page={page}")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert "page" in error["message"]


@pytest.mark.parametrize("path", ["/hsds/organizations", "/api/v1/services"])
def test_per_page_out_of_range_is_refused(client, path):
    assert client.get(f"{path}?per_page={HUGE}").status_code == 400


def test_the_last_allowed_page_is_an_empty_page(client):
    response = client.get("/hsds/organizations?page=10000")
    assert response.status_code == 200
    assert response.get_json()["contents"] == []


@pytest.mark.parametrize("path", ["/api/v1/members", "/api/v1/referrals"])
@pytest.mark.parametrize("name", ["page", "per_page"])
def test_referral_api_lists_refuse_a_huge_page(api, network, path, name):
    response = api.get(f"{path}?{name}={HUGE}", network.coordinator_a)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert name in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("path", ["/referrals", "/members", "/inbox", "/admin/audit"])
def test_pages_show_a_page_for_a_huge_page_number(signed_in, network, path):
    user = {
        "/inbox": network.staff_a,
        "/admin/audit": network.admin,
    }.get(path, network.coordinator_a)
    response = signed_in(user).get(f"{path}?page={HUGE}")
    assert response.status_code == 200


def test_search_page_with_a_huge_page_number_is_not_a_server_error(client):
    assert client.get(f"/?page={HUGE}").status_code < 500
