"""Background jobs recorded in the database: long work (an uploaded import) never runs inside a
web request. A request writes a `Job` row (with its upload, in the database: hosts share no
disk); `flask jobs work` (one per host, `./scripts/run` starts one) claims jobs one at a time.

Safe on several hosts: a job is claimed by a committed conditional UPDATE (status and attempts
still as read); on PostgreSQL `SELECT … FOR UPDATE SKIP LOCKED` lets the workers pick different
rows. The claim is a lease (JOB_LEASE_SECONDS) that the worker's progress reports extend; a
worker that dies leaves its job to be claimed again when the lease ends, until JOB_MAX_ATTEMPTS,
then the job is marked failed. A job that fails keeps its upload, so nothing is lost.

Handlers are registered by kind (`register("import-hsds", handler)`); a handler gets the job
and a `progress(done, total, message)` callable, does its work in the session (flush, never
commit) and returns the result (a JSON object). The worker commits the work and the job's
result together.
"""

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import click
from flask import current_app
from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    and_,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, deferred, mapped_column

from extensions import UTCDateTime, db, utcnow
from web.unit_of_work import UnitOfWorkGroup, commit_step, discard

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "done", "failed")


class JobFailed(Exception):
    """A job that can't succeed (a bad upload): marked failed at once, with this message."""


class Job(db.Model):
    """A piece of background work, its progress and its outcome."""

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        Index("ix_job_claimable", "status", "lease_expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    # An uploaded file the job works on, kept in the database so any host's worker can read it.
    file_name: Mapped[str | None] = mapped_column(String(300))
    file_data: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    progress_message: Mapped[str] = mapped_column(String(500), default="")
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A name, not an import: the account table is defined above this module (accounts/).
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return None
        return min(100, round(100 * self.progress_done / self.progress_total))

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} {self.status}>"


Progress = Callable[[int, int, str], None]
Handler = Callable[[Job, Progress], dict]
_handlers: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    """Name the function that does the work of jobs of `kind`."""
    _handlers[kind] = handler


def enqueue(
    kind: str,
    payload: dict | None = None,
    *,
    file_name: str | None = None,
    file_data: bytes | None = None,
    created_by_id: uuid.UUID | None = None,
) -> Job:
    """Queue a job; it exists (and a worker may take it) once the caller commits."""
    job = Job(
        kind=kind,
        payload=payload or {},
        file_name=file_name,
        file_data=file_data,
        created_by_id=created_by_id,
        progress_message="Waiting for a worker",
    )
    db.session.add(job)
    db.session.flush()
    return job


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def _lease() -> timedelta:
    return timedelta(seconds=current_app.config["JOB_LEASE_SECONDS"])


