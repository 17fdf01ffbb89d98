"""Shared fixtures: an app on a real SpatiaLite or PostGIS database, clients, a browser.

Every test that takes `app` runs twice, once per database. SpatiaLite: the schema is migrated once
into a template file, copied per test. PostGIS: migrated once per session, tables truncated after
each test (real commits, so concurrency and all-or-nothing imports are tested for real).
"""

import os
import shutil
import threading
import uuid
from pathlib import Path

import pytest
from werkzeug.serving import make_server

DATABASES = [d.strip() for d in os.environ.get("WRAP_TEST_DATABASES", "sqlite,postgres").split(",")]
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SHARED = Path(__file__).resolve().parents[1].parent / "shared"

pytest_plugins = ["tests.fixtures_accounts"]

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "WTF_CSRF_ENABLED": False,
    "RATELIMIT_ENABLED": False,
    "SERVER_NAME": None,
}


def pytest_configure(config):
    if IN_CI and "postgres" not in DATABASES:
        raise pytest.UsageError(
            "CI=true runs the suite on PostGIS too: WRAP_TEST_DATABASES lacks postgres"
        )


def pytest_report_header(config):
    return f"wraparound databases: {', '.join(DATABASES)}"


def _make_app(database_url: str, index_dir: Path, **extra):
    from app import create_app

    return create_app(
        {
            **BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SEARCH_INDEX_DIR": str(index_dir),
            "IMPORT_REPORT_DIR": str(index_dir.parent / "import-reports"),
            **extra,
        }
    )


def _migrate(app) -> None:
    from flask_migrate import upgrade

    from extensions import db

    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(_make_app(f"sqlite:///{path}", path.parent / "index"))
    return path


# One database per test process and per run, so parallel runs never drop each other's database.
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)[:10]


def _postgres_database_name(worker_id: str) -> str:
    return f"wraparound_test_{RUN_ID}_{worker_id}"


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory, worker_id):
    """A fresh PostGIS database for this test process, migrated once."""
    import psycopg

    name = _postgres_database_name(worker_id)
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: the PostGIS run may not be skipped)", pytrace=False)
        pytest.skip(message)
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    try:
        _migrate(_make_app(url, tmp_path_factory.mktemp("pgindex")))
    except Exception as exc:
        if "postgis" in str(exc).lower() and not IN_CI:
            pytest.skip(f"PostGIS is not installed: {exc}")
        raise
    yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    raise ValueError(f"unknown test database {request.param!r}")


def _truncate_all(app) -> None:
    from sqlalchemy import text

    from extensions import db

    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build another app on the test database (e.g. with CSRF or rate limits switched on)."""
    apps = []

    def factory(**config):
        app = _make_app(database_url, tmp_path / "search-index", **config)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        _truncate_all(app)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def db(app):
    """The SQLAlchemy handle, inside an app context."""
    from extensions import db as _db

    with app.app_context():
        yield _db
        _db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def htmx_client(app):
    """A client whose requests look like htmx's, to check partial responses."""
    client = app.test_client()
    client.environ_base["HTTP_HX_REQUEST"] = "true"
    return client


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def shared_data() -> Path:
    """../shared: public data and the HSDS spec."""
    assert SHARED.is_dir(), f"expected the shared folder at {SHARED}"
    return SHARED


@pytest.fixture
def live_server(app):
    """The app served on a loopback port in a thread, for the browser."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    thread.join(timeout=5)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A phone-sized page (360 px wide), as most members use."""
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
