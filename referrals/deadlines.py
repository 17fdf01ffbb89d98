"""Time in the network: its zone and today's date there, business days and holidays, and the
deadlines counted in them (an agency's response window for each urgency, the outcome deadline
after acceptance), and how a deadline reads to people."""

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from accounts.models import NetworkOrganization
from extensions import utcnow
from referrals.models import Referral
from referrals.states import Status, Urgency


def local_zone() -> ZoneInfo:
    """The network's time zone (business days and consent expiry dates are counted in it)."""
    name = current_app.config.get("DEFAULT_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or "UTC")


def local_today(now: datetime | None = None) -> date:
    """Today's date where the network is."""
    return (now or utcnow()).astimezone(local_zone()).date()


def network_holidays() -> frozenset[date]:
    """Days that don't count toward response windows: config REFERRAL_HOLIDAYS (ISO dates)."""
    raw = current_app.config.get("REFERRAL_HOLIDAYS") if has_app_context() else None
    if not raw:
        return frozenset()
    if isinstance(raw, str):
        raw = [part for part in re.split(r"[\s,]+", raw) if part]
    return frozenset(d if isinstance(d, date) else date.fromisoformat(str(d)) for d in raw)


def add_business_days(
    start: datetime, days: int, zone: ZoneInfo, holidays: frozenset[date] = frozenset()
) -> datetime:
    """The same local time `days` business days later (Saturdays, Sundays, holidays skipped)."""
    local = start.astimezone(zone)
    day = local.date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in holidays:
            counted += 1
    return datetime.combine(day, local.time(), tzinfo=zone).astimezone(UTC)


def response_due(agency: NetworkOrganization, sent_at: datetime, urgency: str) -> datetime:
    """When the receiving agency should have answered a referral of this urgency sent at
    `sent_at`: an emergency within the agency's hours, counted around the clock (nights,
    weekends and holidays too: someone needs a bed tonight); an urgent or routine referral
    within its business days in the network's zone."""
    urgency = Urgency(urgency)
    if urgency == Urgency.emergency:
        return sent_at.astimezone(UTC) + timedelta(hours=agency.emergency_window_hours or 4)
    if urgency == Urgency.urgent:
        days = agency.urgent_window_business_days or 1
    else:
        days = agency.response_window_business_days or 2
    return add_business_days(sent_at, days, local_zone(), network_holidays())


def format_deadline(moment: datetime) -> str:
    """ "Mon 7 Dec, 5:00 PM EST": a deadline in the network's zone, with the zone's abbreviation
    so nobody in another zone misreads it (the `deadline` filter, and the emails)."""
    local = moment.astimezone(local_zone())
    hour = local.hour % 12 or 12
    return f"{local:%a} {local.day} {local:%b}, {hour}:{local:%M %p} {local.tzname()}"


DEFAULT_OUTCOME_REMINDER_DAYS = 10


def outcome_reminder_days() -> int:
    """Business days an agency has, once it accepts, to record an outcome: config
    OUTCOME_REMINDER_DAYS (at least one)."""
    raw = current_app.config.get("OUTCOME_REMINDER_DAYS") if has_app_context() else None
    return max(1, int(raw if raw not in (None, "") else DEFAULT_OUTCOME_REMINDER_DAYS))


def outcome_due_after(accepted_at: datetime) -> datetime:
    """The outcome deadline of a referral accepted at `accepted_at`."""
    return add_business_days(accepted_at, outcome_reminder_days(), local_zone(), network_holidays())


def outcome_due(referral: Referral) -> datetime | None:
    """When an accepted referral should have its outcome recorded (None unless accepted)."""
    if referral.status != Status.accepted:
        return None
    return outcome_due_after(referral.responded_at or referral.sent_at)
