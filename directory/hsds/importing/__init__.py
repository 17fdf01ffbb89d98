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

The steps, one module each:
    detect    what kind of package the path is (3.0 JSON, 3.0 CSV, 1.x CSV, .zip), and its files
    read      reading the CSV and JSON files (`values`: cleaning the messy values inside them)
    v3/legacy mapping each format to `records`: HSDS 3.0 records with our table names and ids
    checks    each record checked and repaired into a row, or rejected with the reason
    writer    the rows written in bulk; children the package no longer lists removed
"""

import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from directory import models
from directory.hsds.importing.detect import FORMATS, Found, csv_files, dataset_name, detect, unzip
from directory.hsds.importing.legacy import LEGACY_FILES, LEGACY_REQUIRED_COLUMNS, LegacyReader
from directory.hsds.importing.read import CsvTable, ImportFailed, read_tables
from directory.hsds.importing.records import TABLE_ORDER, Context, Issue, Package, Progress
from directory.hsds.importing.v3 import (
    V3_FILES,
    V3_REQUIRED_COLUMNS,
    add_csv_tables,
    add_json_files,
)
from directory.hsds.importing.writer import Writer
from extensions import db

__all__ = ["Counts", "ImportFailed", "ImportReport", "import_path"]


# --- the report ---------------------------------------------------------------------------------


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    removed: int = 0

    def total(self) -> int:
        return self.created + self.updated + self.unchanged + self.rejected + self.removed


@dataclass
class ImportReport:
    """What an import did: counts per HSDS object type, every rejected record, every warning."""

    path: str
    format: str
    dataset: str
    counts: dict[str, Counts] = field(default_factory=dict)
    rejected: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def changed(self) -> bool:
        """Whether the import created, updated or removed anything."""
        return any(c.created or c.updated or c.removed for c in self.counts.values())

    def count(self, table: str) -> Counts:
        """The counts for one object type (zeros when the package had none)."""
        return self.counts.setdefault(table, Counts())

    def lines(self) -> list[str]:
        """The report as text lines for a terminal."""
        out = [f"Imported {self.format} from {self.path} as dataset {self.dataset!r}."]
        header = f"{'object type':<24}{'created':>9}{'updated':>9}{'unchanged':>11}"
        out.append(header + f"{'rejected':>10}{'removed':>9}")
        for table in (*TABLE_ORDER, "unknown"):
            c = self.counts.get(table)
            if c is None or not c.total():
                continue
            out.append(
                f"{table:<24}{c.created:>9}{c.updated:>9}{c.unchanged:>11}"
                f"{c.rejected:>10}{c.removed:>9}"
            )
        if self.rejected:
            out.append(f"Rejected {len(self.rejected)} record(s):")
            out.extend(f"  {issue.table}: {issue}" for issue in self.rejected)
        if self.warnings:
            out.append(f"Warnings ({len(self.warnings)}):")
            out.extend(f"  {issue.table}: {issue}" for issue in self.warnings)
        return out


# --- importing ----------------------------------------------------------------------------------


def import_path(
    path: str | Path, dataset: str | None = None, progress: Progress | None = None
) -> ImportReport:
    """Import an HSDS package (file, folder or .zip) into the session; flushes, never commits.

    Raises ImportFailed, before writing anything, when the package can't be read as a whole.
    """
    path = Path(path)
    say = progress or (lambda message: None)
    if path.is_file() and path.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="hsds-import-") as folder:
            root = unzip(path, Path(folder))
            return _import(root, dataset or None, say, shown=str(path), default_name=path.stem)
    return _import(path, dataset or None, say, shown=str(path), default_name=None)


def _import(
    path: Path, dataset: str | None, say: Progress, shown: str, default_name: str | None
) -> ImportReport:
    if not path.exists():
        raise ImportFailed(f"{path} does not exist")
    found = detect(path)
    name = (dataset or "").strip() or dataset_name(path, found, default_name)
    package = Package(format=FORMATS[found.kind], dataset=name)
    ctx = Context(package, _stored_taxonomies())
    if found.kind == "json":
        add_json_files(ctx, found.json_files, say)
    elif found.kind == "v3":
        add_csv_tables(ctx, _csv_tables(found, V3_FILES, V3_REQUIRED_COLUMNS, package, say))
    else:
        tables = _csv_tables(found, LEGACY_FILES, LEGACY_REQUIRED_COLUMNS, package, say)
        LegacyReader(ctx, tables).read()
    if not any(package.records.values()) and not package.rejected:
        raise ImportFailed(f"{shown} holds no HSDS records")
    report = ImportReport(path=shown, format=package.format, dataset=name, files=package.files)
    Writer(package, report, say).run()
    return report


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
