"""Writes for organizations, users, passwords and tokens. Services flush; callers commit once."""

import hashlib
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from sqlalchemy import delete, func, select, update

from accounts.models import (
    ROLE_KINDS,
    AuthToken,
    NetworkOrganization,
    OrgKind,
    Role,
    User,
    normalize_email,
)
from accounts.outbox import queue_email
from accounts.sessions import revoke_user_sessions
from extensions import db, utcnow

log = logging.getLogger(__name__)

API_TOKEN_LIFETIME = timedelta(hours=12)
RESET_TOKEN_LIFETIME = timedelta(hours=1)
INVITATION_LIFETIME = timedelta(days=7)
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256


@dataclass(frozen=True)
class WindowRule:
    """The bounds of one of an agency's response windows, and the unit it is counted in."""

    label: str
    low: int
    high: int
    unit: str

    def message(self) -> str:
        return f"Enter a whole number from {self.low} to {self.high} {self.unit}."


# An agency's response windows, by the urgency of the referral (columns of NetworkOrganization;
# the database checks the same bounds). Emergencies count clock hours, the others business days.
RESPONSE_WINDOWS = {
    "emergency_window_hours": WindowRule("Emergency", 1, 72, "hours"),
    "urgent_window_business_days": WindowRule("Urgent", 1, 10, "business days"),
    "response_window_business_days": WindowRule("Routine", 1, 30, "business days"),
}
RESPONSE_WINDOW_RANGE = (1, 30)  # routine, in business days

ROLE_LABELS = {
    Role.coordinator: "coordinator",
    Role.agency_staff: "agency staff",
    Role.agency_admin: "agency admin",
    Role.admin: "network admin",
}
KIND_LABELS = {OrgKind.coordination: "coordination organization", OrgKind.agency: "agency"}

# One "@", something on each side, a dot in the domain, no spaces: enough to catch typos without
# rejecting real addresses (the email itself is the proof: we send links to it).
_EMAIL_SHAPE = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")

_hasher = PasswordHasher()


class AccountError(Exception):
    """An account request that can't be carried out: `message` for people, `field` for forms."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class AccountInactive(AccountError):
    """Correct credentials for an account that an administrator deactivated."""


class TokenInvalid(AccountError):
    """A reset/invitation link that is unknown, used or expired."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


# -- organizations ---------------------------------------------------------------------------


def create_organization(
    name: str,
    kind: str,
    directory_organization_id: uuid.UUID | str | None = None,
    response_window_business_days: int = 2,
    emergency_window_hours: int = 4,
    urgent_window_business_days: int = 1,
) -> NetworkOrganization:
    """Add an organization to the referral network, linked to its directory listing if it has one.

    Agencies without an explicit id are linked by exact name when exactly one listing has it;
    coordination organizations (often unlisted) only by explicit id.
    """
    from directory.models import Organization

    name = _organization_name(name)
    if kind not in set(OrgKind):
        raise AccountError(
            f"Unknown kind {kind!r}: use one of {', '.join(OrgKind)}.",
            "kind",
        )
    windows = check_response_windows(
        {
            "emergency_window_hours": emergency_window_hours,
            "urgent_window_business_days": urgent_window_business_days,
            "response_window_business_days": response_window_business_days,
        }
    )
    duplicate = db.session.scalar(
        select(NetworkOrganization.id).where(
            func.lower(NetworkOrganization.name) == name.lower(),
            NetworkOrganization.kind == kind,
            NetworkOrganization.joined_at.is_not(None),  # not a listing known by referrals only
        )
    )
    if duplicate:
        raise AccountError(
            f"{_a(KIND_LABELS[OrgKind(kind)]).capitalize()} named {name!r} is already in the "
            f"network (id {duplicate}).",
            "name",
        )

    directory_org = None
    if directory_organization_id is not None:
        directory_org = _directory_organization(directory_organization_id)
    elif kind == OrgKind.agency:
        matches = db.session.scalars(
            select(Organization).where(Organization.name == name).limit(2)
        ).all()
        if len(matches) == 1:
            directory_org = matches[0]

    if directory_org is not None:
        linked = db.session.scalar(
            select(NetworkOrganization).where(
                NetworkOrganization.directory_organization_id == directory_org.id
            )
        )
        if linked is not None and linked.joined_at is None and kind == OrgKind.agency:
            # Known so far only through referrals sent to its listing: it joins now, and its
            # open referrals are already in its inbox.
            linked.name = name
            for column, value in windows.items():
                setattr(linked, column, value)
            linked.joined_at = utcnow()
            db.session.flush()
            log.info("network organization %s joined", linked.id)
            return linked
        if linked is not None:
            _refuse_linked(directory_org, linked)

    organization = NetworkOrganization(
        name=name,
        kind=str(kind),
        directory_organization_id=directory_org.id if directory_org else None,
        joined_at=utcnow(),
        **windows,
    )
    db.session.add(organization)
    db.session.flush()
    log.info("network organization %s (%s) created", organization.id, organization.kind)
    return organization


