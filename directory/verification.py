"""How current a listing is: when someone who runs it last said "everything here is still
correct" (HSDS `assured_date`), whether that is too long ago (LISTING_STALE_DAYS), and how the
public page says it ("verified 2 months ago").

Plain rules over the directory's own columns; who may verify, the reminders and the dashboards
live in accounts.listings.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import or_

from directory.models import Service, ServiceStatus
from extensions import utcnow

DEFAULT_STALE_DAYS = 180


def stale_days() -> int:
    """Days after which a listing nobody verified is flagged: config LISTING_STALE_DAYS."""
    raw = current_app.config.get("LISTING_STALE_DAYS") if has_app_context() else None
    return max(1, int(raw if raw not in (None, "") else DEFAULT_STALE_DAYS))


def network_today(now: datetime | None = None) -> date:
    """Today where the network is (DEFAULT_TIMEZONE): verification dates are local dates."""
    name = current_app.config.get("DEFAULT_TIMEZONE") if has_app_context() else None
    return (now or utcnow()).astimezone(ZoneInfo(name or "UTC")).date()


def stale_before(today: date | None = None) -> date:
    """A listing verified before this date (or never) is stale."""
    return (today or network_today()) - timedelta(days=stale_days())


def is_stale(assured: date | None, today: date | None = None) -> bool:
    return assured is None or assured < stale_before(today)


def stale_clause(today: date | None = None):
    """SQL: a listed (not defunct) service that is stale."""
    return (
        Service.status != ServiceStatus.defunct.value,
        or_(Service.assured_date.is_(None), Service.assured_date < stale_before(today)),
    )


@dataclass(frozen=True)
class Verified:
    words: str  # "verified 2 months ago"
    caution: bool  # stale: shown in the caution style


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def verified_words(assured: date | None, today: date | None = None) -> Verified:
    """How long ago a listing was verified, in words a person reads at a glance."""
    today = today or network_today()
    if assured is None:
        return Verified("not verified yet", True)
    days = (today - assured).days
    caution = is_stale(assured, today)
    if days >= 365:
        return Verified("not verified for over a year", True)
    if days <= 0:
        words = "verified today"
    elif days == 1:
        words = "verified yesterday"
    elif days < 14:
        words = f"verified {_count(days, 'day')} ago"
    elif days < 60:
        words = f"verified {_count(days // 7, 'week')} ago"
    else:
        words = f"verified {_count(days // 30, 'month')} ago"
    return Verified(words, caution)
