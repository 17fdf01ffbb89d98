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
"""

import tempfile
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    Numeric,
    String,
    Uuid,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.sql.schema import Column

from directory import models
from directory.hsds.importing.legacy import (
    LEGACY_FILES,
    LEGACY_ONLY,
    LEGACY_REQUIRED_COLUMNS,
    LegacyReader,
)
from directory.hsds.importing.read import (
    CsvTable,
    ImportFailed,
    normalize_column,
    read_csv,
    read_datapackage,
    read_json,
)
from directory.hsds.importing.records import (
    ALL_PARENTS,
    OPTIONAL_LINKS,
    OWNER_LINKS,
    REFERENCE_TARGETS,
    REQUIRED_LINKS,
    TABLE_ORDER,
    Context,
    Issue,
    Origin,
    Package,
    Record,
    entity_table,
)
from directory.hsds.importing.v3 import (
    V3_FILES,
    V3_REQUIRED_COLUMNS,
    add_json_document,
    add_tabular_rows,
    kind_from_file_stem,
)
from directory.hsds.importing.values import (
    US_STATES,
    BadValue,
    as_uuid,
    clean_text,
    in_united_states,
    normalize_byday,
    normalize_country,
    normalize_time,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_extension,
    parse_int,
    parse_leading_number,
    parse_utc_offset,
    parse_year,
)
from directory.services import place_location, set_service_area_extent
from extensions import db, utcnow
from geo.shapes import InvalidGeometry

__all__ = ["Counts", "ImportFailed", "ImportReport", "import_path"]

MODELS: dict[str, type] = {
    "taxonomy": models.Taxonomy,
    "taxonomy_term": models.TaxonomyTerm,
    "organization": models.Organization,
    "organization_identifier": models.OrganizationIdentifier,
    "program": models.Program,
    "service": models.Service,
    "location": models.Location,
    "service_at_location": models.ServiceAtLocation,
    "contact": models.Contact,
    "phone": models.Phone,
    "address": models.Address,
    "schedule": models.Schedule,
    "service_area": models.ServiceArea,
    "language": models.Language,
    "accessibility": models.Accessibility,
    "cost_option": models.CostOption,
    "required_document": models.RequiredDocument,
    "funding": models.Funding,
    "attribute": models.Attribute,
    "metadata": models.ChangeRecord,
}

# Our own columns, not HSDS fields: a package that doesn't mention them leaves them alone.
OWN_COLUMNS = {"id", "geom", "dataset", "referral_capacity", "tz_name", "last_modified"}
DATASET_TABLES = {"organization", "service", "location"}
# A service, organization or location missing from a later export is left as it is: referrals
# and agencies point at them. Only their details (phones, hours, sites...) follow the package.
NEVER_REMOVED = {"organization", "service", "location", "taxonomy", "taxonomy_term", "metadata"}
LAT_LON = ("latitude", "longitude")
# Names datapackage templates carry unchanged; they say nothing about where the data came from.
GENERIC_PACKAGE_NAMES = {"", "human_services_data", "hsds", "datapackage", "data", "export"}
GENERIC_FOLDER_NAMES = {"json", "csv", "data", "export", "hsds", "datapackage"}
HSDS_FILE_STEMS = {
    "services",
    "organizations",
    "locations",
    "service_at_locations",
    "taxonomies",
    "taxonomy_terms",
    "programs",
    "data",
    "export",
}
CHUNK = 500

Progress = Callable[[str], None]


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


# --- finding and reading the package ------------------------------------------------------------


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
            root = _unzip(path, Path(folder))
            return _import(root, dataset or None, say, shown=str(path), default_name=path.stem)
    return _import(path, dataset or None, say, shown=str(path), default_name=None)


def _unzip(path: Path, folder: Path) -> Path:
    try:
        with zipfile.ZipFile(path) as archive:
            archive.extractall(folder)  # noqa: S202 (zipfile drops absolute and ".." parts)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFailed(f"{path.name} is not a readable zip file: {exc}") from None
    entries = [p for p in folder.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return folder


def _import(
    path: Path, dataset: str | None, say: Progress, shown: str, default_name: str | None
) -> ImportReport:
    if not path.exists():
        raise ImportFailed(f"{path} does not exist")
    kind, folder, descriptor, files = _detect(path)
    name = (dataset or "").strip() or _dataset_name(path, folder, descriptor, default_name)
    formats = {"json": "HSDS 3.0 JSON", "v3": "HSDS 3.0 CSV", "legacy": "HSDS 1.x CSV"}
    package = Package(format=formats[kind], dataset=name)
    ctx = Context(package, _stored_taxonomies())
    if kind == "json":
        _read_json_files(ctx, files, say)
    elif kind == "v3":
        tables = _csv_tables(folder, descriptor, V3_FILES, V3_REQUIRED_COLUMNS, package, say)
        _read_v3_csv(ctx, tables)
    else:
        tables = _csv_tables(
            folder, descriptor, LEGACY_FILES, LEGACY_REQUIRED_COLUMNS, package, say
        )
        LegacyReader(ctx, tables).read()
    if not any(package.records.values()) and not package.rejected:
        raise ImportFailed(f"{shown} holds no HSDS records")
    report = ImportReport(path=shown, format=package.format, dataset=name, files=package.files)
    Writer(package, report, say).run()
    return report


def _detect(path: Path) -> tuple[str, Path, dict | None, list[Path]]:
    """("json" | "v3" | "legacy", folder, datapackage descriptor, JSON files)."""
    if path.is_file():
        suffix = path.suffix.lower()
        if path.name.lower() == "datapackage.json":
            return _detect(path.parent)
        if suffix in (".json", ".ndjson", ".jsonl"):
            return "json", path.parent, None, [path]
        if suffix == ".csv":
            raise ImportFailed(
                f"{path.name} is one CSV file: give the folder that holds it with the package's "
                "other files (and datapackage.json)"
            )
        raise ImportFailed(
            f"{path.name}: unknown format; expected an HSDS JSON file, a folder of HSDS CSV or "
            "JSON files, or a .zip of one"
        )
    folder = path
    visible = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if not any(p.is_file() for p in visible):
        # One folder inside (an unzipped export), or our own export's json/ and csv/.
        inner = [p for p in visible if p.is_dir()]
        preferred = [p for p in inner if p.name.lower() in ("json", "csv")]
        if len(inner) == 1 or preferred:
            folder = (
                sorted(preferred, key=lambda p: p.name.lower() != "json")[0]
                if preferred
                else inner[0]
            )
            visible = list(folder.iterdir())
    descriptor = read_datapackage(folder)
    csvs = [p for p in visible if p.is_file() and p.suffix.lower() in (".csv", ".tsv", ".txt")]
    csvs += [
        p for p in _resource_files(folder, descriptor) if p.parent.resolve() != folder.resolve()
    ]
    jsons = sorted(
        (
            p
            for p in visible
            if p.is_file()
            and p.suffix.lower() in (".json", ".ndjson", ".jsonl")
            and p.name.lower() != "datapackage.json"
        ),
        key=_json_file_order,
    )
    if csvs:
        return _tabular_kind(folder, descriptor, csvs), folder, descriptor, []
    if jsons:
        return "json", folder, descriptor, jsons
    if descriptor is not None:
        raise ImportFailed(
            f"{folder.name}/datapackage.json describes the package but none of its CSV files "
            "are in the folder"
        )
    raise ImportFailed(f"{folder} holds no HSDS files (no datapackage.json, .csv or .json files)")


def _json_file_order(path: Path) -> tuple[int, str]:
    first = ("taxonomies", "taxonomy", "taxonomy_terms", "organizations")
    stem = path.stem.lower()
    return (first.index(stem) if stem in first else len(first), path.name)


# Tables whose name says which HSDS version a package follows.
LEGACY_ONLY_RESOURCES = {
    "regular_schedule",
    "holiday_schedule",
    "physical_address",
    "postal_address",
    "service_taxonomy",
    "accessibility_for_disabilities",
    "eligibility",
    "payment_accepted",
}
V3_ONLY_FILES = {
    "schedules",
    "addresses",
    "attributes",
    "taxonomy_terms",
    "taxonomies",
    "cost_options",
    "organization_identifiers",
    "accessibility",
    "service_at_location",
}
V3_ONLY_RESOURCES = {
    "schedule",
    "address",
    "attribute",
    "taxonomy_term",
    "cost_option",
    "organization_identifier",
    "accessibility",
}


def _tabular_kind(folder: Path, descriptor: dict | None, csvs: list[Path]) -> str:
    """HSDS 1.x or 3.0, from the datapackage's version and resources and the files present."""
    stems = {p.stem.lower() for p in csvs}
    names = {str(r.get("name", "")).lower() for r in (descriptor or {}).get("resources", [])}
    version = str((descriptor or {}).get("version", ""))
    legacy = len(stems & LEGACY_ONLY) + len(names & LEGACY_ONLY_RESOURCES)
    modern = len(stems & V3_ONLY_FILES) + len(names & V3_ONLY_RESOURCES)
    if version.startswith("3") or str((descriptor or {}).get("hsds_version", "")).startswith("3"):
        modern += 2
    services = next((p for p in csvs if p.stem.lower() == "services"), None)
    if services is not None:
        header = services.read_bytes()[:4096].decode("utf-8", "replace").splitlines()[:1]
        columns = {normalize_column(c.strip('"')) for c in (header[0].split(",") if header else [])}
        if columns & {"fees_description", "eligibility_description", "last_modified"}:
            modern += 1
        elif columns & {"fees", "taxonomy_ids"}:
            legacy += 1
    if legacy == 0 and modern == 0:
        known = {s for s in stems if s in V3_FILES or s in LEGACY_FILES}
        if not known:
            raise ImportFailed(
                f"{folder.name} has CSV files but none with an HSDS table's name "
                f"(found: {', '.join(sorted(p.name for p in csvs))})"
            )
    return "legacy" if legacy > modern else "v3"


