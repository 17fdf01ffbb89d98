"""Rate limits kept in the app's own database, so every host and worker draws on one count.

`RATELIMIT_STORAGE_URI=database://` (the default on PostgreSQL, or with several workers) keeps
Flask-Limiter's counters in the `rate_limit` table; memory:// and Redis URIs still work, and
memory:// where it can't hold is warned about at start-up.
"""

import json
import logging
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]


# -- the storage itself, on both databases ------------------------------------------------------


@pytest.fixture
def storage(app):
    from limits.storage import storage_from_string

    with app.app_context():
        yield storage_from_string("database://")


def test_the_database_scheme_is_a_limits_storage(storage):
    from limits.storage import Storage

    from web.rate_limits import DatabaseStorage

    assert isinstance(storage, DatabaseStorage) and isinstance(storage, Storage)
    assert storage.check()


def test_counts_grow_within_a_window_and_start_again_after_it(storage):
    now = [1_000_000.0]
    storage.clock = lambda: now[0]
    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.incr("k", 60, amount=2) == 5
    assert storage.get("k") == 5
    assert storage.get_expiry("k") == pytest.approx(1_000_060.0)
    assert storage.get("other") == 0
    now[0] += 59.9
    assert storage.get("k") == 5
    now[0] += 0.2  # the window is over: the count starts again, with a new expiry
    assert storage.get("k") == 0
    assert storage.incr("k", 60) == 1
    assert storage.get_expiry("k") == pytest.approx(1_000_120.1)


def test_clear_and_reset(storage):
    storage.incr("a", 60)
    storage.incr("b", 60)
    storage.clear("a")
    assert (storage.get("a"), storage.get("b")) == (0, 1)
    assert storage.reset() == 1
    assert storage.get("b") == 0


def test_expired_rows_are_removed(storage, db):
    now = [2_000_000.0]
    storage.clock = lambda: now[0]
    for n in range(5):
        storage.incr(f"old{n}", 10)
    storage.incr("long", 3600)
    now[0] += storage.CLEANUP_INTERVAL + 1
    storage.incr("new", 10)  # a write after the interval sweeps expired rows
    keys = db.session.scalars(text("SELECT key FROM rate_limit ORDER BY key")).all()
    assert keys == ["long", "new"]


def test_concurrent_increments_are_atomic(app, storage):
    """Eight threads (each its own connection) add 25 each: every count is handed out once."""
    seen, errors = [], []

    def worker():
        try:
            with app.app_context():
                for _ in range(25):
                    seen.append(storage.incr("shared", 60))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(seen) == list(range(1, 201))
    assert storage.get("shared") == 200


# -- which storage an app gets, and the warning -------------------------------------------------


@pytest.fixture
def build(monkeypatch, tmp_path):
    """create_app() with this environment (no database connection is made)."""
    from app import create_app

    def factory(database_url: str, **variables):
        for name in ("RATELIMIT_STORAGE_URI", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS"):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "x",
                "SQLALCHEMY_DATABASE_URI": database_url,
                "SEARCH_INDEX_DIR": str(tmp_path / "index"),
                "SEARCH_CHECK_AT_STARTUP": False,
                # Flask-Limiter's one Limiter keeps the last app's "enabled" as its default.
                "RATELIMIT_ENABLED": True,
            }
        )

    return factory


SQLITE = "sqlite:///{tmp}/limits.db"
POSTGRES = "postgresql+psycopg://someone@db.example.internal/wraparound"


@pytest.mark.parametrize(
    ("database", "variables", "expected"),
    [
        (SQLITE, {}, "memory://"),
        (SQLITE, {"WEB_CONCURRENCY": "2"}, "database://"),
        (SQLITE, {"GUNICORN_CMD_ARGS": "--bind 0.0.0.0:8000 --workers 3"}, "database://"),
        (SQLITE, {"GUNICORN_CMD_ARGS": "-w 1"}, "memory://"),
        (POSTGRES, {}, "database://"),
        (POSTGRES, {"RATELIMIT_STORAGE_URI": "memory://"}, "memory://"),
        (SQLITE, {"RATELIMIT_STORAGE_URI": "database://"}, "database://"),
    ],
)
def test_the_default_storage_is_the_database_where_several_processes_share_it(
    build, tmp_path, database, variables, expected
):
    from extensions import limiter

    app = build(database.format(tmp=tmp_path), **variables)
    assert app.config["RATELIMIT_STORAGE_URI"] == expected
    kind = {"memory://": "MemoryStorage", "database://": "DatabaseStorage"}[expected]
    assert type(limiter.storage).__name__ == kind


