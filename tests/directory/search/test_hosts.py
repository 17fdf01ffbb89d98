"""Two hosts on one PostgreSQL database, each with its own search index: real gunicorn servers.

Host A's index folder is the one this test process's app uses, so a commit made here is a
commit on host A (and `flask directory import-hsds`, run as a command with A's folder, an import
on A). Host B is another gunicorn server with its own folder: every change must be found (or
gone) there within 2 seconds, with no restart. Then B is killed with SIGKILL while it applies a
big change, and must catch up when it starts again, its readiness saying 503 until it has.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from directory.models import Organization, Service
from directory.search import feed
from tests.directory.factories import make_listing
from tests.directory.search.test_reindex_kill import _lock_is_free

ROOT = Path(__file__).resolve().parents[3]
IMPORT = ROOT / "tests" / "data" / "import" / "legacy_messy"
WITHIN = 2.0  # seconds for a commit on A to be found on B
BULK = 3000  # services changed at once, so that B is surely killed mid-apply

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Host:
    """A gunicorn server (./gunicorn.conf.py, one worker) on the test database."""

    def __init__(self, name: str, database_url: str, index_dir: Path, logs: Path):
        self.name, self.index_dir, self.logs = name, index_dir, logs
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url.replace("+psycopg", ""),
            "SECRET_KEY": "two-hosts",
            "SEARCH_INDEX_DIR": str(index_dir),
            "WEB_CONCURRENCY": "1",
        }
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        with (self.logs / f"{self.name}.log").open("ab") as log:  # the server keeps a copy
            self.process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")],
                cwd=ROOT,
                env={**self.env, "BIND": f"127.0.0.1:{port}"},
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: killed whole
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def get(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def readiness(self) -> tuple[int, dict] | None:
        """The readiness answer; None while the server does not answer at all."""
        try:
            return self.get("/healthz/ready")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def wait_ready(self, timeout: float = 90) -> list[tuple[int, dict]]:
        """Every readiness answer until the first 200."""
        answers = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.readiness()
            if answer is not None:
                answers.append(answer)
                if answer[0] == 200:
                    return answers
            time.sleep(0.1)
        raise AssertionError(f"{self.name} never became ready: {answers[-3:]}\n{self.log_tail()}")

    def names(self, words: str) -> list[str]:
        status, body = self.get(f"/api/v1/services?q={urllib.request.quote(words)}&per_page=50")
        assert status == 200, body
        return [hit["name"] for hit in body["results"]]

    def position(self) -> dict:
        return json.loads((self.index_dir / "feed.json").read_text())

    def log_tail(self) -> str:
        return (self.logs / f"{self.name}.log").read_text(errors="replace")[-3000:]


def _within(check, seconds: float = WITHIN) -> float:
    """Seconds until `check()` holds (asked every 50 ms); fails after `seconds`."""
    started = time.monotonic()
    while True:
        if check():
            return time.monotonic() - started
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.05)


def _apply_lock_held(index_dir: Path) -> bool:
    return not _lock_is_free(Path(f"{index_dir}.apply.lock"))


def _listing(db, name: str, description: str):
    return make_listing(
        db, name, description, at=(43.6150, -116.2023), postal_code="83702", city="Boise",
        state="ID", tz_name="America/Boise",
    )  # fmt: skip


def test_a_change_on_one_host_is_found_on_the_other_within_two_seconds(
    db, app, database_url, tmp_path
):
    _listing(db, "Treasure Valley Diaper Bank", "Diapers and wipes for babies.")
    db.session.commit()
    host_a = Host("a", database_url, Path(app.config["SEARCH_INDEX_DIR"]), tmp_path)
    host_b = Host("b", database_url, tmp_path / "b" / "search-index", tmp_path)
    try:
        host_a.start()
        host_b.start()
        # A new host builds its index before it says it is ready.
        answers = host_b.wait_ready()
        assert answers[0][0] == 503, answers[0]
        assert answers[0][1]["reason"] in (
            "the search index has not been built yet",
            "the search index is being built",
        )
        host_a.wait_ready()
        assert host_b.names("diapers") == ["Treasure Valley Diaper Bank"]

        # Create, edit, delete on A: found (or gone) on B within 2 s, and on A.
        service = _listing(db, "Zephyr Crib Closet", "Cribs and car seats on loan.")
        db.session.commit()
        _within(lambda: host_b.names("zephyr") == ["Zephyr Crib Closet"])
        assert host_a.names("zephyr") == ["Zephyr Crib Closet"]

        service.name = "Quokka Crib Closet"
        service.description = "Strollers for twins."
        db.session.commit()
        _within(lambda: host_b.names("quokka") == ["Quokka Crib Closet"])
        assert host_b.names("seats") == []  # the old words are gone

        db.session.delete(service)
        db.session.commit()
        _within(lambda: host_b.names("quokka") == [])

        # An import on A (the command, with A's index folder).
        command = ["directory", "import-hsds", str(IMPORT)]
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "flask", "--app", "app", *command],
            cwd=ROOT,
            env=host_a.env,
            capture_output=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stderr.decode()[-2000:]
        _within(lambda: host_b.names("eviction") == ["Eviction Defense"])

        # A big change, and B killed while it applies it: nothing of it is lost.
        organization = uuid.uuid4()
        ids = [uuid.uuid4() for _ in range(BULK)]
        with db.engine.begin() as connection:  # committed by another process than B
            connection.execute(insert(Organization), [{"id": organization, "name": "Bulk Org"}])
            rows = [
                {"id": i, "organization_id": organization, "name": f"Wombat Pantry {n}",
                 "description": "Groceries every week.", "status": "active"}
                for n, i in enumerate(ids)
            ]  # fmt: skip
            connection.execute(insert(Service), rows)
            feed.write(connection, ids)
            latest = feed.latest(connection)
        assert host_b.readiness()[0] == 503  # behind; starts catching up in the background
        _within(lambda: _apply_lock_held(host_b.index_dir), 30)
        host_b.kill()
        assert host_b.position()["seen"] < latest, "B finished before it was killed"

        host_b.start()
        answers = host_b.wait_ready(timeout=180)
        behind = [body for status, body in answers if status == 503]
        assert behind and behind[0]["reason"] == "the search index is catching up"
        assert behind[0]["behind"] > 0
        status, body = host_b.get("/api/v1/services?q=wombat&per_page=1")
        assert (status, body["total"]) == (200, BULK)
        assert host_b.position()["applied"] == latest
    finally:
        host_a.kill()
        host_b.kill()
    with db.engine.connect() as connection:
        consumers = set(connection.scalars(select(feed.SearchConsumer.name)))
    assert {feed.consumer_name(str(host_b.index_dir))} <= consumers
