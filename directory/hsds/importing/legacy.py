"""HSDS 1.x CSV packages, as 211 systems still export them, turned into HSDS 3.0 records.

What changes on the way (HSDS 3.0 changelog): physical_ and postal_addresses become addresses;
regular_schedules (one weekday a row) become weekly schedules (freq WEEKLY, byday "MO", times
"09:00"); holiday_schedules become dated exceptions (valid_from/valid_to, no opening time when
closed); taxonomy + services_taxonomy become taxonomy terms (with the vocabulary as taxonomy) and
service attributes; accessibility_for_disabilities becomes accessibility; a phone's "en, es"
becomes language rows. HSDS 3.0 dropped eligibility and payment_accepted: eligibility values go
into the service's eligibility_description and accepted payments into its fees_description.
"""

import re
import uuid
from collections import defaultdict
from typing import Any

from directory.hours import DAY_NAMES
from directory.hsds.importing.hours_text import Period, read_hours_text
from directory.hsds.importing.read import CsvTable
from directory.hsds.importing.records import (
    KEYED_TABLES,
    OWNER_LINKS,
    REFERENCE_TARGETS,
    REQUIRED_LINKS,
    Context,
    Origin,
    Record,
    entity_table,
    repeated_ids,
)
from directory.hsds.importing.values import (
    ALL_DAY,
    BadValue,
    as_uuid,
    blank,
    byday_text,
    clean_text,
    is_all_day,
    is_closed_word,
    language_fields,
    languages_and_notes,
    normalize_time,
    parse_bool,
    parse_date,
    parse_weekdays,
    source_id_text,
    split_time_range,
)

# File stems and datapackage resource names -> the 1.x table they hold (None: ignored).
LEGACY_FILES: dict[str, str | None] = {
    "organizations": "organization",
    "organization": "organization",
    "programs": "program",
    "program": "program",
    "services": "service",
    "service": "service",
    "services_taxonomy": "service_taxonomy",
    "service_taxonomy": "service_taxonomy",
    "services_at_location": "service_at_location",
    "service_at_location": "service_at_location",
    "services_at_locations": "service_at_location",
    "locations": "location",
    "location": "location",
    "phones": "phone",
    "phone": "phone",
    "contacts": "contact",
    "contact": "contact",
    "physical_addresses": "physical_address",
    "physical_address": "physical_address",
    "postal_addresses": "postal_address",
    "postal_address": "postal_address",
    "regular_schedules": "regular_schedule",
    "regular_schedule": "regular_schedule",
    "holiday_schedules": "holiday_schedule",
    "holiday_schedule": "holiday_schedule",
    "funding": "funding",
    "eligibility": "eligibility",
    "service_areas": "service_area",
    "service_area": "service_area",
    "required_documents": "required_document",
    "required_document": "required_document",
    "payments_accepted": "payment_accepted",
    "payment_accepted": "payment_accepted",
    "languages": "language",
    "language": "language",
    "accessibility_for_disabilities": "accessibility_for_disabilities",
    "taxonomy": "taxonomy",
    "metadata": "metadata",
    "meta_table_description": None,
    "meta_table_descriptions": None,
}

# Files that only HSDS 1.x packages have (3.0 renamed or dropped them).
LEGACY_ONLY = {
    "services_taxonomy",
    "service_taxonomy",
    "services_at_location",
    "physical_addresses",
    "postal_addresses",
    "regular_schedules",
    "holiday_schedules",
    "eligibility",
    "payments_accepted",
    "accessibility_for_disabilities",
    "taxonomy",
}

