"""`flask accounts ...` commands. Each is one unit of work (web.unit_of_work): it commits once,
or not at all."""

import contextlib
import sys
import uuid

import click
from flask import current_app, url_for
from sqlalchemy.exc import IntegrityError

from accounts.models import NetworkOrganization, OrgKind, Role
from accounts.services import (
    RESPONSE_WINDOWS,
    AccountError,
    create_organization,
    create_user,
    purge_expired_tokens,
    set_response_windows,
)
from extensions import db
from web.unit_of_work import UnitOfWorkGroup

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


def _window_option(flag: str, column: str, default: int | None, what: str):
    """A --*-window option for one of an agency's response windows, bounded as the database is."""
    rule = RESPONSE_WINDOWS[column]
    return click.option(
        flag,
        column,
        type=click.IntRange(rule.low, rule.high),
        default=default,
        show_default=default is not None,
        help=f"{rule.unit.capitalize()} an agency has to answer {what} referral.",
    )


@group.command("create-org")
@click.argument("name")
@click.option("--kind", type=click.Choice([k.value for k in OrgKind]), required=True)
@click.option(
    "--directory-org",
    "directory_org",
    metavar="ID",
    help="Link an agency to this directory organization (default: the one with exactly this name).",
)
@_window_option("--emergency-window", "emergency_window_hours", 4, "an emergency")
@_window_option("--urgent-window", "urgent_window_business_days", 1, "an urgent")
@_window_option("--response-window", "response_window_business_days", 2, "a routine")
def create_org_command(name: str, kind: str, directory_org: str | None, **windows: int) -> None:
    """Add an organization to the referral network and print its id."""
    conflict = f"An organization like {name!r} was added at the same time; check the list."
    with _refusals_as_messages(conflict):
        organization = create_organization(
            name, kind, directory_organization_id=directory_org, **windows
        )
    if organization.directory_organization_id:
        click.echo(
            f"linked to directory organization {organization.directory_organization_id}", err=True
        )
    click.echo(str(organization.id))


def _agency(org_id: str) -> NetworkOrganization:
    try:
        organization = db.session.get(NetworkOrganization, uuid.UUID(org_id))
    except ValueError:
        organization = None
    if organization is None or not organization.is_agency:
        raise click.ClickException(f"No agency in the network has the id {org_id}.")
    return organization


@group.command("set-windows")
@click.argument("org_id", metavar="ORG_ID")
@_window_option("--emergency-window", "emergency_window_hours", None, "an emergency")
@_window_option("--urgent-window", "urgent_window_business_days", None, "an urgent")
@_window_option("--response-window", "response_window_business_days", None, "a routine")
def set_windows_command(org_id: str, **windows: int | None) -> None:
    """Change an agency's response windows (those not given stay as they are), as a network
    admin would on its Response windows page."""
    organization = _agency(org_id)
    values = {name: getattr(organization, name) for name in RESPONSE_WINDOWS}
    values.update({name: value for name, value in windows.items() if value is not None})
    try:
        set_response_windows(None, organization, values)
    except AccountError as exc:
        raise click.ClickException(exc.message) from exc  # the unit of work rolls back
    click.echo(
        f"{organization.name}: "
        + ", ".join(
            f"{rule.label.lower()} {_amount(getattr(organization, name), rule.unit)}"
            for name, rule in RESPONSE_WINDOWS.items()
        )
    )


def _amount(number: int, unit: str) -> str:
    """ "1 business day", "4 hours"."""
    return f"{number} {unit if number != 1 else unit.removesuffix('s')}"


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


def _forgot_url() -> str:
    with current_app.test_request_context():
        path = url_for("accounts.forgot_password")
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path