def _organization_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise AccountError("Enter the organization's name.", "name")
    if len(name) > 500:
        raise AccountError("Use at most 500 characters for the name.", "name")
    return name


def _directory_organization(value: uuid.UUID | str):
    """The directory organization with this id, or AccountError."""
    from directory.models import Organization

    directory_uuid = _parse_uuid(value)
    directory_org = db.session.get(Organization, directory_uuid) if directory_uuid else None
    if directory_org is None:
        raise AccountError(
            f"No directory organization has the id {value}.", "directory_organization_id"
        )
    return directory_org


def _refuse_linked(directory_org, linked: NetworkOrganization) -> None:
    raise AccountError(
        f"The directory organization {directory_org.name!r} is already linked to "
        f"{linked.name!r} (id {linked.id}).",
        "directory_organization_id",
    )


def update_organization(
    organization: NetworkOrganization,
    name: str,
    kind: str,
    directory_organization_id: uuid.UUID | str | None,
) -> NetworkOrganization:
    """Rename a network organization, change its kind or its directory listing (None: none).

    The kind can't change while it has accounts: their roles belong to its kind (coordinators
    to coordination organizations, agency staff to agencies)."""
    name = _organization_name(name)
    if kind not in set(OrgKind):
        raise AccountError(f"Choose one of: {', '.join(OrgKind)}.", "kind")
    if kind != organization.kind and organization.users:
        raise AccountError(
            f"{organization.name} has {len(organization.users)} account(s) whose roles belong "
            f"to {_a(KIND_LABELS[OrgKind(organization.kind)])}; the kind can't change.",
            "kind",
        )
    directory_org = None
    if directory_organization_id:
        directory_org = _directory_organization(directory_organization_id)
        linked = db.session.scalar(
            select(NetworkOrganization).where(
                NetworkOrganization.directory_organization_id == directory_org.id,
                NetworkOrganization.id != organization.id,
            )
        )
        if linked is not None:
            _refuse_linked(directory_org, linked)
    organization.name = name
    organization.kind = str(kind)
    organization.directory_organization_id = directory_org.id if directory_org else None
    db.session.flush()
    return organization


