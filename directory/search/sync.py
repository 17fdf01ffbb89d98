"""Keeping the index in step with commits.

Session events collect the ids of the services whose listings change at each flush (a service,
its organization, locations, addresses, schedules, languages, categories, service areas) and
apply them in one engine pass after the commit. Rolled-back work never reaches the index,
because documents are always read from committed rows.
"""

import logging
import uuid
from collections.abc import Iterable

from flask import current_app, has_app_context
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
from directory.search.engine import IndexUnavailable, current_engine

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


def _affected_service_ids(connection, objects: Iterable) -> set[uuid.UUID]:
    """The services whose documents change when these objects change."""
    services: set[uuid.UUID] = set()
    locations: set[uuid.UUID] = set()
    sal_ids: set[uuid.UUID] = set()
    organizations: set[uuid.UUID] = set()
    terms: set[uuid.UUID] = set()
    for obj in objects:
        if isinstance(obj, Service):
            services.add(obj.id)
        elif isinstance(obj, Organization):
            organizations.add(obj.id)
        elif isinstance(obj, Location):
            locations.add(obj.id)
        elif isinstance(obj, ServiceAtLocation):
            services.add(obj.service_id)
        elif isinstance(obj, Schedule | Language):
            services.add(obj.service_id)
            locations.add(obj.location_id)
            if isinstance(obj, Schedule):
                sal_ids.add(obj.service_at_location_id)
        elif isinstance(obj, Address | Accessibility):
            locations.add(obj.location_id)
        elif isinstance(obj, CostOption | ServiceArea):
            services.add(obj.service_id)
        elif isinstance(obj, Attribute):
            if obj.link_entity == "service":
                services.add(obj.link_id)
        elif isinstance(obj, TaxonomyTerm):
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


def _pending(session) -> set:
    return session.info.setdefault(_PENDING_KEY, set())


def _before_flush(session, _flush_context, _instances) -> None:
    # Deleted rows: find their services while the links still exist.
    gone = [o for o in session.deleted if isinstance(o, _TRACKED)]
    if gone:
        _pending(session).update(_affected_service_ids(session.connection(), gone))


def _after_flush(session, _flush_context) -> None:
    changed = [o for o in (*session.new, *session.dirty) if isinstance(o, _TRACKED)]
    if changed:
        _pending(session).update(_affected_service_ids(session.connection(), changed))


def _after_commit(session) -> None:
    ids = session.info.pop(_PENDING_KEY, None)
    if not ids or not has_app_context():
        return
    if not current_app.config.get("SEARCH_SYNC", True):
        return
    search_engine = current_engine(current_app)
    try:
        search_engine.index(ids)
    except (IndexUnavailable, SQLAlchemyError):
        # The commit stands; the index is marked stale and rebuilt at the next start-up.
        log.exception("search index update failed for %d services", len(ids))
        search_engine.mark_stale()


def _after_soft_rollback(session, previous_transaction) -> None:
    if previous_transaction.parent is None and not previous_transaction.nested:
        session.info.pop(_PENDING_KEY, None)


def install_session_hooks() -> None:
    """Follow every session's commits (once per process, whatever the number of apps)."""
    global _hooks_installed
    if _hooks_installed:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _after_soft_rollback)
    _hooks_installed = True
