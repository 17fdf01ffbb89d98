"""The search change feed, in one process: what each commit writes to it, numbers committed out
of order (PostgreSQL), trimming, and the readiness answer. The two-host test is test_hosts.py.
"""

import fcntl
import os
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, select, update

from directory import search
from directory.models import Service
from directory.search import feed, sync
from directory.search.engine import current_engine
from directory.search.feed import Position, SearchChange, SearchConsumer
from directory.search.query import SearchQuery
from extensions import utcnow
from tests.directory.factories import make_listing, make_organization


def _listing(db, name: str, description: str = "Diapers and wipes for babies."):
    return make_listing(
        db, name, description, at=(43.6150, -116.2023), postal_code="83702", city="Boise",
        state="ID", tz_name="America/Boise",
    )  # fmt: skip


def _feed(db) -> list[uuid.UUID]:
    """The service ids in the feed, in commit order."""
    return list(db.session.scalars(select(SearchChange.service_id).order_by(SearchChange.seq)))


def _another_host_behind(db) -> None:
    """A second index that has applied nothing yet: the feed is kept for it (not trimmed)."""
    db.session.add(SearchConsumer(name="host-b:/index", applied_seq=0, heartbeat_at=utcnow()))
    db.session.commit()


def _found(text_: str) -> list[str]:
    return [hit.service.name for hit in search.search(SearchQuery(text=text_)).hits]


def _follower(app) -> sync.Follower:
    return sync.follower(app)


def test_each_commit_feeds_its_services_in_order_and_a_rollback_feeds_nothing(db):
    _another_host_behind(db)
    first = _listing(db, "Treasure Valley Diaper Bank")
    db.session.commit()
    second = _listing(db, "Boise Crib Closet", "Cribs on loan.")
    db.session.commit()
    assert _feed(db) == [first.id, second.id]

    # A change to a row under the service (its office's address) feeds the service.
    first.service_at_locations[0].location.addresses[0].city = "Meridian"
    db.session.commit()
    assert _feed(db) == [first.id, second.id, first.id]

    second.name = "Never Committed"
    db.session.flush()
    db.session.rollback()
    assert _feed(db) == [first.id, second.id, first.id]
    assert _found("meridian") == ["Treasure Valley Diaper Bank"]  # applied by this process


def test_bulk_writes_named_with_note_rows_reach_the_feed(db):
    _another_host_behind(db)
    organization = make_organization(db, name="Bulk Org")
    db.session.flush()
    ids = [uuid.uuid4() for _ in range(3)]
    rows = [
        {"id": i, "organization_id": organization.id, "name": f"Pantry {n}", "status": "active"}
        for n, i in enumerate(ids)
    ]
    db.session.execute(insert(Service), rows)  # Core: no flush hook sees it
    sync.note_rows(db.session, Service, ids)
    db.session.commit()
    assert sorted(_feed(db)) == sorted(ids)
    assert sorted(_found("pantry")) == ["Pantry 0", "Pantry 1", "Pantry 2"]

    db.session.execute(update(Service).where(Service.id == ids[0]).values(name="Larder Zero"))
    sync.note_rows(db.session, Service, [ids[0]])
    db.session.commit()
    assert _found("larder") == ["Larder Zero"]


def test_a_position_keeps_missing_numbers_until_they_can_no_longer_appear():
    start = Position(applied=10, seen=10)
    # SQLite: one writer at a time, so a number missing below one seen is never filled later.
    assert feed.advance(start, [11, 13], None, None) == Position(13, 13, {})
    # PostgreSQL: 12 may belong to a transaction still running; remember the snapshot's xmax.
    waiting = feed.advance(start, [11, 13], xmin=500, xmax=510)
    assert waiting == Position(11, 13, {12: 510})
    # ...while transactions below 510 may still run, 12 stays a gap, however long it takes.
    assert feed.advance(waiting, [14], xmin=505, xmax=520) == Position(11, 14, {12: 510})
    # It commits: applied moves past it.
    assert feed.advance(waiting, [12], xmin=505, xmax=520) == Position(13, 13, {})
    # Every transaction below 510 has ended and 12 never came: it was rolled back.
    assert feed.advance(waiting, [], xmin=510, xmax=530) == Position(13, 13, {})
    assert Position.from_json(waiting.to_json()) == waiting


def _write_change(connection, service_id: uuid.UUID, name: str) -> int:
    connection.execute(update(Service).where(Service.id == service_id).values(name=name))
    feed.write(connection, [service_id])
    return connection.execute(select(SearchChange.seq).order_by(SearchChange.seq.desc())).scalar()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_number_committed_after_a_higher_one_is_applied_not_skipped(db, app):
    slow = _listing(db, "Slow Diaper Bank")
    fast = _listing(db, "Fast Crib Closet", "Cribs on loan.")
    db.session.commit()
    slow, fast = slow.id, fast.id
    db.session.close()
    follower = _follower(app)
    before = follower.position()

    with db.engine.connect() as first, db.engine.connect() as second:
        low = _write_change(first, slow, "Juniper Diaper Bank")  # takes the lower number...
        high = _write_change(second, fast, "Aspen Crib Closet")
        second.commit()  # ...but commits last
        assert high == low + 1
        follower.follow(force=True)
        assert (_found("aspen"), _found("juniper")) == (["Aspen Crib Closet"], [])
        waiting = follower.position()
        assert (waiting.applied, waiting.seen, list(waiting.gaps)) == (low - 1, high, [low])

        first.commit()
        follower.follow(force=True)
        assert _found("juniper") == ["Juniper Diaper Bank"]
        assert follower.position() == Position(high, high, {})
    assert before.applied < low


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_number_whose_transaction_rolled_back_stops_holding_the_position(db, app):
    service = _listing(db, "Rolled Diaper Bank")
    other = _listing(db, "Kept Crib Closet", "Cribs on loan.")
    db.session.commit()
    service, other = service.id, other.id
    db.session.close()
    follower = _follower(app)
    with db.engine.connect() as first, db.engine.connect() as second:
        low = _write_change(first, service, "Ghost Diaper Bank")
        high = _write_change(second, other, "Cedar Crib Closet")
        second.commit()
        follower.follow(force=True)
        assert follower.position().gaps.keys() == {low}
        first.rollback()
    follower.follow(force=True)  # every transaction that could hold `low` has ended
    assert follower.position() == Position(high, high, {})
    assert (_found("ghost"), _found("cedar")) == ([], ["Cedar Crib Closet"])


