"""Read-only questions the referral screens ask: inbox tabs, dashboard counts, the closed-loop
rate, caseload search, an agency's services, paging.

Every query starts from the scoping selects of `referrals.access` (`visible_referrals`,
`visible_members`), so a screen can never list what its viewer may not see. Nothing here changes a
record; the pages of referrals and members that a screen shows are logged in the access log as
seen by its viewer (`via` names the screen), since "who saw this member" must find lists too.
"""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import selectinload

from accounts.models import User
from directory.models import Service
from extensions import db
from referrals import access, audit
from referrals.models import AuditObject, Member, Referral
from referrals.states import CLOSED_STATUSES, Status, Urgency
from web.paging import Page

MAX_PER_PAGE = 100

REFERRAL_ROW_LOADING = (
    selectinload(Referral.member),
    selectinload(Referral.receiving_org),
    selectinload(Referral.sending_org),
    selectinload(Referral.sending_user),
    selectinload(Referral.assigned_to),
)
"""Loader options for a page of referrals: what each row shows, one query per relation."""


def count_of(stmt: Select) -> int:
    """How many rows `stmt` selects."""
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def paginate(stmt: Select, order_by, page: int, per_page: int) -> Page:
    """Count `stmt`'s rows and fetch one page of them in a stable order."""
    page = max(1, page)
    per_page = min(MAX_PER_PAGE, max(1, per_page))
    total = count_of(stmt)
    items = db.session.scalars(
        stmt.order_by(*order_by).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total or 0, page, per_page)


def referral_page(
    user: User,
    stmt: Select,
    order_by,
    page: int,
    per_page: int,
    *,
    via: str,
    member_via: str | None = None,
) -> Page:
    """One page of `stmt`'s referrals (a select from `access.visible_referrals(user)`) with what
    each row shows, logged as seen by `user`, and their members too (as `member_via`, else
    `via`)."""
    found = paginate(stmt.options(*REFERRAL_ROW_LOADING), order_by, page, per_page)
    audit.record_views(user, AuditObject.referral, [r.id for r in found.items], via=via)
    member_ids = list(dict.fromkeys(r.member_id for r in found.items))
    audit.record_views(user, AuditObject.member, member_ids, via=member_via or via)
    return found


# -- referral conditions -------------------------------------------------------------------


def overdue_condition(now: datetime):
    """Still waiting for an answer after the response window (flagged by the sweep or not yet)."""
    return and_(
        Referral.status == Status.sent.value,
        or_(Referral.overdue.is_(True), Referral.due_at <= now),
    )


def waiting_condition(now: datetime):
    """Sent, not answered, still inside the response window."""
    return and_(
        Referral.status == Status.sent.value,
        Referral.overdue.is_(False),
        Referral.due_at > now,
    )


def outcome_overdue_condition():
    """Accepted, and flagged by the sweep for having no outcome by its outcome deadline."""
    return and_(Referral.status == Status.accepted.value, Referral.outcome_overdue.is_(True))


def _outcome_overdue_first():
    return case((outcome_overdue_condition(), 0), else_=1)


def _closed_condition():
    return Referral.status.in_([s.value for s in CLOSED_STATUSES])


_URGENCY_RANK = case(
    {Urgency.emergency.value: 0, Urgency.urgent.value: 1},
    value=Referral.urgency,
    else_=2,
)


# -- the agency inbox ------------------------------------------------------------------------


class InboxTab(enum.StrEnum):
    new = "new"
    overdue = "overdue"
    accepted = "accepted"
    mine = "mine"  # open referrals assigned to the viewer (referrals/agency_work.py)
    closed = "closed"


INBOX_TAB_LABELS = {
    InboxTab.new: "New",
    InboxTab.overdue: "Overdue",
    InboxTab.accepted: "Accepted",
    InboxTab.mine: "Assigned to me",
    InboxTab.closed: "Closed",
}


def _inbox_condition(tab: InboxTab, now: datetime, user: User):
    """The dashboard's condition of the same meaning; but the inbox keeps every closed one, and
    "mine" is the open ones assigned to the user."""
    if tab == InboxTab.mine:
        return and_(
            Referral.assigned_to_id == user.id,
            Referral.status.in_([Status.sent.value, Status.accepted.value]),
        )
    if tab == InboxTab.closed:
        return _closed_condition()
    view = DashboardView.waiting if tab == InboxTab.new else DashboardView(tab.value)
    return _dashboard_condition(view, now)


