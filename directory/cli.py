"""`flask directory ...` commands. Each is one unit of work: it commits once, or not at all."""

import click

from directory.views import bp


@bp.cli.command("import-hsds")
@click.argument("path", type=click.Path(exists=True))
def import_hsds(path: str) -> None:
    """Import an HSDS 3.0 JSON/CSV package or a legacy HSDS 1.x CSV package."""
    raise click.ClickException("not implemented yet")


@bp.cli.command("export-hsds")
@click.argument("directory", type=click.Path(file_okay=False))
def export_hsds(directory: str) -> None:
    """Write the directory as HSDS 3.0 JSON (DIRECTORY/json) and CSV (DIRECTORY/csv)."""
    from directory.hsds_export import export_package

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


@bp.cli.command("seed-demo")
def seed_demo() -> None:
    """Load the demo network."""
    raise click.ClickException("not implemented yet")


@bp.cli.command("reindex")
def reindex() -> None:
    """Rebuild the search index from the database."""
    raise click.ClickException("not implemented yet")