def _dataset_name(path: Path, folder: Path, descriptor: dict | None, default: str | None) -> str:
    """The datapackage's name, else the folder's (or the zip's, or the JSON file's) name."""
    name = str((descriptor or {}).get("name") or "").strip()
    if name.lower() not in GENERIC_PACKAGE_NAMES:
        return name
    if default:
        return default
    if path.is_file() and path.stem.lower() not in HSDS_FILE_STEMS:
        return path.stem
    folder = folder.resolve()
    while folder.name.lower() in GENERIC_FOLDER_NAMES and folder.parent != folder:
        folder = folder.parent  # export/json -> the export's own name
    return folder.name or "import"


def _csv_tables(
    folder: Path,
    descriptor: dict | None,
    names: dict[str, str | None],
    required: dict[str, tuple[str, ...]],
    package: Package,
    say: Progress,
) -> dict[str, CsvTable]:
    """Read every CSV file of the package whose resource or file name is an HSDS table."""
    files: dict[Path, tuple[str | None, str | None]] = {}
    for path, resource in _resource_files(folder, descriptor).items():
        table = names.get(str(resource.get("name", "")).lower(), names.get(path.stem.lower()))
        files[path] = (table, resource.get("encoding"))
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in (".csv", ".tsv", ".txt"):
            files.setdefault(path.resolve(), (names.get(path.stem.lower()), None))
    tables: dict[str, CsvTable] = {}
    for path, (table, encoding) in sorted(files.items()):
        if table is None:
            if path.stem.lower() not in names:
                package.warn("unknown", Origin(path.name, ""), "ignored: not an HSDS table")
            continue
        if table in tables:
            raise ImportFailed(f"{path.name} and {tables[table].file} both hold {table} rows")
        csv_table = read_csv(path, encoding=encoding, required=required.get(table, ()))
        tables[table] = csv_table
        package.files.append(path.name)
        if csv_table.encoding not in ("utf-8", "utf-16"):
            package.warn(table, Origin(path.name, ""), f"not UTF-8: read as {csv_table.encoding}")
        say(f"read {path.name}: {len(csv_table.rows)} rows")
    if not tables:
        raise ImportFailed(f"{folder.name} has no CSV file with an HSDS table's name")
    return tables


