"""Writing the directory as HSDS 3.0: nested JSON and a CSV Tabular Data Package.

    DIR/json/services.json        every service, fully nested (a list valid against HSDS's
                                  compiled service_package.json): phones, schedules, service
                                  areas, service_at_locations with their full location, languages,
                                  funding, cost options, program, required documents, contacts,
                                  attributes with their taxonomy term, change history (metadata)
    DIR/json/organizations.json   every organization, fully nested except its services (those
                                  are in services.json and point back by organization_id)
    DIR/json/taxonomies.json      every taxonomy
    DIR/json/taxonomy_terms.json  every taxonomy term (taxonomy_id, parent_id, taxonomy name)
    DIR/csv/datapackage.json      HSDS 3.0's own descriptor, plus our two extension columns
    DIR/csv/*.csv                 one file per HSDS table, columns as datapackage.json lists them
                                  (all 21 tables; a table we hold nothing for is a header row)

Each folder imports on its own (`flask directory import-hsds DIR/json` or `DIR/csv`). The JSON is
HSDS 3.0's canonical form; the CSV package holds every row of every table, including what no
nesting reaches (a location that neither an organization nor a service owns, history of deleted
records). In CSV, metadata.last_action_date is a date, as the descriptor types it; JSON keeps the
time. Extensions: `referral_capacity` (service) and `tz_name` (schedule).

Objects and rows are ordered by id, so exporting the same data twice gives the same bytes. The
export reads one consistent snapshot (its own read-only session; REPEATABLE READ on PostgreSQL)
and writes each file beside its final name, moving them into place only when all are written.
"""

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Column, select
from sqlalchemy.orm import Session, selectinload

from directory.hsds import serialize as hsds_json
from directory.models import (
    Accessibility,
    Address,
    Attribute,
    ChangeRecord,
    Contact,
    CostOption,
    Funding,
    Language,
    Location,
    Organization,
    OrganizationIdentifier,
    Phone,
    Program,
    RequiredDocument,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    Taxonomy,
    TaxonomyTerm,
)
from extensions import db

# HSDS tables (datapackage resource names) and the models holding them.
TABLE_MODELS: dict[str, type | None] = {
    "organization": Organization,
    "program": Program,
    "service": Service,
    "attribute": Attribute,
    "service_at_location": ServiceAtLocation,
    "location": Location,
    "phone": Phone,
    "contact": Contact,
    "address": Address,
    "schedule": Schedule,
    "funding": Funding,
    "service_area": ServiceArea,
    "required_document": RequiredDocument,
    "language": Language,
    "accessibility": Accessibility,
    "taxonomy_term": TaxonomyTerm,
    "metadata": ChangeRecord,
    "meta_table_description": None,  # we keep no table descriptions: header only
    "cost_option": CostOption,
    "organization_identifier": OrganizationIdentifier,
    "taxonomy": Taxonomy,
}

BATCH_SIZE = 200  # nested objects serialized per round of bulk queries
CSV_FETCH = 2000  # rows streamed per fetch

Progress = Callable[[str, int, int], None]  # (file name, done, total)


@dataclass
class ExportSummary:
    """What an export wrote: the folder and, per file, how many objects or rows."""

    directory: Path
    counts: dict[str, int] = field(default_factory=dict)


def _no_progress(name: str, done: int, total: int) -> None:
    pass


def export_package(
    directory: str | Path, *, progress: Progress | None = None, batch_size: int = BATCH_SIZE
) -> ExportSummary:
    """Write the whole directory as HSDS 3.0 JSON (DIR/json) and CSV (DIR/csv)."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    progress = progress or _no_progress
    summary = ExportSummary(target)
    staging = Path(tempfile.mkdtemp(prefix=".hsds-export-", dir=target))
    try:
        with _snapshot_session() as session:
            (staging / "json").mkdir()
            (staging / "csv").mkdir()
            _write_json_files(session, staging / "json", summary, progress, batch_size)
            _write_csv_package(session, staging / "csv", summary, progress)
        for sub in ("json", "csv"):
            (target / sub).mkdir(exist_ok=True)
            for path in sorted((staging / sub).iterdir()):
                os.replace(path, target / sub / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def _snapshot_session() -> Session:
    """A session of its own that reads one consistent state of the database throughout."""
    session = Session(bind=db.engine, autoflush=False, expire_on_commit=False)
    if db.engine.dialect.name == "postgresql":
        session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
    elif db.engine.dialect.name == "sqlite":
        # pysqlite opens no transaction for reads, so each SELECT would see the latest data; an
        # explicit BEGIN makes every read share one WAL snapshot (writers are not blocked).
        session.connection().exec_driver_sql("BEGIN")
    return session


# ------------------------------------------------------------------ JSON


class _JsonList:
    """A JSON array written one object per line, so a big export never sits in memory."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.count = stream, 0

    def write(self, obj: Any) -> None:
        self.stream.write("[\n" if self.count == 0 else ",\n")
        self.stream.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
        self.count += 1

    def close(self) -> None:
        self.stream.write("[]\n" if self.count == 0 else "\n]\n")


