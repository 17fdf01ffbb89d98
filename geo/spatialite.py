"""Connection set-up for the embedded SQLite + SpatiaLite database."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine

SPATIALITE_LIBRARY = "mod_spatialite"
PAGE_CACHE_KIB = 65536  # each connection's page cache, for searches
BULK_PAGE_CACHE_KIB = 8192  # while a bulk job (an import, an index rebuild) goes through pages once


class SpatiaLiteMissing(RuntimeError):
    pass


def _on_connect(library: str, dbapi_conn, _record):
    try:
        dbapi_conn.enable_load_extension(True)
        dbapi_conn.load_extension(library)
        dbapi_conn.enable_load_extension(False)
    except AttributeError as exc:
        raise SpatiaLiteMissing(
            "this Python's sqlite3 cannot load extensions; use the project's virtualenv "
            "(made from Debian's /usr/bin/python3 by scripts/setup)"
        ) from exc
    except Exception as exc:  # sqlite3.OperationalError; the driver module varies
        raise SpatiaLiteMissing(
            f"SpatiaLite could not be loaded ({exc}); install it with "
            "'apt-get install libsqlite3-mod-spatialite'"
        ) from exc
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 10000")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    # Up to 64 MiB of pages per connection (the default is 2 MiB): loading a page of search
    # results from a 100,000-service directory went from 17 to 11 ms (bench/search.py).
    cursor.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
    if cursor.execute("SELECT CheckSpatialMetaData()").fetchone()[0] < 1:
        cursor.execute("SELECT InitSpatialMetaData(1, 'WGS84')")
    cursor.close()


def configure(engine: Engine, library: str = SPATIALITE_LIBRARY) -> None:
    """Load SpatiaLite (`library`: a name or path, the SPATIALITE_LIBRARY_PATH setting), foreign
    keys, WAL and a busy timeout on every new connection."""
    if engine.dialect.name != "sqlite":
        return
    event.listen(engine, "connect", partial(_on_connect, library))


@contextmanager
def small_page_cache(connection: Connection) -> Iterator[None]:
    """On SQLite, a small page cache for this connection while a bulk job runs: it reads or
    writes each page once, and its pages would otherwise fill the 64 MiB kept for searches on
    top of what the job holds in memory (lowering the size frees the pages above it)."""
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.execute(text("PRAGMA cache_size")).scalar()
    connection.execute(text(f"PRAGMA cache_size = -{BULK_PAGE_CACHE_KIB}"))
    try:
        yield
    finally:
        connection.execute(text(f"PRAGMA cache_size = {int(before)}"))