def _resource_files(folder: Path, descriptor: dict | None) -> dict[Path, dict]:
    """The datapackage's resources that are files inside the package folder, by path."""
    root = folder.resolve()
    found: dict[Path, dict] = {}
    for resource in (descriptor or {}).get("resources", []):
        target = resource.get("path")
        if isinstance(target, list):
            target = target[0] if target else None
        if not isinstance(target, str) or "://" in target:
            continue
        path = (folder / target).resolve()
        if path.is_file() and path.is_relative_to(root):
            found[path] = resource  # HSDS's own descriptor lists every table; some may be absent
    return found


def _read_v3_csv(ctx: Context, tables: dict[str, CsvTable]) -> None:
    for table in ("taxonomy", *[t for t in tables if t != "taxonomy"]):
        if table in tables:
            add_tabular_rows(ctx, table, tables[table].file, tables[table].rows)  # type: ignore[arg-type]


def _read_json_files(ctx: Context, files: list[Path], say: Progress) -> None:
    for path in files:
        data = read_json(path)
        if not isinstance(data, dict | list):
            raise ImportFailed(f"{path.name} holds a single JSON value, not HSDS objects")
        ctx.package.files.append(path.name)
        before = sum(len(r) for r in ctx.package.records.values())
        add_json_document(ctx, path.name, data, kind_from_file_stem(path.stem))
        after = sum(len(r) for r in ctx.package.records.values())
        say(f"read {path.name}: {after - before} objects")


def _stored_taxonomies() -> dict[str, uuid.UUID]:
    rows = db.session.execute(select(models.Taxonomy.id, models.Taxonomy.name))
    return {name.strip().lower(): taxonomy_id for taxonomy_id, name in rows if name}


# --- checking values ----------------------------------------------------------------------------


class Reject(Exception):
    """This record can't be imported; the message says why."""


CENTS = Decimal("0.01")
NOW = "now"  # the default of a timestamp column: the time of the import


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    kind: str
    length: int | None
    nullable: bool
    default: Any
    limit: Decimal | None
    scale: int | None = None


def _column_info(column: Column) -> ColumnInfo:
    kind, length, limit, scale = "text", None, None, None
    column_type = column.type
    if isinstance(column_type, Uuid):
        kind = "uuid"
    elif isinstance(column_type, Numeric):
        kind, scale = "decimal", column_type.scale
        if column_type.precision is not None:
            limit = Decimal(10) ** (column_type.precision - (column_type.scale or 0))
    elif isinstance(column_type, Integer):
        kind = "int"
    elif isinstance(column_type, DateTime) or isinstance(
        getattr(column_type, "impl", None), DateTime
    ):
        kind = "datetime"
    elif isinstance(column_type, Date):
        kind = "date"
    elif isinstance(column_type, String) and column_type.length:
        kind, length = "str", column_type.length
    if column.name == "geom":
        kind = "geom"
    default = None
    if column.default is not None and column.name != "id":
        default = column.default.arg if column.default.is_scalar else NOW
    return ColumnInfo(column.name, kind, length, bool(column.nullable), default, limit, scale)


