"""Every setting the README documents reaches the app, and every one the code reads is documented.

The README's configuration table is the contract: each variable named there, set in the
environment to a value of its own, must arrive in `app.config` (or the object it configures);
each `os.environ` read in the app's code must have a row in that table.
"""

import re
from datetime import timedelta
from pathlib import Path

import pytest

from extensions import limiter

ROOT = Path(__file__).resolve().parents[1]
APP_PARTS = ["app.py", "extensions.py", "geo", "directory", "accounts", "referrals", "admin", "web"]
VARIABLE = re.compile(r"`([A-Z][A-Z0-9_]+)`")


def documented_variables() -> list[str]:
    """The variable names in the first column of the README's "## Configuration" table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    names = []
    for row in rows[2:]:  # after the header and its --- line
        names += VARIABLE.findall(row.split("|")[1])
    return names


def variables_read_by_the_code() -> set[str]:
    pattern = re.compile(
        r"os\.(?:environ\.get|getenv)\(\s*\"([A-Z0-9_]+)\"|os\.environ\[\"([A-Z0-9_]+)\"\]"
    )
    found = set()
    for part in APP_PARTS:
        path = ROOT / part
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            for match in pattern.finditer(file.read_text()):
                found.add(match.group(1) or match.group(2))
    return found


# (value to set, where it shows up) for the variables whose value is converted on the way in;
# any other variable is checked as app.config[NAME] == the string it was set to.
CONVERTED = {
    "DATABASE_URL": (
        "postgres://someone@db.example.internal/wraparound_env",
        lambda app: (
            app.config["SQLALCHEMY_DATABASE_URI"]
            == "postgresql+psycopg://someone@db.example.internal/wraparound_env"
        ),
    ),
    "SESSION_HOURS": (
        "7",
        lambda app: app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=7),
    ),
    "SESSION_COOKIE_SECURE": ("1", lambda app: app.config["SESSION_COOKIE_SECURE"] is True),
    "MAIL_USE_STARTTLS": ("1", lambda app: app.config["MAIL_USE_STARTTLS"] is True),
    "MAIL_PORT": ("2526", lambda app: app.config["MAIL_PORT"] == 2526),
    "MAIL_CONNECT_TIMEOUT": ("2.5", lambda app: app.config["MAIL_CONNECT_TIMEOUT"] == 2.5),
    "MAIL_TIMEOUT": ("7.5", lambda app: app.config["MAIL_TIMEOUT"] == 7.5),
    "MAIL_MAX_CONNECT_FAILURES": ("4", lambda app: app.config["MAIL_MAX_CONNECT_FAILURES"] == 4),
    "SESSION_IDLE_MINUTES": ("17", lambda app: app.config["SESSION_IDLE_MINUTES"] == 17),
    "HSTS_SECONDS": ("86400", lambda app: app.config["HSTS_SECONDS"] == 86400),
    "IDEMPOTENCY_KEY_HOURS": ("6", lambda app: app.config["IDEMPOTENCY_KEY_HOURS"] == 6),
    "OUTCOME_REMINDER_DAYS": ("7", lambda app: app.config["OUTCOME_REMINDER_DAYS"] == 7),
    "REFERRAL_LINK_DAYS": ("9", lambda app: app.config["REFERRAL_LINK_DAYS"] == 9),
    "MEMBER_STATUS_LINK_DAYS": ("45", lambda app: app.config["MEMBER_STATUS_LINK_DAYS"] == 45),
    "SUGGEST_MIN_SECONDS": ("7", lambda app: app.config["SUGGEST_MIN_SECONDS"] == 7),
    "LISTING_STALE_DAYS": ("90", lambda app: app.config["LISTING_STALE_DAYS"] == 90),
    "MAX_CONTENT_LENGTH": ("12345", lambda app: app.config["MAX_CONTENT_LENGTH"] == 12345),
    "IMPORT_MAX_UNZIPPED_BYTES": (
        "7654321",
        lambda app: app.config["IMPORT_MAX_UNZIPPED_BYTES"] == 7654321,
    ),
    "IMPORT_MAX_JSON_BYTES": ("765432", lambda app: app.config["IMPORT_MAX_JSON_BYTES"] == 765432),
    "IMPORT_UPLOAD_MAX_BYTES": (
        "654321",
        lambda app: app.config["IMPORT_UPLOAD_MAX_BYTES"] == 654321,
    ),
    "JOB_LEASE_SECONDS": ("321", lambda app: app.config["JOB_LEASE_SECONDS"] == 321),
    "JOB_MAX_ATTEMPTS": ("5", lambda app: app.config["JOB_MAX_ATTEMPTS"] == 5),
    "SEARCH_INDEX_MEMORY_MB": ("33", lambda app: app.config["SEARCH_INDEX_MEMORY_MB"] == 33),
    "SEARCH_FEED_CHECK_SECONDS": (
        "0.7",
        lambda app: app.config["SEARCH_FEED_CHECK_SECONDS"] == 0.7,
    ),
    "SEARCH_FEED_EXPIRY_HOURS": ("6", lambda app: app.config["SEARCH_FEED_EXPIRY_HOURS"] == 6),
    "SEARCH_RESULT_CACHE_SIZE": ("9", lambda app: app.config["SEARCH_RESULT_CACHE_SIZE"] == 9),
    "APP_VERSION": ("r42", lambda app: app.config["APP_VERSION"] == "r42"),
    "TRUSTED_PROXY_COUNT": (
        "2",
        lambda app: (
            app.config["TRUSTED_PROXY_COUNT"] == 2 and type(app.wsgi_app).__name__ == "ProxyFix"
        ),
    ),
    "RATELIMIT_STORAGE_URI": (  # the baseline database is SQLite, one worker: memory://
        "database://",
        lambda app: (
            app.config["RATELIMIT_STORAGE_URI"] == "database://"
            and type(limiter.storage).__name__ == "DatabaseStorage"
        ),
    ),
    "WEB_CONCURRENCY": ("3", lambda app: app.config["WORKERS"] == 3),
    "GUNICORN_CMD_ARGS": ("--workers 4", lambda app: app.config["WORKERS"] == 4),
    "LOGIN_RATE_LIMIT_PER_IP": ("17 per minute", None),
    "LOGIN_RATE_LIMIT_PER_EMAIL": ("4 per minute", None),
    "RESET_RATE_LIMIT_PER_IP": ("9 per hour", None),
    "RESET_RATE_LIMIT_PER_EMAIL": ("2 per hour", None),
}


@pytest.fixture
def env_app(monkeypatch, tmp_path):
    """create_app() under an environment where only the given variables are set (with a
    scratch database and index, so nothing touches instance/)."""
    from app import create_app

    monkeypatch.chdir(tmp_path)  # relative paths (SEARCH_INDEX_DIR=distinct-...) land here

    def build(**variables):
        for name in documented_variables():
            monkeypatch.delenv(name, raising=False)
        baseline = {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'settings.db'}",
            "SECRET_KEY": "baseline-secret",
            "SEARCH_INDEX_DIR": str(tmp_path / "index"),
        }
        for name, value in {**baseline, **variables}.items():
            monkeypatch.setenv(name, value)
        # (RATELIMIT_ENABLED: Flask-Limiter's one Limiter keeps the last app's as its default.)
        return create_app(
            {"TESTING": True, "SEARCH_CHECK_AT_STARTUP": False, "RATELIMIT_ENABLED": True}
        )

    return build


def test_the_readme_has_a_configuration_table():
    names = documented_variables()
    assert len(names) >= 20
    assert len(names) == len(set(names)), "a variable is documented twice"


def test_every_variable_the_code_reads_is_documented():
    assert variables_read_by_the_code() - set(documented_variables()) == set()


@pytest.mark.parametrize("name", documented_variables())
def test_each_documented_variable_reaches_the_app(env_app, name):
    value, check = CONVERTED.get(name, (f"distinct-{name.lower()}", None))
    app = env_app(**{name: value})
    if check is None:
        assert app.config[name] == value
    else:
        assert check(app), name


def test_the_sign_in_limit_from_the_environment_is_the_one_applied(
    monkeypatch, make_app, create_user
):
    """LOGIN_RATE_LIMIT_PER_EMAIL set in the environment changes when sign-ins are refused."""
    monkeypatch.setenv("LOGIN_RATE_LIMIT_PER_EMAIL", "2 per minute")
    client = make_app(RATELIMIT_ENABLED=True).test_client()
    user = create_user()
    for _ in range(2):
        assert (
            client.post("/login", data={"email": user.email, "password": "wrong!"}).status_code
            == 200
        )
    assert (
        client.post("/login", data={"email": user.email, "password": "wrong!"}).status_code == 429
    )