def _consumers(db) -> dict[str, int]:
    rows = db.session.execute(select(SearchConsumer.name, SearchConsumer.applied_seq))
    return dict(rows.all())


def test_the_feed_is_trimmed_once_every_live_index_has_applied_it(db, app):
    _another_host_behind(db)
    services = [_listing(db, f"Pantry {n}") for n in range(4)]
    db.session.commit()
    numbers = list(db.session.scalars(select(SearchChange.seq).order_by(SearchChange.seq)))
    assert len(numbers) == 4
    day = timedelta(days=1)
    with db.engine.begin() as connection:
        assert feed.heartbeat(connection, "host-a:/index", numbers[3], day) == 0  # b is behind
        assert feed.heartbeat(connection, "host-b:/index", numbers[1], day) == 2
    # Both are live: only what both applied goes.
    assert list(db.session.scalars(select(SearchChange.seq))) == numbers[2:]
    assert _consumers(db)[feed.TRIMMED] == numbers[1]

    # host-b falls silent for longer than the expiry: it no longer holds the feed back.
    db.session.execute(
        update(SearchConsumer)
        .where(SearchConsumer.name == "host-b:/index")
        .values(heartbeat_at=utcnow() - 2 * day)
    )
    db.session.commit()
    with db.engine.begin() as connection:
        feed.heartbeat(connection, "host-a:/index", numbers[3], day)
    assert list(db.session.scalars(select(SearchChange.seq))) == []
    assert "host-b:/index" not in _consumers(db)
    assert _consumers(db)[feed.TRIMMED] == numbers[3]

    # A new index starts past what was trimmed; this app's index, still at its old position
    # (it never said so), can't be brought up to date by the feed any more: it says so.
    with db.engine.connect() as connection:
        assert feed.start_position(connection) == Position(numbers[3], numbers[3], {})
    follower = _follower(app)
    current_engine(app).save_feed_position(Position(numbers[0], numbers[0]).to_json())
    services[0].name = "Renamed Pantry"
    with _building(app):  # (so the rebuild it asks for can't finish before we look)
        db.session.commit()
        assert follower.needs_rebuild
        assert follower.readiness() == sync.Readiness(False, follower.needs_rebuild)
    _wait_until_ready(app.test_client())
    assert _found("renamed") == ["Renamed Pantry"]


def test_an_index_being_built_joins_the_consumers_first(db, app):
    _listing(db, "Treasure Valley Diaper Bank")
    db.session.commit()
    db.session.execute(delete(SearchConsumer))
    db.session.commit()
    current_engine(app).rebuild()  # trimming by other hosts now waits for this index too
    assert feed.consumer_name(app.config["SEARCH_INDEX_DIR"]) in _consumers(db)


@contextmanager
def _building(app):
    """Hold the index's build lock, as another worker of the host building it would."""
    builder = os.open(f"{app.config['SEARCH_INDEX_DIR']}.build.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(builder, fcntl.LOCK_EX)
    try:
        yield
    finally:
        os.close(builder)


def _wait_until_ready(client, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/healthz/ready").status_code != 200:
        assert time.monotonic() < deadline, "never ready"
        time.sleep(0.05)


def test_healthz_answers_and_ready_waits_for_the_index_to_catch_up(db, app, client):
    service = _listing(db, "Treasure Valley Diaper Bank")
    db.session.commit()
    assert client.get("/healthz").get_json() == {"status": "alive"}
    ready = client.get("/healthz/ready")
    assert (ready.status_code, ready.get_json()["status"]) == (200, "ready")
    assert ready.headers["Cache-Control"] == "no-store"

    engine = current_engine(app)
    with engine.applying() as mine:  # another process is applying to this index: wait for it
        assert mine
        with db.engine.begin() as connection:  # a commit by another host
            _write_change(connection, service.id, "Snake River Diaper Depot")
        answer = client.get("/healthz/ready")
        assert answer.status_code == 503
        assert answer.get_json() == {
            "status": "not ready",
            "reason": "the search index is catching up",
            "behind": 1,
        }
    _wait_until_ready(client)
    assert _found("snake river") == ["Snake River Diaper Depot"]


def test_a_host_without_an_index_is_not_ready_until_it_has_built_one(make_app, db, tmp_path):
    _listing(db, "Treasure Valley Diaper Bank")
    db.session.commit()
    index_dir = tmp_path / "new-host-index"
    app = make_app(SEARCH_CHECK_AT_STARTUP=False, SEARCH_INDEX_DIR=str(index_dir))
    client = app.test_client()
    with _building(app):  # another worker of this host is building it
        answer = client.get("/healthz/ready")
        assert answer.status_code == 503
        assert answer.get_json()["reason"] == "the search index has not been built yet"
        with app.app_context():
            assert _found("diapers") == []  # answered from no index: no error
    _wait_until_ready(client)
    with app.app_context():
        assert _found("diapers") == ["Treasure Valley Diaper Bank"]
