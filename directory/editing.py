"""Editing a listing field by field, each change written to the listing's history.

A listing is an organization and what hangs under it (services, locations, hours). Every field a
person may edit is an `EditableField`: how to read it as canonical text and how to write that text
back. Edits and restores both go through `write_field`, so a restore is an ordinary, logged change
and any value ever shown in the history can be put back. Values that are several rows (phones,
hours, categories) have one canonical text too (lines, or JSON for hours).

The checks of what people type live in `directory.listing_checks`; this module trusts its input.
Services flush, never commit: the caller owns the transaction.
"""

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from directory import languages, normalize
from directory.hours import DAY_CODES, DAY_NAMES, format_time, parse_time
from directory.models import (
    Accessibility,
    Address,
    Attribute,
    Language,
    ListingChange,
    Location,
    Organization,
    Phone,
    RequiredDocument,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    TaxonomyTerm,
)
from directory.services import place_location, set_service_area_extent
from extensions import db, utcnow
from geo.places import timezone_for_zip


@dataclass(frozen=True)
class Editor:
    """Who makes a change, as the history keeps it (the directory knows no user accounts)."""

    id: uuid.UUID | None
    label: str


@dataclass(frozen=True)
class EditableField:
    name: str
    label: str
    read: Callable[[Any], str | None]
    write: Callable[[Any, str | None], None]
    describe: Callable[[str | None], str] | None = None  # how the history page shows a value


