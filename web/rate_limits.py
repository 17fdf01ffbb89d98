"""Rate-limit counters in the app's own database: `RATELIMIT_STORAGE_URI=database://`.

Flask-Limiter keeps its counters in a `limits` storage; memory:// is per process, so two
gunicorn workers or two hosts each allowed the full limit. This storage keeps them in the
`rate_limit` table, which every process of the app already shares, with no extra server.
It serves Flask-Limiter's default fixed-window strategy: one row per key, incremented
atomically by `INSERT … ON CONFLICT DO UPDATE … RETURNING` (PostgreSQL, and SQLite 3.35+).

Each call runs in its own short transaction on its own pooled connection (`engine.begin()`),
never in the request's session: a count must persist even when the request that made it
fails and rolls back. Times are the app hosts' clocks (epoch seconds), not the database's.
"""

import hashlib
import logging
import re
import shlex
import time

from flask import Flask
from limits.storage import Storage
from sqlalchemy import Column, Double, Index, Integer, String, Table, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from extensions import db

log = logging.getLogger(__name__)

SCHEME = "database"
KEY_LENGTH = 1000  # Flask-Limiter keys carry the email a sign-in is for (up to 320 characters)


def stored_key(key: str) -> str:
    """The key as stored: as it is when a text column can hold it, else a digest of it (a key
    carries what a client typed, and PostgreSQL text refuses NUL bytes)."""
    if key.isprintable() and len(key) <= KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


rate_limit = Table(
    "rate_limit",
    db.metadata,
    Column("key", String(KEY_LENGTH), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("expires_at", Double, nullable=False),  # epoch seconds
    Index("ix_rate_limit_expires_at", "expires_at"),
)

_INCREMENT = text(
    """
    INSERT INTO rate_limit (key, count, expires_at) VALUES (:key, :amount, :now + :expiry)
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN rate_limit.expires_at <= :now THEN :amount
                     ELSE rate_limit.count + :amount END,
        expires_at = CASE WHEN rate_limit.expires_at <= :now THEN :now + :expiry
                          ELSE rate_limit.expires_at END
    RETURNING count
    """
)


class DatabaseStorage(Storage):
    """A `limits` storage over the current app's database (fixed window; no moving window)."""

    STORAGE_SCHEME = [SCHEME]
    CLEANUP_INTERVAL = 300.0  # seconds between sweeps of expired rows, per process

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.clock = time.time
        self._next_cleanup = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    @property
    def _engine(self) -> Engine:
        return db.engine  # the current app's: one storage object serves whichever app runs

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the key's count in its window (a new window once it expired)."""
        now = self.clock()
        with self._engine.begin() as connection:
            count = connection.execute(
                _INCREMENT, {"key": stored_key(key), "amount": amount, "now": now, "expiry": expiry}
            ).scalar_one()
        if now >= self._next_cleanup:
            self._next_cleanup = now + self.CLEANUP_INTERVAL
            self.remove_expired(now)
        return count

    def get(self, key: str) -> int:
        with self._engine.connect() as connection:
            count = connection.scalar(
                rate_limit.select()
                .with_only_columns(rate_limit.c.count)
                .where(rate_limit.c.key == stored_key(key), rate_limit.c.expires_at > self.clock())
            )
        return count or 0

    def get_expiry(self, key: str) -> float:
        now = self.clock()
        with self._engine.connect() as connection:
            expires_at = connection.scalar(
                rate_limit.select()
                .with_only_columns(rate_limit.c.expires_at)
                .where(rate_limit.c.key == stored_key(key), rate_limit.c.expires_at > now)
            )
        return expires_at if expires_at is not None else now

    def check(self) -> bool:
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self._engine.begin() as connection:
            return connection.execute(rate_limit.delete()).rowcount

    def clear(self, key: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(rate_limit.delete().where(rate_limit.c.key == stored_key(key)))

    def remove_expired(self, now: float | None = None) -> int:
        """Delete rows whose window is over (their keys start again from nothing anyway)."""
        with self._engine.begin() as connection:
            return connection.execute(
                rate_limit.delete().where(rate_limit.c.expires_at <= (now or self.clock()))
            ).rowcount


# -- which storage an app gets ----------------------------------------------------------------


def configured_workers(environ) -> int:
    """Worker processes this server runs, as gunicorn counts them: --workers/-w in
    GUNICORN_CMD_ARGS, else WEB_CONCURRENCY, else 1."""
    args = shlex.split(environ.get("GUNICORN_CMD_ARGS", ""))
    for n, arg in enumerate(args):
        if arg in ("-w", "--workers") and n + 1 < len(args):
            return _count(args[n + 1])
        if match := re.fullmatch(r"(?:--workers=|-w)(\d+)", arg):
            return _count(match.group(1))
    return _count(environ.get("WEB_CONCURRENCY", "1"))


def _count(value: str) -> int:
    return int(value) if value.strip().isdigit() else 1


def shared_by_several_processes(database_uri: str, workers: int) -> bool:
    """PostgreSQL means (possibly) several hosts; several workers mean several processes."""
    return database_uri.startswith("postgresql") or workers > 1


def default_storage_uri(database_uri: str, workers: int) -> str:
    """database:// where counters must be shared between processes, memory:// otherwise."""
    return f"{SCHEME}://" if shared_by_several_processes(database_uri, workers) else "memory://"


def warn_if_per_process(app: Flask) -> None:
    """Log a warning at start-up when the configured storage can't hold a limit across
    the processes that serve this app."""
    uri = app.config["RATELIMIT_STORAGE_URI"]
    database, workers = app.config["SQLALCHEMY_DATABASE_URI"], app.config["WORKERS"]
    if uri.startswith("memory://") and shared_by_several_processes(database, workers):
        app.logger.warning(
            "RATELIMIT_STORAGE_URI is memory:// with %s: each process counts sign-in "
            "attempts on its own, so the limits multiply. Use database:// (or a Redis URI).",
            "PostgreSQL" if database.startswith("postgresql") else f"{workers} workers",
        )
