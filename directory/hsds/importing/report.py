"""What an import did, for the people who run it: counts per object type, what was rejected,
repaired, kept under a placeholder or retired, grouped by reason for the console, and every
line of it in a CSV file.

A 4,000-service export can reject, warn about or repair thousands of rows; the console shows
each reason once, with its count and two examples, and the CSV keeps them all.
"""

import csv
import re
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from directory.hsds.importing.records import TABLE_ORDER, Issue

EXAMPLES = 2  # examples shown on the console for each reason


@dataclass
class Counts:
    """What happened to the records of one object type."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    repaired: int = 0  # kept under an id made from the row, because its own id was shared
    placeholder: int = 0  # services kept under a placeholder organization
    rejected: int = 0
    retired: int = 0  # services no longer in their dataset's export, now inactive
    removed: int = 0  # details (phones, hours...) the package no longer lists

    def total(self) -> int:
        return sum(asdict(self).values())


COLUMNS = tuple(Counts.__dataclass_fields__)


@dataclass(frozen=True)
class Flag:
    """A record kept for a person to check (see directory.models.ReviewFlag)."""

    record_table: str
    record_id: uuid.UUID
    reason: str  # a code: placeholder_organization, far_from_zip
    detail: str


@dataclass
class ImportReport:
    """What an import did: counts per HSDS object type, and every record it did not take as is."""

    path: str
    format: str
    dataset: str
    counts: dict[str, Counts] = field(default_factory=dict)
    rejected: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)  # the package is incomplete
    repaired: list[Issue] = field(default_factory=list)
    kept: list[Issue] = field(default_factory=list)  # kept under a placeholder
    retired: list[Issue] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)  # written as ReviewFlag rows
    files: list[str] = field(default_factory=list)

    def changed(self) -> bool:
        """Whether the import created, updated, retired or removed anything."""
        return any(c.created or c.updated or c.removed or c.retired for c in self.counts.values())

    def count(self, table: str) -> Counts:
        """The counts for one object type (zeros when the package had none)."""
        return self.counts.setdefault(table, Counts())

    def counts_json(self) -> dict[str, dict[str, int]]:
        """The non-zero counts, by object type, as stored on the ImportRun."""
        return {t: asdict(c) for t, c in self.counts.items() if c.total()}

    def sections(self) -> list[tuple[str, str, list[Issue]]]:
        """(kind, heading, issues) in the order people should read them."""
        return [
            ("error", "Errors", self.errors),
            ("rejected", "Rejected", self.rejected),
            ("retired", "Retired (no longer in the export; now inactive)", self.retired),
            ("placeholder", "Kept under a placeholder organization", self.kept),
            ("repaired", "Ids repaired", self.repaired),
            ("warning", "Warnings", self.warnings),
        ]

    def lines(self) -> list[str]:
        """The report as text lines for a terminal: counts, then each reason once."""
        out = [f"Imported {self.format} from {self.path} as dataset {self.dataset!r}."]
        widths = [max(len(c), 7) + 2 for c in COLUMNS]
        out.append(
            f"{'object type':<24}"
            + "".join(f"{c:>{w}}" for c, w in zip(COLUMNS, widths, strict=True))
        )
        for table in (*TABLE_ORDER, "unknown"):
            counts = self.counts.get(table)
            if counts is None or not counts.total():
                continue
            values = asdict(counts)
            out.append(
                f"{table:<24}"
                + "".join(f"{values[c]:>{w}}" for c, w in zip(COLUMNS, widths, strict=True))
            )
        for _kind, heading, issues in self.sections():
            if issues:
                out.append(f"{heading}: {len(issues)}")
                out.extend(grouped_lines(issues))
        return out

    def write_csv(self, path: Path) -> Path:
        """Every error, rejection, retirement, placeholder, repair and warning, one a row."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["kind", "table", "file", "where", "source_id", "reason"])
            for kind, _heading, issues in self.sections():
                for issue in issues:
                    origin = issue.origin
                    writer.writerow(
                        [kind, issue.table, origin.file, origin.where, origin.source_id or "",
                         issue.reason]
                    )  # fmt: skip
        return path


# --- grouping by reason -------------------------------------------------------------------------

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_ID = re.compile(r"\((?:id|ids) [^)]*\)")
_PLACE = re.compile(r"\b(rows? \d+|line \d+|id [^\s,;:)]+)")
_NUMBER = re.compile(r"(?<!\S)-?\d+(?:\.\d+)?(?=[\s,;:]|$)")  # "200.0 is", not "UTF-8"


def reason_kind(reason: str) -> str:
    """A reason with its particulars (values, ids, row numbers) blanked, to group issues by:
    "its organization (id 3) was rejected (organizations.csv row 5)" ->
    "its organization (id …) was rejected (organizations.csv row …)"."""
    text = _QUOTED.sub("'…'", reason)
    text = _ID.sub("(id …)", text)
    text = _PLACE.sub(lambda m: m[1].split(" ")[0] + " …", text)
    return _NUMBER.sub("…", text)


def grouped(issues: list[Issue]) -> list[tuple[str, str, int, list[Issue]]]:
    """(table, reason kind, count, first examples), the most frequent first."""
    counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], list[Issue]] = {}
    for issue in issues:
        key = (issue.table, reason_kind(issue.reason))
        counts[key] += 1
        found = examples.setdefault(key, [])
        if len(found) < EXAMPLES:
            found.append(issue)
    return [(t, k, n, examples[(t, k)]) for (t, k), n in counts.most_common()]


def grouped_lines(issues: list[Issue]) -> list[str]:
    """Each reason once: "  12  service: <reason>", then up to two examples."""
    out = []
    for table, kind, count, examples in grouped(issues):
        out.append(f"  {count:>6}  {table}: {kind}")
        out.extend(f"           e.g. {issue}" for issue in examples)
    return out
