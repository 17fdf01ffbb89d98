"""An import from an uploaded export (.zip), done by the job worker (web.jobs), never inside the
web request: the upload is kept in the job row, unzipped by the worker into a temporary folder
(with the importer's zip checks), imported in the worker's transaction and recorded as an
ImportRun like `flask directory import-hsds`; the job's result is the report."""

import tempfile
from pathlib import Path

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from directory.hsds.importing import ImportFailed, import_path, runs
from directory.hsds.importing.records import TABLE_ORDER
from extensions import utcnow
from web import jobs
from web.unit_of_work import commit_step, discard

KIND = "import-hsds"
ZIP_MAGIC = b"PK\x03\x04"
# Steps the progress bar counts: reading the files, each table written, the report.
STEPS = len(TABLE_ORDER) + 2


def looks_like_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def queue_import(file_name: str, data: bytes, dataset: str, user) -> jobs.Job:
    """Queue an uploaded export for the worker; the upload waits in the job row."""
    return jobs.enqueue(
        KIND,
        {"dataset": dataset, "started_by": user.email},
        file_name=file_name,
        file_data=data,
        created_by_id=user.id,
    )


def _progress_steps(progress: jobs.Progress):
    """The importer's lines as steps of the bar: "read …" lines are step 1, a table's line
    ("service: 3 created, …") the step of that table."""

    def say(message: str) -> None:
        table = message.split(":", 1)[0]
        done = TABLE_ORDER.index(table) + 2 if table in TABLE_ORDER else 1
        progress(done, STEPS, message)

    return say


def run_import_job(job: jobs.Job, progress: jobs.Progress) -> dict:
    """Import the job's upload; the report's counts, flags and lines as the job's result."""
    started = utcnow()
    source = f"upload: {job.file_name}"
    started_by = job.payload.get("started_by") or "upload"
    folder = Path(
        current_app.config.get("IMPORT_REPORT_DIR")
        or Path(current_app.instance_path) / "import-reports"
    )
    # Committed before the import, so the imports page lists it as running meanwhile (and, on
    # SQLite, the progress reports of the reading can be written: no write is pending yet).
    run = runs.start_run(source, started_by)
    commit_step()
    progress(0, STEPS, f"Reading {job.file_name}")
    try:
        with tempfile.TemporaryDirectory(prefix="upload-") as temporary:
            path = Path(temporary) / (Path(job.file_name or "upload.zip").stem + ".zip")
            path.write_bytes(job.file_data or b"")
            report = import_path(
                path,
                dataset=job.payload.get("dataset") or None,
                progress=_progress_steps(progress),
                run_id=run.id,
            )
        progress(STEPS - 1, STEPS, "Writing the report")
        target = runs.default_report_path(folder, report.dataset, started)
        try:
            written = report.write_csv(target)
        except OSError as exc:
            raise ImportFailed(f"can't write the report {target}: {exc.strerror or exc}") from None
        runs.finish_run(run, report, written)
    except (ImportFailed, SQLAlchemyError) as exc:
        discard()
        message = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        runs.fail_run(run.id, message)
        commit_step()  # the failed run stays in the history; the job is marked failed next
        raise jobs.JobFailed(f"{message}. Nothing was imported.") from None
    return {
        "run_id": str(run.id),
        "dataset": report.dataset,
        "format": report.format,
        "counts": report.counts_json(),
        "flags": len(report.flags),
        "errors": [str(issue) for issue in report.errors],
        "lines": report.lines(),
    }


jobs.register(KIND, run_import_job)
