"""`flask directory ...` commands. Each is one unit of work (web.unit_of_work): it commits once,
or not at all.

`flask directory seed-demo` seeds the demo accounts too, so it lives in accounts/cli.py (the
directory imports no accounts code) and create_app adds it to this group.
"""

import os

import click

from web.unit_of_work import UnitOfWorkGroup, commit_step, discard

group = UnitOfWorkGroup("directory", help="Import, export, seed and index the resource directory.")


def update_search_index() -> None:
    """Bring this host's search index up to date after a command's bulk writes.

    The import and the demo seed write with Core statements (one executemany per table) and
    name those rows to the search change feed (`search.sync.note_rows`), so every host's index
    follows them, this one too: it applies the feed (in chunks). Only an index the feed can't
    bring up to date (none yet, or stale: an older document shape) is rebuilt, in one pass. The
    data is committed either way: a failed update only says so.
    """
    from directory import search

    try:
        if search.catch_up():
            click.echo("Search index up to date: the change feed applied")
            return
        count = search.reindex()
    except Exception as exc:  # the data is committed; only the index lags
        click.echo(
            f"The search index was not brought up to date ({exc}); run 'flask directory reindex'.",
            err=True,
        )
    else:
        click.echo(f"Search index rebuilt: {count} services")


def _refresh_planner_statistics() -> None:
    """PostgreSQL plans queries by table statistics that autovacuum refreshes only some time
    after a bulk load; until then a plan made for 300 rows runs on 300,000. ANALYZE now.
    (SQLite keeps no statistics unless asked, and the app never asks.)"""
    from sqlalchemy import text

    from extensions import db

    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))


@group.command("import-hsds")
@click.argument("path", type=click.Path(exists=True))
@click.option(
    "--dataset",
    help="A stable name for the source (default: the datapackage's name, else the folder's). "
    "Non-UUID ids are made unique per dataset, and services of the dataset that a newer export "
    "no longer lists are retired: import a source under the same name each time.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Read, check and report everything, and write nothing (but the report file).",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, writable=True),
    help="Where to write the CSV of every rejection, warning and repair "
    "(default: a new file in instance/import-reports/).",
)
def import_hsds(path: str, dataset: str | None, dry_run: bool, report_file: str | None) -> None:
    """Import an HSDS 3.0 JSON/CSV package or a legacy HSDS 1.x CSV package (folder or .zip).

    All or nothing: the import commits once at the end, or changes nothing. Each run is
    recorded (network admins see the history at /admin/imports); a dry run is not.
    """
    import time
    from pathlib import Path

    from flask import current_app
    from sqlalchemy.exc import SQLAlchemyError

    from directory.hsds.importing import ImportFailed, import_path, runs
    from extensions import utcnow

    def show(message: str) -> None:
        click.echo(f"  {message}", err=True)

    started, clock = utcnow(), time.monotonic()
    source = str(Path(path).resolve())
    folder = Path(
        current_app.config.get("IMPORT_REPORT_DIR")
        or Path(current_app.instance_path) / "import-reports"
    )
    click.echo(f"{'Checking (dry run)' if dry_run else 'Importing'} {path}", err=True)
    try:
        run = None if dry_run else runs.start_run(source, "cli")
        report = import_path(path, dataset=dataset, progress=show, run_id=run and run.id)
        target = Path(report_file or runs.default_report_path(folder, report.dataset, started))
        try:
            written = report.write_csv(target)
        except OSError as exc:
            raise ImportFailed(f"can't write the report {target}: {exc.strerror or exc}") from None
        if run is None:
            discard()  # a dry run writes nothing but the report file
        else:
            runs.finish_run(run, report, written)
            # Now, not when the command returns: the statistics and the index read committed rows.
            commit_step()
    except (ImportFailed, SQLAlchemyError) as exc:
        discard()
        if isinstance(exc, SQLAlchemyError):
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            message = f"the database refused the import ({reason})"
        else:
            message = str(exc)
        if not dry_run:
            _record_failure(source, message, started)
        raise click.ClickException(f"{message}. Nothing was imported.") from None
    for line in report.lines():
        click.echo(line)
    seconds = time.monotonic() - clock
    click.echo(f"Full report ({_rows(report)} rows): {written}")
    if dry_run:
        click.echo(f"Dry run: nothing was written ({seconds:.1f} s).")
        return
    click.echo(f"Import recorded as run {run.id} ({seconds:.1f} s).")
    if report.changed():
        _refresh_planner_statistics()
        update_search_index()


def _record_failure(source: str, message: str, started) -> None:
    """Keep a failed run in the history, if the database still answers."""
    from sqlalchemy.exc import SQLAlchemyError

    from directory.hsds.importing import runs

    try:
        runs.record_failed_run(source, "cli", message, started)
        commit_step()  # kept although the command fails (and its unit of work rolls back)
    except SQLAlchemyError:
        discard()
        click.echo("The failed run could not be recorded either.", err=True)


def _rows(report) -> int:
    return sum(len(issues) for _, _, issues in report.sections())


@group.command("export-hsds")
@click.argument("directory", type=click.Path(file_okay=False))
def export_hsds(directory: str) -> None:
    """Write the directory as HSDS 3.0 JSON (DIRECTORY/json) and CSV (DIRECTORY/csv)."""
    from directory.hsds.export import export_package

    def show(name: str, done: int, total: int) -> None:
        click.echo(f"  {name}: {done:,}/{total:,}")

    click.echo(f"Exporting HSDS 3.0 to {directory}")
    try:
        summary = export_package(directory, progress=show)
    except OSError as exc:
        raise click.ClickException(f"can't write to {directory}: {exc.strerror or exc}") from None
    services = summary.counts.get("json/services.json", 0)
    organizations = summary.counts.get("json/organizations.json", 0)
    click.echo(
        f"Wrote {services:,} services and {organizations:,} organizations "
        f"to {summary.directory / 'json'} and {summary.directory / 'csv'}"
    )


@group.command("load-taxonomy")
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--name", help="The taxonomy's name (default: from the file name).")
def load_taxonomy(path: str | None, name: str | None) -> None:
    """Load Open Eligibility, or the taxonomy CSV at PATH (columns id, name, parent_id)."""
    from directory.taxonomy import (
        TaxonomyFileError,
        count_terms,
        load_open_eligibility,
        load_taxonomy_file,
    )

    try:
        taxonomy = load_taxonomy_file(path, name) if path else load_open_eligibility()
        terms = count_terms(taxonomy.id)
    except TaxonomyFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Loaded the taxonomy {taxonomy.name!r}: {terms} terms")


@group.command("reindex")
@click.option(
    "--procs",
    type=click.IntRange(1, 16),
    default=lambda: min(2, os.cpu_count() or 1),
    show_default="2 on a machine with two cores or more",
    help="Processes analysing text (used from 20,000 services).",
)
def reindex(procs: int) -> None:
    """Rebuild the search index from the database (a fresh index is swapped in at the end)."""
    import time

    from directory import search

    bars: list = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(click.progressbar(length=total, label="Indexing services"))
            bars[0].__enter__()
        bars[0].update(done - bars[0].pos)

    started = time.monotonic()
    try:
        count = search.reindex(progress, procs)
    finally:
        if bars:
            bars[0].__exit__(None, None, None)
    click.echo(f"Search index rebuilt: {count} services in {time.monotonic() - started:.1f} s")