def inbox_counts(user: User, now: datetime) -> dict[InboxTab, int]:
    """How many referrals sit in each inbox tab for the user's agency."""
    return _visible_counts(user, InboxTab, lambda tab: _inbox_condition(tab, now, user))


def inbox_select(user: User, tab: InboxTab, now: datetime) -> tuple[Select, tuple]:
    """One tab of the inbox, in its order: the most pressing first (urgency, then the oldest
    deadline); closed ones newest first. The page and its CSV download share it."""
    stmt = access.visible_referrals(user).where(_inbox_condition(tab, now, user))
    order = {
        InboxTab.closed: (Referral.closed_at.desc(), Referral.id),
        InboxTab.accepted: (_outcome_overdue_first(), Referral.responded_at.asc(), Referral.id),
    }.get(tab, (_URGENCY_RANK, Referral.due_at.asc(), Referral.id))
    return stmt, order


def inbox_page(
    user: User, tab: InboxTab, now: datetime, page: int, per_page: int, *, via: str
) -> Page:
    """One page of a tab of the inbox (`inbox_select`)."""
    return referral_page(user, *inbox_select(user, tab, now), page, per_page, via=via)


# -- the coordinator dashboard ---------------------------------------------------------------


class DashboardView(enum.StrEnum):
    all = "all"
    overdue = "overdue"
    waiting = "waiting"
    accepted = "accepted"
    closed = "closed"


DASHBOARD_VIEW_LABELS = {
    DashboardView.all: "All referrals",
    DashboardView.overdue: "Overdue",
    DashboardView.waiting: "Waiting for an answer",
    DashboardView.accepted: "Awaiting outcome",
    DashboardView.closed: "Recently closed",
}

RECENTLY_CLOSED_DAYS = 30


@dataclass(frozen=True)
class DashboardFilters:
    view: DashboardView = DashboardView.all
    text: str = ""  # member name, service name or need
    mine: bool = False  # only referrals the viewer sent
    urgency: Urgency | None = None


def _dashboard_condition(view: DashboardView, now: datetime):
    if view == DashboardView.overdue:
        return overdue_condition(now)
    if view == DashboardView.waiting:
        return waiting_condition(now)
    if view == DashboardView.accepted:
        return Referral.status == Status.accepted.value
    if view == DashboardView.closed:
        return and_(
            _closed_condition(),
            Referral.closed_at >= now - timedelta(days=RECENTLY_CLOSED_DAYS),
        )
    return None


def _text_condition(text: str):
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    matching_members = select(Member.id).where(
        or_(
            Member.first_name.ilike(pattern, escape="\\"),
            Member.last_name.ilike(pattern, escape="\\"),
            (Member.first_name + " " + Member.last_name).ilike(pattern, escape="\\"),
        )
    )
    return or_(
        Referral.member_id.in_(matching_members),
        Referral.service_name.ilike(pattern, escape="\\"),
        Referral.need.ilike(pattern, escape="\\"),
    )


def dashboard_select(user: User, filters: DashboardFilters, now: datetime) -> tuple[Select, tuple]:
    """The referrals the user's organization sent (all of them for a network admin), filtered,
    in the dashboard's order. The page and its CSV download share it."""
    stmt = access.visible_referrals(user)
    condition = _dashboard_condition(filters.view, now)
    if condition is not None:
        stmt = stmt.where(condition)
    if filters.text:
        stmt = stmt.where(_text_condition(filters.text))
    if filters.mine:
        stmt = stmt.where(Referral.sending_user_id == user.id)
    if filters.urgency is not None:
        stmt = stmt.where(Referral.urgency == filters.urgency.value)
    if filters.view == DashboardView.closed:
        order = (Referral.closed_at.desc(), Referral.id)
    elif filters.view in (DashboardView.overdue, DashboardView.waiting):
        order = (Referral.due_at.asc(), Referral.id)
    elif filters.view == DashboardView.accepted:
        order = (_outcome_overdue_first(), Referral.sent_at.desc(), Referral.id)
    else:
        order = (Referral.sent_at.desc(), Referral.id)
    return stmt, order


