"""HSDS 3.0 readers: nested JSON (services, organizations, ... as the API and our exporter write
them) and the tabular form (a CSV datapackage, or the same tables as JSON lists).

Nested objects become flat records with their links set from where they sit: a phone inside a
service gets that service's id, an attribute inside a service links to it. An object that appears
in several places (the same location under two services) becomes one record.
"""

import json
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from directory.hsds.importing.read import (
    DEFAULT_MAX_JSON_BYTES,
    CsvTable,
    ImportFailed,
    file_encoding,
    iter_json_items,
    json_streams,
    read_json,
)
from directory.hsds.importing.records import (
    KEYED_TABLES,
    NO_REFS,
    OWNER_LINKS,
    REFERENCE_TARGETS,
    REQUIRED_LINKS,
    TABLE_ORDER,
    Context,
    Origin,
    Progress,
    Record,
    entity_table,
    repeated_ids,
)
from directory.hsds.importing.values import source_id_text

# parent table -> {key: (child table, how, link field)}; "one" nests a single object whose id
# goes into the parent's link field, "many" nests a list whose items link back to the parent.
NESTED: dict[str, dict[str, tuple[str, str, str]]] = {
    "service": {
        "organization": ("organization", "one", "organization_id"),
        "program": ("program", "one", "program_id"),
        "phones": ("phone", "many", "service_id"),
        "schedules": ("schedule", "many", "service_id"),
        "service_areas": ("service_area", "many", "service_id"),
        "service_at_locations": ("service_at_location", "many", "service_id"),
        "languages": ("language", "many", "service_id"),
        "funding": ("funding", "many", "service_id"),
        "fundings": ("funding", "many", "service_id"),
        "cost_options": ("cost_option", "many", "service_id"),
        "required_documents": ("required_document", "many", "service_id"),
        "contacts": ("contact", "many", "service_id"),
    },
    "organization": {
        "services": ("service", "many", "organization_id"),
        "locations": ("location", "many", "organization_id"),
        "programs": ("program", "many", "organization_id"),
        "phones": ("phone", "many", "organization_id"),
        "contacts": ("contact", "many", "organization_id"),
        "funding": ("funding", "many", "organization_id"),
        "fundings": ("funding", "many", "organization_id"),
        "organization_identifiers": ("organization_identifier", "many", "organization_id"),
    },
    "service_at_location": {
        "service": ("service", "one", "service_id"),
        "location": ("location", "one", "location_id"),
        "phones": ("phone", "many", "service_at_location_id"),
        "schedules": ("schedule", "many", "service_at_location_id"),
        "contacts": ("contact", "many", "service_at_location_id"),
    },
    "location": {
        "organization": ("organization", "one", "organization_id"),
        "addresses": ("address", "many", "location_id"),
        "phones": ("phone", "many", "location_id"),
        "schedules": ("schedule", "many", "location_id"),
        "languages": ("language", "many", "location_id"),
        "accessibility": ("accessibility", "many", "location_id"),
        "contacts": ("contact", "many", "location_id"),
    },
    "phone": {"languages": ("language", "many", "phone_id")},
    "contact": {"phones": ("phone", "many", "contact_id")},
    "program": {"services": ("service", "many", "program_id")},
    "attribute": {"taxonomy_term": ("taxonomy_term", "one", "taxonomy_term_id")},
    "taxonomy_term": {"taxonomy_detail": ("taxonomy", "one", "taxonomy_id")},
}

# Tabular file stems and datapackage resource names -> our tables (None: read and ignored).
V3_FILES: dict[str, str | None] = {name: name for name in TABLE_ORDER} | {
    "organizations": "organization",
    "programs": "program",
    "services": "service",
    "attributes": "attribute",
    "service_at_locations": "service_at_location",
    "services_at_location": "service_at_location",
    "locations": "location",
    "phones": "phone",
    "contacts": "contact",
    "addresses": "address",
    "schedules": "schedule",
    "fundings": "funding",
    "service_areas": "service_area",
    "required_documents": "required_document",
    "languages": "language",
    "accessibilities": "accessibility",
    "taxonomy_terms": "taxonomy_term",
    "taxonomies": "taxonomy",
    "cost_options": "cost_option",
    "organization_identifiers": "organization_identifier",
    "meta_table_description": None,
    "meta_table_descriptions": None,
}

