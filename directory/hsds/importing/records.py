"""What every reader produces: HSDS 3.0 records, one per row, before they are checked and written.

Readers (3.0 JSON, 3.0 CSV, legacy 1.x CSV) turn their files into `Record`s with our table names,
our ids (UUIDs) and raw field values; `checks` turns them into rows or rejects them, and `writer`
stores the rows.
"""

import hashlib
import json
import pickle
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from directory import models
from directory.hsds.importing.values import IdMapper, clean_cell, clean_text

Progress = Callable[[str], None]  # told what the import is doing, a line at a time

# Tables in the order they are written: every reference points to an earlier table (or to its own).
TABLE_ORDER = (
    "taxonomy",
    "taxonomy_term",
    "organization",
    "organization_identifier",
    "program",
    "service",
    "location",
    "service_at_location",
    "contact",
    "phone",
    "address",
    "schedule",
    "service_area",
    "language",
    "accessibility",
    "cost_option",
    "required_document",
    "funding",
    "attribute",
    "metadata",
)

# Our model for each table.
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

# Reference fields and the table each points to (link_id and resource_id depend on the row).
REFERENCE_TARGETS = {
    "organization_id": "organization",
    "parent_organization_id": "organization",
    "program_id": "program",
    "service_id": "service",
    "location_id": "location",
    "service_at_location_id": "service_at_location",
    "contact_id": "contact",
    "phone_id": "phone",
    "taxonomy_id": "taxonomy",
    "taxonomy_term_id": "taxonomy_term",
}


def link_target(table: str, field_name: str) -> str:
    """The table a reference field of `table` points to (a term's parent_id: another term)."""
    if table == "taxonomy_term" and field_name == "parent_id":
        return "taxonomy_term"
    return REFERENCE_TARGETS[field_name]


# Links a record must keep (it is rejected without them)...
REQUIRED_LINKS = {
    "organization_identifier": ("organization_id",),
    "program": ("organization_id",),
    "service": ("organization_id",),
    "service_at_location": ("service_id", "location_id"),
    "address": ("location_id",),
    "service_area": ("service_id",),
    "accessibility": ("location_id",),
    "cost_option": ("service_id",),
    "required_document": ("service_id",),
    "attribute": ("taxonomy_term_id",),
}
# ...links it may lose with a warning...
OPTIONAL_LINKS = {
    "taxonomy_term": ("taxonomy_id", "parent_id"),
    "organization": ("parent_organization_id",),
    "service": ("program_id",),
    "location": ("organization_id",),
}
# ...and owners, of which it needs at least one.
OWNER_LINKS = {
    "contact": ("organization_id", "service_id", "service_at_location_id", "location_id"),
    "phone": (
        "location_id",
        "service_id",
        "organization_id",
        "contact_id",
        "service_at_location_id",
    ),
    "schedule": ("service_id", "location_id", "service_at_location_id"),
    "language": ("service_id", "location_id", "phone_id"),
    "funding": ("organization_id", "service_id"),
}

# Names people use for the tables an attribute or a metadata row points at.
ENTITY_NAMES = {name: name for name in TABLE_ORDER} | {
    "organizations": "organization",
    "services": "service",
    "locations": "location",
    "service_at_locations": "service_at_location",
    "services_at_location": "service_at_location",
    "serviceatlocation": "service_at_location",
    "phones": "phone",
    "contacts": "contact",
    "programs": "program",
    "schedules": "schedule",
    "addresses": "address",
    "service_areas": "service_area",
    "taxonomy_terms": "taxonomy_term",
    "taxonomies": "taxonomy",
}


def entity_table(value: Any) -> str | None:
    """Our table for an HSDS link_entity or resource_type ("Services", "taxonomy term")."""
    text = clean_text(value)
    if text is None:
        return None
    key = text.lower().replace(" ", "_").replace("-", "_")
    return ENTITY_NAMES.get(key)


@dataclass(frozen=True, slots=True)  # slots: a package holds one per row
class Origin:
    """Where a record came from, for messages: a file, a row or a JSON path, the source id."""

    file: str
    where: str
    source_id: str | None = None

    def label(self) -> str:
        text = f"{self.file} {self.where}".strip()
        return f"{text} (id {self.source_id})" if self.source_id else text


