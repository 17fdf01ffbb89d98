"""The history of imports (ImportRun) and the records they kept for review (ReviewFlag).

Each run is recorded with who started it, from what, its counts and where its full report is,
so network admins can see what was loaded and when. A run is written in the import's own
transaction (its review flags point at it); a run that fails is rolled back with everything
else and recorded afterwards on its own. Like every service these flush and never commit.
"""

import re
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from directory.hsds.importing.report import ImportReport
from directory.models import ImportRun, Location, Organization, ReviewFlag
from extensions import db, utcnow

PER_PAGE = 20


def report_file_name(dataset: str | None, when: datetime) -> str:
    """ "20261204-190000-county-211.csv": sortable, and safe as a file name."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", dataset or "import").strip("-.")[:80] or "import"
    return f"{when:%Y%m%d-%H%M%S}-{slug}.csv"


def default_report_path(folder: Path, dataset: str | None, when: datetime) -> Path:
    """A new file for a run's report in `folder` (instance/import-reports)."""
    path = folder / report_file_name(dataset, when)
    number = 1
    while path.exists():
        number += 1
        path = folder / f"{path.stem.rsplit('~', 1)[0]}~{number}.csv"
    return path


def start_run(source: str, started_by: str) -> ImportRun:
    """Record that an import starts; its review flags will point at this run."""
    run = ImportRun(source=source[:2000], started_by=started_by[:320], status="running")
    db.session.add(run)
    db.session.flush()
    return run


def finish_run(run: ImportRun, report: ImportReport, report_path: Path | None) -> None:
    """Record what the import did, in the same transaction as the import."""
    run.dataset = report.dataset
    run.counts = report.counts_json()
    run.report_path = str(report_path) if report_path else None
    run.status = "succeeded"
    run.finished_at = utcnow()
    run.message = "; ".join(f"error: {issue}" for issue in report.errors)
    db.session.flush()


def record_failed_run(
    source: str, started_by: str, message: str, started_at: datetime | None = None
) -> ImportRun:
    """Record an import that changed nothing (its transaction was rolled back), with why."""
    run = ImportRun(
        source=source[:2000],
        started_by=started_by[:320],
        status="failed",
        message=message,
        finished_at=utcnow(),
    )
    if started_at is not None:
        run.started_at = started_at
    db.session.add(run)
    db.session.flush()
    return run


def fail_run(run_id: uuid.UUID, message: str) -> None:
    """Mark a run recorded before its import (an uploaded one) as failed: nothing was kept."""
    run = db.session.get(ImportRun, run_id)
    if run is not None:
        run.status = "failed"
        run.message = message
        run.finished_at = utcnow()
        db.session.flush()


def list_runs(page: int = 1, per_page: int = PER_PAGE) -> tuple[list[ImportRun], int]:
    """A page of runs, newest first, and the number of pages."""
    total = db.session.scalar(select(func.count()).select_from(ImportRun)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    runs = db.session.scalars(
        select(ImportRun)
        .order_by(ImportRun.started_at.desc(), ImportRun.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(runs), pages


def open_flags(limit: int = 200) -> list[tuple[ReviewFlag, str | None]]:
    """Open review flags, oldest first, each with the name of the record it is about."""
    flags = db.session.scalars(
        select(ReviewFlag)
        .where(ReviewFlag.resolved_at.is_(None))
        .order_by(ReviewFlag.created_at, ReviewFlag.id)
        .limit(limit)
    ).all()
    names: dict[tuple[str, uuid.UUID], str | None] = {}
    for table, model in (("organization", Organization), ("location", Location)):
        ids = [f.record_id for f in flags if f.record_table == table]
        if ids:
            rows = db.session.execute(select(model.id, model.name).where(model.id.in_(ids)))
            names.update({(table, row.id): row.name for row in rows})
    return [(f, names.get((f.record_table, f.record_id))) for f in flags]


def count_open_flags() -> int:
    """How many flags wait for review."""
    query = select(func.count()).select_from(ReviewFlag).where(ReviewFlag.resolved_at.is_(None))
    return db.session.scalar(query) or 0


def resolve_flag(flag_id: uuid.UUID, resolved_by: str) -> ReviewFlag | None:
    """Mark a flag as checked by a person; the flag stays, as a record of who checked it."""
    flag = db.session.get(ReviewFlag, flag_id)
    if flag is None:
        return None
    if flag.resolved_at is None:
        flag.resolved_at = utcnow()
        flag.resolved_by = resolved_by[:320]
        db.session.flush()
    return flag
