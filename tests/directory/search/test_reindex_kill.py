"""`kill -9` of `flask directory reindex --procs 2`: nothing of it outlives it.

A real process: the reindex command with two Whoosh worker processes, killed mid-rebuild.
Its workers must die with it, no database transaction of it may linger (PostgreSQL: "idle in
transaction" blocked DROP DATABASE for minutes), and the next start removes the half-built
folder and the pending-changes file it left.
"""

import fcntl
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, text

from directory.models import Organization, Service

ROOT = Path(__file__).resolve().parents[3]
SERVICES = 3000
WORDS = (
    "food pantry groceries rent help housing shelter clinic dental vision legal aid tenant "
    "counseling transport ride doctor children family senior veteran job training school "
    "diapers formula utility heating cooling phone internet library tax benefits insurance"
).split()

REINDEX = """
from flask.cli import FlaskGroup

from app import create_app
from directory.search import whoosh_engine

whoosh_engine.MULTIPROCESS_FROM = 1  # worker processes at this test's size too
cli = FlaskGroup(create_app=lambda: create_app({"SEARCH_CHECK_AT_STARTUP": False}))
cli.main(["directory", "reindex", "--procs", "2"])
"""


def _add_services(db, count: int) -> None:
    rng = random.Random(7)
    org_id = uuid.uuid4()
    db.session.execute(insert(Organization), [{"id": org_id, "name": "Bulk Org"}])
    db.session.execute(
        insert(Service),
        [
            {
                "id": uuid.uuid4(),
                "organization_id": org_id,
                "name": " ".join(rng.choices(WORDS, k=4)),
                "description": " ".join(rng.choices(WORDS, k=80)),
                "status": "active",
            }
            for _ in range(count)
        ],
    )
    db.session.commit()


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has let go of everything


def _lock_is_free(path: Path) -> bool:
    """No live process holds an flock on `path` (nothing of a rebuild is running)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _wait_for(condition, timeout: float, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(interval)
    return condition()


def _idle_in_transaction(db) -> int:
    return db.session.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
        )
    ).scalar_one()


def test_kill_9_of_reindex_leaves_no_worker_no_transaction_and_no_folders(
    db, database_url, make_app, tmp_path
):
    _add_services(db, SERVICES)
    db.session.remove()
    index_dir = tmp_path / "search-index"  # the one make_app's apps use
    env = {
        **os.environ,
        "DATABASE_URL": database_url.replace("+psycopg", ""),
        "SECRET_KEY": "reindex-kill",
        "SEARCH_INDEX_DIR": str(index_dir),
    }
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", REINDEX],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: set[int] = set()
    problems = {}
    try:
        workers = _wait_for(lambda: len(_children(process.pid)) >= 2 and _children(process.pid), 60)
        assert len(workers) >= 2, f"the rebuild started no workers (exit {process.poll()})"
        assert list(tmp_path.glob("search-index.building-*")), "killed before it began building"
        process.kill()
        process.wait(timeout=10)

        if not _wait_for(lambda: not any(_alive(p) for p in workers), 5):
            problems["workers alive 5 s later"] = sorted(p for p in workers if _alive(p))
        if db.engine.dialect.name == "postgresql":
            if not _wait_for(lambda: _idle_in_transaction(db) == 0, 5, 0.2):
                problems["idle in transaction 5 s later"] = _idle_in_transaction(db)
            db.session.rollback()
    finally:
        for pid in workers:  # whatever the outcome, leave no process behind
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    # Every process of the rebuild holds its lock; a worker forked after the snapshot above may
    # take a moment more to die on a busy machine. Once none holds it, the next start cleans up.
    if not _wait_for(lambda: _lock_is_free(tmp_path / "search-index.rebuild.lock"), 15, 0.1):
        problems["rebuild lock still held 15 s later"] = True
    make_app(SEARCH_CHECK_AT_STARTUP=False)  # the next start
    leftovers = sorted(
        p.name
        for p in tmp_path.iterdir()
        if p.name.startswith("search-index.") and p.suffix != ".lock"  # locks stay, unheld
    )
    if leftovers:
        problems["left after the next start"] = leftovers
    assert problems == {}


def test_reindex_with_worker_processes_still_completes(db, database_url, app, tmp_path):
    """The same command left alone: every service indexed, nothing left beside the index."""
    from directory.search.engine import current_engine

    _add_services(db, 400)
    db.session.remove()
    env = {
        **os.environ,
        "DATABASE_URL": database_url.replace("+psycopg", ""),
        "SECRET_KEY": "reindex-kill",
        "SEARCH_INDEX_DIR": str(tmp_path / "search-index"),
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", REINDEX], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert b"400 services" in result.stdout, result.stdout
    with app.app_context():
        assert current_engine().searcher().doc_count() == 400
    beside = sorted(p.name for p in tmp_path.glob("search-index.*") if p.suffix != ".lock")
    assert beside == []
