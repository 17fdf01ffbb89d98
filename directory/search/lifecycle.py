"""Start-up: which engine the app gets, and an index caught up, or rebuilt when it can't be.

The only module that names an engine: SEARCH_ENGINE (default "whoosh") picks one of ENGINES.
At start-up an index first applies the change feed past its position (`sync.Follower`); it is
rebuilt when it has no position, when the feed was trimmed past it, or when it is still stale
after that: its fingerprint differs from the database's (`listings.db_fingerprint`), e.g. after a
bulk change no hook saw, or a failed apply that marked it stale.
"""

import logging
import threading
from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from directory.search import feed, sync
from directory.search.engine import SearchEngine, current_engine
from directory.search.listings import db_fingerprint
from directory.search.whoosh_engine import INDEX_MEMORY_MB, WhooshEngine
from extensions import db

log = logging.getLogger(__name__)

SYNC_REBUILD_LIMIT = 5000  # a stale index this small is rebuilt while the app starts


def _whoosh(app: Flask) -> SearchEngine:
    engine = WhooshEngine(
        app.config["SEARCH_INDEX_DIR"],
        app.config.get("SEARCH_INDEX_PROCS", 1),
        app.config.get("SEARCH_INDEX_MEMORY_MB") or INDEX_MEMORY_MB,
    )
    if removed := engine.remove_leftovers():
        log.warning("removed what an interrupted index rebuild left: %s", ", ".join(removed))
    return engine


ENGINES: dict[str, Callable[[Flask], SearchEngine]] = {"whoosh": _whoosh}


def build_engine(app: Flask) -> SearchEngine:
    """The engine the app's SEARCH_ENGINE setting names, over the app's configuration."""
    name = app.config.get("SEARCH_ENGINE", "whoosh")
    if name not in ENGINES:
        raise ValueError(f"SEARCH_ENGINE must be one of {sorted(ENGINES)}, not {name!r}")
    return ENGINES[name](app)


def init_app(app: Flask) -> None:
    """Attach the engine and session hooks; rebuild a missing or stale index.

    Cheap and safe when the tables don't exist yet (`flask db upgrade` on an empty database).
    A small directory is rebuilt at once; a big one in a background thread, while the old
    index (if any) keeps answering.
    """
    sync.install_session_hooks()
    app.extensions["directory_search"] = build_engine(app)
    app.extensions["directory_search_follower"] = sync.Follower(app, current_engine(app))
    if app.config.get("SEARCH_CHECK_AT_STARTUP", True):
        _check_index(app)


def _check_index(app: Flask) -> None:
    search_engine = current_engine(app)
    try:
        with app.app_context(), db.engine.connect() as connection:
            if not inspect(connection).has_table(feed.SearchChange.__tablename__):
                return  # not migrated yet (`flask db upgrade` builds the app first)
            fingerprint = db_fingerprint(connection)
    except SQLAlchemyError as exc:
        log.warning("search index not checked: the database is not ready (%s)", exc)
        return
    follower = sync.follower(app)
    limit = app.config.get("SEARCH_SYNC_REBUILD_LIMIT", SYNC_REBUILD_LIMIT)
    position = follower.position()
    if position is not None:
        with app.app_context():
            with db.engine.connect() as connection:
                backlog = feed.latest(connection) - position.seen
            if backlog > limit:  # the old index answers meanwhile; /healthz/ready says 503
                log.warning(
                    "search index is %d changes behind: catching up in the background", backlog
                )
                follower.catch_up_in_background()
                return
            follower.follow(force=True, everything=True)
            with db.engine.connect() as connection:
                fingerprint = db_fingerprint(connection)
    if search_engine.is_fresh(fingerprint) and follower.position() and not follower.needs_rebuild:
        return
    follower.needs_rebuild = ""
    if fingerprint["services"] <= limit:
        with app.app_context():
            count = search_engine.rebuild()
        log.info("search index rebuilt at start-up: %d services", count)
        return

    def background() -> None:
        with app.app_context():
            try:
                count = search_engine.rebuild()
                log.info("search index rebuilt in the background: %d services", count)
            except Exception:
                log.exception("background search index rebuild failed")
            finally:
                follower.rebuilding = False

    follower.rebuilding = True  # not ready until it is done (`/healthz/ready`)

    log.warning(
        "search index is stale: rebuilding %d services in the background", fingerprint["services"]
    )
    threading.Thread(target=background, name="search-reindex", daemon=True).start()


def catch_up() -> bool:
    """After a command's bulk writes (an import, the demo seed): bring this host's index up to
    date from the change feed, as every other host does with the same commit (the feed is
    applied in chunks, in this process). False when the feed can't: no index yet, the feed
    trimmed past it, or the index stale by its fingerprint (an older document shape, a change no
    commit hook saw); then only a full rebuild (`reindex`) will."""
    app = current_app._get_current_object()
    follower = sync.follower(app)
    follower.wait_for_background()  # a big commit is applied in the background: let it finish
    if follower.rebuilding or follower.needs_rebuild or follower.position() is None:
        return False
    follower.follow(force=True, everything=True)
    with db.engine.connect() as connection:
        fingerprint = db_fingerprint(connection)
        latest = feed.latest(connection)
    position = follower.position()
    return (
        position is not None
        and not follower.needs_rebuild
        and position.seen >= latest
        and current_engine(app).is_fresh(fingerprint)
    )


def reindex(progress: Callable[[int, int], None] | None = None, procs: int | None = None) -> int:
    """Rebuild the whole index from the database (the `flask directory reindex` command)."""
    return current_engine().rebuild(progress, procs)