# Columns a 3.0 CSV file can't be read without.
V3_REQUIRED_COLUMNS = {
    "organization": ("id", "name"),
    "service": ("id", "name", "organization_id"),
    "location": ("id",),
    "program": ("id", "name", "organization_id"),
    "service_at_location": ("service_id", "location_id"),
    "phone": ("number",),
    "address": ("location_id",),
    "attribute": ("link_id", "taxonomy_term_id"),
    "taxonomy_term": ("id", "name"),
    "taxonomy": ("name",),
    "organization_identifier": ("organization_id",),
    "service_area": ("service_id",),
    "accessibility": ("location_id",),
    "cost_option": ("service_id",),
    "required_document": ("service_id",),
}

# Records others point to must carry their own id; for the rest one is made from the content.
NEEDS_ID = {"organization", "service", "location", "program", "taxonomy_term"}

# Aliases: older or looser spellings of 3.0 fields.
ALIASES = {
    "service": {"fees": "fees_description"},
    "organization": {"url": "website"},
}

_KIND_BY_STEM = {
    "services": "service",
    "service": "service",
    "organizations": "organization",
    "organization": "organization",
    "locations": "location",
    "location": "location",
    "service_at_locations": "service_at_location",
    "service_at_location": "service_at_location",
    "taxonomies": "taxonomy",
    "taxonomy": "taxonomy",
    "taxonomy_terms": "taxonomy_term",
    "taxonomy_term": "taxonomy_term",
    "programs": "program",
}


def _link_target(table: str, field: str, values: dict[str, Any]) -> str | None:
    if table == "taxonomy_term" and field == "parent_id":
        return "taxonomy_term"
    if field == "link_id":
        return entity_table(values.get("link_entity"))
    if field == "resource_id":
        return entity_table(values.get("resource_type"))
    return REFERENCE_TARGETS.get(field)


def _apply_aliases(table: str, values: dict[str, Any]) -> None:
    for alias, name in ALIASES.get(table, {}).items():
        if alias in values:
            value = values.pop(alias)
            if values.get(name) in (None, ""):
                values[name] = value


def _map_links(ctx: Context, table: str, values: dict[str, Any], refs: dict[str, str]) -> None:
    """Turn source ids in link fields into our ids, keeping the source text for messages."""
    for field in list(values):
        if field in ("id",) or not (field.endswith("_id") or field in ("link_id", "resource_id")):
            continue
        target = _link_target(table, field, values)
        if target is None and field not in ("link_id", "resource_id"):
            continue
        raw = values[field]
        if isinstance(raw, uuid.UUID):
            continue
        text = source_id_text(raw) if not isinstance(raw, dict | list) else None
        if text is None:
            values[field] = None
            continue
        values[field] = ours = ctx.ref(target or "unknown", text)
        # Messages name the source's id: ours when it is the same and can't become an alias.
        if target not in KEYED_TABLES or str(ours) != text:
            refs[field] = text


def _row_id(ctx: Context, table: str, raw_id: Any, values: dict[str, Any]) -> uuid.UUID | None:
    if table == "taxonomy" and source_id_text(raw_id) is None and values.get("name"):
        return ctx.ids.derived("taxonomy", str(values["name"]).strip().lower())
    found = ctx.ref(table, raw_id) if not isinstance(raw_id, dict | list) else None
    if found is not None:
        return found
    if table in NEEDS_ID:
        return None
    parents = {k: str(v) for k, v in values.items() if isinstance(v, uuid.UUID)}
    return ctx.content_id(table, parents, values)