LEGACY_REQUIRED_COLUMNS = {
    "organization": ("id", "name"),
    "program": ("id", "name", "organization_id"),
    "service": ("id", "name", "organization_id"),
    "location": ("id",),
    "service_at_location": ("service_id", "location_id"),
    "phone": ("number",),
    "physical_address": ("location_id",),
    "postal_address": ("location_id",),
    "regular_schedule": ("weekday",),
    "holiday_schedule": ("start_date",),
    "service_taxonomy": ("service_id", "taxonomy_id"),
    "taxonomy": ("id", "name"),
    "eligibility": ("service_id", "eligibility"),
    "payment_accepted": ("service_id", "payment"),
    "accessibility_for_disabilities": ("location_id",),
    "language": ("language",),
    "service_area": ("service_id",),
    "required_document": ("service_id",),
    "metadata": ("resource_id",),
}

# Columns copied as they are into the 3.0 table, when a 1.x file has them.
_COPIED = {
    "organization": ("name", "alternate_name", "description", "email", "website", "url",
                     "year_incorporated", "legal_status", "logo", "uri", "parent_organization_id"),
    "program": ("organization_id", "name", "alternate_name", "description"),
    "service": ("organization_id", "program_id", "name", "alternate_name", "description", "url",
                "email", "status", "interpretation_services", "application_process",
                "wait_time", "fees", "fees_description", "accreditations", "licenses",
                "eligibility_description", "minimum_age", "maximum_age", "alert",
                "assured_date", "assurer_email", "last_modified"),
    "location": ("organization_id", "name", "alternate_name", "description", "transportation",
                 "latitude", "longitude", "location_type", "url", "external_identifier",
                 "external_identifier_type"),
    "service_at_location": ("service_id", "location_id", "description"),
    "phone": ("location_id", "service_id", "organization_id", "contact_id",
              "service_at_location_id", "number", "extension", "type", "description"),
    "contact": ("organization_id", "service_id", "service_at_location_id", "location_id", "name",
                "title", "department", "email"),
    "address": ("location_id", "attention", "address_1", "address_2", "city", "region",
                "state_province", "postal_code", "country"),
    "funding": ("organization_id", "service_id", "source"),
    "service_area": ("service_id", "name", "description", "extent", "extent_type", "uri"),
    "required_document": ("service_id", "document", "uri"),
    "accessibility": ("location_id", "description", "details", "url"),
    "metadata": ("resource_id", "resource_type", "last_action_date", "last_action_type",
                 "field_name", "previous_value", "replacement_value", "updated_by"),
}  # fmt: skip

# Looser column names seen in exports.
_RENAMED = {
    "location": {"lat": "latitude", "lng": "longitude", "lon": "longitude", "long": "longitude"},
    "service": {"fees": "fees_description"},
    "organization": {"url": "website"},
    "service_area": {"service_area": "name"},
    "accessibility": {"accessibility": "description"},
}

# The 1.x columns that link one row to another (REFERENCE_TARGETS says to which table).
_LINK_FIELDS = (
    "organization_id",
    "parent_organization_id",
    "program_id",
    "service_id",
    "location_id",
    "service_at_location_id",
    "contact_id",
)


# The tables whose records 1.x metadata rows may describe (the file names no resource_type).
METADATA_TABLES = (
    "organization",
    "service",
    "location",
    "program",
    "service_at_location",
    "phone",
    "contact",
)


