"""Importing HSDS packages: 3.0 JSON, 3.0 CSV datapackages and legacy 1.x CSV datapackages.

`import_path(path)` reads the whole package first (a file that can't be read stops everything
before any write), then checks and writes table by table in one transaction that the caller
commits. Rules:
- Ids: source ids that are UUIDs are kept; others become uuid5(namespace, "dataset:table:id"),
  so importing the same package again updates the same records instead of adding copies.
- Bad rows are rejected one by one, with the reason, and the rest imports; a row that needs a
  rejected row (a service whose organization was rejected) is rejected too.
- A location with unusable coordinates keeps everything else, without a point, with a warning.
- Children the package lists completely (a service's phones, when phones.csv is present or a
  service object has "phones") replace what was stored: ones no longer listed are removed.
  Services, organizations and locations themselves are never removed (referrals point at them).
- Fields our exports add (referral_capacity, tz_name) are changed only when the package has them.

- Child rows that share an id with a different row (languages.csv gives every language of a
  service the service's id) are each kept, under an id made from the source id and the row.
- A service whose organization is missing from the export is kept under a placeholder
  organization, flagged for review. Hours only in `original_text` are read from the text, or
  kept as plain-text hours.
- Services of the dataset that a newer export no longer lists are retired (inactive).

The steps, one module each:
    detect    what kind of package the path is (3.0 JSON, 3.0 CSV, 1.x CSV, .zip), and its files
    read      reading the CSV and JSON files (`values`: cleaning the messy values inside them)
    v3/legacy mapping each format to `records`: HSDS 3.0 records with our table names and ids
              (`hours_text`: opening hours written as text)
    checks    each record checked and repaired into a row, or rejected with the reason
    writer    the rows written in bulk; children the package no longer lists removed; services
              it no longer lists retired (`placeholders`: organizations missing from the export)
    report    what the import did, for the console and a CSV file; `runs`: the history of runs
"""

import tempfile
import uuid
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from directory import models
from directory.hsds.importing.detect import (
    DEFAULT_MAX_UNZIPPED_BYTES,
    FORMATS,
    Found,
    csv_files,
    dataset_name,
    detect,
    unzip,
)
from directory.hsds.importing.legacy import LEGACY_FILES, LEGACY_REQUIRED_COLUMNS, LegacyReader
from directory.hsds.importing.read import (
    DEFAULT_MAX_JSON_BYTES,
    CsvTable,
    ImportFailed,
    read_tables,
)
from directory.hsds.importing.records import Context, Origin, Package, Progress
from directory.hsds.importing.report import Counts, Flag, ImportReport
from directory.hsds.importing.v3 import (
    V3_FILES,
    V3_REQUIRED_COLUMNS,
    add_csv_tables,
    add_json_files,
)
from directory.hsds.importing.writer import Writer
from extensions import db

__all__ = ["Counts", "Flag", "ImportFailed", "ImportReport", "import_path"]


# --- importing ----------------------------------------------------------------------------------


def import_path(
    path: str | Path,
    dataset: str | None = None,
    progress: Progress | None = None,
    run_id: uuid.UUID | None = None,
    max_unzipped_bytes: int | None = None,
) -> ImportReport:
    """Import an HSDS package (file, folder or .zip) into the session; flushes, never commits.

    Raises ImportFailed, before writing anything, when the package can't be read as a whole.
    `run_id`: the ImportRun the review flags it raises belong to. `max_unzipped_bytes`: the most
    a .zip may unzip to (default: the app's IMPORT_MAX_UNZIPPED_BYTES).
    """
    path = Path(path)
    say = progress or (lambda message: None)
    if path.is_file() and path.suffix.lower() == ".zip":
        if max_unzipped_bytes is None:
            max_unzipped_bytes = current_app.config.get(
                "IMPORT_MAX_UNZIPPED_BYTES", DEFAULT_MAX_UNZIPPED_BYTES
            )
        with tempfile.TemporaryDirectory(prefix="hsds-import-") as folder:
            root = unzip(path, Path(folder), max_unzipped_bytes)
            return _import(root, dataset or None, say, str(path), path.stem, run_id)
    return _import(path, dataset or None, say, str(path), None, run_id)


def _import(
    path: Path,
    dataset: str | None,
    say: Progress,
    shown: str,
    default_name: str | None,
    run_id: uuid.UUID | None,
) -> ImportReport:
    if not path.exists():
        raise ImportFailed(f"{path} does not exist")
    found = detect(path)
    name = (dataset or "").strip() or dataset_name(path, found, default_name)
    package = Package(format=FORMATS[found.kind], dataset=name)
    ctx = Context(package, _stored_taxonomies())
    if found.kind == "json":
        cap = current_app.config.get("IMPORT_MAX_JSON_BYTES", DEFAULT_MAX_JSON_BYTES)
        add_json_files(ctx, found.json_files, say, cap)
    elif found.kind == "v3":
        tables = _csv_tables(found, V3_FILES, V3_REQUIRED_COLUMNS, package, say)
        _missing(found, V3_FILES, tables, package)
        add_csv_tables(ctx, tables)
    else:
        tables = _csv_tables(found, LEGACY_FILES, LEGACY_REQUIRED_COLUMNS, package, say)
        _missing(found, LEGACY_FILES, tables, package)
        LegacyReader(ctx, tables).read()
    if not any(package.records.values()) and not package.rejected:
        raise ImportFailed(f"{shown} holds no HSDS records")
    report = ImportReport(path=shown, format=package.format, dataset=name, files=package.files)
    Writer(package, report, say, run_id).run()
    return report


def _missing(
    found: Found, names: dict[str, str | None], tables: dict[str, CsvTable], package: Package
) -> None:
    """Name the resources the descriptor lists but the package lacks: a missing services
    table is an error (nothing to import, nothing to retire), any other a warning."""
    for resource, target in found.missing:
        table = names.get(resource.lower(), names.get(Path(target).stem.lower()))
        if table in tables:
            continue  # found under another name
        origin = Origin("datapackage.json", f"resource {resource!r}")
        where = "beside datapackage.json, in data/ or one folder down"
        if table == "service":
            package.error("service", origin, f"{target} is not {where}: no services imported")
        else:
            package.warn(table or "unknown", origin, f"{target} is not {where}; left out")
    if "service" not in tables and not any(i.table == "service" for i in package.errors):
        package.error("service", Origin(found.folder.name, ""), "the package has no services file")


def _csv_tables(
    found: Found,
    names: dict[str, str | None],
    required: dict[str, tuple[str, ...]],
    package: Package,
    say: Progress,
) -> dict[str, CsvTable]:
    """Read every CSV file of the package whose resource or file name is an HSDS table."""
    return read_tables(found.folder, csv_files(found, names), names, required, package, say)


def _stored_taxonomies() -> dict[str, uuid.UUID]:
    rows = db.session.execute(select(models.Taxonomy.id, models.Taxonomy.name))
    return {name.strip().lower(): taxonomy_id for taxonomy_id, name in rows if name}
