"""Keeping every index in step with commits, on every host.

Session events collect the ids of the services whose listings change at each flush (a service,
its organization, locations, addresses, schedules, languages, categories, service areas); bulk
writes that bypass the flush (the import, the demo seed) name their rows with `note_rows`. Just
before the commit the ids go into the change feed (`feed`), in the same transaction, so what
changed is known to the database, not to this process. After the commit this process applies
the feed at once (it sees its own writes); every process also applies it before answering a
search when the feed has moved on (`Follower`, checked at most every SEARCH_FEED_CHECK_SECONDS).
Rolled-back work never reaches the feed nor the index, because documents are always read from
committed rows.
"""

import fcntl
import logging
import os
import threading
import time
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from directory.models import (
    Accessibility,
    Address,
    Attribute,
    CostOption,
    Language,
    Location,
    Organization,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    TaxonomyTerm,
)
from directory.search import feed
from directory.search.engine import IndexUnavailable, SearchEngine
from extensions import db

log = logging.getLogger(__name__)

_PENDING_KEY = "directory_search_pending"
_hooks_installed = False


def _services_at_locations(connection, location_ids: set) -> set[uuid.UUID]:
    if not location_ids:
        return set()
    return set(
        connection.scalars(
            select(ServiceAtLocation.service_id).where(
                ServiceAtLocation.location_id.in_(location_ids)
            )
        )
    )


def _affected_service_ids(
    connection, objects: Iterable, model: type | None = None
) -> set[uuid.UUID]:
    """The services whose documents change when these objects change (models, or rows of
    `model` with its id and link columns)."""
    services: set[uuid.UUID] = set()
    locations: set[uuid.UUID] = set()
    sal_ids: set[uuid.UUID] = set()
    organizations: set[uuid.UUID] = set()
    terms: set[uuid.UUID] = set()
    for obj in objects:
        kind = model or type(obj)
        if issubclass(kind, Service):
            services.add(obj.id)
        elif issubclass(kind, Organization):
            organizations.add(obj.id)
        elif issubclass(kind, Location):
            locations.add(obj.id)
        elif issubclass(kind, ServiceAtLocation):
            services.add(obj.service_id)
        elif issubclass(kind, Schedule | Language):
            services.add(obj.service_id)
            locations.add(obj.location_id)
            if issubclass(kind, Schedule):
                sal_ids.add(obj.service_at_location_id)
        elif issubclass(kind, Address | Accessibility):
            locations.add(obj.location_id)
        elif issubclass(kind, CostOption | ServiceArea):
            services.add(obj.service_id)
        elif issubclass(kind, Attribute):
            if obj.link_entity == "service":
                services.add(obj.link_id)
        elif issubclass(kind, TaxonomyTerm):
            terms.add(obj.id)
    services.discard(None)
    locations.discard(None)
    sal_ids.discard(None)
    organizations.discard(None)
    terms.discard(None)
    if organizations:
        services |= set(
            connection.scalars(select(Service.id).where(Service.organization_id.in_(organizations)))
        )
    if sal_ids:
        services |= set(
            connection.scalars(
                select(ServiceAtLocation.service_id).where(ServiceAtLocation.id.in_(sal_ids))
            )
        )
    services |= _services_at_locations(connection, locations)
    if terms:
        tree = select(TaxonomyTerm.id).where(TaxonomyTerm.id.in_(terms)).cte(recursive=True)
        tree = tree.union(select(TaxonomyTerm.id).where(TaxonomyTerm.parent_id == tree.c.id))
        services |= set(
            connection.scalars(
                select(Attribute.link_id).where(
                    Attribute.link_entity == "service",
                    Attribute.taxonomy_term_id.in_(select(tree.c.id)),
                )
            )
        )
    return services


_TRACKED = (
    Service,
    Organization,
    Location,
    ServiceAtLocation,
    Schedule,
    Language,
    Address,
    Accessibility,
    CostOption,
    Attribute,
    TaxonomyTerm,
    ServiceArea,
)
# The columns that tie a row to its services (besides its id), per tracked model.
_LINKS = {
    ServiceAtLocation: ("service_id",),
    Schedule: ("service_id", "location_id", "service_at_location_id"),
    Language: ("service_id", "location_id"),
    Address: ("location_id",),
    Accessibility: ("location_id",),
    CostOption: ("service_id",),
    ServiceArea: ("service_id",),
    Attribute: ("link_entity", "link_id"),
}
NOTE_CHUNK = 500
_FED_KEY = "directory_search_fed"


def _pending(session) -> set:
    return session.info.setdefault(_PENDING_KEY, set())


def note_rows(session: Session, model: type, ids: Collection[uuid.UUID]) -> None:
    """Rows of `model` written by a bulk statement the flush hooks don't see (Core INSERT,
    UPDATE, DELETE): their services go into the change feed at the commit. Call it after an
    insert or update, and before a delete (the rows' links are read from the database)."""
    if not ids or not issubclass(model, _TRACKED):
        return
    ids = list(ids)
    links = next((cols for kind, cols in _LINKS.items() if issubclass(model, kind)), ())
    connection = session.connection()
    for start in range(0, len(ids), NOTE_CHUNK):
        chunk = ids[start : start + NOTE_CHUNK]
        if links:
            table = model.__table__
            query = select(table.c.id, *(table.c[name] for name in links))
            rows = list(connection.execute(query.where(table.c.id.in_(chunk))))
        else:
            rows = [SimpleNamespace(id=row_id) for row_id in chunk]
        _pending(session).update(_affected_service_ids(connection, rows, model))