class PackedValues(MutableMapping):
    """A record's values kept as one compressed pickle between reading and writing: a 50 MB
    services.csv read as dicts of strings held three times that; packed, a fraction
    (bench/import_memory.py). Reads unpack (the checks unpack a table's records once, just
    before they are written; their rows wait packed too, until their batch is written); its
    links (UUID values, and empty ones) are kept unpacked too, for the cheap look-ups that go
    through every record (a service's organization)."""

    __slots__ = ("_blob", "_links")

    def __init__(self, values: dict[str, Any]):
        self._pack(values)

    def _pack(self, values: dict[str, Any]) -> None:
        self._blob = zlib.compress(pickle.dumps(values, pickle.HIGHEST_PROTOCOL), 1)
        self._links = {k: v for k, v in values.items() if v is None or isinstance(v, uuid.UUID)}

    def links(self) -> dict[str, uuid.UUID | None]:
        """The values that are UUIDs or None, without unpacking the rest."""
        return self._links

    def unpack(self) -> dict[str, Any]:
        """The values as a plain dict (a new one each time)."""
        return pickle.loads(zlib.decompress(self._blob))  # noqa: S301 (bytes made just above)

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._links:
            return self._links[key]
        return self.unpack().get(key, default)

    def __getitem__(self, key: str) -> Any:
        if key in self._links:
            return self._links[key]
        return self.unpack()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        values = self.unpack()
        values[key] = value
        self._pack(values)

    def __delitem__(self, key: str) -> None:
        values = self.unpack()
        del values[key]
        self._pack(values)

    def __iter__(self) -> Iterator[str]:
        return iter(self.unpack())

    def __len__(self) -> int:
        return len(self.unpack())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedValues):
            return self._blob == other._blob or self.unpack() == other.unpack()
        return self.unpack() == other

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dict it stands for


PACK_FROM = 64  # characters of text in a record's values; smaller ones stay a plain dict


def packed_if(values: dict[str, Any], pack: bool) -> MutableMapping[str, Any]:
    return PackedValues(values) if pack else values


def links_only(values: MutableMapping[str, Any]) -> dict[str, Any]:
    """The UUID values alone: all a record needs once its table is checked."""
    return {k: v for k, v in values.items() if isinstance(v, uuid.UUID)}


def unpacked(values: MutableMapping[str, Any]) -> dict[str, Any]:
    """The values as a plain dict: unpacked, or `values` itself."""
    return values.unpack() if isinstance(values, PackedValues) else values  # type: ignore[return-value]


@dataclass(slots=True)
class Record:
    """One HSDS 3.0 row ready to check: our table name, our id, raw field values.

    `full`: a whole JSON object, whose absent HSDS fields mean "no value" (CSV columns that are
    missing mean "unknown", and leave stored values alone). `mergeable`: the same record may be
    nested in several places (a location under each of its services) and the copies combine.
    `refs`: the source's text of link ids that our ids don't spell the same, for messages.
    """

    table: str
    id: uuid.UUID
    values: MutableMapping[str, Any]  # a dict, or PackedValues once the package holds it
    origin: Origin
    full: bool = False
    mergeable: bool = False
    refs: Mapping[str, str] = field(default_factory=lambda: NO_REFS)


NO_REFS: Mapping[str, str] = MappingProxyType({})  # one for every record without refs


@dataclass(slots=True)
class Issue:
    """A rejected record or a warning: where it came from and why."""

    table: str
    origin: Origin
    reason: str

    def __str__(self) -> str:
        return f"{self.origin.label()}: {self.reason}"


ALL_PARENTS = None  # authority over the children of every parent the package holds