def dashboard_page(
    user: User, filters: DashboardFilters, now: datetime, page: int, per_page: int, *, via: str
) -> Page:
    """One page of the dashboard's filtered list (`dashboard_select`)."""
    return referral_page(user, *dashboard_select(user, filters, now), page, per_page, via=via)


def dashboard_counts(user: User, now: datetime) -> dict[DashboardView, int]:
    """How many of the visible referrals are in each dashboard view."""
    return _visible_counts(user, DashboardView, lambda view: _dashboard_condition(view, now))


def _visible_counts(user: User, keys, condition_of) -> dict:
    """How many referrals the user may see meet each key's condition (None: all of them)."""
    base = access.visible_referrals(user).subquery()
    counts = {}
    for key in keys:
        # The same conditions, against the scoped subquery's columns.
        stmt = select(func.count()).select_from(Referral).where(Referral.id.in_(select(base.c.id)))
        condition = condition_of(key)
        if condition is not None:
            stmt = stmt.where(condition)
        counts[key] = db.session.scalar(stmt) or 0
    return counts


@dataclass(frozen=True)
class LoopRate:
    """Of the referrals sent in a period, how many reached an outcome recorded by the agency.

    Forwarded referrals are left out: the referral they were forwarded as is counted instead.
    Declined, cancelled and still-open referrals count as not (yet) closed with an outcome.
    """

    since: datetime
    until: datetime
    sent: int
    completed: int
    declined: int
    cancelled: int
    still_open: int

    @property
    def rate(self) -> float | None:
        return self.completed / self.sent if self.sent else None

    @property
    def percent(self) -> str:
        return "—" if self.rate is None else f"{round(self.rate * 100)}%"


def closed_loop_rate(user: User, since: datetime, until: datetime) -> LoopRate:
    """The closed-loop rate of the referrals `user` may see that were sent in [since, until)."""
    base = access.visible_referrals(user).subquery()
    counted = (
        select(Referral.status, func.count())
        .where(
            Referral.id.in_(select(base.c.id)),
            Referral.sent_at >= since,
            Referral.sent_at < until,
            Referral.status != Status.forwarded.value,
        )
        .group_by(Referral.status)
    )
    by_status = {status: count for status, count in db.session.execute(counted)}
    return LoopRate(
        since=since,
        until=until,
        sent=sum(by_status.values()),
        completed=by_status.get(Status.completed.value, 0),
        declined=by_status.get(Status.declined.value, 0),
        cancelled=by_status.get(Status.cancelled.value, 0),
        still_open=by_status.get(Status.sent.value, 0) + by_status.get(Status.accepted.value, 0),
    )


# -- members ---------------------------------------------------------------------------------


def caseload_page(user: User, text: str, page: int, per_page: int, *, via: str) -> Page:
    """The members the user may see, by name, optionally those matching `text` (name or phone);
    logged as seen by `user`."""
    stmt = access.visible_members(user)
    text = text.strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                Member.first_name.ilike(pattern, escape="\\"),
                Member.last_name.ilike(pattern, escape="\\"),
                (Member.first_name + " " + Member.last_name).ilike(pattern, escape="\\"),
                Member.phone.ilike(pattern, escape="\\"),
            )
        )
    found = paginate(stmt, (Member.last_name, Member.first_name, Member.id), page, per_page)
    audit.record_views(user, AuditObject.member, [m.id for m in found.items], via=via)
    return found


def member_referrals(user: User, member: Member) -> list[Referral]:
    """The member's referrals that the user may see, newest first."""
    return list(
        db.session.scalars(
            access.visible_referrals(user)
            .where(Referral.member_id == member.id)
            .order_by(Referral.sent_at.desc(), Referral.id)
        )
    )


# -- services --------------------------------------------------------------------------------


def agency_services(user: User) -> list[Service]:
    """The listed services of the user's agency, whose referral capacity its staff switch."""
    organization = user.organization
    if organization is None or organization.directory_organization_id is None:
        return []
    return list(
        db.session.scalars(
            select(Service)
            .where(
                Service.organization_id == organization.directory_organization_id,
                Service.is_shown,
            )
            .order_by(Service.name, Service.id)
        )
    )