def _before_flush(session, _flush_context, _instances) -> None:
    # Deleted rows: find their services while the links still exist.
    gone = [o for o in session.deleted if isinstance(o, _TRACKED)]
    if gone:
        _pending(session).update(_affected_service_ids(session.connection(), gone))


def _after_flush(session, _flush_context) -> None:
    changed = [o for o in (*session.new, *session.dirty) if isinstance(o, _TRACKED)]
    if changed:
        _pending(session).update(_affected_service_ids(session.connection(), changed))


def _before_commit(session) -> None:
    """Write the changed services into the feed, in the transaction being committed (a
    savepoint's too: its rows go or stay with it)."""
    session.flush()  # the commit's own flush would come after this hook
    ids = session.info.pop(_PENDING_KEY, None)
    if ids and feed.write(session.connection(), ids):
        session.info[_FED_KEY] = True


def _after_commit(session) -> None:
    if session.in_nested_transaction() or not session.info.pop(_FED_KEY, None):
        return
    if not has_app_context() or not current_app.config.get("SEARCH_SYNC", True):
        return
    follower(current_app).follow(force=True)


def _after_soft_rollback(session, previous_transaction) -> None:
    if previous_transaction.parent is None and not previous_transaction.nested:
        session.info.pop(_PENDING_KEY, None)
        session.info.pop(_FED_KEY, None)


def install_session_hooks() -> None:
    """Follow every session's commits (once per process, whatever the number of apps)."""
    global _hooks_installed
    if _hooks_installed:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _after_soft_rollback)
    _hooks_installed = True


# --- following the feed ------------------------------------------------------------------------

CHECK_SECONDS = 0.3  # a process asks if the feed moved on this often (SEARCH_FEED_CHECK_SECONDS)
RETRY_SECONDS = 5.0  # after a failed apply, the index is left alone this long
HEARTBEAT_SECONDS = 30.0  # how often an index tells the database how far it has applied
EXPIRY_HOURS = 24  # a silent index stops holding back trimming (SEARCH_FEED_EXPIRY_HOURS)
APPLY_WAIT_SECONDS = 2.0  # after its own commit, a process waits this long for another applier
APPLY_CHUNK = 1000  # changes applied (and the position saved) at a time
IN_REQUEST_LIMIT = 500  # more changes behind than this are applied in the background


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str = ""
    behind: int = 0  # changes committed that the index has not applied


