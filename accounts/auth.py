"""Who is asking: session sign-in for pages, bearer tokens for the API, role checks, navigation."""

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.routing import BuildError

from accounts.models import Role, User
from accounts.services import user_for_api_token
from accounts.sessions import live_session, needs_touch, open_session, revoke_session, touch_session
from extensions import db, login_manager
from web.errors import json_error, wants_json
from web.unit_of_work import commit_step

SESSION_ID_KEY = "sid"

login_manager.login_view = "accounts.login"
login_manager.login_message = "Sign in to see that page."
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The signed-in user, if this cookie's session is still live and the user still active."""
    try:
        user = db.session.get(User, uuid.UUID(user_id))
    except (ValueError, TypeError):
        return None
    if user is None or not user.active:
        return None
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    record = live_session(session.get(SESSION_ID_KEY), user.id, idle)
    if record is None:
        return None
    if needs_touch(record):
        touch_session(record)
        g.session_touched = True
    return user


def check_session() -> None:
    """Check the cookie's session against the database at the start of each request.

    Done first, so restarting the idle clock is a unit of work of its own that commits alone.
    """
    if request.endpoint == "static" or "_user_id" not in session:
        return
    if not current_user.is_authenticated:
        # Revoked, expired or idle: forget it, so later requests don't ask the database again.
        session.pop("_user_id", None)
        session.pop(SESSION_ID_KEY, None)
        return
    if g.pop("session_touched", False):
        commit_step()  # before the view: its own unit of work, kept whatever the view answers


@login_manager.unauthorized_handler
def _unauthorized():
    """Anonymous visitors of a protected page go to sign-in and come back; API callers get 401."""
    if wants_json():
        return unauthorized_json()
    return _redirect_to_login()


def start_session(user: User) -> None:
    """Sign `user` in on a fresh session (no value from before sign-in survives)."""
    session.clear()
    login_user(user)
    session.permanent = True
    session[SESSION_ID_KEY] = open_session(
        user.id,
        current_app.permanent_session_lifetime,
        ip=request.remote_addr or "",
        user_agent=request.user_agent.string,
    )


def refresh_session(user: User) -> None:
    """Keep this browser signed in on a new session after a password change ended all others."""
    session[SESSION_ID_KEY] = open_session(
        user.id,
        current_app.permanent_session_lifetime,
        ip=request.remote_addr or "",
        user_agent=request.user_agent.string,
    )


def end_session() -> None:
    """Sign out, revoke this session's row and forget everything in the cookie."""
    revoke_session(session.get(SESSION_ID_KEY))
    logout_user()
    session.clear()


def safe_next_path(target: str | None) -> str | None:
    """`target` if it is a path on this site (never a redirect to elsewhere), else None."""
    if not target:
        return None
    target = target.strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _current_path() -> str:
    path = request.full_path if request.query_string else request.path
    return path


def _redirect_to_login():
    target = url_for("accounts.login", next=_current_path())
    if request.headers.get("HX-Request") == "true":
        # htmx would swap the sign-in page into a fragment; ask it to load the page instead.
        return "", 401, {"HX-Redirect": target}
    return redirect(target)


def _role_names(roles: Iterable[str]) -> set[str]:
    names = {str(role) for role in roles}
    unknown = names - set(Role)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return names


def _role_label(role: str) -> str:
    return role.replace("_", " ")


def login_required_roles(*roles: str) -> Callable:
    """Page decorator: anonymous → sign-in page (then back); signed in with another role → 403."""
    allowed = _role_names(roles)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return _redirect_to_login()
            if allowed and current_user.role not in allowed:
                abort(
                    403,
                    description=(
                        f"Your account ({_role_label(current_user.role)}) can't open this page."
                    ),
                )
            return view(*args, **kwargs)

        return wrapped

    return decorator


