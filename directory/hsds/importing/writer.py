"""Writing checked records: table by table in `TABLE_ORDER`, new rows in one bulk INSERT and
changed rows in bulk UPDATEs (SQLAlchemy Core: every row has every column), unchanged rows left
alone; then children the package lists completely but no longer holds are deleted, and services
of the dataset it no longer lists are retired (status inactive: referrals still point at them).

The import flushes and never commits: the caller commits once, or rolls everything back.
"""

import uuid
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

from directory import models
from directory.hsds.importing import placeholders
from directory.hsds.importing.checks import COLUMNS, NOW, Checked, Checker
from directory.hsds.importing.records import (
    ALL_PARENTS,
    MODELS,
    TABLE_ORDER,
    Issue,
    Origin,
    Package,
    PackedValues,
    Progress,
    Record,
    link_target,
    links_only,
    unpacked,
)
from directory.hsds.importing.values import clean_text
from directory.hsds.serialize import chunked
from directory.search import sync as search_sync
from extensions import db, utcnow
from geo.spatialite import small_page_cache

if TYPE_CHECKING:
    from directory.hsds.importing.report import ImportReport

# Service statuses an import retires a service from when its export no longer lists it.
RETIRABLE = (models.ServiceStatus.active, models.ServiceStatus.temporarily_closed)

# Tables whose new rows must come after their parent's; the others are inserted as they come.
PARENT_FIELDS = {"organization": "parent_organization_id", "taxonomy_term": "parent_id"}
INSERT_BATCH = 1000
UPDATE_BATCH = 1000
COLUMN_NAMES = {table: {info.name for info in columns} for table, columns in COLUMNS.items()}

# A service, organization or location missing from a later export is left as it is: referrals
# and agencies point at them. Only their details (phones, hours, sites...) follow the package.
NEVER_REMOVED = {"organization", "service", "location", "taxonomy", "taxonomy_term", "metadata"}