def _ids(session: Session, model: type) -> list:
    return list(session.scalars(select(model.id).order_by(model.id)))


def _batches(ids: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _write_nested(
    session: Session,
    path: Path,
    model: type,
    options: Sequence,
    serialize: Callable[[Sequence], list[dict]],
    summary: ExportSummary,
    progress: Progress,
    batch_size: int,
) -> None:
    ids = _ids(session, model)
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        out = _JsonList(stream)
        progress(path.name, 0, len(ids))
        for batch in _batches(ids, batch_size):
            query = select(model).where(model.id.in_(batch)).order_by(model.id).options(*options)
            for obj in serialize(session.scalars(query).all()):
                out.write(obj)
            session.expunge_all()  # keep memory flat on big directories
            progress(path.name, out.count, len(ids))
        out.close()
    summary.counts[f"json/{path.name}"] = len(ids)


def _write_json_files(
    session: Session, folder: Path, summary: ExportSummary, progress: Progress, batch_size: int
) -> None:
    _write_nested(
        session,
        folder / "services.json",
        Service,
        hsds_json.SERVICE_FULL_OPTIONS,
        lambda services: hsds_json.services_full(services, with_metadata=True, session=session),
        summary,
        progress,
        batch_size,
    )
    _write_nested(
        session,
        folder / "organizations.json",
        Organization,
        hsds_json.organization_options(full=True, services=None),
        lambda orgs: hsds_json.organizations_full(
            orgs, services=None, with_metadata=True, session=session
        ),
        summary,
        progress,
        batch_size,
    )
    _write_nested(
        session,
        folder / "taxonomies.json",
        Taxonomy,
        (),
        lambda taxonomies: [hsds_json.taxonomy(t) for t in taxonomies],
        summary,
        progress,
        batch_size * 10,
    )
    _write_nested(
        session,
        folder / "taxonomy_terms.json",
        TaxonomyTerm,
        (selectinload(TaxonomyTerm.taxonomy),),
        lambda terms: [hsds_json.taxonomy_term(t, detail=False) for t in terms],
        summary,
        progress,
        batch_size * 10,
    )


# ------------------------------------------------------------------ CSV


def export_descriptor() -> dict[str, Any]:
    """HSDS 3.0's datapackage.json with our extension columns described where they belong."""
    descriptor = json.loads(json.dumps(hsds_json.datapackage()))
    for resource in descriptor["resources"]:
        for name, description in hsds_json.EXTENSION_FIELDS.get(resource["name"], {}).items():
            resource["schema"]["fields"].append(
                {
                    "name": name,
                    "type": "string",
                    "title": name.replace("_", " ").capitalize(),
                    "description": description,
                    "constraints": {"unique": False},
                }
            )
    return descriptor


def _csv_text(value: Any, field_type: str) -> str:
    value = hsds_json.json_value(value)
    if value is None:
        return ""
    if field_type == "date" and isinstance(value, str) and "T" in value:
        return value.split("T", 1)[0]
    return str(value)


def _table_select(table: str, model: type, fields: Sequence[str]):
    """Only the columns the CSV needs (no geometry), the taxonomy's name for terms."""
    columns: list[Column] = []
    for name in fields:
        if table == "taxonomy_term" and name == "taxonomy":
            columns.append(Taxonomy.name.label("taxonomy"))
        elif name in model.__table__.c:
            columns.append(model.__table__.c[name])
    query = select(*columns).order_by(model.__table__.c.id)
    if table == "taxonomy_term":
        query = query.outerjoin(Taxonomy, Taxonomy.id == TaxonomyTerm.taxonomy_id)
    return query


def _write_csv_package(
    session: Session, folder: Path, summary: ExportSummary, progress: Progress
) -> None:
    descriptor = export_descriptor()
    for resource in descriptor["resources"]:
        table, path = resource["name"], folder / resource["path"]
        fields = [(f["name"], f["type"]) for f in resource["schema"]["fields"]]
        model = TABLE_MODELS[table]
        count = 0
        with path.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow([name for name, _ in fields])
            if model is not None:
                query = _table_select(table, model, [name for name, _ in fields])
                result = session.execute(query.execution_options(yield_per=CSV_FETCH))
                for row in result.mappings():
                    writer.writerow([_csv_text(row.get(name), kind) for name, kind in fields])
                    count += 1
        summary.counts[f"csv/{path.name}"] = count
        progress(path.name, count, count)
    (folder / "datapackage.json").write_text(
        json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
