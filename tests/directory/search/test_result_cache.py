"""Anonymous search answers reused until the next change (directory/result_cache.py): never older
than the last committed change, on this host or another; HTTP caching headers; and nothing a
signed-in person sees is kept.
"""

import re

import pytest
from sqlalchemy import text

from directory.models import Service
from directory.result_cache import ResultCache, _Answer
from tests.directory.factories import make_listing

API = "/api/v1/services?q=diapers"
PAGE = "/search?q=diapers"


def _listing(db, name: str = "Treasure Valley Diaper Bank"):
    service = make_listing(
        db, name, "Diapers and wipes for babies.", at=(43.6150, -116.2023), postal_code="83702",
        city="Boise", state="ID", tz_name="America/Boise",
    )  # fmt: skip
    db.session.commit()
    return service


def _names(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [result["name"] for result in response.get_json()["results"]]


def _rename(db, service_id, name: str) -> None:
    db.session.get(Service, service_id).name = name
    db.session.commit()


def test_a_kept_answer_is_reused_until_the_next_commit_and_never_after_it(db, client):
    service = _listing(db)
    first = client.get(API)
    assert _names(first) == ["Treasure Valley Diaper Bank"]

    # Behind the feed's back (no commit hook sees a raw statement), the name changes in the
    # table: an uncached search would show it, the kept answer does not. That is the cache.
    db.session.execute(
        text("UPDATE service SET name = 'Not Seen Yet' WHERE id = :id"),
        {"id": service.id.hex if db.engine.dialect.name == "sqlite" else service.id},
    )
    db.session.commit()
    db.session.expire_all()
    assert _names(client.get(API)) == ["Treasure Valley Diaper Bank"]

    # A real commit goes into the change feed: the very next answer is new.
    _rename(db, service.id, "Boise Diaper Depot")
    again = client.get(API, headers={"If-None-Match": first.headers["ETag"]})
    assert _names(again) == ["Boise Diaper Depot"]
    assert again.headers["ETag"] != first.headers["ETag"]


def test_an_answer_kept_on_one_host_is_replaced_when_another_host_commits(
    db, app, make_app, tmp_path
):
    """Two app instances on one database, each with its own index (as two hosts)."""
    service = _listing(db)
    other = make_app(SEARCH_INDEX_DIR=str(tmp_path / "host-b-index"), SEARCH_FEED_CHECK_SECONDS=0)
    other_client = other.test_client()
    kept = other_client.get(API)
    assert _names(kept) == ["Treasure Valley Diaper Bank"]
    assert other_client.get(API, headers={"If-None-Match": kept.headers["ETag"]}).status_code == 304

    _rename(db, service.id, "Boise Diaper Depot")  # committed by this host (app)
    with other.app_context():
        fresh = other_client.get(API, headers={"If-None-Match": kept.headers["ETag"]})
    assert _names(fresh) == ["Boise Diaper Depot"]


def test_the_json_answer_may_be_kept_by_browsers_and_proxies_until_the_next_change(db, client):
    service = _listing(db)
    first = client.get(API)
    assert first.headers["Cache-Control"] == "public, no-cache"
    assert re.fullmatch(r'"[0-9a-f]{32}"', first.headers["ETag"])
    assert {"Cookie", "Authorization"} <= set(first.vary)

    same = client.get(API, headers={"If-None-Match": first.headers["ETag"]})
    assert same.status_code == 304
    assert same.get_data() == b""
    assert same.headers["ETag"] == first.headers["ETag"]

    other_query = client.get(
        "/api/v1/services?q=wipes", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert other_query.status_code == 200  # another question, another tag

    _rename(db, service.id, "Boise Diaper Depot")
    changed = client.get(API, headers={"If-None-Match": first.headers["ETag"]})
    assert _names(changed) == ["Boise Diaper Depot"]


def test_a_bad_search_is_answered_but_never_kept(db, client):
    response = client.get("/api/v1/services?lat=91&lon=0")
    assert response.status_code == 400
    assert "ETag" not in response.headers
    assert client.get("/api/v1/services?lat=91&lon=0").status_code == 400


def test_the_page_is_private_to_the_browser_and_carries_each_visitors_own_form_token(db, make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        service_id = str(_listing(db).id)
    visitor, another = app.test_client(), app.test_client()
    page = visitor.get(PAGE)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "private, no-cache"
    assert page.headers["ETag"].startswith('W/"')
    assert {"Cookie", "HX-Request"} <= set(page.vary)
    kept = another.get(PAGE)  # the same page from the cache, with the other visitor's token
    tokens = [
        re.search(r'name="csrf_token" value="([^"]+)"', r.get_data(as_text=True)).group(1)
        for r in (page, kept)
    ]
    assert tokens[0] != tokens[1] and "placeholder" not in tokens[1]
    assert kept.headers["ETag"] == page.headers["ETag"]

    # Each token works for its own visitor: save the service from the page that was kept.
    saved = another.post("/list/add", data={"service_id": service_id, "csrf_token": tokens[1]})
    assert saved.status_code == 303
    # Their page now shows it saved (their list is part of the key), the first visitor's not.
    assert "Saved · Remove" in another.get(PAGE).get_data(as_text=True)
    assert "Saved · Remove" not in visitor.get(PAGE).get_data(as_text=True)
    assert visitor.get(PAGE, headers={"If-None-Match": page.headers["ETag"]}).status_code == 304


def test_the_htmx_part_and_the_whole_page_are_kept_apart_and_both_follow_commits(
    db, client, htmx_client
):
    service = _listing(db)
    whole = client.get(PAGE)
    part = htmx_client.get(PAGE)
    assert "<html" in whole.get_data(as_text=True)
    assert "<html" not in part.get_data(as_text=True)
    assert "Treasure Valley Diaper Bank" in part.get_data(as_text=True)
    assert part.headers["ETag"] != whole.headers["ETag"]
    assert "<html" in client.get(PAGE).get_data(as_text=True)

    _rename(db, service.id, "Boise Diaper Depot")
    for visitor, kept in ((client, whole), (htmx_client, part)):
        page = visitor.get(PAGE, headers={"If-None-Match": kept.headers["ETag"]})
        assert page.status_code == 200
        assert "Boise Diaper Depot" in page.get_data(as_text=True)
        assert "Treasure Valley Diaper Bank</a>" not in page.get_data(as_text=True)


def test_nothing_a_signed_in_person_sees_is_kept_or_cacheable(
    db, client, signed_in, dummy_coordinator, auth_headers
):
    _listing(db)
    anonymous = client.get(PAGE)
    assert "Sign in" in anonymous.get_data(as_text=True)

    coordinator = signed_in(dummy_coordinator)
    mine = coordinator.get(PAGE, headers={"If-None-Match": anonymous.headers["ETag"]})
    assert mine.status_code == 200  # never the anonymous copy, never a 304 on its tag
    assert mine.headers["Cache-Control"] == "no-store"
    assert "ETag" not in mine.headers
    assert "Sign out" in mine.get_data(as_text=True)
    assert "Sign out" not in client.get(PAGE).get_data(as_text=True)  # and it was not kept

    answer = coordinator.get(API)
    assert answer.headers["Cache-Control"] == "no-store"
    with_token = client.get(API, headers=auth_headers(dummy_coordinator))
    assert _names(with_token) == ["Treasure Valley Diaper Bank"]
    assert with_token.headers["Cache-Control"] == "no-store"
    assert "ETag" not in with_token.headers


def test_the_cache_keeps_the_most_recently_used_answers_up_to_its_size():
    cache = ResultCache(2)
    for key in ("a", "b"):
        cache.put(key, _Answer(key.encode(), "text/plain"))
    assert cache.get("a").body == b"a"  # used: "b" is now the oldest
    cache.put("c", _Answer(b"c", "text/plain"))
    assert cache.get("b") is None
    assert [cache.get(k).body for k in ("a", "c")] == [b"a", b"c"]
    assert len(cache) == 2

    off = ResultCache(0)
    off.put("a", _Answer(b"a", "text/plain"))
    assert off.get("a") is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_cache_size_of_zero_answers_every_search_fresh(db, make_app):
    app = make_app(SEARCH_RESULT_CACHE_SIZE=0)
    with app.app_context():
        service = _listing(db)
        client = app.test_client()
        assert _names(client.get(API)) == ["Treasure Valley Diaper Bank"]
        db.session.execute(
            text("UPDATE service SET name = 'Seen At Once' WHERE id = :id"), {"id": service.id.hex}
        )
        db.session.commit()
        assert _names(client.get(API)) == ["Seen At Once"]