class InvalidWindows(AccountError):
    """Response windows out of bounds: `errors` says what is wrong with each field."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(message, field)
        self.errors = errors


def check_response_windows(values: dict[str, int | str | None]) -> dict[str, int]:
    """The windows as whole numbers within their bounds (text from a form is read too), or
    InvalidWindows naming every field that is wrong."""
    windows, errors = {}, {}
    for name, raw in values.items():
        rule = RESPONSE_WINDOWS[name]
        text = str(raw).strip() if raw is not None and not isinstance(raw, bool) else ""
        number = int(text) if text.isascii() and text.isdigit() else None
        if number is None or not rule.low <= number <= rule.high:
            errors[name] = rule.message()
        else:
            windows[name] = number
    if errors:
        raise InvalidWindows(errors)
    return windows


def set_response_windows(
    actor: User | None, organization: NetworkOrganization, values: dict[str, int | str | None]
) -> None:
    """Change how long an agency has to answer referrals of each urgency (`actor` None: the
    command line). Referrals already sent keep the deadline they were sent with: the agency was
    told it then."""
    if not organization.is_agency:
        raise AccountError("Only agencies answer referrals, so only they have response windows.")
    if actor is not None and not can_manage_organization(actor, organization):
        raise AccountError("Only this agency's admins and network admins can change its windows.")
    windows = check_response_windows(values)
    for name, number in windows.items():
        setattr(organization, name, number)
    db.session.flush()
    log.info(
        "response windows of %s set by %s: %s",
        organization.id,
        actor.id if actor is not None else "the command line",
        ", ".join(f"{name}={number}" for name, number in windows.items()),
    )


# -- users -----------------------------------------------------------------------------------


def validate_email(email: str) -> str:
    """Return the normalized address, or raise with a message saying what is wrong with it."""
    normalized = normalize_email(email)
    if not normalized:
        raise AccountError("Enter an email address.", "email")
    if len(normalized) > 320 or not _EMAIL_SHAPE.match(normalized):
        raise AccountError(
            "Enter an email address like name@example.org.",
            "email",
        )
    return normalized


def check_password_policy(password: str | None, email: str | None = None) -> None:
    """Refuse passwords that are easy to guess, with a message saying how to fix them."""
    if not password:
        raise AccountError("Enter a password.", "password")
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(
            f"Use at least {PASSWORD_MIN_LENGTH} characters (this one has {len(password)}). "
            "A few unrelated words make a long password that is easy to remember.",
            "password",
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError(f"Use at most {PASSWORD_MAX_LENGTH} characters.", "password")
    if len(set(password.strip())) <= 1:
        raise AccountError("Use a password that isn't one character repeated.", "password")
    if email and password.strip().lower() in {
        normalize_email(email),
        normalize_email(email).split("@")[0],
    }:
        raise AccountError("Don't use your email address as your password.", "password")


def hash_password(password: str) -> str:
    """Argon2id hash of a password (only the hash is ever stored)."""
    return _hasher.hash(password)


def create_user(
    email: str,
    role: str,
    organization_id: uuid.UUID | str | None,
    password: str | None = None,
    full_name: str = "",
) -> User:
    """Add a user whose role fits their organization; without a password they must use a link."""
    normalized = validate_email(email)
    if role not in set(Role):
        raise AccountError(f"Unknown role {role!r}: use one of {', '.join(Role)}.", "role")
    full_name = (full_name or "").strip()
    if len(full_name) > 200:
        raise AccountError("Use at most 200 characters for the name.", "full_name")

    organization = None
    if organization_id not in (None, ""):
        org_uuid = _parse_uuid(organization_id)
        organization = db.session.get(NetworkOrganization, org_uuid) if org_uuid else None
        if organization is None:
            raise AccountError(
                f"No network organization has the id {organization_id}.", "organization_id"
            )
    required_kind = ROLE_KINDS.get(Role(role))
    if required_kind is not None:
        if organization is None:
            raise AccountError(
                f"The role “{ROLE_LABELS[Role(role)]}” needs {_a(KIND_LABELS[required_kind])}: "
                "give its id.",
                "organization_id",
            )
        if organization.kind != required_kind:
            raise AccountError(
                f"The role “{ROLE_LABELS[Role(role)]}” needs {_a(KIND_LABELS[required_kind])}; "
                f"{organization.name} is {_a(KIND_LABELS[OrgKind(organization.kind)])}.",
                "role",
            )

    if db.session.scalar(select(User.id).where(func.lower(User.email) == normalized)):
        raise AccountError(f"An account with the email {normalized} already exists.", "email")
    if password is not None:
        check_password_policy(password, normalized)

    user = User(
        email=normalized,
        role=str(role),
        organization=organization,
        full_name=full_name,
        password_hash=hash_password(password) if password is not None else None,
        active=True,
    )
    db.session.add(user)
    db.session.flush()
    log.info("user %s created with role %s in organization %s", user.id, role, organization_id)
    return user


def invite_user(
    email: str,
    role: str,
    organization_id: uuid.UUID | str | None,
    full_name: str = "",
    invited_by: User | None = None,
) -> User:
    """Create a user without a password and mail them a link to choose one (through the outbox)."""
    user = create_user(email, role, organization_id, full_name=full_name)
    send_invitation(user, invited_by)
    return user


def send_invitation(user: User, invited_by: User | None = None) -> None:
    """(Re)send the 'choose your password' link to a user, through the outbox with the commit."""
    if not user.active:
        raise AccountError(f"{user.display_name}'s account is deactivated; reactivate it first.")
    # Invitations last longer than resets: people don't read them at once.
    issued = _new_token(user, "password_reset", INVITATION_LIFETIME)
    link = _reset_link(issued.token)
    org_name = user.organization.name if user.organization else "the Wraparound network"
    who = invited_by.display_name if invited_by else "An administrator"
    days = INVITATION_LIFETIME.days
    queue_email(
        user.email,
        "Your Wraparound account",
        f"{who} created a Wraparound account for you at {org_name}.\n\n"
        f"Choose your password within {days} days here:\n{link}\n\n"
        "Your username is this email address. If you didn't expect this, you can ignore it.",
    )
    log.info("invitation link issued for user %s", user.id)


def set_user_active(actor: User, user: User, active: bool) -> User:
    """Deactivate (or reactivate) a user: a deactivated user can't sign in and loses API tokens."""
    if not can_manage_user(actor, user):
        raise AccountError("You can't manage this account.")
    if user.id == actor.id and not active:
        raise AccountError("You can't deactivate your own account.")
    user.active = active
    if not active:
        _end_sign_ins(user)
    db.session.flush()
    log.info("user %s %s by %s", user.id, "reactivated" if active else "deactivated", actor.id)
    return user