class LegacyReader:
    """Turns the CSV tables of a 1.x package into HSDS 3.0 records in `ctx.package`."""

    def __init__(self, ctx: Context, tables: dict[str, CsvTable]):
        self.ctx = ctx
        self.package = ctx.package
        self.tables = tables
        self._used: dict[str, dict[uuid.UUID, str]] = {}
        self._repeats: dict[str, set[str]] = {}
        self._service_records: dict[uuid.UUID, Record] | None = None

    def read(self) -> None:
        """Map every table; the order makes references between them resolvable by id alone."""
        self._taxonomy()
        eligibility = self._grouped("eligibility", "eligibility")
        payments = self._grouped("payment_accepted", "payment")
        self._simple("organization", "organization")
        self._tax_ids()
        self._simple("program", "program")
        self._services(eligibility, payments)
        self._service_taxonomy()
        self._simple("location", "location")
        self._simple("service_at_location", "service_at_location")
        self._simple("contact", "contact")
        self._phones()
        self._addresses("physical_address", "physical")
        self._addresses("postal_address", "postal")
        self._regular_schedules()
        self._holiday_schedules()
        self._simple("service_area", "service_area")
        self._languages()
        self._simple("accessibility_for_disabilities", "accessibility")
        self._simple("required_document", "required_document")
        self._simple("funding", "funding")
        self._metadata()

    # --- helpers ---------------------------------------------------------------------------------

    def _rows(self, legacy: str):
        table = self.tables.get(legacy)
        if table is None:
            return
        for line, row in table.rows:
            raw_id = source_id_text(row.get("id"))
            yield table.file, line, row, Origin(table.file, f"row {line}", raw_id)

    def _values(self, table: str, row: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        """The 3.0 fields of a 1.x row, with its links turned into our ids."""
        renamed = _RENAMED.get(table, {})
        values: dict[str, Any] = {}
        refs: dict[str, str] = {}
        for column, value in row.items():
            name = renamed.get(column, column)
            if name not in _COPIED.get(table, ()) and column not in _COPIED.get(table, ()):
                continue
            if name in values and not blank(values[name]):
                continue  # the proper column wins over a looser alias
            values[name] = value
        for field in _LINK_FIELDS:
            if field in values:
                self._link(values, refs, field, values[field])
        return values, refs

    def _link(self, values: dict[str, Any], refs: dict[str, str], field: str, raw) -> None:
        """Put our id for a 1.x link in values (None when blank), its source text in refs."""
        text = source_id_text(raw)
        values[field] = self.ctx.ref(REFERENCE_TARGETS[field], text) if text else None
        if text:
            refs[field] = text

    def _repeated(self, file: str) -> set[str]:
        """The ids more than one row of this file carries."""
        if file not in self._repeats:
            rows = next((t.rows for t in self.tables.values() if t.file == file), [])
            self._repeats[file] = repeated_ids(source_id_text(row.get("id")) for _, row in rows)
        return self._repeats[file]

    def _id(self, id_table: str, table: str, origin: Origin, values: dict) -> uuid.UUID:
        if origin.source_id:
            if table not in KEYED_TABLES and origin.source_id in self._repeated(origin.file):
                return self.ctx.repaired_id(table, id_table, origin.source_id, values, origin)
            record_id = self.ctx.ids.of(id_table, origin.source_id)
            if (
                record_id in self._used.setdefault(table, {})
                and self._used[table][record_id] != id_table
            ):
                # 1.x ids are unique per file: a regular and a holiday schedule may share one.
                record_id = self.ctx.ids.derived(id_table, origin.source_id)
            self._used[table][record_id] = id_table
            return record_id
        parents = {k: str(v) for k, v in values.items() if isinstance(v, uuid.UUID)}
        return self.ctx.content_id(id_table, parents, values)

    def _claim(self, table: str) -> None:
        for link in (*REQUIRED_LINKS.get(table, ()), *OWNER_LINKS.get(table, ())):
            self.package.claim(table, link)

    def _simple(self, legacy: str, table: str) -> None:
        if legacy not in self.tables:
            return
        for _, _, row, origin in self._rows(legacy):
            values, refs = self._values(table, row)
            if table in ("organization", "program", "service", "location") and not origin.source_id:
                self.package.reject(table, origin, "the row has no id")
                continue
            record_id = self._id(table, table, origin, values)
            self.package.add(Record(table, record_id, values, origin, refs=refs))
        self._claim(table)

    def _grouped(self, legacy: str, column: str) -> dict[uuid.UUID, list[str]] | None:
        """Values of a per-service list file (eligibility, payments) by service; None if absent."""
        if legacy not in self.tables:
            return None
        grouped: dict[uuid.UUID, list[str]] = defaultdict(list)
        for _, _, row, origin in self._rows(legacy):
            service = self.ctx.ref("service", row.get("service_id"))
            value = clean_text(row.get(column))
            if service is None or value is None:
                self.package.warn("service", origin, f"ignored: no service_id or no {column}")
                continue
            if value not in grouped[service]:
                grouped[service].append(value)
        return grouped

    # --- tables ----------------------------------------------------------------------------------

    def _tax_ids(self) -> None:
        """A 1.x tax_id is an organization identifier in 3.0."""
        for _, _, row, origin in self._rows("organization"):
            tax_id = clean_text(row.get("tax_id"))
            organization = self.ctx.ref("organization", origin.source_id)
            if not tax_id or organization is None:
                continue
            record_id = self.ctx.ids.derived("organization_tax_id", origin.source_id or "")
            values = {
                "organization_id": organization,
                "identifier_type": "Tax ID",
                "identifier": tax_id,
            }
            self.package.add(Record("organization_identifier", record_id, values, origin))

    def _services(self, eligibility, payments) -> None:
        if "service" not in self.tables:
            return
        columns = self.tables["service"].columns
        for _, _, row, origin in self._rows("service"):
            values, refs = self._values("service", row)
            if not origin.source_id:
                self.package.reject("service", origin, "the row has no id")
                continue
            record_id = self.ctx.ids.of("service", origin.source_id)
            if eligibility is not None and "eligibility_description" not in columns:
                found = eligibility.get(record_id)
                values["eligibility_description"] = ", ".join(found) if found else None
            if payments is not None:
                found = payments.get(record_id)
                fees = clean_text(values.get("fees_description"))
                accepted = f"Payment accepted: {', '.join(found)}." if found else None
                values["fees_description"] = "\n".join(p for p in (fees, accepted) if p) or None
            self.package.add(Record("service", record_id, values, origin, refs=refs))
            self._taxonomy_ids(row, record_id, origin)
        self._claim("service")
        if "taxonomy_ids" in columns:
            self.package.claim("attribute", "link:service")

    def _taxonomy_ids(self, row: dict, service: uuid.UUID, origin: Origin) -> None:
        """services.csv `taxonomy_ids` ("12, 15"): one attribute per term."""
        for code in [c.strip() for c in (row.get("taxonomy_ids") or "").split(",") if c.strip()]:
            term = self.ctx.ref("taxonomy_term", code)
            if term is None:
                continue
            record_id = self.ctx.ids.derived("service_taxonomy", f"{origin.source_id}:{code}")
            values = {"link_id": service, "link_entity": "service", "taxonomy_term_id": term}
            self.package.add(
                Record(
                    "attribute",
                    record_id,
                    values,
                    origin,
                    mergeable=True,
                    refs={"taxonomy_term_id": code},
                )
            )

    def _service_taxonomy(self) -> None:
        if "service_taxonomy" not in self.tables:
            return
        for _, _, row, origin in self._rows("service_taxonomy"):
            service_text = source_id_text(row.get("service_id"))
            term_text = source_id_text(row.get("taxonomy_id"))
            if not service_text or not term_text:
                self.package.reject("attribute", origin, "needs both service_id and taxonomy_id")
                continue
            values = {
                "link_id": self.ctx.ref("service", service_text),
                "link_entity": "service",
                "taxonomy_term_id": self.ctx.ref("taxonomy_term", term_text),
                "value": row.get("taxonomy_detail"),
            }
            # The same pair as services.csv taxonomy_ids gives is one attribute, not two.
            key = f"{service_text}:{term_text}"
            record_id = self.ctx.ids.derived("service_taxonomy", key)
            refs = {"link_id": service_text, "taxonomy_term_id": term_text}
            self.package.add(Record("attribute", record_id, values, origin, True, True, refs))
        self.package.claim("attribute", "link:service")

    def _taxonomy(self) -> None:
        """1.x taxonomy rows are 3.0 taxonomy terms; the vocabulary ("AIRS") is their taxonomy."""
        if "taxonomy" not in self.tables:
            return
        seen: set[str] = set()
        parents: dict[str, tuple[str, uuid.UUID | None, Origin]] = {}
        for _, _, row, origin in self._rows("taxonomy"):
            code = origin.source_id
            name = clean_text(row.get("name"))
            if not code:
                self.package.reject("taxonomy_term", origin, "the row has no id")
                continue
            vocabulary = clean_text(row.get("vocabulary")) or clean_text(row.get("taxonomy"))
            taxonomy = self.ctx.taxonomy_named(vocabulary, origin) if vocabulary else None
            parent_text = source_id_text(row.get("parent_id"))
            values = {
                "name": name,
                "code": clean_text(row.get("code")) or _code_from_id(code),
                "description": row.get("description"),
                "taxonomy_id": taxonomy,
                "parent_id": self.ctx.ref("taxonomy_term", parent_text) if parent_text else None,
                "term_uri": row.get("term_uri"),
            }
            refs = {"parent_id": parent_text} if parent_text else {}
            record_id = self.ctx.ids.of("taxonomy_term", code)
            self.package.add(Record("taxonomy_term", record_id, values, origin, refs=refs))
            seen.add(code)
            parent_name = clean_text(row.get("parent_name"))
            if parent_text and parent_name:
                parents.setdefault(parent_text, (parent_name, taxonomy, origin))
        # A parent named only by parent_id/parent_name still keeps the link: add it as a term.
        for parent_text, (parent_name, taxonomy, origin) in parents.items():
            if parent_text in seen:
                continue
            record_id = self.ctx.ids.of("taxonomy_term", parent_text)
            values = {
                "name": parent_name,
                "code": _code_from_id(parent_text),
                "taxonomy_id": taxonomy,
            }
            self.package.add(
                Record(
                    "taxonomy_term",
                    record_id,
                    values,
                    Origin(origin.file, origin.where, parent_text),
                    mergeable=True,
                )
            )

    def _phones(self) -> None:
        if "phone" not in self.tables:
            return
        has_languages = "language" in self.tables["phone"].columns
        for _, _, row, origin in self._rows("phone"):
            values, refs = self._values("phone", row)
            department = clean_text(row.get("department"))
            if department and not clean_text(values.get("description")):
                values["description"] = department
            names, notes = languages_and_notes(row.get("language"))
            if notes:  # "Interpretation available": said where the number is described
                text = [clean_text(values.get("description")), *notes]
                values["description"] = "; ".join(filter(None, text))
            record_id = self._id("phone", "phone", origin, values)
            self.package.add(Record("phone", record_id, values, origin, refs=refs))
            for name in names:
                fields = language_fields(name)
                key = f"{record_id}:{(fields['code'] or fields['name'] or '').lower()}"
                self.package.add(
                    Record(
                        "language",
                        self.ctx.ids.derived("phone_language", key),
                        {"phone_id": record_id, **fields},
                        origin,
                        mergeable=True,
                    )
                )
        self._claim("phone")
        if has_languages:
            self.package.claim("language", "phone_id")

    def _addresses(self, legacy: str, address_type: str) -> None:
        if legacy not in self.tables:
            return
        for _, _, row, origin in self._rows(legacy):
            values, refs = self._values("address", row)
            extra = [clean_text(row.get(c)) for c in ("address_3", "address_4")]
            lines = [clean_text(values.get("address_2")), *extra]
            values["address_2"] = ", ".join(p for p in lines if p) or None
            values["address_type"] = address_type
            record_id = self._id(legacy, "address", origin, values)
            self.package.add(Record("address", record_id, values, origin, refs=refs))
        self._claim("address")

    def _schedule_values(self, row: dict) -> tuple[dict[str, Any], dict[str, str]]:
        values, refs = {}, {}
        for field in ("service_id", "location_id", "service_at_location_id"):
            self._link(values, refs, field, row.get(field))
        for field in ("description", "notes", "timezone", "tz_name"):
            if field in row:
                values[field] = row[field]
        return values, refs

    def _regular_schedules(self) -> None:
        if "regular_schedule" not in self.tables:
            return
        for _, _, row, origin in self._rows("regular_schedule"):
            values, refs = self._schedule_values(row)
            text = clean_text(row.get("original_text"))
            days: tuple[int, ...] | None = None
            hours: list[tuple[str, str]] | str | None = None
            try:
                if not (text and blank(row.get("weekday"))):
                    days = parse_weekdays(row.get("weekday"))
                hours = _hours(row.get("opens_at"), row.get("closes_at"))
            except BadValue as exc:
                if not text:
                    self.package.reject("schedule", origin, str(exc))
                    continue
                hours = None  # the text says it instead
            if text and (days is None or hours is None) and hours != "closed":
                self._text_hours(origin, values, refs, text, days)
                continue
            day_names = ", ".join(DAY_NAMES[d] for d in days or ())
            if hours == "closed":
                self.package.warn("schedule", origin, f"marked closed on {day_names}: no hours")
                continue
            if hours is None:
                self.package.warn("schedule", origin, f"no opening times for {day_names}")
                continue
            values.update(freq="WEEKLY", byday=byday_text(days))
            if isinstance(hours, str):
                self.package.warn("schedule", origin, f"kept {hours!r} as a note, not as hours")
                values["description"] = hours
                hours = [(None, None)]
            self._add_spans("regular_schedule", origin, values, refs, hours)
        self._claim("schedule")

    def _add_spans(self, legacy: str, origin: Origin, values: dict, refs: dict, spans) -> None:
        """One schedule per span of the row ("9am-12pm, 1pm-5pm" is two)."""
        shared = origin.source_id in self._repeated(origin.file)
        for index, (opens, closes) in enumerate(spans):
            span_values = {**values, "opens_at": opens, "closes_at": closes}
            if index == 0:
                record_id = first = self._id(legacy, "schedule", origin, span_values)
            else:
                key = f"{first if shared else origin.source_id or first}:{index}"
                record_id = self.ctx.ids.derived(legacy, key)
            self.package.add(Record("schedule", record_id, span_values, origin, refs=refs))

    def _text_hours(
        self,
        origin: Origin,
        values: dict,
        refs: dict,
        text: str,
        days: tuple[int, ...] | None,
    ) -> None:
        """A row whose hours are only in `original_text`: weekly schedules when the text can be
        read whole ("Mon-Fri 9-5"), else the text itself as the service's plain-text hours.

        Rows repeat the same text (once per weekday, or per service and location), so the
        schedules' ids come from what they say and where they belong: copies are one schedule.
        """
        links = ":".join(str(values.get(f)) for f in _SCHEDULE_LINKS)
        periods = _periods_for(read_hours_text(text), days)
        if periods is None:
            note = {**values, "description": text}
            record_id = self.ctx.ids.derived("schedule_text", f"{links}:{text}")
            self.package.add(Record("schedule", record_id, note, origin, mergeable=True, refs=refs))
            self.package.warn(
                "schedule",
                origin,
                f"original_text {text!r} can't be read as days and times: kept as plain-text hours",
            )
            return
        opening = [p for p in periods if p.spans]
        if not opening:
            closed = ", ".join(DAY_NAMES[d] for p in periods for d in p.days or ())
            self.package.warn(
                "schedule",
                origin,
                f"original_text {text!r}: closed{' on ' if closed else ''}{closed}",
            )
            return
        for period in opening:
            byday = byday_text(period.days or ())
            for opens, closes in period.spans:
                key = f"{links}:{byday}:{opens}:{closes}"
                span = {**values, "freq": "WEEKLY", "byday": byday}
                span.update(opens_at=opens, closes_at=closes)
                record_id = self.ctx.ids.derived("schedule_text", key)
                self.package.add(
                    Record("schedule", record_id, span, origin, mergeable=True, refs=refs)
                )

    def _holiday_schedules(self) -> None:
        if "holiday_schedule" not in self.tables:
            return
        for _, _, row, origin in self._rows("holiday_schedule"):
            values, refs = self._schedule_values(row)
            try:
                start = parse_date(row.get("start_date"))
                end = parse_date(row["end_date"]) if not blank(row.get("end_date")) else start
                opens, closes = clean_text(row.get("opens_at")), clean_text(row.get("closes_at"))
                closed = parse_bool(row.get("closed")) if not blank(row.get("closed")) else None
                hours = None if closed else _hours(opens, closes)
            except BadValue as exc:
                self.package.reject("schedule", origin, str(exc))
                continue
            if end < start:
                start, end = end, start
            values.update(valid_from=start, valid_to=end)
            if isinstance(hours, str) and hours != "closed":
                values["description"] = hours
            spans = hours if isinstance(hours, list) else [(None, None)]  # closed that day
            self._add_spans("holiday_schedule", origin, values, refs, spans)
        self._claim("schedule")

    def _languages(self) -> None:
        if "language" not in self.tables:
            return
        for _, _, row, origin in self._rows("language"):
            base, refs = {}, {}
            for field in ("service_id", "location_id", "phone_id"):
                self._link(base, refs, field, row.get(field))
            names, notes = languages_and_notes(row.get("language"))
            self._interpretation_notes(base.get("service_id"), notes, origin)
            if not names:
                if not notes:
                    self.package.reject("language", origin, "no language given")
                continue
            shared = origin.source_id in self._repeated(origin.file)
            for index, name in enumerate(names):
                values = {**base, **language_fields(name)}
                if origin.source_id:
                    key = origin.source_id if index == 0 else f"{origin.source_id}:{index}"
                    if shared:  # every language of a service under the service's id
                        record_id = self.ctx.repaired_id(
                            "language", "language", key, values, origin
                        )
                        self.package.add(Record("language", record_id, values, origin, refs=refs))
                        continue
                    record_id = self.ctx.ids.derived("language", key)
                    if index == 0 and as_uuid(origin.source_id):
                        record_id = as_uuid(origin.source_id)
                else:
                    record_id = self.ctx.content_id("language", {}, values)
                self.package.add(Record("language", record_id, values, origin, refs=refs))
        self.package.claim("language", "service_id")
        self.package.claim("language", "location_id")

    def _interpretation_notes(self, service_id: Any, notes: list[str], origin: Origin) -> None:
        """Notes such as "Others available upon request" go to the service's
        interpretation_services: they are no language, but a person needs to know them."""
        if not notes:
            return
        if self._service_records is None:  # read once: services come before languages
            self._service_records = {r.id: r for r in self.package.records.get("service", [])}
        service = self._service_records.get(service_id)
        if service is None:
            self.package.warn("language", origin, f"{'; '.join(notes)!r} is no language; skipped")
            return
        kept = clean_text(service.values.get("interpretation_services"))
        added = [n for n in notes if n.lower() not in (kept or "").lower()]
        service.values["interpretation_services"] = "; ".join([*filter(None, [kept]), *added])

    def _metadata(self) -> None:
        """1.x metadata has no resource_type: it is found from which table holds the id."""
        if "metadata" not in self.tables:
            return
        where: dict[uuid.UUID, set[str]] = defaultdict(set)
        for table in METADATA_TABLES:
            for record in self.package.records.get(table, []):
                where[record.id].add(table)
        ignored: list[str] = []
        for _, _, row, origin in self._rows("metadata"):
            values, _ = self._values("metadata", row)
            raw = source_id_text(row.get("resource_id"))
            found = [
                (table, self.ctx.ref(table, raw))
                for table in METADATA_TABLES
                if raw and table in where.get(self.ctx.ref(table, raw), set())  # type: ignore[arg-type]
            ]
            resource_type = entity_table(values.get("resource_type"))
            if resource_type:
                values["resource_id"] = self.ctx.ref(resource_type, raw)
            elif len(found) == 1:
                values["resource_type"], values["resource_id"] = found[0]
            else:
                ignored.append(origin.where)
                continue
            record_id = self._id("metadata", "metadata", origin, values)
            self.package.add(Record("metadata", record_id, values, origin))
        if ignored:
            table = self.tables["metadata"]
            self.package.warn(
                "metadata",
                Origin(table.file, f"{len(ignored)} rows ({', '.join(ignored[:3])}...)"),
                "ignored: their resource_id is no record of this package, and 1.x metadata has "
                "no resource_type to tell",
            )


_SCHEDULE_LINKS = ("service_id", "location_id", "service_at_location_id")


def _periods_for(periods: list[Period] | None, days: tuple[int, ...] | None) -> list[Period] | None:
    """The periods of a text that apply to a row: those of its weekday when it has one and the
    text speaks of that day (rows repeat "Mon-Fri 9-5" once per weekday), else all of them.
    None when the text was unreadable or gives times without saying on which days."""
    if periods is None:
        return None
    if days is not None:
        narrowed = [
            Period(tuple(d for d in (p.days or days) if d in days), p.spans) for p in periods
        ]
        if any(p.days for p in narrowed):
            return [p for p in narrowed if p.days]
    if any(p.days is None for p in periods if p.spans):
        return None
    return [p for p in periods if p.days]


def _code_from_id(source_id: str) -> str | None:
    """A 1.x taxonomy id is often the term's code ("BD-1800.2000"); plain numbers and UUIDs
    are row ids, not codes."""
    if as_uuid(source_id) or source_id.isdigit():
        return None
    return source_id


def _hours(opens: Any, closes: Any) -> list[tuple[str, str]] | str | None:
    """Opening and closing times "HH:MM" from what 1.x exports hold.

    Returns "closed" when the day is marked closed, None when there are no times, a note (text)
    when the times are words ("By appointment"), else the (opens, closes) spans: one, or several
    for "9am-12pm, 1pm-5pm". Raises BadValue for times that can't be read.
    """
    opens, closes = clean_text(opens), clean_text(closes)
    if any(t and is_all_day(t) for t in (opens, closes)):
        return [ALL_DAY]
    if any(t and is_closed_word(t) for t in (opens, closes)):
        return "closed"
    if not opens and not closes:
        return None
    if opens and not closes:
        if not any(ch.isdigit() for ch in opens):
            return opens
        ranges = [split_time_range(part) for part in _TIME_LIST.split(opens) if part]
        if not ranges or None in ranges:
            raise BadValue(f"opens_at {opens!r} has no closing time")
        pairs = [r for r in ranges if r is not None]
    else:
        starts = [p for p in _TIME_LIST.split(opens or "") if p]
        ends = [p for p in _TIME_LIST.split(closes or "") if p]
        if not starts or len(starts) != len(ends):
            raise BadValue(f"opens_at {opens!r} and closes_at {closes!r} don't pair up")
        pairs = list(zip(starts, ends, strict=True))
    return [_span(start, end) for start, end in pairs]


_TIME_LIST = re.compile(r"\s*(?:,|;|&|\band\b)\s*", re.IGNORECASE)
_MERIDIEM = re.compile(r"[ap]\.?\s?m\b|\d\s*[ap]\b|noon|midnight", re.IGNORECASE)


def _span(opens: str, closes: str) -> tuple[str, str]:
    """One span; "9-5" and "8:30-4:30" (no am/pm, closing "before" opening) mean the afternoon."""
    start, end = normalize_time(opens), normalize_time(closes)
    hour = int(end[:2])
    if end <= start and not _MERIDIEM.search(closes) and not closes.strip().startswith("0"):
        if 1 <= hour <= 11:
            end = f"{hour + 12:02d}{end[2:]}"
    return start, end
