"""What people type into the listing-edit forms, checked and turned into canonical field values.

Each `check_*` takes the posted form (anything with `get` and `getlist`, e.g. werkzeug's
MultiDict) and returns the values for `directory.editing.edit_record` and the errors by input
name, so a page can say what is wrong next to the field. Nothing here writes.
"""

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, or_, select

from directory import normalize
from directory.editing import area_key, areas_value, hours_value, phone_line
from directory.hours import DAY_CODES, DAY_NAMES, parse_time
from directory.models import Location, ReferralCapacity, Service, ServiceStatus, TaxonomyTerm
from extensions import db
from geo import shapes
from geo.places import UnknownPlace, county, place_from_zip

PERIODS_PER_DAY = (
    3  # inputs per day on the weekly grid (htmx could add more; three covers a split day)
)
SPARE_CLOSURES = 2  # empty holiday rows under the ones on record

MAX_TEXT = 5000
MAX_POLYGON_BYTES = 1_000_000
MAX_NAME = 500


@dataclass
class Checked:
    values: dict[str, str | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _text(data, name: str) -> str:
    return (data.get(name) or "").strip()


def _plain(data, checked: Checked, name: str, label: str, *, required=False, limit=MAX_TEXT):
    value = _text(data, name)
    if required and not value:
        checked.errors[name] = f"Enter the {label}."
    elif len(value) > limit:
        checked.errors[name] = f"Keep the {label} under {limit} characters."
    checked.values[name] = value or None


def _lines(data, name: str) -> list[str]:
    return [line.strip() for line in (data.get(name) or "").splitlines() if line.strip()]


def _phones(data, checked: Checked, name: str = "phones") -> None:
    """One number a line; each must be a number a phone can dial."""
    lines = []
    for number, line in enumerate(_lines(data, name), start=1):
        try:
            read = normalize.phone(line, normalize.phone_region())
        except normalize.InvalidValue as exc:
            checked.errors[name] = f"Line {number}: {exc}."
            return
        problem = read.problem or (None if read.tel else f"{line!r} can't be dialled")
        if read.tel and not read.tel.startswith("tel:+") and len(read.tel) > len("tel:988"):
            # A short code people can't call from every phone: only 211, 311, 988... are kept.
            problem = f"{line!r} is not a complete phone number"
        if problem:
            checked.errors[name] = (
                f"Line {number}: {problem}. Write one number a line, e.g. (315) 555-0100 x12."
            )
            return
        lines.append(phone_line(normalize.Phone(read.number, read.extension)))
    checked.values[name] = "\n".join(lines) or None


def _normalized(data, checked: Checked, name: str, read, example: str) -> None:
    """An optional value in its clean form (directory.normalize), or an error saying why not."""
    text = _text(data, name)
    checked.values[name] = None
    if text:
        try:
            checked.values[name] = read(text)
        except normalize.InvalidValue as exc:
            checked.errors[name] = f"{exc}. Write {example}."


def check_organization(data) -> Checked:
    checked = Checked()
    _plain(data, checked, "name", "organization's name", required=True, limit=MAX_NAME)
    _plain(data, checked, "description", "description")
    checked.values["description"] = checked.values["description"] or ""
    _normalized(data, checked, "website", normalize.url, "a web address, e.g. https://example.org")
    _normalized(data, checked, "email", normalize.email, "one address, e.g. info@example.org")
    _phones(data, checked)
    return checked


def _age(data, checked: Checked, name: str) -> Decimal | None:
    text = _text(data, name)
    checked.values[name] = None
    if not text:
        return None
    try:
        age = Decimal(text)
    except InvalidOperation:
        checked.errors[name] = f"{text!r} is not an age: write a number of years, e.g. 18."
        return None
    if not age.is_finite() or not 0 <= age <= 120:
        checked.errors[name] = "Write an age from 0 to 120."
        return None
    checked.values[name] = format(age.normalize(), "f")
    return age


def find_terms(query: str, limit: int = 20) -> list[TaxonomyTerm]:
    """Taxonomy terms whose name or code starts a word of `query` (the category picker)."""
    words = query.strip().lower()
    if not words:
        return []
    pattern = f"%{words}%"
    return list(
        db.session.scalars(
            select(TaxonomyTerm)
            .where(
                or_(
                    func.lower(TaxonomyTerm.name).like(pattern),
                    func.lower(TaxonomyTerm.code) == words,
                )
            )
            .order_by(func.length(TaxonomyTerm.name), TaxonomyTerm.name)
            .limit(limit)
        )
    )


def _categories(data, checked: Checked) -> None:
    """Ticked categories (term ids), plus names typed into the picker without JavaScript."""
    ids = set()
    for value in data.getlist("category"):
        try:
            ids.add(uuid.UUID(value))
        except ValueError:
            checked.errors["category"] = "Choose categories from the list."
    known = set(db.session.scalars(select(TaxonomyTerm.id).where(TaxonomyTerm.id.in_(ids))))
    if ids - known:
        checked.errors["category"] = "A chosen category is no longer in the taxonomy."
    for name in [n.strip() for n in _text(data, "add_categories").split(",") if n.strip()]:
        exact = db.session.scalar(
            select(TaxonomyTerm)
            .where(or_(func.lower(TaxonomyTerm.name) == name.lower(), TaxonomyTerm.code == name))
            .limit(1)
        )
        matches = [exact] if exact is not None else find_terms(name, limit=6)
        if len(matches) == 1:
            known.add(matches[0].id)
        elif matches and not known & {term.id for term in matches}:
            # Several match and none is ticked (a ticked one is what the picker typed it for).
            names = ", ".join(term.name for term in matches[:5])
            checked.errors["add_categories"] = f"Several categories match {name!r}: {names}."
        elif not matches:
            checked.errors["add_categories"] = (
                f"No category is called {name!r}. Type part of a name to see the choices."
            )
    checked.values["categories"] = "\n".join(sorted(str(i) for i in known)) or None


def check_service(data) -> Checked:
    checked = Checked()
    _plain(data, checked, "name", "service's name", required=True, limit=MAX_NAME)
    _plain(data, checked, "description", "description")
    status = _text(data, "status")
    if status not in {s.value for s in ServiceStatus}:
        checked.errors["status"] = "Choose a status."
    checked.values["status"] = status
    capacity = _text(data, "referral_capacity")
    if capacity not in {c.value for c in ReferralCapacity}:
        checked.errors["referral_capacity"] = "Choose whether it takes new referrals."
    checked.values["referral_capacity"] = capacity
    _categories(data, checked)
    _plain(data, checked, "eligibility_description", "eligibility")
    youngest, oldest = _age(data, checked, "minimum_age"), _age(data, checked, "maximum_age")
    if youngest is not None and oldest is not None and youngest > oldest:
        checked.errors["maximum_age"] = "The oldest age is below the youngest."
    _plain(data, checked, "fees_description", "fees")
    for name in ("languages", "documents"):
        lines = _lines(data, name)
        if any(len(line) > MAX_NAME for line in lines):
            checked.errors[name] = f"Keep each line under {MAX_NAME} characters."
        checked.values[name] = "\n".join(lines) or None
    _plain(data, checked, "application_process", "how to apply")
    _phones(data, checked)
    return checked


# -- hours ------------------------------------------------------------------------------------


def _period_names(day: str, index: int) -> tuple[str, str, str]:
    return f"{day}_{index}_opens", f"{day}_{index}_closes", f"{day}_{index}_overnight"


def check_hours(data) -> Checked:
    """A weekly grid (several periods a day, past midnight ticked), closed days, holiday
    closures with dates, or open 24/7."""
    checked = Checked()
    always_open = bool(data.get("always_open"))
    weekly = []
    for day, day_name in zip(DAY_CODES, DAY_NAMES, strict=True):
        closed = bool(data.get(f"{day}_closed"))
        for index in range(PERIODS_PER_DAY):
            opens_name, closes_name, overnight_name = _period_names(day, index)
            opens_text, closes_text = _text(data, opens_name), _text(data, closes_name)
            if not opens_text and not closes_text:
                continue
            if always_open or closed:
                why = "open 24/7" if always_open else f"closed on {day_name}"
                checked.errors[opens_name] = f"Clear these times, or untick “{why}”."
                continue
            times = {}
            for name, text, what in (
                (opens_name, opens_text, "opening"),
                (closes_name, closes_text, "closing"),
            ):
                if not text:
                    checked.errors[name] = f"Enter the {what} time."
                    continue
                try:
                    times[name] = parse_time(text)
                except ValueError:
                    checked.errors[name] = f"{text!r} is not a time: write e.g. 9:00 or 17:30."
            if len(times) < 2:
                continue
            opens, closes = times[opens_name], times[closes_name]
            if closes <= opens and not data.get(overnight_name):
                checked.errors[closes_name] = (
                    "Closing time is before opening time. Tick “past midnight” if it closes "
                    "the next day."
                )
                continue
            weekly.append((day, opens.strftime("%H:%M"), closes.strftime("%H:%M")))
    closures = []
    index = 0
    while f"closure_{index}_date" in data or f"closure_{index}_note" in data:
        text = _text(data, f"closure_{index}_date")
        note = _text(data, f"closure_{index}_note")
        if text:
            try:
                closures.append((date.fromisoformat(text).isoformat(), note[:200]))
            except ValueError:
                checked.errors[f"closure_{index}_date"] = (
                    f"{text!r} is not a date: write e.g. 2026-12-25."
                )
        elif note:
            checked.errors[f"closure_{index}_date"] = "Enter the date it is closed."
        index += 1
    checked.values["hours"] = hours_value(always_open, weekly, closures)
    return checked


def hours_inputs(canonical: str | None) -> dict[str, str]:
    """The grid's input values for hours on record (the form's starting point)."""
    data = json.loads(canonical or "{}")
    inputs: dict[str, str] = {}
    if data.get("always_open"):
        inputs["always_open"] = "1"
    counts = dict.fromkeys(DAY_CODES, 0)
    for day, opens, closes in data.get("weekly", []):
        index = counts[day]
        counts[day] += 1
        if index >= PERIODS_PER_DAY:
            continue
        opens_name, closes_name, overnight_name = _period_names(day, index)
        inputs[opens_name], inputs[closes_name] = opens, closes
        if closes <= opens:
            inputs[overnight_name] = "1"
    if data.get("weekly"):
        for day in DAY_CODES:
            if not counts[day]:
                inputs[f"{day}_closed"] = "1"
    for index, (day, note) in enumerate(data.get("closed", [])):
        inputs[f"closure_{index}_date"], inputs[f"closure_{index}_note"] = day, note
    return inputs


def closure_rows(inputs) -> int:
    """How many holiday rows the form shows: those filled in, and spares."""
    index = 0
    while f"closure_{index}_date" in inputs and (
        inputs.get(f"closure_{index}_date") or inputs.get(f"closure_{index}_note")
    ):
        index += 1
    return index + SPARE_CLOSURES


# -- a location -------------------------------------------------------------------------------


def check_location(data, location: Location | None) -> Checked:
    """An address whose point comes from its ZIP code (kept when the ZIP is unchanged)."""
    checked = Checked()
    _plain(data, checked, "name", "site's name", limit=MAX_NAME)
    _plain(data, checked, "address_1", "street address", required=True, limit=MAX_NAME)
    _plain(data, checked, "address_2", "second address line", limit=MAX_NAME)
    _plain(data, checked, "city", "city", required=True, limit=200)
    state = _text(data, "state_province")
    checked.values["state_province"] = state
    try:
        checked.values["state_province"] = normalize.us_state(state) if state else ""
    except normalize.InvalidValue as exc:
        checked.errors["state_province"] = f"{exc}: write e.g. NY."
    if not state:
        checked.errors["state_province"] = "Enter the state."
    code = _text(data, "postal_code")
    checked.values["postal_code"] = code
    if not code:
        checked.errors["postal_code"] = "Enter the ZIP code."
    else:
        try:
            checked.values["postal_code"] = code = normalize.us_zip(code)
            place = place_from_zip(code[:5])
        except (normalize.InvalidValue, UnknownPlace) as exc:
            checked.errors["postal_code"] = f"{str(exc).rstrip('.')}. Check the ZIP code."
        else:
            address = location.physical_address if location is not None else None
            same_zip = address is not None and address.postal_code[:5] == code[:5]
            if not (same_zip and location.latitude is not None):
                checked.values["point"] = f"{place.latitude:.6f},{place.longitude:.6f}"
    checked.values["accessibility"] = "\n".join(_lines(data, "accessibility")) or None
    _plain(data, checked, "transportation", "transit directions")
    return checked


# -- service areas ---------------------------------------------------------------------------

ZIP_AREA = re.compile(r"^ZIP (\d{5})$")


def split_areas(service: Service) -> dict:
    """A service's areas as the form shows them: counties, ZIP codes, and the other areas
    (drawn or imported polygons, named regions) each with its id to keep or drop."""
    counties, zips, others = [], [], []
    for area in service.service_areas:
        if area.extent is None and ZIP_AREA.match(area.name or ""):
            zips.append(area.name.removeprefix("ZIP "))
        elif area.extent is None and re.search(r", [A-Z]{2}$", area.name or ""):
            counties.append(area.name)
        else:
            others.append(area)
    return {"counties": "\n".join(counties), "zip_codes": " ".join(zips), "others": others}


def check_service_areas(data, files, service: Service) -> Checked:
    """Counties and ZIP codes by name, the other areas ticked to keep, and an uploaded GeoJSON
    polygon, checked as written (one that does not close is refused)."""
    checked = Checked()
    areas = []
    for line in _lines(data, "counties"):
        try:
            areas.append([county(line), None, None])
        except UnknownPlace as exc:
            checked.errors["counties"] = str(exc)
    for code in re.split(r"[\s,;]+", _text(data, "zip_codes")):
        if not code:
            continue
        try:
            place_from_zip(normalize.us_zip(code)[:5])
        except (normalize.InvalidValue, UnknownPlace) as exc:
            checked.errors["zip_codes"] = f"{str(exc).rstrip('.')}."
            continue
        areas.append([f"ZIP {normalize.us_zip(code)[:5]}", None, None])
    keep = set(data.getlist("keep_area"))
    areas.extend(area_key(a) for a in split_areas(service)["others"] if str(a.id) in keep)
    upload = files.get("polygon_file") if files else None
    if upload is not None and upload.filename:
        raw = upload.read(MAX_POLYGON_BYTES + 1)
        if len(raw) > MAX_POLYGON_BYTES:
            checked.errors["polygon_file"] = "The file is too large (at most 1 MB)."
        else:
            try:
                shape = shapes.parse_uploaded_area(raw.decode("utf-8-sig"))
            except (shapes.InvalidGeometry, UnicodeDecodeError) as exc:
                checked.errors["polygon_file"] = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
            else:
                name = _text(data, "polygon_name")[:MAX_NAME] or "Drawn area"
                areas.append([name, "geojson", shapes.area_to_geojson(shape)])
    checked.values["areas"] = areas_value({json.dumps(a): a for a in areas}.values())
    return checked
