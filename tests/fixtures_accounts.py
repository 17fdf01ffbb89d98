"""Account fixtures for every test package: organizations, users, sign-in, tokens, an SMTP server.

Registered from tests/conftest.py (`pytest_plugins`). Factories work with or without the `db`
fixture: without it they open a short app context and return detached objects whose columns
(and `user.organization`) are loaded.
"""

import contextlib
import email
import email.policy
import itertools
import re
import socket
from dataclasses import dataclass, field
from functools import cache

import pytest

TEST_PASSWORD = "correct horse battery staple"


@cache
def _password_hash(password: str) -> str:
    # argon2 is slow on purpose (~0.1 s); tests hash each distinct password once.
    from accounts.services import hash_password

    return hash_password(password)


@contextlib.contextmanager
def _session_for(app):
    """The test's own app context if it has one (the `db` fixture), else a short-lived one."""
    from flask import current_app, has_app_context

    from extensions import db

    if has_app_context() and current_app._get_current_object() is app:
        yield db.session, False
        return
    with app.app_context():
        try:
            yield db.session, True
        finally:
            db.session.remove()


# -- a real SMTP server ----------------------------------------------------------------------


@dataclass
class SmtpServer:
    host: str
    port: int
    messages: list = field(default_factory=list)
    app: object = None

    def deliver(self) -> str:
        """Run `flask referrals deliver`: account emails wait in the outbox until then."""
        result = self.app.test_cli_runner().invoke(args=["referrals", "deliver"])
        assert result.exit_code == 0, result.output
        return result.output

    @property
    def config(self) -> dict:
        """Settings for `make_app(**smtp_server.config)`."""
        return {"MAIL_SERVER": self.host, "MAIL_PORT": self.port}

    def messages_to(self, address: str) -> list:
        return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def last_link(self, address: str | None = None) -> str:
        """The last http(s) link mailed (to `address`, if given)."""
        messages = self.messages_to(address) if address else self.messages
        assert messages, f"no mail was sent{' to ' + address if address else ''}"
        body = messages[-1].get_body(preferencelist=("plain",)).get_content()
        links = re.findall(r"https?://\S+", body)
        assert links, f"no link in the mail: {body!r}"
        return links[-1]


class CollectingHandler:
    """An aiosmtpd handler that keeps every message it is sent (in `messages`)."""

    def __init__(self, messages: list | None = None):
        self.messages = [] if messages is None else messages

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(app):
    """An aiosmtpd server on loopback collecting what the app sends; `app` is pointed at it."""
    from aiosmtpd.controller import Controller

    server = SmtpServer("127.0.0.1", free_port(), app=app)
    controller = Controller(
        CollectingHandler(server.messages), hostname=server.host, port=server.port
    )
    controller.start()
    app.config.update(server.config)
    try:
        yield server
    finally:
        controller.stop()


# -- organizations and users -----------------------------------------------------------------


@pytest.fixture
def create_org(app):
    """Factory: `create_org(name=None, kind="agency", **create_organization kwargs)`, committed."""
    from accounts.services import create_organization

    numbers = itertools.count(1)

    def factory(name: str | None = None, kind: str = "agency", **kwargs):
        with _session_for(app) as (session, detach):
            organization = create_organization(
                name or f"Test {kind} {next(numbers)}", kind, **kwargs
            )
            session.commit()
            session.refresh(organization)
        return organization

    return factory


@pytest.fixture
def create_user(app, create_org):
    """Factory: `create_user(email=None, role="coordinator", org=None, password=TEST_PASSWORD,
    full_name="", active=True)`, committed. Without `org`, a fitting organization is made
    (none for admins). `password=None` leaves the account without a password."""
    from accounts.models import ROLE_KINDS, Role, User
    from accounts.services import create_user as create_user_service

    numbers = itertools.count(1)

    def factory(
        email: str | None = None,
        role: str = "coordinator",
        org=None,
        password: str | None = TEST_PASSWORD,
        full_name: str = "",
        active: bool = True,
    ):
        kind = ROLE_KINDS.get(Role(role))
        if org is None and kind is not None:
            org = create_org(kind=kind)
        with _session_for(app) as (session, detach):
            user = create_user_service(
                email or f"{role.replace('_', '-')}{next(numbers)}@example.org",
                role,
                org.id if org is not None else None,
                full_name=full_name,
            )
            if password is not None:
                user.password_hash = _password_hash(password)
            user.active = active
            session.commit()
            user = session.get(User, user.id)
            user.organization  # noqa: B018  (loaded now, so it can be read after detaching)
        return user

    return factory


def _user_fixture(name: str, role: str, full_name: str):
    """A fixture `name` giving a fresh user with this role (`create_user`)."""

    @pytest.fixture(name=name)
    def user(create_user):
        return create_user(role=role, full_name=full_name)

    return user


dummy_coordinator = _user_fixture("dummy_coordinator", "coordinator", "Casey Coordinator")
dummy_agency_staff = _user_fixture("dummy_agency_staff", "agency_staff", "Sam Staff")
dummy_agency_admin = _user_fixture("dummy_agency_admin", "agency_admin", "Alex Agency-Admin")
dummy_admin = _user_fixture("dummy_admin", "admin", "Nia Network-Admin")


# -- signing in ------------------------------------------------------------------------------


@pytest.fixture
def login():
    """`login(client, user, password=TEST_PASSWORD)`: sign `client` in through the real form."""

    def sign_in(client, user, password: str = TEST_PASSWORD):
        response = client.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 303, response.get_data(as_text=True)
        return response

    return sign_in


@pytest.fixture
def signed_in(app, login):
    """`signed_in(user, htmx=False)`: a test client signed in as `user` (None: anonymous)."""
    clients = {}

    def make(user, htmx: bool = False):
        key = (user.id if user is not None else None, htmx)
        if key not in clients:
            client = app.test_client()
            if user is not None:
                login(client, user)
            if htmx:
                client.environ_base["HTTP_HX_REQUEST"] = "true"
            clients[key] = client
        return clients[key]

    return make


@pytest.fixture
def api_token(app):
    """`api_token(user)` → a bearer token string (committed) for `Authorization: Bearer …`."""
    from accounts.models import User
    from accounts.services import issue_api_token

    def issue(user) -> str:
        with _session_for(app) as (session, detach):
            token = issue_api_token(session.get(User, user.id))
            session.commit()
        return token

    return issue


@pytest.fixture
def auth_headers(api_token):
    """`auth_headers(user)` → {"Authorization": "Bearer …"} for the JSON API."""
    return lambda user: {"Authorization": f"Bearer {api_token(user)}"}
