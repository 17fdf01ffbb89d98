"""Loading taxonomies (HSDS taxonomy + taxonomy_term) from flat CSV files.

Open Eligibility is the default taxonomy: it is open (CC BY-SA), small and written in the words
people use ("Help Pay for Housing"). Ids are uuid5 of the taxonomy and the term code, so every
database that loads the same file gets the same ids, and loading again updates instead of adding.
"""

import csv
import io
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from directory.models import Taxonomy, TaxonomyTerm
from extensions import db

TAXONOMY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://wraparound.invalid/taxonomy")
OPEN_ELIGIBILITY_CSV = Path(__file__).parent / "taxonomies" / "open_eligibility.csv"
OPEN_ELIGIBILITY_KEY = "open-eligibility"
OPEN_ELIGIBILITY_NAME = "Open Eligibility"
OPEN_ELIGIBILITY_DESCRIPTION = (
    "The Open Eligibility human-services taxonomy (openeligibility.org, CC BY-SA): "
    "categories such as Food, Housing, Health and Legal in plain words."
)
OPEN_ELIGIBILITY_URI = "https://openeligibility.org"

# Accepted spellings of each column, first match wins (Open Eligibility's own CSV says taxonomy_id).
_CODE_COLUMNS = ("id", "code", "taxonomy_id", "term_id")
_NAME_COLUMNS = ("name", "term", "title")
_PARENT_COLUMNS = ("parent_id", "parent_code", "parent")
_DESCRIPTION_COLUMNS = ("description",)


class TaxonomyFileError(ValueError):
    """A taxonomy file that can't be loaded, with a message naming the line and the problem."""


@dataclass(frozen=True)
class TermRow:
    code: str
    name: str
    parent_code: str | None
    description: str


def taxonomy_id(key: str) -> uuid.UUID:
    """The stable id of a taxonomy, from its key (e.g. "open-eligibility")."""
    return uuid.uuid5(TAXONOMY_NAMESPACE, f"taxonomy:{key}")


def term_id(key: str, code: str) -> uuid.UUID:
    """The stable id of a term, from its taxonomy's key and its code."""
    return uuid.uuid5(TAXONOMY_NAMESPACE, f"term:{key}:{code}")


def open_eligibility_term_id(code: str) -> uuid.UUID:
    """The id an Open Eligibility code (e.g. "102-04", Food Pantry) has once loaded."""
    return term_id(OPEN_ELIGIBILITY_KEY, code)


def taxonomy_key(name: str) -> str:
    """A key from a taxonomy's name: lower case, words joined by hyphens."""
    words = "".join(ch.lower() if ch.isalnum() else " " for ch in name).split()
    if not words:
        raise TaxonomyFileError("a taxonomy needs a name with at least one letter or digit")
    return "-".join(words)


def _pick(header: list[str], choices: tuple[str, ...]) -> str | None:
    normalized = {h.strip().lower(): h for h in header}
    return next((normalized[c] for c in choices if c in normalized), None)