@pytest.mark.parametrize(
    ("database", "variables", "warned"),
    [
        (POSTGRES, {"RATELIMIT_STORAGE_URI": "memory://"}, True),
        (SQLITE, {"RATELIMIT_STORAGE_URI": "memory://", "WEB_CONCURRENCY": "4"}, True),
        (SQLITE, {"RATELIMIT_STORAGE_URI": "memory://", "GUNICORN_CMD_ARGS": "--workers=2"}, True),
        (SQLITE, {"RATELIMIT_STORAGE_URI": "memory://"}, False),
        (SQLITE, {}, False),
        (POSTGRES, {}, False),
    ],
)
def test_memory_storage_where_it_cannot_hold_is_warned_about(
    build, tmp_path, caplog, database, variables, warned
):
    with caplog.at_level(logging.WARNING, logger="app"):
        build(database.format(tmp=tmp_path), **variables)
    warnings = [r.getMessage() for r in caplog.records if "RATELIMIT_STORAGE_URI" in r.getMessage()]
    assert bool(warnings) == warned, warnings
    if warned:
        assert "memory://" in warnings[0] and "database://" in warnings[0]


def test_a_redis_uri_is_kept(build, tmp_path):
    pytest.importorskip("redis")
    from extensions import limiter

    app = build(POSTGRES, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0")
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    assert type(limiter.storage).__name__ == "RedisStorage"


# -- two real processes on one database share the sign-in limit ---------------------------------

SERVE = """
import logging
from werkzeug.serving import make_server
from app import create_app

logging.getLogger("werkzeug").setLevel(logging.WARNING)

app = create_app({"SEARCH_CHECK_AT_STARTUP": False})
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


def _serve(env: dict) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", SERVE],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    port = process.stdout.readline().strip()
    assert port.isdigit(), f"the app did not start (exit {process.poll()})"
    return process, f"http://127.0.0.1:{port}"


def _token_status(base: str, email: str) -> int:
    request = urllib.request.Request(
        f"{base}/api/v1/auth/token",
        data=json.dumps({"email": email, "password": "not the password"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_two_processes_on_one_database_share_the_sign_in_limit(app, database_url, tmp_path):
    """40 failed sign-ins with rotating emails, alternately to two app processes: 20 in all
    are answered (the per-address limit), not 20 per process."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url.replace("+psycopg", ""),
        "SECRET_KEY": "two-processes",
        "SEARCH_INDEX_DIR": str(tmp_path / "index"),
    }
    env.pop("RATELIMIT_STORAGE_URI", None)  # the default: PostgreSQL means several hosts
    if database_url.startswith("sqlite"):
        env["WEB_CONCURRENCY"] = "2"  # one host, two workers
    processes = []
    try:
        for _ in range(2):
            processes.append(_serve(env))
        statuses = [_token_status(processes[n % 2][1], f"guess{n}@example.org") for n in range(40)]
    finally:
        for process, _ in processes:
            process.terminate()
            process.wait(timeout=10)
            process.stdout.close()
    assert statuses.count(401) == 20, statuses
    assert statuses.count(429) == 20, statuses
    assert statuses[20:] == [429] * 20


def test_the_limit_holds_in_the_database_across_app_instances(make_app, create_user):
    """The same, through two app objects in this process: each request's count is in the table."""
    from extensions import db

    first = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="database://")
    second = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="database://")
    user = create_user()
    clients = [first.test_client(), second.test_client()]
    statuses = [
        clients[n % 2].post("/login", data={"email": user.email, "password": "wrong!"}).status_code
        for n in range(7)
    ]
    assert statuses == [200] * 5 + [429] * 2
    with first.app_context():
        counts = db.session.execute(text("SELECT key, count FROM rate_limit")).all()
    assert any("sign-in-email" in key and count == 5 for key, count in counts), counts
