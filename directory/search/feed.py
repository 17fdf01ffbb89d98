"""The search change feed: which services changed, in commit order, for every index to follow.

Every commit that changes what a service shows adds one `search_change` row per service, in
the same transaction (`sync` writes them just before the commit), so the database says what
changed and no commit can be missed: an index on any host applies the rows past its position
(`Position`), stored with the index after the index commit (a crash mid-apply re-applies).

Sequence numbers are allocated when a row is inserted (in time order: the sequence caches no
numbers per session) but seen when its transaction commits.
On SQLite one writer runs at a time, so a number missing below the highest seen is never filled
later. On PostgreSQL a transaction that took number 10 may commit after the one that took 11:
a follower that has seen 11 but not 10 keeps 10 as a *gap*, with the `xmax` of the snapshot it
was first missed in. The writer takes its transaction id before its numbers, so the transaction
holding 10 has an id below that xmax, and holds the lock its INSERT took until it ends. Once a
snapshot's `xmin` (every transaction below it has ended) reaches that xmax, or no lock holder
below it is left (looked up after the rows are read; a long transaction elsewhere in the cluster
holds xmin back, not this), a number still missing was rolled back and is dropped. Until then
the position's `applied` (below it nothing can appear any more) stays below the gap, and what
above it was applied already is remembered in `seen`.

`search_consumer` lists the indexes following the feed (one per host and index folder) with
their `applied` number and a heartbeat; rows every live index has applied are deleted, and the
highest number deleted is kept (the `TRIMMED` row) so a new index knows where the feed starts.
"""

import socket
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Integer, String, delete, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from extensions import UTCDateTime, db, utcnow

TRIMMED = "~trimmed"  # the consumer row holding the highest sequence number trimmed away
WRITE_CHUNK = 1000

_Seq = BigInteger().with_variant(Integer, "sqlite")  # SQLite: a rowid alias (AUTOINCREMENT)


class SearchChange(db.Model):
    """A service whose listing changed in a committed transaction (one row per service)."""

    __tablename__ = "search_change"
    __table_args__ = {"sqlite_autoincrement": True}  # numbers are never reused

    seq: Mapped[int] = mapped_column(_Seq, primary_key=True, autoincrement=True)
    service_id: Mapped[uuid.UUID] = mapped_column(db.Uuid)
    changed_at: Mapped[Any] = mapped_column(UTCDateTime, default=utcnow)


class SearchConsumer(db.Model):
    """An index following the feed: how far it has applied it, and when it last said so."""

    __tablename__ = "search_consumer"

    name: Mapped[str] = mapped_column(String(500), primary_key=True)
    applied_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    heartbeat_at: Mapped[Any] = mapped_column(UTCDateTime, default=utcnow)


def consumer_name(index_location: str) -> str:
    """This host's name for an index: the host and the index's folder."""
    return f"{socket.gethostname()}:{Path(index_location).resolve()}"


def _postgres(connection) -> bool:
    return connection.dialect.name == "postgresql"


# --- writing (inside the committing transaction) -----------------------------------------------


def write(connection, service_ids: Iterable[uuid.UUID]) -> int:
    """Add one change row per service, in the caller's transaction; returns how many."""
    ids = sorted(set(service_ids) - {None})
    if not ids:
        return 0
    if _postgres(connection):
        # The transaction id first: a follower that misses one of our numbers waits for it.
        connection.execute(text("SELECT pg_current_xact_id()"))
    now = utcnow()
    table = SearchChange.__table__
    for start in range(0, len(ids), WRITE_CHUNK):
        rows = [{"service_id": i, "changed_at": now} for i in ids[start : start + WRITE_CHUNK]]
        connection.execute(insert(table), rows)
    return len(ids)


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """How far an index has followed the feed.

    Every change numbered up to `applied` is in the index, and no change at or below it can
    still appear. Every change in (`applied`, `seen`] is in the index too, except the `gaps`:
    numbers not seen yet, each with the snapshot xmax it was first missed in (PostgreSQL).
    """

    applied: int = 0
    seen: int = 0
    gaps: Mapping[int, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"applied": self.applied, "seen": self.seen, "gaps": dict(self.gaps)}

    @classmethod
    def from_json(cls, data: Mapping | None) -> "Position | None":
        if not data:
            return None
        gaps = {int(k): int(v) for k, v in (data.get("gaps") or {}).items()}
        return cls(int(data["applied"]), int(data["seen"]), gaps)


def latest(connection) -> int:
    """The highest change number committed (0: none); an index-only look-up."""
    return connection.execute(select(func.max(SearchChange.seq))).scalar() or 0


def trimmed(connection) -> int:
    """The highest number deleted from the feed (0: none)."""
    found = connection.execute(
        select(SearchConsumer.applied_seq).where(SearchConsumer.name == TRIMMED)
    ).scalar()
    return found or 0


def _xmin(connection) -> int | None:
    """Every transaction with a lower id has ended (PostgreSQL); None on SQLite."""
    if not _postgres(connection):
        return None
    return connection.execute(
        text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
    ).scalar_one()