def read_terms(text: str) -> list[TermRow]:
    """Parse a taxonomy CSV (id, name, parent_id[, description]) and check it is a proper tree.

    Returns the terms parents-first. Raises TaxonomyFileError for a missing column, an empty id or
    name, a duplicate id, a parent that isn't in the file, or a loop of parents.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    code_col, name_col = _pick(header, _CODE_COLUMNS), _pick(header, _NAME_COLUMNS)
    parent_col, description_col = (
        _pick(header, _PARENT_COLUMNS),
        _pick(header, _DESCRIPTION_COLUMNS),
    )
    missing = [label for label, col in (("id", code_col), ("name", name_col)) if col is None]
    if missing:
        raise TaxonomyFileError(
            f"the taxonomy file has no {' or '.join(missing)} column "
            f"(expected columns id, name, parent_id; found {', '.join(header) or 'none'})"
        )
    rows: dict[str, TermRow] = {}
    for line, record in enumerate(reader, start=2):
        code = (record.get(code_col) or "").strip()
        name = (record.get(name_col) or "").strip()
        parent = (record.get(parent_col) or "").strip() if parent_col else ""
        description = (record.get(description_col) or "").strip() if description_col else ""
        if not code and not name and not parent:
            continue  # a blank line
        if not code:
            raise TaxonomyFileError(f"line {line}: the term {name!r} has no id")
        if not name:
            raise TaxonomyFileError(f"line {line}: the term {code!r} has no name")
        if code in rows:
            raise TaxonomyFileError(f"line {line}: the id {code!r} appears twice")
        if parent == code:
            raise TaxonomyFileError(f"line {line}: the term {code!r} is its own parent")
        rows[code] = TermRow(code, name, parent or None, description)
    if not rows:
        raise TaxonomyFileError("the taxonomy file has no terms")
    for row in rows.values():
        if row.parent_code is not None and row.parent_code not in rows:
            raise TaxonomyFileError(
                f"the term {row.code!r} names a parent {row.parent_code!r} that is not in the file"
            )
    return _parents_first(rows)


def _parents_first(rows: dict[str, TermRow]) -> list[TermRow]:
    depth: dict[str, int] = {}
    for code in rows:
        chain: list[str] = []
        current: str | None = code
        while current is not None and current not in depth:
            if current in chain:
                raise TaxonomyFileError(f"the parents of {code!r} loop back on themselves")
            chain.append(current)
            current = rows[current].parent_code
        base = -1 if current is None else depth[current]
        for offset, member in enumerate(reversed(chain), start=1):
            depth[member] = base + offset
    order = {code: n for n, code in enumerate(rows)}
    return sorted(rows.values(), key=lambda r: (depth[r.code], order[r.code]))


def load_taxonomy(
    rows: list[TermRow],
    *,
    key: str,
    name: str,
    description: str = "",
    uri: str | None = None,
    version: str | None = None,
) -> Taxonomy:
    """Create or update a taxonomy and its terms with stable ids; flushes, never commits.

    Terms already loaded are updated in place (name, parent, description), new ones added, and
    terms no longer in the file are kept: services may still be tagged with them.
    """
    tid = taxonomy_id(key)
    taxonomy = db.session.get(Taxonomy, tid)
    if taxonomy is None:
        taxonomy = Taxonomy(id=tid, name=name)
        db.session.add(taxonomy)
    taxonomy.name, taxonomy.description = name, description
    taxonomy.uri, taxonomy.version = uri, version
    db.session.flush()

    existing = {
        term.id: term
        for term in db.session.scalars(select(TaxonomyTerm).where(TaxonomyTerm.taxonomy_id == tid))
    }
    for row in rows:  # parents first, so a new parent is inserted before its children
        values = {
            "code": row.code,
            "name": row.name,
            "description": row.description,
            "parent_id": term_id(key, row.parent_code) if row.parent_code else None,
            "taxonomy_id": tid,
            "language": "en",
        }
        term = existing.get(term_id(key, row.code))
        if term is None:
            db.session.add(TaxonomyTerm(id=term_id(key, row.code), **values))
            continue
        for field, value in values.items():
            if getattr(term, field) != value:
                setattr(term, field, value)
    db.session.flush()
    return taxonomy


def load_taxonomy_file(path: str | Path, name: str | None = None) -> Taxonomy:
    """Load a taxonomy CSV (id, name, parent_id); its name defaults to the file's name."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise TaxonomyFileError(f"{path.name} is not a UTF-8 text file") from None
    title = name or path.stem.replace("_", " ").replace("-", " ").strip().title()
    return load_taxonomy(read_terms(text), key=taxonomy_key(title), name=title)


def load_open_eligibility() -> Taxonomy:
    """Load (or refresh) Open Eligibility, the taxonomy services are categorised with by default."""
    rows = read_terms(OPEN_ELIGIBILITY_CSV.read_text(encoding="utf-8"))
    return load_taxonomy(
        rows,
        key=OPEN_ELIGIBILITY_KEY,
        name=OPEN_ELIGIBILITY_NAME,
        description=OPEN_ELIGIBILITY_DESCRIPTION,
        uri=OPEN_ELIGIBILITY_URI,
    )


def default_taxonomy_id() -> uuid.UUID:
    """The id of the default taxonomy (Open Eligibility), for code that lists categories."""
    return taxonomy_id(OPEN_ELIGIBILITY_KEY)


def count_terms(taxonomy_uuid: uuid.UUID) -> int:
    """How many terms a taxonomy has, for the command's report."""
    return db.session.scalar(
        select(func.count())
        .select_from(TaxonomyTerm)
        .where(TaxonomyTerm.taxonomy_id == taxonomy_uuid)
    )
