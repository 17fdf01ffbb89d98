"""`flask accounts ...` commands. Each is one unit of work (web.unit_of_work): it commits once,
or not at all."""

import contextlib
import sys

import click
from flask import current_app, url_for
from flask.cli import with_appcontext
from sqlalchemy.exc import IntegrityError

from accounts.models import OrgKind, Role
from accounts.services import (
    RESPONSE_WINDOW_RANGE,
    AccountError,
    create_organization,
    create_user,
    purge_expired_tokens,
)
from extensions import db
from web.unit_of_work import UnitOfWorkGroup, commit_step, unit_of_work

group = UnitOfWorkGroup("accounts", help="Manage the referral network's organizations and users.")


@contextlib.contextmanager
def _refusals_as_messages(conflict: str):
    """An AccountError, or a unique-constraint race at the flush, ends the command with a message
    (and the unit of work rolls back)."""
    try:
        yield
        db.session.flush()
    except AccountError as exc:
        raise click.ClickException(exc.message) from exc
    except IntegrityError as exc:
        raise click.ClickException(conflict) from exc


@group.command("create-org")
@click.argument("name")
@click.option("--kind", type=click.Choice([k.value for k in OrgKind]), required=True)
@click.option(
    "--directory-org",
    "directory_org",
    metavar="ID",
    help="Link an agency to this directory organization (default: the one with exactly this name).",
)
@click.option(
    "--response-window",
    type=click.IntRange(*RESPONSE_WINDOW_RANGE),
    default=2,
    show_default=True,
    help="Business days an agency has to answer a referral.",
)
def create_org_command(
    name: str, kind: str, directory_org: str | None, response_window: int
) -> None:
    """Add an organization to the referral network and print its id."""
    conflict = f"An organization like {name!r} was added at the same time; check the list."
    with _refusals_as_messages(conflict):
        organization = create_organization(
            name,
            kind,
            directory_organization_id=directory_org,
            response_window_business_days=response_window,
        )
    if organization.directory_organization_id:
        click.echo(
            f"linked to directory organization {organization.directory_organization_id}", err=True
        )
    click.echo(str(organization.id))


@group.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option(
    "--org", "org_id", metavar="ORG_ID", help="Network organization id (admins: optional)."
)
@click.option("--name", "full_name", default="", help="The person's full name.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input.",
)
def create_user_command(
    email: str, role: str, org_id: str | None, full_name: str, password_stdin: bool
) -> None:
    """Add a user and print their id; without a password they sign in through a reset link."""
    stdin = sys.stdin
    if password_stdin:
        password = stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("--password-stdin was given but standard input is empty.")
    elif stdin.isatty():
        password = click.prompt(
            "Password (at least 12 characters)", hide_input=True, confirmation_prompt=True
        )
    else:
        password = None
    with _refusals_as_messages(f"An account with the email {email} already exists."):
        user = create_user(email, role, org_id, password=password, full_name=full_name)
    if password is None:
        click.echo(
            f"No password set for {user.email}: they need a reset link "
            f"({_forgot_url()}) before they can sign in.",
            err=True,
        )
    click.echo(str(user.id))


@group.command("purge-tokens")
def purge_tokens_command() -> None:
    """Delete expired API and reset tokens."""
    count = purge_expired_tokens()
    click.echo(f"{count} expired tokens deleted")


@click.command("seed-demo")
@with_appcontext
@unit_of_work
def seed_demo_command() -> None:
    """Load the demo network (Syracuse, NY) and its demo accounts; safe to run again."""
    from accounts import demo
    from directory.cli import rebuild_search_index
    from directory.demo import seed_demo_directory

    summary = seed_demo_directory()
    accounts = demo.seed_demo_accounts()
    commit_step()  # the search index is rebuilt from committed rows, by another connection
    click.echo(f"Loaded the {summary}")
    click.echo(f"Demo accounts: {len(accounts)}")
    if any(summary.added.values()):
        rebuild_search_index()
    else:
        click.echo("Search index unchanged: no new demo records")


def _forgot_url() -> str:
    with current_app.test_request_context():
        path = url_for("accounts.forgot_password")
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path
