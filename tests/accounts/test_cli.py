"""`flask accounts create-org` and `create-user`: happy paths, errors, nothing half-written."""

import os
import pty
import select as select_module
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from accounts.models import NetworkOrganization, User


def _count(app, model) -> int:
    from extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _new_id(result) -> uuid.UUID:
    return uuid.UUID(result.stdout.strip().splitlines()[-1])


def test_create_org_prints_the_new_id(app, runner):
    result = runner.invoke(
        args=["accounts", "create-org", "Mohawk Valley Health Home", "--kind", "coordination"]
    )
    assert result.exit_code == 0, result.output
    org_id = _new_id(result)
    from extensions import db

    with app.app_context():
        organization = db.session.get(NetworkOrganization, org_id)
        assert organization.name == "Mohawk Valley Health Home"
        assert organization.kind == "coordination"
        assert organization.response_window_business_days == 2


def test_create_org_links_an_agency_to_the_directory(app, runner):
    from directory.models import Organization
    from extensions import db

    with app.app_context():
        listing = Organization(name="Rescue Mission", description="")
        db.session.add(listing)
        db.session.commit()
        listing_id = listing.id
    result = runner.invoke(
        args=[
            "accounts",
            "create-org",
            "Rescue Mission (intake)",
            "--kind",
            "agency",
            "--directory-org",
            str(listing_id),
            "--response-window",
            "5",
        ]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        organization = db.session.get(NetworkOrganization, _new_id(result))
        assert organization.directory_organization_id == listing_id
        assert organization.response_window_business_days == 5


def test_create_org_errors_exit_non_zero_and_write_nothing(app, runner):
    for args, message in [
        (
            ["Anything", "--kind", "agency", "--directory-org", str(uuid.uuid4())],
            "No directory organization",
        ),
        (["Anything", "--kind", "hospital"], "'hospital' is not one of"),
        (
            ["Anything", "--kind", "agency", "--response-window", "0"],
            "0 is not in the range 1<=x<=30",
        ),
        (["  ", "--kind", "agency"], "Enter the organization's name."),
    ]:
        result = runner.invoke(args=["accounts", "create-org", *args])
        assert result.exit_code != 0
        assert message in result.output, result.output
    assert _count(app, NetworkOrganization) == 0


def test_create_user_with_a_password_on_stdin(app, runner, create_org, login):
    organization = create_org(kind="agency")
    result = runner.invoke(
        args=[
            "accounts",
            "create-user",
            "Intake@Example.org",
            "--role",
            "agency_staff",
            "--org",
            str(organization.id),
            "--name",
            "Ivy Intake",
            "--password-stdin",
        ],
        input="a long password on stdin\n",
    )
    assert result.exit_code == 0, result.output
    from extensions import db

    with app.app_context():
        user = db.session.get(User, _new_id(result))
        assert (user.email, user.full_name, user.role) == (
            "intake@example.org",
            "Ivy Intake",
            "agency_staff",
        )
    login(app.test_client(), user, password="a long password on stdin")


def test_create_user_without_a_password_says_a_reset_link_is_needed(app, runner):
    result = runner.invoke(args=["accounts", "create-user", "boss@example.org", "--role", "admin"])
    assert result.exit_code == 0, result.output
    assert "No password set for boss@example.org" in result.stderr
    assert "/password/forgot" in result.stderr
    from extensions import db

    with app.app_context():
        assert db.session.get(User, _new_id(result)).password_hash is None


def test_create_user_errors_exit_non_zero_and_write_nothing(app, runner, create_org):
    agency = create_org(kind="agency")
    before = _count(app, User)
    for args, stdin, message in [
        (
            ["x@example.org", "--role", "coordinator", "--org", str(agency.id)],
            None,
            "needs a coordination organization",
        ),
        (["x@example.org", "--role", "agency_staff"], None, "needs an agency: give its id"),
        (
            ["x@example.org", "--role", "agency_staff", "--org", "nope"],
            None,
            "No network organization",
        ),
        (["not-an-email", "--role", "admin"], None, "like name@example.org"),
        (["x@example.org", "--role", "admin", "--password-stdin"], "short\n", "at least 12"),
        (["x@example.org", "--role", "admin", "--password-stdin"], "", "standard input is empty"),
        (["x@example.org", "--role", "boss"], None, "'boss' is not one of"),
    ]:
        result = runner.invoke(args=["accounts", "create-user", *args], input=stdin)
        assert result.exit_code != 0, args
        assert message in result.output, result.output
    assert _count(app, User) == before


def test_create_user_prompts_twice_for_a_hidden_password_in_a_terminal(app, database_url, tmp_path):
    """The real `flask` command in a pseudo-terminal, as an administrator would type it."""
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DATABASE_URL": database_url.replace("+psycopg", ""),
        "SECRET_KEY": "test",
        "SEARCH_INDEX_DIR": str(tmp_path / "index"),
    }
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "app",
            "accounts",
            "create-user",
            "typed@example.org",
            "--role",
            "admin",
        ],
        cwd=root,
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        close_fds=True,
        start_new_session=True,  # no controlling terminal: getpass reads our pty, not /dev/tty
    )
    os.close(secondary)
    output = b""

    def read_until(marker: bytes, timeout: float = 60) -> None:
        nonlocal output
        deadline = time.monotonic() + timeout
        while marker not in output:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"waited for {marker!r}, got {output!r}"
            ready, _, _ = select_module.select([main], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(main, 1024)
                except OSError:
                    chunk = b""
                assert chunk, f"the command ended early: {output!r}"
                output += chunk

    try:
        read_until(b"Password (at least 12 characters):")
        os.write(main, b"typed in a terminal\n")
        read_until(b"Repeat for confirmation:")
        os.write(main, b"typed in a terminal\n")
        assert process.wait(timeout=60) == 0, output
        try:
            while chunk := os.read(main, 1024):
                output += chunk
        except OSError:
            pass
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()
    assert b"typed in a terminal" not in output  # never echoed
    from accounts.services import authenticate
    from extensions import db

    with app.app_context():
        assert authenticate("typed@example.org", "typed in a terminal") is not None
        db.session.rollback()


def test_purge_tokens_deletes_only_expired_ones(app, runner, create_user, api_token):
    from datetime import timedelta

    from accounts.models import AuthToken
    from extensions import db, utcnow

    user = create_user()
    api_token(user)
    api_token(user)
    with app.app_context():
        first = db.session.scalars(select(AuthToken)).first()
        first.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    result = runner.invoke(args=["accounts", "purge-tokens"])
    assert result.exit_code == 0
    assert "1 expired tokens deleted" in result.output
    assert _count(app, AuthToken) == 1