_AFTER = text(
    """
    SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
           (SELECT array_agg(a.backend_xid::text::bigint)
              FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'relation' AND l.relation = 'search_change'::regclass
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.mode = 'RowExclusiveLock' AND a.pid <> pg_backend_pid())
    """
)


def _after(connection, xmin: int | None) -> tuple[int | None, int | None]:
    """(xmax, the lowest id of a transaction that may still add a change), read after the rows.

    Besides `xmin` (read before the rows), a transaction that took a number and has not ended
    still holds the lock its INSERT into search_change took, with an id below the xmax of the
    snapshot the gap was missed in: when no such holder is left, the gap is dead, even if a
    long transaction elsewhere in the cluster holds xmin back.
    """
    if xmin is None:
        return None, None
    xmax, writers = connection.execute(_AFTER).one()
    if not writers:
        return xmax, xmax
    if None in writers:  # a holder whose id we may not see (another role): trust xmin alone
        return xmax, xmin
    epoch, low = xmax >> 32, xmax & 0xFFFFFFFF  # backend_xid is 32 bits: widen it like xmax
    full = [(epoch << 32 | x) if x <= low else ((epoch - 1) << 32 | x) for x in writers]
    return xmax, max(xmin, min(full))


def advance(position: Position, found: Iterable[int], xmin: int | None, xmax: int | None):
    """The position after applying the changes numbered `found` (every row past `seen`, and
    the gaps that appeared). `xmin`: every transaction below it that could add a change had
    ended; `xmax`: that of a snapshot taken after the rows were read (both None on SQLite,
    where a missing number is never filled later)."""
    found = set(found)
    seen = max([position.seen, *found])
    gaps = {g: x for g, x in position.gaps.items() if g not in found}
    for number in range(position.seen + 1, seen + 1):
        if number not in found:
            gaps[number] = xmax or 0
    if xmin is None:
        gaps = {}
    else:  # transactions below xmin have ended: a number still missing was rolled back
        gaps = {g: x for g, x in gaps.items() if x > xmin}
    applied = min(gaps) - 1 if gaps else seen
    return Position(applied, seen, gaps)


def changes_after(
    connection, position: Position, limit: int | None = None
) -> tuple[dict[int, uuid.UUID], int | None, int | None]:
    """({number: service id} of the first `limit` changes past `seen` or filling its gaps, in
    order; the id below which every transaction that could add a change has ended; the xmax
    of a snapshot after reading them)."""
    xmin = _xmin(connection)
    table = SearchChange.__table__
    wanted = table.c.seq > position.seen
    if position.gaps:
        wanted = wanted | table.c.seq.in_(sorted(position.gaps))
    query = select(table.c.seq, table.c.service_id).where(wanted).order_by(table.c.seq)
    rows = connection.execute(query.limit(limit))
    found = {seq: service_id for seq, service_id in rows}
    xmax, ended_below = _after(connection, xmin)
    return found, ended_below, xmax


def start_position(connection) -> Position:
    """Where a new index built from the rows committed now starts following: every change
    committed so far is in it; numbers missing above the trimmed ones are gaps to watch."""
    xmin = _xmin(connection)
    floor = trimmed(connection)
    table = SearchChange.__table__
    numbers = connection.execute(select(table.c.seq).where(table.c.seq > floor)).scalars().all()
    xmax, ended_below = _after(connection, xmin)
    return advance(Position(floor, floor), numbers, ended_below, xmax)


# --- consumers and trimming --------------------------------------------------------------------


def _upsert(connection, name: str, applied: int, *, keep_higher: bool) -> None:
    table = SearchConsumer.__table__
    now = utcnow()
    dialect_insert = postgresql.insert if _postgres(connection) else sqlite.insert
    higher = func.greatest if _postgres(connection) else func.max  # SQLite: max(a, b)
    statement = dialect_insert(table).values(name=name, applied_seq=applied, heartbeat_at=now)
    new = higher(table.c.applied_seq, applied) if keep_higher else applied
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.name], set_={"applied_seq": new, "heartbeat_at": now}
    )
    connection.execute(statement)


def hold(connection, name: str) -> None:
    """Join the consumers at the start of the feed before building an index from scratch, so
    nothing it will need is trimmed while it builds (its heartbeats then move it on)."""
    _upsert(connection, name, trimmed(connection), keep_higher=False)


def heartbeat(connection, name: str, applied: int, expiry: timedelta) -> int:
    """Record how far this index has applied the feed, forget consumers silent for longer than
    `expiry`, and delete the changes every remaining one has applied; returns how many."""
    table = SearchConsumer.__table__
    _upsert(connection, name, applied, keep_higher=False)
    connection.execute(
        delete(table).where(table.c.name != TRIMMED, table.c.heartbeat_at < utcnow() - expiry)
    )
    floor = connection.execute(
        select(func.min(table.c.applied_seq)).where(table.c.name != TRIMMED)
    ).scalar()
    if not floor or floor <= trimmed(connection):
        return 0
    removed = connection.execute(delete(SearchChange).where(SearchChange.seq <= floor)).rowcount
    _upsert(connection, TRIMMED, floor, keep_higher=True)
    return removed