_COLUMNS: dict[str, list[ColumnInfo]] = {
    table: [_column_info(c) for c in model.__table__.columns] for table, model in MODELS.items()
}
_COLUMNS_BY_NAME = {table: {c.name: c for c in columns} for table, columns in _COLUMNS.items()}

_STATUS = {
    "active": "active", "open": "active", "inactive": "inactive", "deleted": "inactive",
    "hidden": "inactive", "defunct": "defunct", "closed": "defunct",
    "permanently closed": "defunct", "temporarily closed": "temporarily closed",
    "temporarily_closed": "temporarily closed", "temporarily-closed": "temporarily closed",
    "temp closed": "temporarily closed", "suspended": "temporarily closed",
}  # fmt: skip


def _status(value: Any) -> str | None:
    text = clean_text(value)
    if text is None:
        return None
    key = " ".join(text.lower().split())
    if key not in _STATUS:
        raise BadValue(f"{text!r} is not one of active, inactive, defunct, temporarily closed")
    return _STATUS[key]


def _choice(*allowed: str) -> Callable[[Any], str | None]:
    def parse(value: Any) -> str | None:
        text = clean_text(value)
        if text is None:
            return None
        key = text.lower().replace("-", "_").replace(" ", "_")
        for option in allowed:
            if key == option.replace(" ", "_"):
                return option
        raise BadValue(f"{text!r} is not one of {', '.join(allowed)}")

    return parse


def _freq(value: Any) -> str | None:
    text = clean_text(value)
    if text is None:
        return None
    key = text.upper()
    if key == "DAILY":
        return "WEEKLY"  # with no byday, a weekly schedule is every day
    if key not in ("WEEKLY", "MONTHLY"):
        raise BadValue(f"freq {text!r} is not WEEKLY or MONTHLY")
    return key


def _wkst(value: Any) -> str | None:
    text = clean_text(value)
    if text is None:
        return None
    code = normalize_byday(text)
    if "," in code or len(code) != 2:
        raise BadValue(f"wkst {text!r} is not one day")
    return code


def _time(value: Any) -> str | None:
    return None if clean_text(value) is None else normalize_time(value, keep_iso=True)


def _tz_name(value: Any) -> str | None:
    text = clean_text(value)
    if text is None:
        return None
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadValue(f"{text!r} is not an IANA time zone") from None
    return text


def _age(value: Any) -> Decimal | None:
    if clean_text(value) is None:
        return None
    age = parse_leading_number(value).quantize(CENTS, ROUND_HALF_UP)
    if not 0 <= age < 1000:
        raise BadValue(f"age {value!r} is out of range")
    return age


def _year(value: Any) -> int | None:
    if clean_text(value) is None:
        return None
    year = parse_year(value)
    if not 1500 <= year <= 2100:
        raise BadValue(f"year {value!r} is out of range")
    return year


def _entity(value: Any) -> str | None:
    if clean_text(value) is None:
        return None
    table = entity_table(value)
    if table is None:
        raise BadValue(f"{clean_text(value)!r} is not an HSDS table")
    return table


def _resource_type(value: Any) -> str | None:
    text = clean_text(value)
    return None if text is None else (entity_table(text) or text.lower())


def _currency(value: Any) -> str | None:
    text = clean_text(value)
    if text is None:
        return None
    symbols = {"$": "USD", "us$": "USD", "usd": "USD", "£": "GBP", "€": "EUR"}
    code = symbols.get(text.lower(), text.upper())
    if len(code) != 3 or not code.isalpha():
        raise BadValue(f"currency {text!r} is not a three-letter code")
    return code


def _amount(value: Any) -> Decimal | None:
    text = clean_text(value)
    if text is None:
        return None
    if text.lower() in ("free", "no cost", "no charge"):
        return Decimal(0)
    amount = parse_decimal(value).quantize(CENTS, ROUND_HALF_UP)
    if abs(amount) >= 10**10:
        raise BadValue(f"amount {value!r} is too large")
    return amount