def unauthorized_json(invalid: bool = False):
    """The API's 401: a JSON error and a WWW-Authenticate challenge."""
    if invalid:
        message = "This token is not valid or has expired. Get a new one: POST /api/v1/auth/token."
        challenge = 'Bearer realm="wraparound", error="invalid_token"'
    else:
        message = "Send a token in the header 'Authorization: Bearer <token>'."
        challenge = 'Bearer realm="wraparound"'
    response, status = json_error(401, "unauthorized", message)
    response.headers["WWW-Authenticate"] = challenge
    return response, status


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer …` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def api_auth_required(*roles: str) -> Callable:
    """JSON endpoint decorator: a valid bearer token sets `g.api_user`; else 401, wrong role 403."""
    allowed = _role_names(roles)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            raw = bearer_token()
            if raw is None:
                return unauthorized_json()
            user = user_for_api_token(raw)
            if user is None:
                return unauthorized_json(invalid=True)
            if allowed and user.role not in allowed:
                return json_error(
                    403,
                    "forbidden",
                    f"Your account ({_role_label(user.role)}) can't use this endpoint.",
                )
            g.api_user = user
            return view(*args, **kwargs)

        return wrapped

    return decorator


def current_actor() -> User | None:
    """The user behind this request: the API token's holder, else the signed-in user, else None."""
    api_user = g.get("api_user")
    if api_user is not None:
        return api_user
    if current_user and current_user.is_authenticated:
        return current_user._get_current_object()
    return None


def user_org_id(user: User | None) -> uuid.UUID | None:
    """The network organization whose data `user` works with (None: anonymous or an org-less admin).

    Scope queries with it: `select(Referral).where(Referral.agency_id == user_org_id(actor))`.
    """
    if user is None:
        return None
    return user.organization_id


# -- navigation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    current: bool = False


@dataclass
class _NavEntry:
    label: str
    endpoints: tuple[str, ...]
    roles: frozenset[str] | None
    order: int
    url_values: dict = field(default_factory=dict)


_nav_entries: list[_NavEntry] = []


def register_nav_link(
    label: str,
    endpoints: str | Iterable[str],
    roles: Iterable[str] | None = None,
    order: int = 50,
) -> None:
    """Add a link for signed-in users to the main navigation (shown only if its endpoint exists).

    `endpoints` may list several candidate endpoint names: the first one the app has is used.
    `roles` limits the link to those roles; `order` sorts links (lower first).
    """
    names = (endpoints,) if isinstance(endpoints, str) else tuple(endpoints)
    role_set = frozenset(_role_names(roles)) if roles else None
    for entry in _nav_entries:
        if entry.label == label and entry.roles == role_set:
            entry.endpoints, entry.order = names, order
            return
    _nav_entries.append(_NavEntry(label, names, role_set, order))


def nav_links() -> list[NavLink]:
    """The main navigation links for whoever is signed in (empty for the public)."""
    if not current_user or not current_user.is_authenticated:
        return []
    links = []
    for entry in sorted(_nav_entries, key=lambda e: e.order):
        if entry.roles is not None and current_user.role not in entry.roles:
            continue
        endpoint = next((e for e in entry.endpoints if e in current_app.view_functions), None)
        if endpoint is None:
            continue
        try:
            url = url_for(endpoint, **entry.url_values)
        except BuildError:
            continue
        links.append(NavLink(entry.label, url, current=request.endpoint == endpoint))
    return links


register_nav_link("Directory", ("directory.index", "directory.search"), order=10)
register_nav_link(
    "My referrals",
    ("referrals.my_referrals", "referrals.index", "referrals.list_referrals"),
    roles=(Role.coordinator,),
    order=20,
)
register_nav_link(
    "Inbox",
    ("referrals.inbox", "referrals.index"),
    roles=(Role.agency_staff, Role.agency_admin),
    order=20,
)
register_nav_link("Staff", "accounts.staff", roles=(Role.agency_admin, Role.admin), order=80)
register_nav_link("My account", "accounts.account", order=90)


def landing_url(user: User) -> str:
    """Where `user` lands after signing in: their role's own screen if any, else the directory."""
    for entry in sorted(_nav_entries, key=lambda e: e.order):
        if entry.roles is None or user.role not in entry.roles:
            continue
        endpoint = next((e for e in entry.endpoints if e in current_app.view_functions), None)
        if endpoint is not None and endpoint != "accounts.staff":
            return url_for(endpoint, **entry.url_values)
    if "directory.index" in current_app.view_functions:
        return url_for("directory.index")
    return "/"
