"""Referral lists as CSV downloads: the coordinator's dashboard and the agency inbox, with the
filters the screen had, every page of them.

A download is one `export` row in the access log (which list, its filters, how many rows), read
from the same scoped select as the screen (`referrals.queries`), so nobody downloads what they
may not see; members appear as the viewer may see them (`services.member_views`): an agency
gets the names the consent in force shares and nothing else of the member. The rows are read
in batches (`yield_per`) and written as they come.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select

from accounts.models import User
from extensions import db
from referrals import audit, deadlines, queries, services
from referrals.models import AuditAction, AuditObject, Referral
from referrals.states import Status, label
from web.spreadsheet import csv_lines

BATCH = 200  # referrals read (and members' consents checked) at once
NAME_NOT_SHARED = "Member (name not shared)"


@dataclass(frozen=True)
class Download:
    """What the view sends: the file's name, how many rows it has, its lines (lazy)."""

    filename: str
    rows: int
    lines: Iterator[str]


def export_referrals(
    user: User, stmt: Select, order: tuple, now: datetime, *, via: str, filters: dict
) -> Download:
    """The CSV of `stmt`'s referrals (a select from `access.visible_referrals(user)`) in `order`,
    logged as one export by `user` of `via`'s list with `filters`."""
    rows = queries.count_of(stmt)
    audit.record(
        user,
        AuditAction.export,
        AuditObject.referral,
        None,
        {"via": via, "filters": filters, "rows": rows},
    )
    # The inbox names who sent each referral; the dashboard, where it went.
    inbound = user.is_agency_user
    header = (
        "Sent",
        "Member",
        "Service",
        "Sent by" if inbound else "Agency",
        "Need",
        "Urgency",
        "Status",
        "Answer due",
        "Answered",
        "Outcome",
    )
    lines = csv_lines(header, _rows(user, stmt, order, now, inbound))
    return Download(f"referrals-{deadlines.local_today(now).isoformat()}.csv", rows, lines)


def _rows(user: User, stmt: Select, order: tuple, now: datetime, inbound: bool):
    result = db.session.scalars(
        stmt.options(*queries.REFERRAL_ROW_LOADING)
        .order_by(*order)
        .execution_options(yield_per=BATCH)
    )
    for batch in result.partitions():
        views = services.member_views([r.member for r in batch], user)
        for referral in batch:
            yield _row(referral, views[referral.member_id], now, inbound)


def _row(referral: Referral, view: dict, now: datetime, inbound: bool) -> tuple:
    status = referral.status
    if status == Status.sent and referral.is_overdue_at(now):
        status_text = "overdue"
    else:
        status_text = label(status)
    counterpart = referral.sending_org if inbound else referral.receiving_org
    return (
        _local(referral.sent_at, "%Y-%m-%d"),
        _member_name(view),
        referral.service_name,
        counterpart.name,
        referral.need,
        referral.urgency,
        status_text,
        _local(referral.due_at) if referral.status == Status.sent else "",
        _local(referral.responded_at),
        label(referral.outcome),
    )


def _member_name(view: dict) -> str:
    """The name as the viewer may see it: only the name fields the consent shares."""
    fields = view["fields"]
    parts = [fields.get("first_name"), fields.get("last_name")]
    return " ".join(part for part in parts if part) or NAME_NOT_SHARED


def _local(moment: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(deadlines.local_zone()).strftime(pattern) if moment else ""