class Follower:
    """How this process keeps its index following the feed: a cheap "latest number" check at
    most every `interval` seconds, and when the feed moved on, the new changes applied under the
    index's applier lock (one applier per index; searches never wait for it)."""

    def __init__(self, app: Flask, engine: SearchEngine):
        self.app = app
        self.engine = engine
        self.name = feed.consumer_name(app.config["SEARCH_INDEX_DIR"])
        self.interval = float(app.config.get("SEARCH_FEED_CHECK_SECONDS", CHECK_SECONDS))
        hours = float(app.config.get("SEARCH_FEED_EXPIRY_HOURS", EXPIRY_HOURS))
        self.expiry = timedelta(hours=hours)
        self.needs_rebuild = ""  # why the feed can't bring the index up to date ("": it can)
        self.rebuilding = False
        self._next_check = 0.0
        self._next_heartbeat = 0.0
        self._lock = threading.Lock()  # one thread of this process follows at a time
        self._background_lock = threading.Lock()
        self._background: threading.Thread | None = None

    def position(self) -> feed.Position | None:
        return feed.Position.from_json(self.engine.feed_position())

    def follow(self, force: bool = False, everything: bool = False) -> None:
        """Apply the changes committed since the index's position, if it's time to look (now,
        with `force`); more than IN_REQUEST_LIMIT in the background unless `everything`.
        Never raises for the index: a failure is logged, the index marked stale."""
        now = time.monotonic()
        if not force and now < self._next_check:
            return
        if not self._lock.acquire(blocking=force, timeout=APPLY_WAIT_SECONDS if force else -1):
            return
        try:
            self._next_check = max(self._next_check, now + self.interval)
            self._follow(force, now, everything)
        except IndexUnavailable:
            log.exception("search index position unreadable")
        except SQLAlchemyError as exc:
            log.warning("search index not brought up to date: the database is not ready (%s)", exc)
        finally:
            self._lock.release()

    def _follow(self, force: bool, now: float, everything: bool) -> None:
        position = self.position()
        if position is None or self.needs_rebuild:
            return
        with db.engine.connect() as connection:
            latest = feed.latest(connection)
        heartbeat_due = now >= self._next_heartbeat
        if latest <= position.seen and not position.gaps and not heartbeat_due:
            return
        in_background = threading.current_thread() is self._background
        if latest - position.seen > IN_REQUEST_LIMIT and not (everything or in_background):
            self.catch_up_in_background()  # a big change (an import): never inside a request
            return
        applied = None
        while True:  # a chunk at a time, so a rebuild's swap can come in between
            step = self._apply_chunk(APPLY_WAIT_SECONDS if force else 0.0)
            if step is None:
                return
            applied, more = step
            if not more:
                break
        if heartbeat_due:
            self._next_heartbeat = now + HEARTBEAT_SECONDS
            with db.engine.begin() as connection:
                feed.heartbeat(connection, self.name, applied, self.expiry)

    def _apply_chunk(self, wait: float) -> tuple[int, bool] | None:
        """Apply the next APPLY_CHUNK changes past the index's position and store the new
        position; (its `applied`, whether more are waiting), or None when it can't go on."""
        with self.engine.applying(wait) as mine:
            if not mine:
                return None  # another process is applying to this index now
            position = self.position()
            if position is None:
                return None
            with db.engine.connect() as connection:
                if feed.trimmed(connection) > position.applied:
                    self.needs_rebuild = "the change feed was trimmed past this index's position"
                    log.warning("search index must be rebuilt: %s", self.needs_rebuild)
                    return None
                found, xmin, xmax = feed.changes_after(connection, position, APPLY_CHUNK)
            # The first changes in order: every row up to the last one read is among them, so
            # the numbers missing below it are real gaps.
            ids = set(found.values())
            if ids and not self._apply(ids):
                return None
            advanced = feed.advance(position, found, xmin, xmax)
            if advanced != position:
                self.engine.save_feed_position(advanced.to_json())
            return advanced.applied, len(found) == APPLY_CHUNK

    def _apply(self, ids: set[uuid.UUID]) -> bool:
        try:
            self.engine.index(ids)
        except (IndexUnavailable, SQLAlchemyError):
            # The commits stand; the position stays, so the changes are applied again later.
            log.exception("search index update failed for %d services", len(ids))
            self.engine.mark_stale()
            self._next_check = time.monotonic() + RETRY_SECONDS
            return False
        return True

    def before_search(self) -> None:
        """Apply the feed if it moved on, at most every `interval` seconds. With no index yet
        (none built at start-up), one is built in the background; the search answers from what
        there is meanwhile, never with an error."""
        if time.monotonic() < self._next_check:
            return  # looked a moment ago
        if self.needs_rebuild:
            self.catch_up_in_background()
        elif self.position() is not None:
            self.follow()
        elif not self.app.config.get("SEARCH_CHECK_AT_STARTUP", True):
            self.catch_up_in_background()
        self._next_check = max(self._next_check, time.monotonic() + self.interval)

    def readiness(self) -> Readiness:
        """Whether this process's index holds every committed change. Never waits for the
        work: a missing index is built, and one behind caught up, in the background."""
        self.catch_up_in_background()
        if self.rebuilding:
            return Readiness(False, "the search index is being built")
        if self.needs_rebuild:
            return Readiness(False, self.needs_rebuild)
        position = self.position()
        if position is None:
            return Readiness(False, "the search index has not been built yet")
        with db.engine.connect() as connection:
            latest = feed.latest(connection)
        if latest > position.seen:
            return Readiness(False, "the search index is catching up", latest - position.seen)
        return Readiness(True)

    def catch_up_in_background(self) -> None:
        """Build the index if it has none (or the feed can't bring it up to date), else apply
        the feed, in a thread of this process (one at a time; one builder per index folder)."""
        with self._background_lock:
            if self._background is not None and self._background.is_alive():
                return
            self._background = threading.Thread(
                target=self._catch_up, name="search-catch-up", daemon=True
            )
            self._background.start()

    def wait_for_background(self) -> None:
        """Wait until the background catch-up (if one runs) is done: a command that wrote a
        big change (an import) ends with its index up to date, not mid-apply."""
        with self._background_lock:
            running = self._background
        if running is not None and running is not threading.current_thread():
            running.join()

    def _catch_up(self) -> None:
        with self.app.app_context():
            try:
                if self.position() is None or self.needs_rebuild:
                    self._build()
                self.follow(force=True)
            except Exception:
                log.exception("search index catch-up failed")

    def _build(self) -> None:
        """Rebuild the index unless another process of this host is rebuilding it now."""
        path = Path(f"{self.app.config['SEARCH_INDEX_DIR']}.build.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another process builds it; its swap makes it ours too
            if self.position() is not None and not self.needs_rebuild:
                return  # built meanwhile
            self.rebuilding = True
            try:
                count = self.engine.rebuild()
                self.needs_rebuild = ""
                log.info("search index built: %d services", count)
            finally:
                self.rebuilding = False
        finally:
            os.close(fd)


def follower(app: Flask) -> Follower:
    """The app's follower (made with its engine by `lifecycle.init_app`)."""
    return app.extensions["directory_search_follower"]


def keep_up() -> None:
    """Before answering a search: apply the feed if it moved on (a no-op with SEARCH_SYNC off)."""
    if current_app.config.get("SEARCH_SYNC", True):
        follower(current_app).before_search()
