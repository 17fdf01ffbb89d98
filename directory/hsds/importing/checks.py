"""Checking records before they are written: each becomes a row of clean column values, or is
rejected with the reason, table by table in `TABLE_ORDER`.

For one table, `Checker.check` merges copies of the same record (a location nested under several
services), turns each record's raw values into column values (a bad value in a field that must
have it rejects the record, elsewhere it is dropped with a warning), repairs what can be repaired
with a warning (coordinates swapped, ages the wrong way round, ZIP codes that lost their leading
zero), then checks links: a record that needs one (a service's organization) is rejected when it
points at nothing in the package or the directory; an optional link is dropped with a warning.
The checker keeps which records each table accepted and rejected, for the links of later tables.
"""

import uuid
from collections import defaultdict
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, DateTime, Integer, Numeric, String, Uuid, select
from sqlalchemy.sql.schema import Column

from directory import models, normalize
from directory.hsds.importing.records import (
    MODELS,
    OPTIONAL_LINKS,
    OWNER_LINKS,
    REQUIRED_LINKS,
    Issue,
    Package,
    PackedValues,
    Record,
    entity_table,
    link_target,
    links_only,
    packed_if,
    unpacked,
)
from directory.hsds.importing.values import (
    US_STATES,
    BadValue,
    as_uuid,
    clean_text,
    in_united_states,
    normalize_byday,
    normalize_country,
    one_of,
    parse_age,
    parse_amount,
    parse_currency,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_email,
    parse_extension,
    parse_freq,
    parse_int,
    parse_plausible_year,
    parse_schedule_time,
    parse_status,
    parse_tz_name,
    parse_uri,
    parse_utc_offset,
    parse_web_url,
    parse_wkst,
)
from directory.hsds.serialize import chunked, value_forms
from directory.services import place_location, set_service_area_extent
from extensions import db
from geo.places import km_from_zip
from geo.shapes import InvalidGeometry

if TYPE_CHECKING:
    from directory.hsds.importing.report import ImportReport

ADDRESS_PLACE = ("country", "state_province", "postal_code")
# Our own columns, not HSDS fields: a package that doesn't mention them leaves them alone.
OWN_COLUMNS = {"id", "geom", "dataset", "referral_capacity", "tz_name", "last_modified"}
DATASET_TABLES = {"organization", "service", "location"}
LAT_LON = ("latitude", "longitude")
FAR_FROM_ZIP_KM = 100  # a point further than this from its own ZIP code is flagged for review


class Reject(Exception):
    """This record can't be imported; the message says why."""


# --- what each column accepts -------------------------------------------------------------------

NOW = "now"  # the default of a timestamp column: the time of the import


@dataclass(frozen=True)
class ColumnInfo:
    """What checking needs to know of a column: its kind, length, nullability, default, limit."""

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


COLUMNS: dict[str, list[ColumnInfo]] = {
    table: [_column_info(c) for c in model.__table__.columns] for table, model in MODELS.items()
}
COLUMNS_BY_NAME = {table: {c.name: c for c in columns} for table, columns in COLUMNS.items()}


# Fields with their own rule; the others are read by their column's type (`_generic`).


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


SPECIAL: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("organization", "year_incorporated"): parse_plausible_year,
    ("service", "status"): parse_status,
    ("service", "referral_capacity"): one_of(*[c.value for c in models.ReferralCapacity]),
    ("service", "minimum_age"): parse_age,
    ("service", "maximum_age"): parse_age,
    ("location", "location_type"): one_of(*models.LocationType),
    ("address", "address_type"): one_of(*models.LocationType),
    ("address", "country"): lambda v: None if clean_text(v) is None else normalize_country(v),
    ("phone", "extension"): lambda v: None if clean_text(v) is None else parse_extension(v),
    ("schedule", "freq"): parse_freq,
    ("schedule", "byday"): lambda v: None if clean_text(v) is None else normalize_byday(v),
    ("schedule", "wkst"): parse_wkst,
    ("schedule", "opens_at"): parse_schedule_time,
    ("schedule", "closes_at"): parse_schedule_time,
    ("schedule", "timezone"): lambda v: None if clean_text(v) is None else parse_utc_offset(v),
    ("schedule", "tz_name"): parse_tz_name,
    ("attribute", "link_entity"): _entity,
    ("metadata", "resource_type"): _resource_type,
    ("cost_option", "currency"): parse_currency,
    ("cost_option", "amount"): parse_amount,
}
# Links people follow get https:// and must be web addresses, identifiers may be any URI, emails
# are checked: the fields the HSDS API publishes only when valid (serialize.value_forms).
_FORM_PARSERS = {"web": parse_web_url, "uri": parse_uri, "email": parse_email}
SPECIAL.update(
    ((table, name), _FORM_PARSERS[form])
    for table in MODELS
    for name, form in value_forms(table).items()
)
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


# --- checking records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    """A record kept that a person should check: a ReviewFlag once the record is written."""

    table: str
    record_id: uuid.UUID
    reason: str
    detail: str