def _taxonomy_from_name(ctx: Context, values: dict[str, Any], origin: Origin) -> None:
    """A term that names its taxonomy ("taxonomy": "AIRS") but has no taxonomy_id gets one."""
    name = values.pop("taxonomy", None)
    if values.get("taxonomy_id") is None and isinstance(name, str) and name.strip():
        values["taxonomy_id"] = ctx.taxonomy_named(name, origin)


# --- tabular ------------------------------------------------------------------------------------


def add_csv_tables(ctx: Context, tables: dict[str, CsvTable]) -> None:
    """Records from the CSV files of a 3.0 datapackage; taxonomies first, so terms can name them."""
    for table in ("taxonomy", *[t for t in tables if t != "taxonomy"]):
        if table in tables:
            add_tabular_rows(ctx, table, tables[table].file, tables[table].rows)  # type: ignore[arg-type]


def add_tabular_rows(
    ctx: Context, table: str, file: str, rows: list[tuple[int | str, dict[str, Any]]]
) -> None:
    """Records from flat 3.0 rows (a CSV file, or a list in tabular JSON); the file is authoritative
    for the children of every parent in the package."""
    package = ctx.package
    shared = set()
    if table not in KEYED_TABLES:
        shared = repeated_ids(source_id_text(row.get("id")) for _, row in rows)
    for line, row in rows:
        values = {k: v for k, v in row.items() if k}
        raw_id = values.pop("id", None)
        where = sys.intern(f"row {line}") if isinstance(line, int) else str(line)  # one "row 7"
        origin = Origin(file, where, source_id_text(raw_id))  # for all the files
        _apply_aliases(table, values)
        refs: dict[str, str] = {}
        if table == "taxonomy_term":
            _map_links(ctx, table, values, refs)
            _taxonomy_from_name(ctx, values, origin)
        else:
            _map_links(ctx, table, values, refs)
        if origin.source_id in shared:
            record_id = ctx.repaired_id(table, table, origin.source_id, values, origin)
        else:
            record_id = _row_id(ctx, table, raw_id, values)
        if record_id is None:
            package.reject(table, origin, "the row has no id")
            continue
        if table == "taxonomy":
            ctx.remember_taxonomy(values.get("name"), record_id)
        package.add(Record(table, record_id, values, origin, refs=refs or NO_REFS))
    for link in (*REQUIRED_LINKS.get(table, ()), *OWNER_LINKS.get(table, ())):
        package.claim(table, link)
    if table == "attribute":
        for entity in TABLE_ORDER:
            package.claim("attribute", f"link:{entity}")


# --- nested JSON --------------------------------------------------------------------------------


def add_json_files(
    ctx: Context, files: list[Path], say: Progress, max_bytes: int = DEFAULT_MAX_JSON_BYTES
) -> None:
    """Records from 3.0 JSON files, read one after the other: an array or NDJSON an item at a
    time, any other JSON (an object, an API page, tabular JSON) whole, if at most `max_bytes`."""
    for path in files:
        hint = kind_from_file_stem(path.stem)
        try:
            codec, _ = file_encoding(path)
        except OSError as exc:
            raise ImportFailed(f"can't read {path.name}: {exc.strerror}") from None
        before = sum(len(r) for r in ctx.package.records.values())
        if json_streams(path, codec):
            ctx.package.files.append(path.name)
            add_json_items(ctx, path.name, enumerate(iter_json_items(path, codec=codec)), hint)
        else:
            data = read_json(path, max_bytes)
            if not isinstance(data, dict | list):
                raise ImportFailed(f"{path.name} holds a single JSON value, not HSDS objects")
            ctx.package.files.append(path.name)
            add_json_document(ctx, path.name, data, hint)
        after = sum(len(r) for r in ctx.package.records.values())
        say(f"read {path.name}: {after - before} objects")


