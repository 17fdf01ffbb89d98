"""The long fuzz run: schemathesis over /hsds/openapi.json and /api/v1/openapi.json as a
coordinator and as agency staff, on a scratch PostgreSQL database, randomized.

    python bench/fuzz.py 100            # cases per operation, per role (~33 operations x 2)
    TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/fuzz.py 500

Prints the number of cases and every 5xx (as curl commands); exits 1 if there was one.
"""

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from tests.web.fuzzing import fuzz  # noqa: E402

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _people(app) -> dict[str, str]:
    """A coordinator and an agency staff member with a referral between them; their tokens."""
    from accounts.services import create_organization, create_user, hash_password, issue_api_token
    from extensions import db
    from referrals import services
    from tests.directory.factories import make_organization, make_service

    with app.app_context():
        listing = make_organization(db, name="Fuzz Pantry")
        service = make_service(db, organization=listing, name="Food boxes", location=False)
        db.session.commit()
        agency = create_organization("Fuzz Pantry", "agency", directory_organization_id=listing.id)
        hub = create_organization("Fuzz Hub", "coordination")
        db.session.flush()
        people = {}
        for label, role, org in (
            ("coordinator", "coordinator", hub),
            ("agency staff", "agency_staff", agency),
        ):
            user = create_user(f"{role.replace('_', '-')}@fuzz.example", role, org.id)
            user.password_hash = hash_password("fuzz-password-1")
            people[label] = user
        db.session.flush()
        member = services.add_member(
            people["coordinator"],
            {"first_name": "Maria", "last_name": "Lopez"},
            {"given_by": "Maria", "method": "verbal", "scope": ["first_name", "last_name"]},
        )
        services.send_referral(people["coordinator"], member, service, need="Food")
        tokens = {label: issue_api_token(user) for label, user in people.items()}
        db.session.commit()
        return tokens


def main() -> int:
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    name = f"wraparound_fuzz_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        from app import create_app

        url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"{url}/{name}",
                "SEARCH_INDEX_DIR": tempfile.mkdtemp(prefix="fuzz-index-"),
                "SECRET_KEY": "fuzz",
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            upgrade()
        tokens = _people(app)
        started = time.monotonic()
        result = fuzz(app, tokens, cases, derandomize=False)
        seconds = time.monotonic() - started
        print(f"{result.cases} cases in {seconds:.0f} s, {len(result.server_errors)} server errors")
        for role, label, status, curl in result.server_errors:
            print(f"{status} {label} as {role}: {curl}")
        return 1 if result.server_errors else 0
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