SPECIAL: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("organization", "year_incorporated"): _year,
    ("service", "status"): _status,
    ("service", "referral_capacity"): _choice(*[c.value for c in models.ReferralCapacity]),
    ("service", "minimum_age"): _age,
    ("service", "maximum_age"): _age,
    ("location", "location_type"): _choice(*models.LocationType),
    ("address", "address_type"): _choice(*models.LocationType),
    ("address", "country"): lambda v: None if clean_text(v) is None else normalize_country(v),
    ("phone", "extension"): lambda v: None if clean_text(v) is None else parse_extension(v),
    ("schedule", "freq"): _freq,
    ("schedule", "byday"): lambda v: None if clean_text(v) is None else normalize_byday(v),
    ("schedule", "wkst"): _wkst,
    ("schedule", "opens_at"): _time,
    ("schedule", "closes_at"): _time,
    ("schedule", "timezone"): lambda v: None if clean_text(v) is None else parse_utc_offset(v),
    ("schedule", "tz_name"): _tz_name,
    ("attribute", "link_entity"): _entity,
    ("metadata", "resource_type"): _resource_type,
    ("cost_option", "currency"): _currency,
    ("cost_option", "amount"): _amount,
}
# Fields whose bad value rejects the record (elsewhere a bad value is dropped with a warning).
STRICT = {
    ("service", "status"),
    ("schedule", "freq"),
    ("schedule", "byday"),
    ("schedule", "opens_at"),
    ("schedule", "closes_at"),
    ("attribute", "link_entity"),
    ("address", "country"),
}
# Our columns a package may set, and only when it has them.
OPTIONAL_OWN = {("service", "referral_capacity"), ("schedule", "tz_name")}


def _generic(info: ColumnInfo, value: Any) -> Any:
    if info.kind in ("text", "str"):
        return clean_text(value)
    if clean_text(value) is None:
        return None
    if info.kind == "uuid":
        if isinstance(value, uuid.UUID):
            return value
        found = as_uuid(str(value).strip())
        if found is None:
            raise BadValue(f"{value!r} is not an id")
        return found
    if info.kind == "int":
        number = parse_int(value)
        if abs(number) >= 2**31:
            raise BadValue(f"{value!r} is too large")
        return number
    if info.kind == "decimal":
        number = parse_decimal(value)
        if info.scale is not None:  # as the database will store it, so re-imports compare equal
            number = number.quantize(Decimal(1).scaleb(-info.scale), ROUND_HALF_UP)
        if info.limit is not None and abs(number) >= info.limit:
            raise BadValue(f"{value!r} is too large")
        return number
    if info.kind == "date":
        return parse_date(value)
    if info.kind == "datetime":
        return parse_datetime(value)
    return value


def _same(old: Any, new: Any) -> bool:
    if old is None or new is None:
        return old is None and new is None
    if isinstance(old, Decimal | int | float) and isinstance(new, Decimal | int | float):
        return Decimal(str(old)) == Decimal(str(new))
    return old == new


def _chunks(items: Iterable, size: int = CHUNK):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- writing ------------------------------------------------------------------------------------


@dataclass
class Checked:
    record: Record
    row: dict[str, Any]
    managed: set[str]