@dataclass
class Package:
    """Everything read from a package, before any of it is written."""

    format: str
    dataset: str
    records: dict[str, list[Record]] = field(default_factory=lambda: defaultdict(list))
    # (child table, link field) -> the parents whose full list of such children the package
    # gives (ALL_PARENTS: every parent in the package). Children of those parents that the
    # package no longer lists are removed.
    authority: dict[tuple[str, str], set[uuid.UUID] | None] = field(default_factory=dict)
    rejected: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)  # the package is incomplete (no services)
    repaired: list[Issue] = field(default_factory=list)  # rows kept under a repaired id
    # (table, the id a repeated source id maps to) -> the first record made of it, for links.
    aliases: dict[tuple[str, uuid.UUID], uuid.UUID] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def add(self, record: Record) -> None:
        """Keep a record; every reader's records come through here, so this is where the text
        of each cell loses its control characters (NUL, bell, escape...), with a warning, and
        where the values of a record with much text are packed (`PackedValues`)."""
        values = record.values
        text = 0
        for name, value in values.items():
            if type(value) is str:
                text += len(value)
                if not value.isprintable():
                    values[name], stripped = clean_cell(value)
                    if stripped:
                        self.warn(
                            record.table,
                            record.origin,
                            f"removed control characters from {name!r}",
                        )
        if text >= PACK_FROM and type(values) is dict:
            record.values = PackedValues(values)
        self.records[record.table].append(record)

    def reject(self, table: str, origin: Origin, reason: str) -> None:
        self.rejected.append(Issue(table, origin, reason))

    def warn(self, table: str, origin: Origin, reason: str) -> None:
        self.warnings.append(Issue(table, origin, reason))

    def error(self, table: str, origin: Origin, reason: str) -> None:
        self.errors.append(Issue(table, origin, reason))

    def claim(self, child_table: str, link: str, parent: uuid.UUID | None = ALL_PARENTS) -> None:
        """Say the package lists every `child_table` row of `parent` (via `link`)."""
        key = (child_table, link)
        if parent is ALL_PARENTS:
            self.authority[key] = ALL_PARENTS
            return
        if key in self.authority and self.authority[key] is ALL_PARENTS:
            return
        self.authority.setdefault(key, set()).add(parent)  # type: ignore[union-attr]


# Tables whose rows others find by id: two rows with one id there are a conflict, not two records.
KEYED_TABLES = {"organization", "service", "location", "program", "taxonomy", "taxonomy_term"}


def repeated_ids(ids: Iterable[str | None]) -> set[str]:
    """The source ids that more than one row of a file carries."""
    counts = Counter(i for i in ids if i)
    return {i for i, n in counts.items() if n > 1}


class Context:
    """Shared by the readers of one import: the id mapping, the package and taxonomies by name."""

    def __init__(self, package: Package, taxonomies_by_name: dict[str, uuid.UUID]):
        self.package = package
        self.ids = IdMapper(package.dataset)
        self._taxonomies = dict(taxonomies_by_name)
        self._repairs: dict[tuple[str, str], list[uuid.UUID]] = {}

    def ref(self, table: str, value: Any) -> uuid.UUID | None:
        return self.ids(table, value)

    def content_id(self, table: str, parents: dict[str, Any], values: dict[str, Any]) -> uuid.UUID:
        """A stable id for a row that came without one: from its parents and its content."""
        body = json.dumps(
            {"parents": parents, "values": values}, sort_keys=True, default=str
        ).encode()
        return self.ids.derived(table, "~" + hashlib.sha1(body, usedforsecurity=False).hexdigest())

    def repaired_id(
        self, table: str, id_table: str, source_id: str, values: dict[str, Any], origin: Origin
    ) -> uuid.UUID:
        """The id of a child row whose source id other rows share (languages.csv gives every
        language of a service the service's id): derived from the source id and the row's
        content, so each distinct row is kept, and keeps its id when imported again."""
        body = json.dumps(values, sort_keys=True, default=str).encode()
        digest = hashlib.sha1(body, usedforsecurity=False).hexdigest()
        record_id = self.ids.derived(id_table, f"{source_id}~{digest}")
        made = self._repairs.setdefault((id_table, source_id), [])
        if record_id in made:
            return record_id  # the same row again: the checks keep one copy
        if not made:  # links to the shared id go to the first row that carries it
            self.package.aliases[(table, self.ids.of(id_table, source_id))] = record_id
        else:
            self.package.repaired.append(
                Issue(
                    table,
                    origin,
                    f"id {source_id} is shared with a different row; kept as a record of its own",
                )
            )
        made.append(record_id)
        return record_id

    def remember_taxonomy(self, name: Any, taxonomy_id: uuid.UUID) -> None:
        text = clean_text(name)
        if text:
            self._taxonomies.setdefault(text.lower(), taxonomy_id)

    def taxonomy_named(self, name: str, origin: Origin) -> uuid.UUID:
        """The taxonomy called `name` (any case): one in the package or the database, else new."""
        key = name.strip().lower()
        if key not in self._taxonomies:
            taxonomy_id = self.ids.derived("taxonomy", key)
            self._taxonomies[key] = taxonomy_id
            self.package.add(
                Record("taxonomy", taxonomy_id, {"name": name.strip()}, origin, mergeable=True)
            )
        return self._taxonomies[key]