@dataclass
class Checked:
    """A record that passed: its row, and the columns the package sets (others stay as stored).
    The row of a record with much text waits packed (`PackedValues`) until it is written."""

    record: Record
    row: MutableMapping[str, Any]
    managed: frozenset[str]


class Checker:
    """Checks the package's records table by table; remembers what each table accepted."""

    def __init__(self, package: Package, report: "ImportReport"):
        self.package = package
        self.report = report
        self.accepted: dict[str, set[uuid.UUID]] = defaultdict(set)
        self.rejected: dict[str, dict[uuid.UUID, str]] = defaultdict(dict)
        self.known: dict[str, set[uuid.UUID]] = defaultdict(set)  # stored, not in the package
        self.checked_absent: dict[str, set[uuid.UUID]] = defaultdict(set)
        self.address_places = self._address_places()
        self.flags: list[Flag] = []
        self.phone_region = normalize.phone_region()
        self._managed: dict[frozenset[str], frozenset[str]] = {}  # one set for the rows alike

    def check(self, table: str, records: list[Record]) -> dict[uuid.UUID, Checked]:
        """The rows of one table's records that can be written; the rest are rejected."""
        checked: dict[uuid.UUID, Checked] = {}
        for record in self._merge(table, records):
            packed = isinstance(record.values, PackedValues)
            record.values = unpacked(record.values)  # for as long as it is checked
            try:
                row, managed = self._clean(table, record)
            except Reject as exc:
                self.reject(table, record, str(exc))
                continue
            finally:  # later steps need its links only (the writer's `_release`, sooner)
                record.values = links_only(record.values) if packed else record.values
            managed = self._managed.setdefault(frozenset(managed), frozenset(managed))
            checked[record.id] = Checked(record, packed_if(row, packed), managed)
        self.accepted[table].update(checked)
        self._check_links(table, checked)
        return checked

    def reject(self, table: str, record: Record, reason: str) -> None:
        """Report the record as rejected; links to it from later tables are rejected too."""
        self.report.rejected.append(Issue(table, record.origin, reason))
        self.report.count(table).rejected += 1
        self.rejected[table][record.id] = f"{record.origin.file} {record.origin.where}".strip()
        self.accepted[table].discard(record.id)

    def _warn(self, table: str, record: Record, reason: str) -> None:
        self.report.warnings.append(Issue(table, record.origin, reason))

    def _address_places(self) -> dict[uuid.UUID, tuple[str | None, str | None, str | None]]:
        """(country, state, ZIP) of each location's address in the package (its physical one
        first), to judge its point."""
        places = {}
        for record in self.package.records.get("address", []):
            location = record.values.get("location_id")
            if isinstance(location, uuid.UUID):
                values = record.values
                place = tuple(clean_text(values.get(n)) for n in ADDRESS_PLACE)
                physical = clean_text(values.get("address_type")) in (None, "physical")
                if physical and places.get(location, (None,))[-1] != "physical":
                    places[location] = (*place, "physical")
                else:
                    places.setdefault(location, (*place, "other"))
        return {location: place[:3] for location, place in places.items()}

    # --- merging copies ---

    def _merge(self, table: str, records: list[Record]) -> list[Record]:
        merged: dict[uuid.UUID, Record] = {}
        copies: set[uuid.UUID] = set()
        for record in records:
            first = merged.get(record.id)
            if first is None:
                merged[record.id] = record
                continue
            if not (first.mergeable and record.mergeable):
                if record.values == first.values:  # the same row twice: one record
                    self._warn(table, record, f"the same row as {first.origin.where}; kept once")
                    continue
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

    # --- values ---

    def _clean(self, table: str, record: Record) -> tuple[dict[str, Any], set[str]]:
        row: dict[str, Any] = {}
        managed: set[str] = set()
        values = record.values
        columns = COLUMNS[table]
        if not record.full:  # only the fields the source has (most rows have few)
            by_name = COLUMNS_BY_NAME[table]
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
        far = self._far_from_zip(record, location)
        if far:
            self._warn("location", record, f"{far}; kept, flagged for review")
            self.flags.append(Flag("location", record.id, "far_from_zip", far))
        row.update(latitude=location.latitude, longitude=location.longitude, geom=location.geom)
        managed.update(("latitude", "longitude", "geom"))

    def _in_us(self, record: Record) -> bool:
        country, state, _zip = self.address_places.get(record.id, (None, None, None))
        if country:
            return country.upper() in ("US", "USA", "UNITED STATES")
        try:
            return bool(state) and normalize.us_state(state) in US_STATES
        except normalize.InvalidValue:
            return False

    def _implausible(self, record: Record, location: models.Location) -> str | None:
        """A point far from its own address's country (US data only, where we can tell)."""
        if location.latitude is None:
            return None
        in_us = self._in_us(record)
        if in_us and not in_united_states(float(location.latitude), float(location.longitude)):
            return (
                f"latitude {location.latitude}, longitude {location.longitude} is outside the "
                "United States though the address is in it"
            )
        return None

    def _far_from_zip(self, record: Record, location: models.Location) -> str | None:
        """A US point more than FAR_FROM_ZIP_KM from its own address's ZIP code centroid."""
        if location.latitude is None or not self._in_us(record):
            return None
        code = self.address_places.get(record.id, (None, None, None))[2]
        try:
            code = normalize.us_zip(code or "")[:5]
        except normalize.InvalidValue:
            return None
        latitude, longitude = float(location.latitude), float(location.longitude)
        km = km_from_zip(code, latitude, longitude)
        if km is None or km <= FAR_FROM_ZIP_KM:
            return None
        return (
            f"latitude {location.latitude}, longitude {location.longitude} is {km:,.0f} km "
            f"from ZIP code {code} of its address"
        )

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
        if "status" not in managed and "name" in managed:
            # A service the export lists without a status column is offered: one an earlier
            # import retired (no longer in that export) is active again.
            row["status"] = models.ServiceStatus.active.value
            managed.add("status")
        low, high = row.get("minimum_age"), row.get("maximum_age")
        if low is not None and high is not None and low > high:
            self._warn(
                "service", record, f"minimum_age {low} is above maximum_age {high}; both left empty"
            )
            row["minimum_age"] = row["maximum_age"] = None

    def _fix_address(self, record: Record, row: dict, managed: set[str]) -> None:
        """US states as two-letter codes ("New York" -> NY), ZIP codes as ZIP or ZIP+4."""
        if row.get("country", "US") != "US":
            return
        self._normalize_address_field(record, row, "state_province", normalize.us_state)
        code = row.get("postal_code")
        if code and self._normalize_address_field(record, row, "postal_code", normalize.us_zip):
            digits = code.split("-")[0].split(".")[0].strip()
            if digits.isdigit() and len(digits) in (3, 4, 7, 8):
                self._warn("address", record, f"postal_code {code} padded to {row['postal_code']}")

    def _normalize_address_field(self, record: Record, row: dict, field: str, normal) -> bool:
        """Write a present address field the normal way; one that can't be read is kept as
        written, with a warning. False for that case."""
        value = row.get(field)
        if not value:
            return True
        try:
            row[field] = normal(value)
        except normalize.InvalidValue as exc:
            self._warn("address", record, f"{field}: {exc}; kept as written")
            return False
        return True

    def _fix_phone(self, record: Record, row: dict, managed: set[str]) -> None:
        """Numbers formatted one way ("(315) 555-0100"), an extension in the number moved to
        extension; a number that can't be read is kept as written, with a warning."""
        number = row.get("number")
        if not number:
            return
        read = normalize.phone(number, self.phone_region)
        row["number"] = read.number[: COLUMNS_BY_NAME["phone"]["number"].length]
        if read.extension is not None:
            if row.get("extension") is None:
                row["extension"] = read.extension
                managed.add("extension")
            elif row["extension"] != read.extension:
                self._warn(
                    "phone",
                    record,
                    f"number has extension {read.extension} but extension is "
                    f"{row['extension']}; kept {row['extension']}",
                )
        if read.problem:
            self._warn("phone", record, f"number: {read.problem}; kept as written")

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
        for batch in chunked(wanted):
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
        aliases = self.package.aliases
        wanted: dict[str, set[uuid.UUID]] = defaultdict(set)
        for item in checked.values():
            for name in fields:
                value = item.row.get(name)
                if isinstance(value, uuid.UUID):
                    target = link_target(table, name)
                    if (target, value) in aliases:  # a shared source id: its first row
                        value = item.row[name] = aliases[(target, value)]
                    wanted[target].add(value)
            if table == "attribute" and item.row.get("link_entity"):
                wanted[item.row["link_entity"]].add(item.row.get("link_id"))
        for target, ids in wanted.items():
            self._load_known(target, ids)
        for record_id, item in list(checked.items()):
            try:
                self._links_of(table, item, required, optional, owners)
            except Reject as exc:
                self.reject(table, item.record, str(exc))
                del checked[record_id]

    def _links_of(self, table: str, item: Checked, required, optional, owners) -> None:
        row, record = item.row, item.record

        def describe(name: str) -> str:
            source = record.refs.get(name) or str(row[name])
            label = link_target(table, name).replace("_", " ")
            if name.startswith("parent_"):
                label = f"parent {label}"
            return f"its {label} (id {source})"

        for name in required:
            if name not in item.managed:
                continue
            if row.get(name) is None:
                raise Reject(f"no {name}")
            problem = self._link_state(link_target(table, name), row[name])
            if problem:
                raise Reject(f"{describe(name)} {problem}")
        for name in optional:
            if row.get(name) is None:
                continue
            if row[name] == record.id:
                self._warn(table, record, f"{describe(name)} is itself; link dropped")
                row[name] = None
                continue
            problem = self._link_state(link_target(table, name), row[name])
            if problem:
                self._warn(table, record, f"{describe(name)} {problem}; link dropped")
                row[name] = None
        if owners:
            reasons = []
            for name in owners:
                if row.get(name) is None:
                    continue
                problem = self._link_state(link_target(table, name), row[name])
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


def _coordinate(value: Any) -> Any:
    if clean_text(value) is None:
        return None
    return value.strip() if isinstance(value, str) else value