class Writer:
    """Checks the package's records table by table, writes them in bulk, prunes stale children."""

    def __init__(self, package: Package, report: ImportReport, say: Progress):
        self.package = package
        self.report = report
        self.say = say
        self.accepted: dict[str, set[uuid.UUID]] = defaultdict(set)
        self.rejected: dict[str, dict[uuid.UUID, str]] = defaultdict(dict)
        self.known: dict[str, set[uuid.UUID]] = defaultdict(set)  # stored, not in the package
        self.checked_absent: dict[str, set[uuid.UUID]] = defaultdict(set)
        self.referenced: set[uuid.UUID] = set()
        self.address_places = self._address_places()

    def run(self) -> None:
        for issue in self.package.rejected:
            self.report.rejected.append(issue)
            self.report.count(issue.table).rejected += 1
        self.report.warnings.extend(self.package.warnings)
        for table in TABLE_ORDER:
            records = self.package.records.get(table)
            if records:
                self._table(table, records)
        self._prune()
        db.session.flush()

    # --- helpers ---

    def _reject(self, table: str, record: Record, reason: str) -> None:
        self.report.rejected.append(Issue(table, record.origin, reason))
        self.report.count(table).rejected += 1
        self.rejected[table][record.id] = f"{record.origin.file} {record.origin.where}".strip()
        self.accepted[table].discard(record.id)

    def _warn(self, table: str, record: Record, reason: str) -> None:
        self.report.warnings.append(Issue(table, record.origin, reason))

    def _address_places(self) -> dict[uuid.UUID, tuple[str | None, str | None]]:
        """(country, state) of each location's address in the package, to judge its point."""
        places = {}
        for record in self.package.records.get("address", []):
            location = record.values.get("location_id")
            if isinstance(location, uuid.UUID):
                country = clean_text(record.values.get("country"))
                state = clean_text(record.values.get("state_province"))
                places.setdefault(location, (country, state))
        return places

    # --- one table ---

    def _merge(self, table: str, records: list[Record]) -> list[Record]:
        merged: dict[uuid.UUID, Record] = {}
        copies: set[uuid.UUID] = set()
        for record in records:
            first = merged.get(record.id)
            if first is None:
                merged[record.id] = record
                continue
            if not (first.mergeable and record.mergeable):
                # The first copy stands; this one is reported and dropped.
                reason = f"duplicate id: also at {first.origin.where}"
                self.report.rejected.append(Issue(table, record.origin, reason))
                self.report.count(table).rejected += 1
                continue
            if record.id not in copies:  # combine into a copy: the package stays as read
                first = merged[record.id] = replace(
                    first, values=dict(first.values), refs=dict(first.refs)
                )
                copies.add(record.id)
            for key, value in record.values.items():
                if value not in (None, "") or key not in first.values:
                    first.values[key] = value
            first.refs.update(record.refs)
            first.full = first.full or record.full
        return list(merged.values())

    def _table(self, table: str, records: list[Record]) -> None:
        counts = self.report.count(table)
        checked: dict[uuid.UUID, Checked] = {}
        for record in self._merge(table, records):
            try:
                row, managed = self._clean(table, record)
            except Reject as exc:
                self._reject(table, record, str(exc))
                continue
            checked[record.id] = Checked(record, row, managed)
        self.accepted[table].update(checked)
        self._check_links(table, checked)
        for item in checked.values():
            for name, value in item.row.items():
                if isinstance(value, uuid.UUID) and name != "id":
                    self.referenced.add(value)
        self._write(table, checked)
        self.say(
            f"{table}: {counts.created} created, {counts.updated} updated, "
            f"{counts.unchanged} unchanged, {counts.rejected} rejected"
        )

    def _clean(self, table: str, record: Record) -> tuple[dict[str, Any], set[str]]:
        row: dict[str, Any] = {}
        managed: set[str] = set()
        values = record.values
        columns = _COLUMNS[table]
        if not record.full:  # only the fields the source has (most rows have few)
            by_name = _COLUMNS_BY_NAME[table]
            columns = [by_name[name] for name in values if name in by_name]
        for info in columns:
            name = info.name
            if name in ("id", "geom") or (table == "location" and name in LAT_LON):
                continue  # coordinates go through place_location in _fix_location
            if name in values:
                raw = values[name]
            elif name not in OWN_COLUMNS and info.kind != "uuid":
                # A whole JSON object: absent fields have no value. Links stay: nesting says them.
                raw = None
            else:
                continue
            parse = SPECIAL.get((table, name))
            try:
                value = parse(raw) if parse else _generic(info, raw)
            except BadValue as exc:
                if (table, name) in STRICT or (not info.nullable and info.default is None):
                    raise Reject(f"{name}: {exc}") from None
                if (table, name) in OPTIONAL_OWN:
                    self._warn(table, record, f"{name}: {exc}; left as it was")
                    continue
                self._warn(table, record, f"{name}: {exc}; left empty")
                value = None
            if value is None and not info.nullable:
                if info.default is None:
                    raise Reject(f"no {name}")
                if info.default is NOW or (table, name) in OPTIONAL_OWN:
                    continue  # stored rows keep theirs; new rows get the default
                value = info.default
            if isinstance(value, str) and info.length and len(value) > info.length:
                self._warn(table, record, f"{name} cut to {info.length} characters")
                value = value[: info.length]
            row[name] = value
            managed.add(name)
        if table in DATASET_TABLES and (record.full or record.values):
            row["dataset"] = self.package.dataset
            managed.add("dataset")
        fix = getattr(self, f"_fix_{table}", None)
        if fix is not None:
            fix(record, row, managed)
        return row, managed

    def _fix_location(self, record: Record, row: dict, managed: set[str]) -> None:
        """Coordinates only through place_location; bad ones leave the location without a point."""
        if "latitude" not in record.values and "longitude" not in record.values and not record.full:
            for name in ("latitude", "longitude"):
                row.pop(name, None)
                managed.discard(name)
            return
        latitude, longitude = record.values.get("latitude"), record.values.get("longitude")
        location = models.Location()
        try:
            place_location(location, _coordinate(latitude), _coordinate(longitude))
            problem = self._implausible(record, location)
        except InvalidGeometry as exc:
            problem = str(exc)
        if problem:
            fixed = self._swapped(record, latitude, longitude)
            if fixed is not None:
                location = fixed
                self._warn("location", record, f"{problem}: latitude and longitude swapped back")
            else:
                self._warn("location", record, f"{problem}: the location has no map point")
                location = models.Location()
        row.update(latitude=location.latitude, longitude=location.longitude, geom=location.geom)
        managed.update(("latitude", "longitude", "geom"))

    def _implausible(self, record: Record, location: models.Location) -> str | None:
        """A point far from its own address's country (US data only, where we can tell)."""
        if location.latitude is None:
            return None
        country, state = self.address_places.get(record.id, (None, None))
        in_us = (country or "").upper() in ("US", "USA") or (state or "").upper() in US_STATES
        if in_us and not in_united_states(float(location.latitude), float(location.longitude)):
            return (
                f"latitude {location.latitude}, longitude {location.longitude} is outside the "
                "United States though the address is in it"
            )
        return None

    def _swapped(self, record: Record, latitude: Any, longitude: Any) -> models.Location | None:
        """The location placed with latitude and longitude swapped, if that is plausible."""
        location = models.Location()
        try:
            place_location(location, _coordinate(longitude), _coordinate(latitude))
        except InvalidGeometry:
            return None
        if self._implausible(record, location):
            return None
        lat = _coordinate(latitude)
        if not self.address_places.get(record.id) and lat is not None and abs(float(lat)) <= 90:
            return None  # both readings are valid: without an address we can't tell
        return location

    def _fix_service_area(self, record: Record, row: dict, managed: set[str]) -> None:
        if "extent" not in managed:
            return
        area = models.ServiceArea()
        try:
            set_service_area_extent(area, row.get("extent"), row.get("extent_type"))
            row.update(extent=area.extent, extent_type=area.extent_type, geom=area.geom)
        except InvalidGeometry as exc:
            self._warn("service_area", record, f"extent: {exc}; kept as text without a shape")
            row["geom"] = None
        managed.update(("extent", "extent_type", "geom"))

    def _fix_service(self, record: Record, row: dict, managed: set[str]) -> None:
        low, high = row.get("minimum_age"), row.get("maximum_age")
        if low is not None and high is not None and low > high:
            self._warn(
                "service", record, f"minimum_age {low} is above maximum_age {high}; both left empty"
            )
            row["minimum_age"] = row["maximum_age"] = None

    def _fix_address(self, record: Record, row: dict, managed: set[str]) -> None:
        code = row.get("postal_code") or ""
        if row.get("country", "US") == "US" and code.isdigit() and len(code) in (3, 4):
            row["postal_code"] = code.zfill(5)
            self._warn("address", record, f"postal_code {code} padded to {row['postal_code']}")

    # --- links ---

    def _load_known(self, table: str, ids: set[uuid.UUID]) -> None:
        """Find which of these ids (not in the package) are stored, in a few batched queries."""
        wanted = {
            i
            for i in ids
            if i not in self.accepted[table]
            and i not in self.rejected[table]
            and i not in self.known[table]
            and i not in self.checked_absent[table]
        }
        if not wanted:
            return
        model = MODELS[table]
        for batch in _chunks(wanted):
            found = set(db.session.scalars(select(model.id).where(model.id.in_(batch))))
            self.known[table] |= found
            self.checked_absent[table] |= set(batch) - found

    def _link_state(self, target: str, value: uuid.UUID) -> str | None:
        """None when the link is good; else why not."""
        if value in self.accepted[target] or value in self.known[target]:
            return None
        if value in self.rejected[target]:
            return f"was rejected ({self.rejected[target][value]})"
        return "is not in the package or the directory"

    def _check_links(self, table: str, checked: dict[uuid.UUID, Checked]) -> None:
        required = REQUIRED_LINKS.get(table, ())
        optional = OPTIONAL_LINKS.get(table, ())
        owners = OWNER_LINKS.get(table, ())
        fields = (*required, *optional, *owners)
        wanted: dict[str, set[uuid.UUID]] = defaultdict(set)
        for item in checked.values():
            for name in fields:
                value = item.row.get(name)
                if isinstance(value, uuid.UUID):
                    wanted[_target(table, name)].add(value)
            if table == "attribute" and item.row.get("link_entity"):
                wanted[item.row["link_entity"]].add(item.row.get("link_id"))
        for target, ids in wanted.items():
            self._load_known(target, ids)
        for record_id, item in list(checked.items()):
            try:
                self._links_of(table, item, required, optional, owners)
            except Reject as exc:
                self._reject(table, item.record, str(exc))
                del checked[record_id]

    def _links_of(self, table: str, item: Checked, required, optional, owners) -> None:
        row, record = item.row, item.record

        def describe(name: str) -> str:
            source = record.refs.get(name) or str(row[name])
            label = _target(table, name).replace("_", " ")
            if name.startswith("parent_"):
                label = f"parent {label}"
            return f"its {label} (id {source})"

        for name in required:
            if name not in item.managed:
                continue
            if row.get(name) is None:
                raise Reject(f"no {name}")
            problem = self._link_state(_target(table, name), row[name])
            if problem:
                raise Reject(f"{describe(name)} {problem}")
        for name in optional:
            if row.get(name) is None:
                continue
            if row[name] == record.id:
                self._warn(table, record, f"{describe(name)} is itself; link dropped")
                row[name] = None
                continue
            problem = self._link_state(_target(table, name), row[name])
            if problem:
                self._warn(table, record, f"{describe(name)} {problem}; link dropped")
                row[name] = None
        if owners:
            reasons = []
            for name in owners:
                if row.get(name) is None:
                    continue
                problem = self._link_state(_target(table, name), row[name])
                if problem:
                    reasons.append(f"{describe(name)} {problem}")
                    row[name] = None
            if not any(row.get(n) is not None for n in owners):
                raise Reject("; ".join(reasons) or f"belongs to nothing: no {', '.join(owners)}")
            if reasons:
                self._warn(table, record, "; ".join(reasons) + "; link dropped")
        if table == "attribute":
            if row.get("link_entity") is None:
                raise Reject("no link_entity")
            if row.get("link_id") is None:
                raise Reject("no link_id")
            problem = self._link_state(row["link_entity"], row["link_id"])
            if problem:
                source = record.refs.get("link_id") or str(row["link_id"])
                raise Reject(f"its {row['link_entity'].replace('_', ' ')} (id {source}) {problem}")

    # --- storing ---

    def _existing(self, table: str, ids: list[uuid.UUID], names: set[str]) -> dict[uuid.UUID, dict]:
        model = MODELS[table]
        columns = [model.__table__.c[n] for n in sorted(names) if n != "geom"]
        stored: dict[uuid.UUID, dict] = {}
        for batch in _chunks(ids):
            query = select(model.__table__.c.id, *columns).where(model.__table__.c.id.in_(batch))
            for row in db.session.execute(query).mappings():
                stored[row["id"]] = dict(row)
        return stored

    def _write(self, table: str, checked: dict[uuid.UUID, Checked]) -> None:
        if not checked:
            return
        model = MODELS[table]
        counts = self.report.count(table)
        names = set().union(*(item.managed for item in checked.values()))
        stored = self._existing(table, list(checked), names)
        inserts: list[dict] = []
        updates: dict[frozenset, list[dict]] = defaultdict(list)
        for record_id, item in list(checked.items()):
            old = stored.get(record_id)
            if old is None:
                row = self._new_row(table, item)
                if row is None:
                    del checked[record_id]
                    continue
                inserts.append(row)
                counts.created += 1
                continue
            changed = [
                n for n in item.managed if n != "geom" and not _same(old.get(n), item.row.get(n))
            ]
            if not changed:
                counts.unchanged += 1
                continue
            params = {"id": record_id, **{n: item.row.get(n) for n in item.managed}}
            if table == "service":
                merged = {**old, **params}
                low, high = merged.get("minimum_age"), merged.get("maximum_age")
                if low is not None and high is not None and low > high:
                    params["minimum_age"] = params["maximum_age"] = None
            updates[frozenset(params)].append(params)
            counts.updated += 1
        if table in ("organization", "taxonomy_term"):
            parent = "parent_organization_id" if table == "organization" else "parent_id"
            inserts = _parents_first(inserts, parent)
        statement = insert(model.__table__)  # Core: every row has every column, one executemany
        for batch in _chunks(inserts, 1000):
            db.session.execute(statement, batch)
        for group in updates.values():
            for batch in _chunks(group, 1000):
                db.session.execute(update(model), batch)

    def _new_row(self, table: str, item: Checked) -> dict | None:
        """Every column of a record to insert, defaults filled; None (rejected) if incomplete."""
        row: dict[str, Any] = {}
        for info in _COLUMNS[table]:
            if info.name in item.row:
                row[info.name] = item.row[info.name]
            elif info.default is NOW:
                row[info.name] = utcnow()
            elif info.default is not None:
                row[info.name] = info.default
            elif not info.nullable and info.name != "id":
                self._reject(table, item.record, f"no {info.name}")
                return None
            else:
                row[info.name] = None
        row["id"] = item.record.id
        return row

    # --- removing children the package no longer lists ---

    def _prune(self) -> None:
        for (table, link), parents in self.package.authority.items():
            if table in NEVER_REMOVED:
                continue
            if link.startswith("link:"):
                parent_table = link.split(":", 1)[1]
            else:
                parent_table = _target(table, link)
            owned = self.accepted[parent_table]
            if parents is not ALL_PARENTS:
                owned = parents & owned
            if not owned:
                continue
            model = MODELS[table]
            keep = self.accepted[table] | set(self.rejected[table]) | self.referenced
            doomed: set[uuid.UUID] = set()
            for batch in _chunks(owned):
                if link.startswith("link:"):
                    query = select(model.id).where(
                        model.link_entity == parent_table, model.link_id.in_(batch)
                    )
                else:
                    query = select(model.id).where(getattr(model, link).in_(batch))
                doomed |= set(db.session.scalars(query)) - keep
            for batch in _chunks(doomed):
                db.session.execute(
                    delete(model).where(model.id.in_(batch)),
                    execution_options={"synchronize_session": False},
                )
            if doomed:
                self.report.count(table).removed += len(doomed)
                self.say(f"{table}: removed {len(doomed)} no longer in the package")


def _target(table: str, field_name: str) -> str:
    if table == "taxonomy_term" and field_name == "parent_id":
        return "taxonomy_term"
    return REFERENCE_TARGETS[field_name]


def _coordinate(value: Any) -> Any:
    if clean_text(value) is None:
        return None
    return value.strip() if isinstance(value, str) else value


def _parents_first(rows: list[dict], parent_field: str) -> list[dict]:
    """Order rows so each comes after its parent (when both are new); loops keep their order."""
    by_id = {row["id"]: row for row in rows}
    placed: set = set()
    ordered: list[dict] = []
    for row in rows:
        chain = []
        current = row
        while current is not None and current["id"] not in placed and current not in chain:
            chain.append(current)
            current = by_id.get(current.get(parent_field))
        for item in reversed(chain):
            placed.add(item["id"])
            ordered.append(item)
    return ordered
