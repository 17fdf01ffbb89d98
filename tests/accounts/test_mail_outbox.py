"""Reset and invitation emails go through the outbox: the request never waits for the mail server,
so it takes as long for an unknown address as for a known one."""

import socket
import threading
import time
from urllib.parse import urlsplit

import pytest


@pytest.fixture
def hanging_mail_server(app):
    """A server that accepts connections and never says a word (a stuck SMTP relay)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=listener.getsockname()[1], MAIL_TIMEOUT=3)
    try:
        yield accepted
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def _deliver(app) -> str:
    result = app.test_cli_runner().invoke(args=["referrals", "deliver"])
    assert result.exit_code == 0, result.output
    return result.output


def _timed_reset_request(client, email: str) -> float:
    started = time.perf_counter()
    response = client.post("/password/forgot", data={"email": email})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    return elapsed


def test_a_reset_request_never_waits_for_the_mail_server(
    app, client, hanging_mail_server, dummy_coordinator
):
    known = _timed_reset_request(client, dummy_coordinator.email)
    unknown = _timed_reset_request(client, "nobody-here@example.org")
    assert known < 1.5 and unknown < 1.5, (known, unknown)
    assert hanging_mail_server == []  # nobody even connected during the requests


def test_the_reset_email_arrives_when_the_outbox_is_delivered(
    app, client, smtp_server, dummy_coordinator
):
    _timed_reset_request(client, dummy_coordinator.email)
    _timed_reset_request(client, "nobody-here@example.org")
    assert smtp_server.messages == []
    assert "sent 1," in _deliver(app)
    [message] = smtp_server.messages
    assert message["To"] == dummy_coordinator.email
    path = urlsplit(smtp_server.last_link(dummy_coordinator.email)).path
    assert client.get(path).status_code == 200


def test_an_invitation_is_queued_with_the_new_account(
    app, client, login, smtp_server, create_org, create_user
):
    agency = create_org("Outbox Agency")
    login(client, create_user(role="agency_admin", org=agency))
    response = client.post(
        "/account/staff", data={"email": "queued@example.org", "role": "agency_staff"}
    )
    assert response.status_code == 303
    assert smtp_server.messages == []
    _deliver(app)
    assert len(smtp_server.messages_to("queued@example.org")) == 1
    assert urlsplit(smtp_server.last_link("queued@example.org")).path.startswith("/password/reset/")