def claim_next(owner: str, now: datetime | None = None) -> Job | None:
    """Lease the oldest queued job (or one whose worker's lease ran out) to `owner`; None when
    there is none, or another worker got it first. Commits the claim before the work starts."""
    now = now or utcnow()
    stmt = (
        select(Job)
        .where(
            or_(
                Job.status == "queued",
                and_(Job.status == "running", Job.lease_expires_at < now),
            )
        )
        .order_by(Job.created_at, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)  # PostgreSQL: workers pick different rows
    )
    job = db.session.scalars(stmt).first()
    if job is None:
        discard()  # ends the read (and its row locks) before the worker sleeps
        return None
    if job.status == "running" and job.attempts >= current_app.config["JOB_MAX_ATTEMPTS"]:
        _give_up(job, now)
        return claim_next(owner, now)
    claimed = db.session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == job.status, Job.attempts == job.attempts)
        .values(
            status="running",
            attempts=Job.attempts + 1,
            lease_owner=owner,
            lease_expires_at=now + _lease(),
            started_at=now,
            heartbeat_at=now,
            error=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    commit_step()  # the lease must be visible to the other workers before the work starts
    if claimed != 1:
        return None
    return db.session.get(Job, job.id, populate_existing=True)


def _give_up(job: Job, now: datetime) -> None:
    job.status = "failed"
    job.finished_at = now
    job.error = (
        f"The worker stopped during the job {job.attempts} times (it crashed or its host "
        "went down); it is not tried again. The upload is kept: queue it again."
    )
    job.lease_owner = None
    commit_step()
    log.error("job %s given up after %s attempts", job.id, job.attempts)


def _progress_for(job_id: uuid.UUID, owner: str) -> Progress:
    """Report progress on a connection of its own, committed at once so pages see it while the
    job's own transaction is still open; it also extends the lease (the heartbeat).

    SQLite allows one writer: while the job's transaction writes, a report waits a moment and
    is skipped (the page shows the last one that got through)."""
    engine = db.engine
    sqlite = engine.dialect.name == "sqlite"

    def report(done: int, total: int, message: str) -> None:
        now = utcnow()
        try:
            with engine.connect() as connection:
                if sqlite:
                    connection.exec_driver_sql("PRAGMA busy_timeout = 200")
                try:
                    connection.execute(
                        update(Job)
                        .where(Job.id == job_id, Job.lease_owner == owner)
                        .values(
                            progress_done=done,
                            progress_total=total,
                            progress_message=message[:500],
                            heartbeat_at=now,
                            lease_expires_at=now + _lease(),
                        )
                    )
                    connection.commit()
                finally:
                    if sqlite:  # the pooled connection's usual patience (geo.spatialite)
                        connection.rollback()
                        connection.exec_driver_sql("PRAGMA busy_timeout = 10000")
        except SQLAlchemyError as exc:
            log.info("job %s: progress not recorded (%s)", job_id, exc.__class__.__name__)

    return report


def run_job(job: Job, owner: str) -> None:
    """Do a claimed job: commit its work with its result, or roll back and record why."""
    handler = _handlers.get(job.kind)
    job_id = job.id
    try:
        if handler is None:
            raise JobFailed(f"No worker knows jobs of kind {job.kind!r}.")
        result = handler(job, _progress_for(job_id, owner))
    except Exception as exc:  # noqa: BLE001  (any failure is recorded on the job)
        discard()
        message = str(exc) if isinstance(exc, JobFailed) else f"{exc.__class__.__name__}: {exc}"
        if not isinstance(exc, JobFailed):
            log.exception("job %s failed", job_id)
        _finish(job_id, owner, "failed", error=message)
        return
    _finish(job_id, owner, "done", result=result)


def _finish(job_id: uuid.UUID, owner: str, status: str, **values) -> None:
    # Locked (PostgreSQL) until the commit, so no other worker claims it in between.
    job = db.session.get(Job, job_id, populate_existing=True, with_for_update=True)
    if job is None or job.lease_owner != owner:
        # The lease ran out and another worker took the job: its run counts, not this one.
        discard()
        log.warning("job %s: lease lost by %s; its work is undone", job_id, owner)
        return
    job.status = status
    job.finished_at = utcnow()
    job.lease_owner = None
    job.lease_expires_at = None
    if status == "done":
        job.progress_done = job.progress_total = max(job.progress_total, 1)
        job.progress_message = "Finished"
    for name, value in values.items():
        setattr(job, name, value)
    commit_step()  # with the handler's work, when it succeeded


def work_once(owner: str | None = None) -> Job | None:
    """Claim and do one job; the job, or None when none was waiting."""
    owner = owner or worker_name()
    job = claim_next(owner)
    if job is not None:
        log.info("job %s (%s) claimed by %s", job.id, job.kind, owner)
        run_job(job, owner)
    return job


group = UnitOfWorkGroup("jobs", help="Run background jobs (uploaded imports).")


@group.command("work")
@click.option("--once", is_flag=True, help="Do the jobs waiting now, then stop.")
@click.option("--sleep", default=2.0, show_default=True, help="Seconds between looks.")
def work_command(once: bool, sleep: float) -> None:
    """Do queued jobs one at a time; safe to run on several hosts at once."""
    owner = worker_name()
    click.echo(f"Job worker {owner} started", err=True)
    while True:
        try:
            job = work_once(owner)
        except SQLAlchemyError as exc:  # the database is away or busy: look again later
            discard()
            click.echo(f"Job worker: the database did not answer ({exc.__class__.__name__})")
            job = None
        if job is not None:
            job = db.session.get(Job, job.id)
            click.echo(f"job {job.id} ({job.kind}): {job.status}", err=True)
            continue
        if once:
            return
        time.sleep(sleep)
