"""Referral and member lists cost a fixed number of statements, however many rows a page shows."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from referrals import services
from referrals.errors import NotFound

PAGE = 20  # the pages' size (referrals.views.PER_PAGE); the API's default is 25


@contextmanager
def _counting(db):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


@pytest.fixture
def referrals_for(db, network, create_member):
    """`referrals_for(n)`: n more referrals to agency A, each for a member of its own, sent by
    the two coordinators of organization A in turn, every third one accepted."""
    made: list = []

    def make(n: int) -> None:
        coordinators = (network.coordinator_a, network.coordinator_a2)
        for _ in range(n):
            i = len(made)
            member = create_member(first_name=f"Member{i}", last_name=f"Number{i}")
            referral = services.send_referral(
                coordinators[i % 2], member, network.service_a, need=f"need {i}"
            )
            if i % 3 == 2:
                services.accept(referral, network.staff_a)
            made.append(referral)
        db.session.commit()

    return make


@pytest.fixture
def statements_for(db, app, api, login, network):
    """`statements_for(who, path)`: how many statements one GET costs (pages signed in)."""
    clients: dict = {}

    def measure(who: str, path: str) -> int:
        user = network.people[who]
        if path.startswith("/api/"):
            client, headers = api.client, api.headers(user)
        else:
            if who not in clients:
                clients[who] = app.test_client()
                login(clients[who], user)
            client, headers = clients[who], {}
        client.get(path, headers=headers)  # warm: first-request work is not the list's
        with _counting(db) as statements:
            response = client.get(path, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        return len(statements)

    return measure


LISTS = [
    ("coordinator_a", "/referrals"),
    ("admin", "/referrals"),
    ("staff_a", "/inbox?tab=new"),
    ("staff_a", "/inbox?tab=accepted"),
    ("coordinator_a", "/api/v1/referrals?per_page=25"),
    ("staff_a", "/api/v1/referrals?per_page=25"),
    ("admin", "/api/v1/referrals?per_page=25"),
    ("coordinator_a", "/api/v1/members?per_page=25"),
    ("staff_a", "/api/v1/members?per_page=25"),
    ("coordinator_a", "/members"),
]


def test_a_full_page_costs_what_a_short_one_does(db, api, network, referrals_for, statements_for):
    referrals_for(3)
    few = {(who, path): statements_for(who, path) for who, path in LISTS}

    referrals_for(PAGE + 10)
    many = {(who, path): statements_for(who, path) for who, path in LISTS}

    assert many == few
    listed = api.get("/api/v1/referrals?per_page=25", network.staff_a).get_json()
    assert len(listed["items"]) == 25
    assert {item["member"]["first_name"] for item in listed["items"]} >= {"Member32", "Member8"}


def test_a_page_of_members_shows_each_as_the_viewer_may_see_them(db, network, create_member):
    wide = create_member(first_name="Wide")
    narrow = create_member(first_name="Narrow", scope=["first_name"])
    revoked = create_member(first_name="Revoked")
    unreferred = create_member(first_name="Unreferred")
    for member in (wide, narrow, revoked):
        services.send_referral(network.coordinator_a, member, network.service_a, need="food")
    services.revoke_consent(network.coordinator_a, revoked.consents[0])
    db.session.commit()
    page = [wide, narrow, revoked]

    agency = services.member_views(page, network.staff_a)
    coordinator = services.member_views([*page, unreferred], network.coordinator_a)

    assert agency[wide.id]["fields"]["phone"] and "birth_date" not in agency[wide.id]["fields"]
    assert agency[narrow.id]["fields"] == {"first_name": "Narrow"}
    assert agency[revoked.id]["fields"] == {} and agency[revoked.id]["restricted"]
    assert not coordinator[revoked.id]["restricted"]
    for member in page:
        assert agency[member.id] == services.member_view(member, network.staff_a)
        assert coordinator[member.id] == services.member_view(member, network.coordinator_a)
    with pytest.raises(NotFound):
        services.member_views([narrow, unreferred], network.staff_a)
