"""Application factory: configuration, extensions, blueprints. No routes live here."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from extensions import csrf, db, htmx, limiter, login_manager, migrate
from web import rate_limits, security, unit_of_work
from web.errors import register_error_handlers
from web.guards import register_guards


def _database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'wraparound.db'}"
    # One driver for PostgreSQL everywhere: psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key(instance_path: str) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in instance/."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    test_config = test_config or {}

    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=_database_url(app.instance_path),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        SPATIALITE_LIBRARY_PATH=os.environ.get("SPATIALITE_LIBRARY_PATH", "mod_spatialite"),
        SEARCH_INDEX_DIR=os.environ.get("SEARCH_INDEX_DIR")
        or str(Path(app.instance_path) / "search-index"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=int(os.environ.get("SESSION_HOURS", "12"))),
        SESSION_IDLE_MINUTES=int(os.environ.get("SESSION_IDLE_MINUTES", "60")),
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
        # Empty: database:// on PostgreSQL or with several workers, else memory:// (below).
        RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI", ""),
        WORKERS=rate_limits.configured_workers(os.environ),
        RATELIMIT_HEADERS_ENABLED=True,
        LOGIN_RATE_LIMIT_PER_IP=os.environ.get("LOGIN_RATE_LIMIT_PER_IP", "20 per minute"),
        LOGIN_RATE_LIMIT_PER_EMAIL=os.environ.get("LOGIN_RATE_LIMIT_PER_EMAIL", "5 per minute"),
        RESET_RATE_LIMIT_PER_IP=os.environ.get("RESET_RATE_LIMIT_PER_IP", "10 per hour"),
        RESET_RATE_LIMIT_PER_EMAIL=os.environ.get("RESET_RATE_LIMIT_PER_EMAIL", "3 per hour"),
        CLAIM_RATE_LIMIT_PER_IP=os.environ.get("CLAIM_RATE_LIMIT_PER_IP", "5 per hour"),
        SUGGEST_RATE_LIMIT_PER_IP=os.environ.get("SUGGEST_RATE_LIMIT_PER_IP", "10 per hour"),
        # A suggested fix sent sooner than this after its form opened is refused (bots).
        SUGGEST_MIN_SECONDS=int(os.environ.get("SUGGEST_MIN_SECONDS", "3")),
        # Listings nobody verified for this long are flagged (agency page, admins, reminder).
        LISTING_STALE_DAYS=int(os.environ.get("LISTING_STALE_DAYS", "180")),
        MAIL_SERVER=os.environ.get("MAIL_SERVER", "127.0.0.1"),
        MAIL_PORT=int(os.environ.get("MAIL_PORT", "25")),
        MAIL_FROM=os.environ.get("MAIL_FROM", "Wraparound <no-reply@wraparound.local>"),
        MAIL_USE_STARTTLS=os.environ.get("MAIL_USE_STARTTLS", "0") == "1",
        MAIL_USERNAME=os.environ.get("MAIL_USERNAME", ""),
        MAIL_PASSWORD=os.environ.get("MAIL_PASSWORD", ""),
        MAIL_CONNECT_TIMEOUT=float(os.environ.get("MAIL_CONNECT_TIMEOUT", "5")),
        MAIL_TIMEOUT=float(os.environ.get("MAIL_TIMEOUT", "10")),
        MAIL_MAX_CONNECT_FAILURES=int(os.environ.get("MAIL_MAX_CONNECT_FAILURES", "3")),
        REFERRAL_HOLIDAYS=os.environ.get("REFERRAL_HOLIDAYS", ""),
        OUTCOME_REMINDER_DAYS=int(os.environ.get("OUTCOME_REMINDER_DAYS", "10")),
        REFERRAL_LINK_DAYS=int(os.environ.get("REFERRAL_LINK_DAYS", "14")),
        MEMBER_STATUS_LINK_DAYS=int(os.environ.get("MEMBER_STATUS_LINK_DAYS", "30")),
        # "package.module:callable" sending a text message, send(to, text); empty: SMS waits.
        SMS_BACKEND=os.environ.get("SMS_BACKEND", ""),
        HSDS_PROFILE_URL=os.environ.get("HSDS_PROFILE_URL", ""),
        MAX_CONTENT_LENGTH=int(os.environ.get("MAX_CONTENT_LENGTH", str(2 * 1024 * 1024))),
        TRUSTED_PROXY_COUNT=int(os.environ.get("TRUSTED_PROXY_COUNT", "0")),
        PUBLIC_BASE_URL=os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        MAP_TILE_URL=os.environ.get("MAP_TILE_URL", ""),
        MAP_TILE_ATTRIBUTION=os.environ.get("MAP_TILE_ATTRIBUTION", ""),
        DEFAULT_TIMEZONE=os.environ.get("DEFAULT_TIMEZONE", "America/New_York"),
        # Postings a rebuild sorts in memory (MB, by Whoosh's estimate); 0: the engine's default.
        SEARCH_INDEX_MEMORY_MB=int(os.environ.get("SEARCH_INDEX_MEMORY_MB", "0")),
        # How often (seconds) each process asks whether other processes changed the directory.
        SEARCH_FEED_CHECK_SECONDS=float(os.environ.get("SEARCH_FEED_CHECK_SECONDS", "0.3")),
        # An index that has not applied the change feed for this long stops holding back its
        # trimming (and is rebuilt when it comes back).
        SEARCH_FEED_EXPIRY_HOURS=float(os.environ.get("SEARCH_FEED_EXPIRY_HOURS", "24")),
        # Anonymous search answers each process keeps until the next change (0: none).
        SEARCH_RESULT_CACHE_SIZE=int(os.environ.get("SEARCH_RESULT_CACHE_SIZE", "256")),
        # Part of every search ETag: set it to the release id so a deploy changes them all.
        APP_VERSION=os.environ.get("APP_VERSION", ""),
        IMPORT_REPORT_DIR=os.environ.get("IMPORT_REPORT_DIR", ""),  # else instance/import-reports
        IMPORT_MAX_UNZIPPED_BYTES=int(
            os.environ.get("IMPORT_MAX_UNZIPPED_BYTES", str(2 * 1024 * 1024 * 1024))
        ),
        # JSON files are parsed whole (about ten times their size in memory); CSV row by row.
        IMPORT_MAX_JSON_BYTES=int(os.environ.get("IMPORT_MAX_JSON_BYTES", str(256 * 1024 * 1024))),
        # An export uploaded at /admin/imports/upload is kept in the database until imported.
        IMPORT_UPLOAD_MAX_BYTES=int(
            os.environ.get("IMPORT_UPLOAD_MAX_BYTES", str(50 * 1024 * 1024))
        ),
        # A job worker that reports no progress for this long is taken for dead: its job is
        # claimed again, up to JOB_MAX_ATTEMPTS times in all, then marked failed.
        JOB_LEASE_SECONDS=int(os.environ.get("JOB_LEASE_SECONDS", "600")),
        JOB_MAX_ATTEMPTS=int(os.environ.get("JOB_MAX_ATTEMPTS", "3")),
        DEFAULT_PHONE_REGION=os.environ.get("DEFAULT_PHONE_REGION", "US"),
        CONTENT_SECURITY_POLICY=os.environ.get("CONTENT_SECURITY_POLICY", ""),
        HSTS_SECONDS=int(os.environ.get("HSTS_SECONDS", "31536000")),
        IDEMPOTENCY_KEY_HOURS=int(os.environ.get("IDEMPOTENCY_KEY_HOURS", "24")),
    )
    if "SECRET_KEY" not in test_config:
        app.config["SECRET_KEY"] = _secret_key(app.instance_path)
    app.config.from_mapping(test_config)
    if not app.config["RATELIMIT_STORAGE_URI"]:
        app.config["RATELIMIT_STORAGE_URI"] = rate_limits.default_storage_uri(
            app.config["SQLALCHEMY_DATABASE_URI"], app.config["WORKERS"]
        )
    rate_limits.warn_if_per_process(app)

    if app.config["TRUSTED_PROXY_COUNT"]:
        # Behind a reverse proxy: the audit log and rate limits need the client's real address.
        n = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    htmx.init_app(app)
    from accounts.limits import count_refused_request

    # After the limiter, and refused sign-ins and resets still count against their limits.
    register_guards(app, on_refusal=[count_refused_request])

    from geo import spatialite

    with app.app_context():
        spatialite.configure(db.engine, app.config["SPATIALITE_LIBRARY_PATH"])

    _register_blueprints(app)
    _register_commands(app)
    register_error_handlers(app)
    security.init_app(app)
    unit_of_work.init_app(app)

    from directory import search

    search.init_app(app)
    return app


def _register_blueprints(app: Flask) -> None:
    import accounts.models  # noqa: F401  (every model is known to metadata and migrations)
    import directory.models  # noqa: F401
    import referrals.models  # noqa: F401
    import web.idempotency  # noqa: F401
    import web.jobs  # noqa: F401
    from accounts import api as accounts_api
    from accounts import claim_views, listing_views, suggestion_views
    from accounts import views as accounts_views
    from admin import listing_views as listing_upkeep_views
    from admin import network_views
    from admin import views as admin_views
    from directory import api as directory_api
    from directory import health
    from directory import views as directory_views
    from directory.hsds import api as hsds_api
    from referrals import api as referrals_api
    from referrals import link_views as referral_link_views
    from referrals import status_views as member_status_views
    from referrals import views as referrals_views
    from web import api_docs

    app.register_blueprint(health.bp)
    app.register_blueprint(directory_views.bp)
    app.register_blueprint(directory_api.bp)
    app.register_blueprint(hsds_api.bp)
    app.register_blueprint(accounts_views.bp)
    app.register_blueprint(accounts_api.bp)
    app.register_blueprint(claim_views.bp)
    app.register_blueprint(suggestion_views.bp)
    app.register_blueprint(listing_views.bp)
    app.register_blueprint(referrals_views.bp)
    app.register_blueprint(referrals_api.bp)
    app.register_blueprint(referral_link_views.bp)
    app.register_blueprint(member_status_views.bp)
    app.register_blueprint(admin_views.bp)
    app.register_blueprint(listing_upkeep_views.bp)
    app.register_blueprint(network_views.bp)
    app.register_blueprint(api_docs.bp)
    for bp in (directory_api.bp, hsds_api.bp, referrals_api.bp, accounts_api.bp):
        csrf.exempt(bp)


def _register_commands(app: Flask) -> None:
    """Add each domain's command group (`flask directory ...`), so no view imports a CLI."""
    from accounts import cli as accounts_cli
    from directory import cli as directory_cli
    from referrals import cli as referrals_cli
    from web import jobs

    # seed-demo seeds the directory, its accounts, then their referrals; the directory imports
    # neither, so the command lives with referrals and joins the directory group here.
    directory_cli.group.add_command(referrals_cli.seed_demo_command)
    for group in (directory_cli.group, accounts_cli.group, referrals_cli.group, jobs.group):
        app.cli.add_command(group)
