"""Connection set-up for the embedded SQLite + SpatiaLite database."""

from functools import partial

from sqlalchemy import event
from sqlalchemy.engine import Engine

SPATIALITE_LIBRARY = "mod_spatialite"


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
    cursor.execute("PRAGMA cache_size = -65536")
    if cursor.execute("SELECT CheckSpatialMetaData()").fetchone()[0] < 1:
        cursor.execute("SELECT InitSpatialMetaData(1, 'WGS84')")
    cursor.close()


def configure(engine: Engine, library: str = SPATIALITE_LIBRARY) -> None:
    """Load SpatiaLite (`library`: a name or path, the SPATIALITE_LIBRARY_PATH setting), foreign
    keys, WAL and a busy timeout on every new connection."""
    if engine.dialect.name != "sqlite":
        return
    event.listen(engine, "connect", partial(_on_connect, library))