def object_kind(obj: dict, hint: str | None) -> str | None:
    """Which HSDS object a JSON object is: from the file's name, else from its fields."""
    if hint:
        return hint
    keys = set(obj)
    if {"service", "location"} & keys and not {"status", "services"} & keys:
        return "service_at_location"
    if keys & {"status", "service_at_locations", "service_areas", "eligibility_description"}:
        return "service"
    if keys & {"location_type", "addresses", "accessibility", "latitude", "transportation"}:
        return "location"
    if keys & {
        "services",
        "organization_identifiers",
        "website",
        "parent_organization_id",
        "year_incorporated",
        "legal_status",
        "locations",
        "programs",
    }:
        return "organization"
    if keys & {"taxonomy_detail", "term_uri", "parent_id", "code", "taxonomy"}:
        return "taxonomy_term"
    if "organization" in keys:
        return "service"
    if keys <= {"id", "name", "description", "uri", "version"} and "version" in keys:
        return "taxonomy"
    return None


def kind_from_file_stem(stem: str) -> str | None:
    """ "services" -> "service": what the objects in a JSON file named like that are."""
    stem = stem.lower()
    for suffix in ("_list", "_full"):
        stem = stem.removesuffix(suffix)
    return _KIND_BY_STEM.get(stem)


def tabular_tables(data: Any) -> dict[str, str | None] | None:
    """For tabular JSON ({"services.csv": [rows], ...}): file key -> our table; None otherwise."""
    if not isinstance(data, dict) or not data:
        return None
    found: dict[str, str | None] = {}
    for key, value in data.items():
        stem = str(key).rsplit(".", 1)[0].lower() if str(key).endswith(".csv") else str(key)
        if stem not in V3_FILES or not isinstance(value, list):
            return None
        found[key] = V3_FILES[stem]
    return found


class Flattener:
    """Walks nested HSDS JSON and adds one record per object to the package."""

    def __init__(self, ctx: Context, file: str):
        self.ctx = ctx
        self.file = file
        self._ignored: set[tuple[str, str]] = set()

    def add(
        self,
        obj: Any,
        table: str,
        where: str,
        forced: dict[str, Any] | None = None,
        defaults: dict[str, Any] | None = None,
    ) -> uuid.UUID | None:
        """Add `obj` (and everything nested in it) as `table` records; return its id."""
        package = self.ctx.package
        if not isinstance(obj, dict):
            package.reject(table, Origin(self.file, where), f"expected a {table} object")
            return None
        raw_id = obj.get("id")
        origin = Origin(self.file, where, source_id_text(raw_id) if _scalar(raw_id) else None)
        nested = NESTED.get(table, {})
        values: dict[str, Any] = {}
        for key, value in obj.items():
            if key == "id" or key in nested or key in ("attributes", "metadata"):
                continue
            if isinstance(value, dict | list):
                if table == "service_area" and key == "extent":
                    values[key] = json.dumps(value)
                elif (table, key) not in self._ignored:
                    self._ignored.add((table, key))
                    package.warn(table, origin, f"ignored the nested property {key!r}")
                continue
            values[key] = value
        _apply_aliases(table, values)
        for key, value in (defaults or {}).items():
            if values.get(key) in (None, ""):
                values[key] = value
        refs: dict[str, str] = {}
        values.update(forced or {})
        _map_links(self.ctx, table, values, refs)

        # Single nested objects first: their ids are this record's links.
        for key, (child, how, link) in nested.items():
            if how != "one" or obj.get(key) is None:
                continue
            child_defaults = {}
            if child == "program" and isinstance(values.get("organization_id"), uuid.UUID):
                child_defaults["organization_id"] = values["organization_id"]
            child_id = self.add(obj[key], child, f"{where}.{key}", defaults=child_defaults)
            if child_id is not None:
                values[link] = child_id
            elif values.get(link) is None:
                values[link] = None

        if table == "taxonomy_term":
            _taxonomy_from_name(self.ctx, values, origin)
        record_id = _row_id(self.ctx, table, raw_id, values)
        if record_id is None:
            package.reject(table, origin, "the object has no id")
            return None
        if table == "taxonomy":
            self.ctx.remember_taxonomy(values.get("name"), record_id)
        full = any(k != "id" for k in obj)
        package.add(Record(table, record_id, values, origin, full=full, mergeable=True, refs=refs))

        for key, (child, how, link) in nested.items():
            if how != "many" or key not in obj:
                continue
            items = obj[key]
            if items is None:
                items = []
            if not isinstance(items, list):
                package.reject(child, Origin(self.file, f"{where}.{key}"), "expected a list")
                continue
            package.claim(child, link, record_id)
            for index, item in enumerate(items):
                self.add(item, child, f"{where}.{key}[{index}]", forced={link: record_id})
        self._attributes(obj, table, record_id, where)
        self._metadata(obj, table, record_id, where)
        return record_id

    def _attributes(self, obj: dict, table: str, record_id: uuid.UUID, where: str) -> None:
        items = obj.get("attributes")
        if "attributes" not in obj or table == "attribute":
            return
        if not isinstance(items, list):
            items = [] if items is None else [items]
        self.ctx.package.claim("attribute", f"link:{table}", record_id)
        for index, item in enumerate(items):
            self.add(
                item,
                "attribute",
                f"{where}.attributes[{index}]",
                forced={"link_id": record_id, "link_entity": table},
            )

    def _metadata(self, obj: dict, table: str, record_id: uuid.UUID, where: str) -> None:
        items = obj.get("metadata")
        if not isinstance(items, list) or table == "metadata":
            return
        for index, item in enumerate(items):
            self.add(
                item,
                "metadata",
                f"{where}.metadata[{index}]",
                defaults={"resource_id": record_id, "resource_type": table},
            )


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)


