"""Issue 10, item 10: while the database can't be reached, every request answers 503 with
Retry-After (JSON for the API, a plain page for people), never a 500 or a traceback; when the
database is back, the same app answers normally again without a restart.

The outage is real: the app talks to PostgreSQL through a loopback TCP relay that the test cuts
(every open connection dropped, new ones refused) and then restores.
"""

import socket
import threading

import pytest


class Relay:
    """A loopback TCP relay to PostgreSQL that can be cut and restored."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = 0
        self._connections: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        try:  # wakes the thread blocked in accept(); close() alone leaves the port listening
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for conn in self._connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self._connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for conn in (source, sink):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def relayed_app(make_app, postgres_url):
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    relay = Relay((url.host, url.port or 5432))
    app = make_app(
        SQLALCHEMY_DATABASE_URI=url.set(host="127.0.0.1", port=relay.port).render_as_string(
            hide_password=False
        )
    )
    yield app, relay
    relay.restore()  # the tables are emptied through it after the test


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_an_unreachable_database_answers_503_with_retry_after_then_recovers(
    relayed_app, database_url
):
    app, relay = relayed_app
    client = app.test_client()
    assert client.get("/hsds/organizations").status_code == 200

    relay.cut()
    api = client.get("/hsds/organizations")
    page = client.get("/login?next=/members")
    members = client.get("/api/v1/members", headers={"Authorization": "Bearer not-a-token"})

    assert api.status_code == 503
    assert api.headers["Retry-After"].isdigit()
    assert api.get_json()["error"]["code"] == "database_unavailable"
    assert members.status_code in (401, 503)  # a bad token may be refused before the database
    assert page.status_code in (200, 503)  # the sign-in form itself needs no database
    outage_page = client.get("/services/7d1f6f0e-8c57-4c38-9d5e-4b1c6a1f0b11")
    assert outage_page.status_code == 503
    assert outage_page.headers["Retry-After"].isdigit()
    assert "briefly unavailable" in outage_page.get_data(as_text=True)
    assert "Traceback" not in outage_page.get_data(as_text=True)

    relay.restore()
    assert client.get("/hsds/organizations").status_code == 200
    relay.cut()