def _blank(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


# -- scalar columns ---------------------------------------------------------------------------


def _column(name: str, label: str, *, required: bool = False) -> EditableField:
    def read(record) -> str | None:
        value = getattr(record, name)
        return None if value is None else str(value)

    def write(record, value: str | None) -> None:
        setattr(record, name, (value or "").strip() if required else _blank(value))

    return EditableField(name, label, read, write)


def _age(name: str, label: str) -> EditableField:
    def read(record) -> str | None:
        value = getattr(record, name)
        return None if value is None else format(value.normalize(), "f")

    def write(record, value: str | None) -> None:
        setattr(record, name, Decimal(value) if _blank(value) else None)

    return EditableField(name, label, read, write)


# -- lists of rows, one line each ---------------------------------------------------------------


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _joined(values: Iterable[str]) -> str | None:
    return "\n".join(values) or None


def phone_line(phone: Phone) -> str:
    return f"{phone.number} x{phone.extension}" if phone.extension is not None else phone.number


def _read_phones(record) -> str | None:
    return _joined(phone_line(p) for p in record.phones)


def _write_phones(record, value: str | None) -> None:
    """Keep the rows of numbers still listed (their HSDS ids and languages), add the new ones."""
    kept = {phone_line(p): p for p in record.phones}
    phones = []
    for line in _lines(value):
        if line in kept:
            phones.append(kept.pop(line))
            continue
        read = normalize.phone(line, normalize.phone_region())
        phones.append(Phone(number=read.number, extension=read.extension, type="voice"))
    record.phones = phones


def _read_languages(service: Service) -> str | None:
    return _joined(lang.name or lang.code or "" for lang in service.languages)


def _write_languages(service: Service, value: str | None) -> None:
    kept = {(lang.name or lang.code or ""): lang for lang in service.languages}
    rows = []
    for line in _lines(value):
        if line in kept:
            rows.append(kept.pop(line))
            continue
        code, name = languages.canonical(line)
        rows.append(Language(name=name, code=code if languages.code_for(line) else None))
    service.languages = rows


def _text_rows(collection: str, column: str, model: type, name: str, label: str):
    """A field whose rows hold one text each (documents, accessibility notes): one a line."""

    def read(record) -> str | None:
        return _joined(getattr(row, column) or "" for row in getattr(record, collection))

    def write(record, value: str | None) -> None:
        kept = {getattr(row, column): row for row in getattr(record, collection)}
        rows = [
            kept.pop(line) if line in kept else model(**{column: line}) for line in _lines(value)
        ]
        setattr(record, collection, rows)

    return EditableField(name, label, read, write)


# -- categories: taxonomy terms attached to the service ----------------------------------------


def _read_categories(service: Service) -> str | None:
    return _joined(sorted({str(a.taxonomy_term_id) for a in service.attributes}))


def _write_categories(service: Service, value: str | None) -> None:
    wanted = {uuid.UUID(line) for line in _lines(value)}
    # A restore may name a term the taxonomy has since lost: it can't be attached again.
    wanted &= set(db.session.scalars(select(TaxonomyTerm.id).where(TaxonomyTerm.id.in_(wanted))))
    service.attributes = [a for a in service.attributes if a.taxonomy_term_id in wanted]
    have = {a.taxonomy_term_id for a in service.attributes}
    for term_id in sorted(wanted - have, key=str):
        service.attributes.append(
            Attribute(
                link_id=service.id,
                link_entity="service",
                link_type="category",
                taxonomy_term_id=term_id,
            )
        )


def _describe_categories(value: str | None) -> str:
    ids = [uuid.UUID(line) for line in _lines(value)]
    if not ids:
        return ""
    names = dict(
        db.session.execute(
            select(TaxonomyTerm.id, TaxonomyTerm.name).where(TaxonomyTerm.id.in_(ids))
        ).all()
    )
    return "\n".join(sorted(names.get(i, "(a category no longer in the taxonomy)") for i in ids))


# -- hours -------------------------------------------------------------------------------------
#
# Canonical form: {"always_open": bool, "weekly": [[day, opens, closes], ...] in day and time
# order, "closed": [[date, note], ...]} with times as HH:MM. A closing time at or before the
# opening time means past midnight (directory.hours). Only the schedules this form can show are
# edited; anything else an import brought (monthly hours, seasonal ranges) stays as it was.


def _hhmm(value: str) -> str:
    return parse_time(value).strftime("%H:%M")


def _is_closure(schedule: Schedule) -> bool:
    return (
        schedule.valid_from is not None
        and schedule.valid_from == schedule.valid_to
        and not schedule.opens_at
    )


def _is_weekly(schedule: Schedule) -> bool:
    if schedule.valid_from or schedule.valid_to or not schedule.opens_at:
        return False
    if (schedule.freq or "WEEKLY") != "WEEKLY" or (schedule.interval or 1) != 1:
        return False
    days = [d.strip() for d in (schedule.byday or "").split(",") if d.strip()]
    if not all(d in DAY_CODES for d in days) or schedule.bymonthday:
        return False
    try:  # an imported time the form can't show ("9ish") leaves the schedule as it was
        _hhmm(schedule.opens_at), _hhmm(schedule.closes_at or "00:00")
    except ValueError:
        return False
    return True


def _editable_schedule(schedule: Schedule) -> bool:
    return _is_closure(schedule) or _is_weekly(schedule)


def hours_value(always_open: bool, weekly: Iterable, closed: Iterable) -> str:
    """The canonical text of a week of hours (what the history keeps)."""
    order = {code: i for i, code in enumerate(DAY_CODES)}
    weekly = sorted({tuple(p) for p in weekly}, key=lambda p: (order[p[0]], p[1], p[2]))
    closed = sorted({tuple(c) for c in closed})
    return json.dumps(
        {
            "always_open": bool(always_open),
            "weekly": [] if always_open else [list(p) for p in weekly],
            "closed": [list(c) for c in closed],
        }
    )


def _read_hours(service: Service) -> str | None:
    weekly, closed = [], []
    for schedule in service.schedules:
        if _is_closure(schedule):
            closed.append((schedule.valid_from.isoformat(), schedule.description or ""))
        elif _is_weekly(schedule):
            days = [d.strip() for d in (schedule.byday or "").split(",") if d.strip()]
            opens, closes = _hhmm(schedule.opens_at), _hhmm(schedule.closes_at or "00:00")
            for day in days or DAY_CODES:
                weekly.append((day, opens, closes))
    all_day = {(day, "00:00", "00:00") for day in DAY_CODES}
    always_open = bool(weekly) and set(weekly) == all_day
    return hours_value(always_open, weekly, closed)


def _service_zone(service: Service) -> str | None:
    for schedule in service.schedules:
        if schedule.tz_name:
            return schedule.tz_name
    for sal in service.service_at_locations:
        address = sal.location.physical_address
        if address is not None and timezone_for_zip(address.postal_code):
            return timezone_for_zip(address.postal_code)
    return None


def _write_hours(service: Service, value: str | None) -> None:
    data = json.loads(value or "{}")
    zone = _service_zone(service)
    kept = [s for s in service.schedules if not _editable_schedule(s)]
    periods = (
        [(day, "00:00", "00:00") for day in DAY_CODES]
        if data.get("always_open")
        else [tuple(p) for p in data.get("weekly", [])]
    )
    by_hours: dict[tuple[str, str], list[str]] = {}
    for day, opens, closes in periods:
        by_hours.setdefault((opens, closes), []).append(day)
    rows = [
        Schedule(
            freq="WEEKLY", byday=",".join(days), opens_at=opens, closes_at=closes, tz_name=zone
        )
        for (opens, closes), days in by_hours.items()
    ]
    for day, note in data.get("closed", []):
        when = date.fromisoformat(day)
        rows.append(
            Schedule(valid_from=when, valid_to=when, description=note or None, tz_name=zone)
        )
    service.schedules = kept + rows


def _describe_hours(value: str | None) -> str:
    if not value:
        return ""
    data = json.loads(value)
    lines = ["Open 24 hours, 7 days a week"] if data.get("always_open") else []
    names = dict(zip(DAY_CODES, DAY_NAMES, strict=True))
    for day, opens, closes in data.get("weekly", []):
        lines.append(
            f"{names[day]}: {format_time(parse_time(opens))} – {format_time(parse_time(closes))}"
        )
    for day, note in data.get("closed", []):
        lines.append(f"Closed {day}" + (f" ({note})" if note else ""))
    return "\n".join(lines) or "No hours"


# -- service areas: counties and ZIP codes by name (no shape), or polygons ---------------------
#
# Canonical form: a JSON list of [name, extent_type, extent] sorted; a county is named like
# "Onondaga County, NY" and a ZIP code "ZIP 13202", both without a shape (we hold no boundaries).


def area_key(area: ServiceArea) -> list:
    return [area.name or "", area.extent_type, area.extent]


def areas_value(areas: Iterable[list]) -> str:
    """The canonical text of a service's areas."""
    return json.dumps(sorted(areas, key=lambda a: [str(part) for part in a]))


def _read_areas(service: Service) -> str | None:
    return areas_value(area_key(a) for a in service.service_areas)


def _write_areas(service: Service, value: str | None) -> None:
    kept = {json.dumps(area_key(a)): a for a in service.service_areas}
    rows = []
    for name, extent_type, extent in json.loads(value or "[]"):
        found = kept.pop(json.dumps([name, extent_type, extent]), None)
        if found is None:
            found = ServiceArea(name=name or None)
            set_service_area_extent(found, extent, extent_type)
        rows.append(found)
    service.service_areas = rows


def _describe_areas(value: str | None) -> str:
    areas = json.loads(value or "[]")
    return "\n".join(
        (name or "An area") + (" (a drawn area)" if extent else "") for name, _, extent in areas
    )


# -- a location's address and point -------------------------------------------------------------


def _address(location: Location) -> Address:
    address = location.physical_address
    if address is None:
        address = Address(address_type="physical", country="US")
        location.addresses.append(address)
    return address


def _address_field(name: str, label: str) -> EditableField:
    def read(location: Location) -> str | None:
        address = location.physical_address
        return _blank(getattr(address, name)) if address is not None else None

    def write(location: Location, value: str | None) -> None:
        nullable = name in ("address_2",)
        setattr(_address(location), name, _blank(value) if nullable else (value or "").strip())

    return EditableField(name, label, read, write)


def _read_point(location: Location) -> str | None:
    if location.latitude is None or location.longitude is None:
        return None
    return f"{location.latitude},{location.longitude}"


def _write_point(location: Location, value: str | None) -> None:
    latitude, _, longitude = (value or "").partition(",")
    place_location(location, latitude or None, longitude or None)


FIELDS: dict[str, dict[str, EditableField]] = {
    "organization": {
        f.name: f
        for f in (
            _column("name", "Name", required=True),
            _column("description", "Description", required=True),
            _column("website", "Website"),
            _column("email", "Email"),
            EditableField("phones", "Phone numbers", _read_phones, _write_phones),
        )
    },
    "service": {
        f.name: f
        for f in (
            _column("name", "Name", required=True),
            _column("description", "Description"),
            _column("status", "Status", required=True),
            _column("referral_capacity", "Taking referrals", required=True),
            EditableField(
                "categories",
                "Categories",
                _read_categories,
                _write_categories,
                _describe_categories,
            ),
            _column("eligibility_description", "Who can use it"),
            _age("minimum_age", "Youngest age"),
            _age("maximum_age", "Oldest age"),
            _column("fees_description", "Fees"),
            EditableField("languages", "Languages", _read_languages, _write_languages),
            _text_rows(
                "required_documents",
                "document",
                RequiredDocument,
                "documents",
                "Documents to bring",
            ),
            _column("application_process", "How to apply"),
            EditableField("phones", "Phone numbers", _read_phones, _write_phones),
            EditableField("hours", "Hours", _read_hours, _write_hours, _describe_hours),
            EditableField("areas", "Service area", _read_areas, _write_areas, _describe_areas),
        )
    },
    "location": {
        f.name: f
        for f in (
            _column("name", "Name of the site"),
            _address_field("address_1", "Street address"),
            _address_field("address_2", "Address line 2"),
            _address_field("city", "City"),
            _address_field("state_province", "State"),
            _address_field("postal_code", "ZIP code"),
            EditableField("point", "Map point", _read_point, _write_point),
            _text_rows(
                "accessibility", "description", Accessibility, "accessibility", "Accessibility"
            ),
            _column("transportation", "Getting there (transit)"),
        )
    },
}

RECORDS = {"organization": Organization, "service": Service, "location": Location}


def describe(change: ListingChange, value: str | None) -> str:
    """A history value as people read it (category names, hours by day)."""
    field = FIELDS.get(change.record_type, {}).get(change.field)
    if field is not None and field.describe is not None:
        return field.describe(value)
    return value or ""


def field_label(change: ListingChange) -> str:
    field = FIELDS.get(change.record_type, {}).get(change.field)
    return field.label if field else change.field


def read_fields(record_type: str, record) -> dict[str, str | None]:
    """Every editable field of a record as canonical text (a form's starting values)."""
    return {name: field.read(record) for name, field in FIELDS[record_type].items()}


# -- writing, with history ----------------------------------------------------------------------


def record_listing_change(
    organization_id: uuid.UUID,
    record_type: str,
    record,
    field: str,
    before: str | None,
    after: str | None,
    editor: Editor,
    *,
    suggestion_id: uuid.UUID | None = None,
    action: str = "edit",
    restored_from: ListingChange | None = None,
) -> ListingChange:
    """Add one history row. Call it only for a value that really changed (`edit_record` does)."""
    label = getattr(record, "name", None) or ""
    if record_type == "location" and not label:
        address = record.physical_address
        label = address.one_line() if address is not None else ""
    change = ListingChange(
        organization_id=organization_id,
        record_type=record_type,
        record_id=record.id,
        record_label=label[:500],
        field=field,
        before=before,
        after=after,
        action=action,
        changed_by_id=editor.id,
        changed_by=editor.label[:320],
        suggestion_id=suggestion_id,
        restored_from_id=restored_from.id if restored_from is not None else None,
    )
    db.session.add(change)
    return change


def listing_of(record_type: str, record) -> uuid.UUID:
    """The organization whose listing a record belongs to (its history page)."""
    if record_type == "organization":
        return record.id
    if record_type == "service":
        return record.organization_id
    if record.organization_id is not None:
        return record.organization_id
    return record.service_at_locations[0].service.organization_id


def _touch(record_type: str, record) -> None:
    """`last_modified` follows edits of child rows too (phones, hours, addresses), which the
    column's onupdate does not see; a service's organization is not touched by its edit."""
    record.last_modified = utcnow()
    if record_type == "location":
        for sal in record.service_at_locations:
            sal.service.last_modified = record.last_modified


def edit_record(
    record_type: str,
    record,
    values: dict[str, str | None],
    editor: Editor,
    *,
    suggestion_id: uuid.UUID | None = None,
    organization_id: uuid.UUID | None = None,
) -> list[ListingChange]:
    """Write the fields whose canonical value differs and log each one; returns the changes.

    `values` holds canonical text (from `directory.listing_checks`); fields not in it are left
    alone. `suggestion_id` links the changes to the public suggestion they carry out.
    """
    fields = FIELDS[record_type]
    organization_id = organization_id or listing_of(record_type, record)
    changes = []
    for name, after in values.items():
        field = fields[name]
        before = field.read(record)
        if _blank(before) == _blank(after):
            continue
        field.write(record, after)
        changes.append(
            record_listing_change(
                organization_id,
                record_type,
                record,
                name,
                before,
                field.read(record),
                editor,
                suggestion_id=suggestion_id,
            )
        )
    if changes:
        _touch(record_type, record)
        db.session.flush()
    return changes


class NothingToRestore(ValueError):
    """The record is gone, or the field already holds that value."""


def restore_change(change: ListingChange, editor: Editor) -> ListingChange:
    """Put back the value a field had before `change`; the restore is itself a logged change."""
    model = RECORDS.get(change.record_type)
    record = db.session.get(model, change.record_id) if model else None
    if record is None or change.field not in FIELDS[change.record_type]:
        raise NothingToRestore("That record is no longer in the directory.")
    field = FIELDS[change.record_type][change.field]
    current = field.read(record)
    if _blank(current) == _blank(change.before):
        raise NothingToRestore("The field already has that value.")
    field.write(record, change.before)
    restored = record_listing_change(
        change.organization_id,
        change.record_type,
        record,
        change.field,
        current,
        field.read(record),
        editor,
        action="restore",
        restored_from=change,
    )
    _touch(change.record_type, record)
    db.session.flush()
    return restored


def history(organization_id: uuid.UUID, limit: int = 500) -> list[ListingChange]:
    """A listing's changes, newest first."""
    return list(
        db.session.scalars(
            select(ListingChange)
            .where(ListingChange.organization_id == organization_id)
            .order_by(ListingChange.changed_at.desc(), ListingChange.id)
            .limit(limit)
        )
    )


def add_location(service: Service) -> Location:
    """A new, empty physical site for a service (its fields are then edited and logged)."""
    location = Location(location_type="physical", organization_id=service.organization_id)
    location.addresses.append(Address(address_type="physical", country="US"))
    service.service_at_locations.append(ServiceAtLocation(location=location))
    db.session.flush()
    return location