def add_json_document(ctx: Context, file: str, data: Any, hint: str | None) -> None:
    """Records from one JSON document: a list of objects, one object, an API page
    ({"contents": [...]}) or tabular JSON ({"services.csv": [rows], ...})."""
    tables = tabular_tables(data)
    if tables is not None:
        for key, table in tables.items():
            rows = data[key]
            nested = any(
                isinstance(v, dict | list) for r in rows if isinstance(r, dict) for v in r.values()
            )
            if table is not None and nested:  # {"services": [nested services], ...}
                flattener = Flattener(ctx, file)
                for index, item in enumerate(rows):
                    flattener.add(item, table, f"{key}[{index}]")
            elif table is not None:
                rows = [(f"{key}[{i}]", row) for i, row in enumerate(data[key])]
                bad = [where for where, row in rows if not isinstance(row, dict)]
                for where in bad:
                    ctx.package.reject(table, Origin(file, where), "expected an object")
                add_tabular_rows(ctx, table, file, [(w, r) for w, r in rows if isinstance(r, dict)])
        return
    if isinstance(data, dict) and isinstance(data.get("contents"), list):
        data = data["contents"]
    items = enumerate(data) if isinstance(data, list) else [(None, data)]
    add_json_items(ctx, file, items, hint)


def add_json_items(
    ctx: Context, file: str, items: Iterable[tuple[int | None, Any]], hint: str | None
) -> None:
    """Records from JSON objects as (index in the file's array, object), the index None for a
    file holding one object; anything that is not an HSDS object is rejected."""
    flattener = Flattener(ctx, file)
    for index, item in items:
        where = "" if index is None else f"[{index}]"
        if not isinstance(item, dict):
            ctx.package.reject("unknown", Origin(file, where), "expected a JSON object")
            continue
        kind = object_kind(item, hint)
        if kind is None:
            ctx.package.reject(
                "unknown",
                Origin(
                    file, where, source_id_text(item.get("id")) if _scalar(item.get("id")) else None
                ),
                "can't tell which HSDS object this is (service, organization, location, ...)",
            )
            continue
        flattener.add(item, kind, where)