def can_manage_user(actor: User, user: User) -> bool:
    """Network admins manage everyone; agency admins manage the people of their own agency."""
    if actor.is_admin:
        return True
    return (
        actor.role == Role.agency_admin
        and actor.organization_id is not None
        and user.organization_id == actor.organization_id
    )


def can_manage_organization(actor: User, organization: NetworkOrganization) -> bool:
    """Whether `actor` may add or deactivate people in `organization`."""
    if actor.is_admin:
        return True
    return actor.role == Role.agency_admin and actor.organization_id == organization.id


def roles_for_organization(organization: NetworkOrganization) -> list[Role]:
    """The roles a person in this organization may have (network admins are made elsewhere)."""
    return [role for role, kind in ROLE_KINDS.items() if kind == organization.kind]


def active_users(organization_id: uuid.UUID | None, roles: list[Role], *order_by) -> list[User]:
    """The active people of an organization in any of `roles`: who hears of, or acts on, its
    work."""
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.organization_id == organization_id,
                User.role.in_(roles),
                User.active.is_(True),
            )
            .order_by(*order_by)
        )
    )


# -- signing in ------------------------------------------------------------------------------


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials, or None; takes as long for unknown emails as for known."""
    if not email or not password or len(password) > PASSWORD_MAX_LENGTH:
        _verify(_dummy_hash(), password or "")
        return None
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None or not user.password_hash:
        _verify(_dummy_hash(), password)
        return None
    if not _verify(user.password_hash, password):
        return None
    if not user.active:
        raise AccountInactive(
            "This account has been deactivated. Ask your organization's administrator."
        )
    if _needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db.session.flush()
    return user


def change_password(user: User, current_password: str, new_password: str) -> User:
    """Let a signed-in user replace their password after proving they know the current one."""
    if not user.password_hash or not _verify(user.password_hash, current_password or ""):
        raise AccountError("Your current password is not correct.", "current_password")
    check_password_policy(new_password, user.email)
    _set_password(user, new_password)
    db.session.flush()
    log.info("user %s changed their password", user.id)
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def _set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    # A new password ends every session and API token opened with the old one.
    _end_sign_ins(user)


def _end_sign_ins(user: User) -> None:
    revoke_user_sessions(user.id)
    db.session.execute(
        delete(AuthToken).where(AuthToken.user_id == user.id, AuthToken.purpose == "api")
    )


def sign_out_everywhere(actor: User, user: User) -> None:
    """End every browser session and API token of `user` (a lost laptop, a leaked password)."""
    if actor.id != user.id and not can_manage_user(actor, user):
        raise AccountError("You can't manage this account.")
    _end_sign_ins(user)
    db.session.flush()
    log.info("user %s signed out everywhere by %s", user.id, actor.id)


# -- API tokens ------------------------------------------------------------------------------


def create_api_token(user: User, lifetime: timedelta = API_TOKEN_LIFETIME) -> IssuedToken:
    """A new bearer token for `user` and when it expires; only its hash is kept."""
    if not user.active:
        raise AccountInactive(
            "This account has been deactivated. Ask your organization's administrator."
        )
    issued = _new_token(user, "api", lifetime)
    return IssuedToken(issued.token, issued.record.expires_at)


def issue_api_token(user: User) -> str:
    """A new bearer token for `user` (the secret itself; it can't be shown again)."""
    return create_api_token(user).token


def user_for_api_token(raw_token: str | None) -> User | None:
    """The active user holding this unexpired, unrevoked API token, else None."""
    record = _token_record(raw_token, "api")
    if record is None or record.used_at is not None or record.expires_at <= utcnow():
        return None
    user = record.user
    return user if user.active else None


def revoke_api_token(raw_token: str | None) -> bool:
    """End an API token before it expires (its `used_at` marks the revocation)."""
    record = _token_record(raw_token, "api")
    if record is None or record.used_at is not None:
        return False
    record.used_at = utcnow()
    db.session.flush()
    return True


def purge_expired_tokens() -> int:
    """Delete tokens that can no longer be used, so the table doesn't grow forever."""
    result = db.session.execute(delete(AuthToken).where(AuthToken.expires_at <= utcnow()))
    db.session.flush()
    return result.rowcount or 0


# -- password reset --------------------------------------------------------------------------


def request_password_reset(email: str) -> None:
    """Mail a one-hour single-use reset link to an active account; silent for unknown emails."""
    try:
        normalized = validate_email(email)
    except AccountError:
        return
    user = db.session.scalar(select(User).where(User.email == normalized))
    if user is None or not user.active:
        log.info("password reset asked for an unknown or inactive address")
        return
    issued = _new_token(user, "password_reset", RESET_TOKEN_LIFETIME)
    link = _reset_link(issued.token)
    minutes = int(RESET_TOKEN_LIFETIME.total_seconds() // 60)
    queue_email(
        user.email,
        "Reset your Wraparound password",
        "Someone (hopefully you) asked to reset the password of the Wraparound account "
        f"{user.email}.\n\nChoose a new password within {minutes} minutes here:\n{link}\n\n"
        "The link works once. If you didn't ask for this, ignore this email: your password "
        "stays the same.",
    )
    log.info("password reset link issued for user %s", user.id)


def check_reset_token(raw_token: str) -> AuthToken:
    """The reset/invitation token record if it can still be used, else a clear TokenInvalid."""
    record = _token_record(raw_token, "password_reset")
    if record is None:
        raise TokenInvalid(
            "This link is not valid. Check that you copied all of it, or ask for a new one."
        )
    if record.used_at is not None:
        raise TokenInvalid("This link has already been used. Ask for a new one if you need it.")
    if record.expires_at <= utcnow():
        raise TokenInvalid("This link has expired. Ask for a new one.")
    if not record.user.active:
        raise AccountInactive(
            "This account has been deactivated. Ask your organization's administrator."
        )
    return record


def reset_password(raw_token: str, new_password: str) -> User:
    """Set a new password through a single-use link, and mark that link (and its siblings) used."""
    record = check_reset_token(raw_token)
    user = record.user
    check_password_policy(new_password, user.email)
    now = utcnow()
    # Claim the token with a conditional UPDATE so two simultaneous submissions can't both use it.
    claimed = db.session.execute(
        update(AuthToken)
        .where(AuthToken.id == record.id, AuthToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise TokenInvalid("This link has already been used. Ask for a new one if you need it.")
    db.session.execute(
        update(AuthToken)
        .where(
            AuthToken.user_id == user.id,
            AuthToken.purpose == "password_reset",
            AuthToken.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(record)
    _set_password(user, new_password)
    db.session.flush()
    log.info("user %s set a new password through a link", user.id)
    return user


# -- helpers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Issued:
    token: str
    record: AuthToken


def token_hash(raw_token: str) -> str:
    """SHA-256 of a token: tokens are long random secrets, so a fast hash is enough."""
    return hashlib.sha256(raw_token.encode()).hexdigest()


def _new_token(user: User, purpose: str, lifetime: timedelta = RESET_TOKEN_LIFETIME) -> _Issued:
    raw = secrets.token_urlsafe(32)
    record = AuthToken(
        user_id=user.id,
        purpose=purpose,
        token_hash=token_hash(raw),
        expires_at=utcnow() + lifetime,
    )
    db.session.add(record)
    db.session.flush()
    return _Issued(raw, record)


def _token_record(raw_token: str | None, purpose: str) -> AuthToken | None:
    if not raw_token or len(raw_token) > 200:
        return None
    return db.session.scalar(
        select(AuthToken).where(
            AuthToken.token_hash == token_hash(raw_token), AuthToken.purpose == purpose
        )
    )


def _reset_link(raw_token: str) -> str:
    """An absolute link to the reset page, built without a request (works from the CLI too)."""
    adapter = current_app.url_map.bind("localhost")
    path = adapter.build("accounts.reset_password", {"token": raw_token})
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _parse_uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        return None