class Writer:
    """Checks the package's records table by table, writes them in bulk, prunes stale children."""

    def __init__(
        self,
        package: Package,
        report: "ImportReport",
        say: Progress,
        run_id: uuid.UUID | None = None,
    ):
        self.package = package
        self.report = report
        self.say = say
        self.run_id = run_id  # the ImportRun that review flags point at, when there is one
        self.checks = Checker(package, report)
        self.referenced: set[uuid.UUID] = set()
        self.placeholders: dict[uuid.UUID, str] = {}

    def run(self) -> None:
        with small_page_cache(db.session.connection()):
            self._run()

    def _run(self) -> None:
        package, report = self.package, self.report
        for issue in package.rejected:
            report.rejected.append(issue)
            report.count(issue.table).rejected += 1
        for issue in package.repaired:
            report.repaired.append(issue)
            report.count(issue.table).repaired += 1
        report.warnings.extend(package.warnings)
        report.errors.extend(package.errors)
        placeholders.resolve_found(package)
        self.placeholders, flags = placeholders.add_placeholder_organizations(package)
        report.flags.extend(flags)
        for table in TABLE_ORDER:
            records = package.records.get(table)
            if records:
                self._table(table, records)
            if table == "service":
                self._count_placeholders()
            if records:
                _release(records)
        self._prune()
        self._retire()
        self._write_flags()
        self._flag()
        db.session.flush()

    def _count_placeholders(self) -> None:
        """Count and list the services kept under a placeholder organization."""
        if not self.placeholders:
            return
        accepted = self.checks.accepted["service"]
        for record in self.package.records.get("service", []):
            organization = record.values.get("organization_id")
            if record.id in accepted and organization in self.placeholders:
                name = self.placeholders[organization]  # type: ignore[index]
                source = record.refs.get("organization_id") or str(organization)
                self.report.kept.append(
                    Issue(
                        "service",
                        record.origin,
                        f"its organization (id {source}) is not in the export: kept under the "
                        f"placeholder organization {name!r}",
                    )
                )
                self.report.count("service").placeholder += 1

    def _table(self, table: str, records: list[Record]) -> None:
        counts = self.report.count(table)
        checked = self.checks.check(table, records)
        for item in checked.values():
            row = item.row.links() if isinstance(item.row, PackedValues) else item.row
            for name, value in row.items():
                if isinstance(value, uuid.UUID) and name != "id":
                    self.referenced.add(value)
        self._write(table, checked)
        self.say(
            f"{table}: {counts.created} created, {counts.updated} updated, "
            f"{counts.unchanged} unchanged, {counts.rejected} rejected"
        )

    # --- storing ---

    def _existing(self, table: str, ids: list[uuid.UUID], names: set[str]) -> dict[uuid.UUID, dict]:
        model = MODELS[table]
        columns = [model.__table__.c[n] for n in sorted(names) if n != "geom"]
        stored: dict[uuid.UUID, dict] = {}
        for batch in chunked(ids):
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
        statement = insert(model.__table__)  # Core: every row has every column, one executemany
        parent = PARENT_FIELDS.get(table)  # then rows are inserted all at once, parents first
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
                if len(inserts) == INSERT_BATCH and parent is None:
                    _execute(model, statement, inserts)
                    inserts = []
                continue
            row = unpacked(item.row)
            changed = [n for n in item.managed if n != "geom" and not _same(old.get(n), row.get(n))]
            if not changed:
                counts.unchanged += 1
                continue
            params = {"id": record_id, **{n: row.get(n) for n in item.managed}}
            if table == "service":
                merged = {**old, **params}
                low, high = merged.get("minimum_age"), merged.get("maximum_age")
                if low is not None and high is not None and low > high:
                    params["minimum_age"] = params["maximum_age"] = None
            group = updates[frozenset(params)]
            group.append(params)
            counts.updated += 1
            if len(group) == UPDATE_BATCH and parent is None:  # as they come: a big table's
                _execute(model, update(model), group)  # text is not held whole (a parent
                group.clear()  # may be a row inserted below)
        if parent is not None:
            inserts = _parents_first(inserts, parent)
        for batch in chunked(inserts, INSERT_BATCH):
            _execute(model, statement, batch)
        for group in updates.values():
            for batch in chunked(group, UPDATE_BATCH):
                _execute(model, update(model), batch)

    def _new_row(self, table: str, item: Checked) -> dict | None:
        """Every column of a record to insert, defaults filled; None (rejected) if incomplete.
        Filled into the checked row itself (a big table's rows are not copied), or into the
        unpacked copy of a packed one, which the checked record no longer needs."""
        row = unpacked(item.row)
        for info in COLUMNS[table]:
            if info.name in row:
                continue
            if info.default is NOW:
                row[info.name] = utcnow()
            elif info.default is not None:
                row[info.name] = info.default
            elif not info.nullable and info.name != "id":
                self.checks.reject(table, item.record, f"no {info.name}")
                return None
            else:
                row[info.name] = None
        for name in row.keys() - COLUMN_NAMES[table]:
            del row[name]
        row["id"] = item.record.id
        return row

    # --- records kept for a person to check ---

    def _flag(self) -> None:
        """A ReviewFlag for each written record the checks flagged; one open flag per record and
        reason (a re-import updates its detail), none again for a finding a person resolved."""
        flags = [f for f in self.checks.flags if f.record_id in self.checks.accepted[f.table]]
        stored: dict[tuple, list[models.ReviewFlag]] = defaultdict(list)
        for batch in chunked({f.record_id for f in flags}):
            query = select(models.ReviewFlag).where(models.ReviewFlag.record_id.in_(batch))
            for old in db.session.scalars(query):
                stored[(old.record_table, old.record_id, old.reason)].append(old)
        for flag in flags:
            earlier = stored[(flag.table, flag.record_id, flag.reason)]
            open_flag = next((f for f in earlier if f.resolved_at is None), None)
            if open_flag is not None:
                open_flag.detail = flag.detail
            elif not any(f.detail == flag.detail for f in earlier):
                new = models.ReviewFlag(
                    record_table=flag.table,
                    record_id=flag.record_id,
                    reason=flag.reason,
                    detail=flag.detail,
                    import_run_id=self.run_id,
                )
                db.session.add(new)
                earlier.append(new)

    # --- removing children the package no longer lists ---

    def _prune(self) -> None:
        for (table, link), parents in self.package.authority.items():
            if table in NEVER_REMOVED:
                continue
            if link.startswith("link:"):
                parent_table = link.split(":", 1)[1]
            else:
                parent_table = link_target(table, link)
            owned = self.checks.accepted[parent_table]
            if parents is not ALL_PARENTS:
                owned = parents & owned
            if not owned:
                continue
            model = MODELS[table]
            keep = self.checks.accepted[table] | set(self.checks.rejected[table]) | self.referenced
            doomed: set[uuid.UUID] = set()
            for batch in chunked(owned):
                if link.startswith("link:"):
                    query = select(model.id).where(
                        model.link_entity == parent_table, model.link_id.in_(batch)
                    )
                else:
                    query = select(model.id).where(getattr(model, link).in_(batch))
                doomed |= set(db.session.scalars(query)) - keep
            for batch in chunked(doomed):
                search_sync.note_rows(db.session, model, batch)  # before: links are read
                db.session.execute(
                    delete(model).where(model.id.in_(batch)),
                    execution_options={"synchronize_session": False},
                )
            if doomed:
                self.report.count(table).removed += len(doomed)
                self.say(f"{table}: removed {len(doomed)} no longer in the package")

    # --- retiring services the export no longer lists ---

    def _retire(self) -> None:
        """Services of this dataset that the package no longer lists become inactive: they leave
        search, and referrals that point at them stay. Only a package that lists services, and
        has no error, speaks for the dataset's services."""
        services = self.package.records.get("service", [])
        if not services or self.report.errors:
            return
        listed = {record.id for record in services}
        table = models.Service.__table__
        query = select(table.c.id, table.c.name).where(
            table.c.dataset == self.package.dataset, table.c.status.in_(RETIRABLE)
        )
        gone = [(row.id, row.name) for row in db.session.execute(query) if row.id not in listed]
        for batch in chunked(gone, 1000):
            ids = [service_id for service_id, _ in batch]
            db.session.execute(
                update(table)
                .where(table.c.id.in_(ids))
                .values(status=models.ServiceStatus.inactive.value, last_modified=utcnow())
            )
            search_sync.note_rows(db.session, models.Service, ids)
        for service_id, name in gone:
            origin = Origin("", "", str(service_id))
            reason = f"{clean_text(name)!r} is no longer in the export: now inactive"
            self.report.retired.append(Issue("service", origin, reason))
        if gone:
            self.report.count("service").retired += len(gone)
            self.say(f"service: retired {len(gone)} no longer in the export")

    # --- review flags ---

    def _write_flags(self) -> None:
        """A ReviewFlag row for each record kept for review, unless one is open already."""
        flags = self.report.flags
        if not flags:
            return
        flag = models.ReviewFlag
        open_ = set()
        for batch in chunked({f.record_id for f in flags}):
            query = select(flag.record_table, flag.record_id, flag.reason).where(
                flag.record_id.in_(batch), flag.resolved_at.is_(None)
            )
            open_.update(tuple(row) for row in db.session.execute(query))
        rows, seen = [], set()
        for item in flags:
            key = (item.record_table, item.record_id, item.reason)
            if key in open_ or key in seen:
                continue
            seen.add(key)
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "record_table": item.record_table,
                    "record_id": item.record_id,
                    "reason": item.reason,
                    "detail": item.detail,
                    "import_run_id": self.run_id,
                    "created_at": utcnow(),
                    "resolved_at": None,
                    "resolved_by": None,
                }
            )
        for batch in chunked(rows, 1000):
            db.session.execute(insert(flag.__table__), batch)


def _execute(model: type, statement, rows: list[dict]) -> None:
    """One bulk INSERT or UPDATE; its rows' services go into the search change feed."""
    db.session.execute(statement, rows)
    search_sync.note_rows(db.session, model, [row["id"] for row in rows])


def _release(records: list[Record]) -> None:
    """Drop the values of records once written, keeping their ids, origins and links: only
    one table's text is held twice (as records and as rows), not the whole package's."""
    for record in records:
        record.values = links_only(record.values)


def _same(old: Any, new: Any) -> bool:
    if old is None or new is None:
        return old is None and new is None
    if isinstance(old, Decimal | int | float) and isinstance(new, Decimal | int | float):
        return Decimal(str(old)) == Decimal(str(new))
    return old == new


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
