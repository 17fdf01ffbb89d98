"""Opening hours: reading HSDS schedules and answering "open now?" and "closes at 5 pm".

Plain functions over objects shaped like `directory.models.Schedule` (freq, byday, opens_at,
closes_at, valid_from, valid_to, dtstart, interval, tz_name, timezone), so they test without a
database. Rules:
- A schedule's days come from `byday` ("MO,WE" weekly; "1SA" or "-1FR" monthly). No byday on a
  weekly schedule means every day.
- closes_at at or before opens_at means the hours run past midnight into the next day; opens and
  closes both at midnight (or 00:00–23:59) means open all day.
- Schedules with valid_from/valid_to are exceptions (holidays, seasonal hours): on the dates they
  cover they replace the regular schedules, and one without opens_at means closed that day.
- Times are local to the schedule: its IANA `tz_name`, else its HSDS `timezone` UTC offset, else
  the deployment's default zone.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

RULE_FIELDS = (
    "freq", "byday", "opens_at", "closes_at", "valid_from", "valid_to", "dtstart", "interval",
    "tz_name", "timezone", "bymonthday", "until", "count", "wkst",
)  # fmt: skip
"""The schedule fields these rules read: what a search index or a result card keeps of hours."""

DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_WORDS = {
    **{name.lower(): i for i, name in enumerate(DAY_NAMES)},
    **{name[:3].lower(): i for i, name in enumerate(DAY_NAMES)},
    **{code.lower(): i for i, code in enumerate(DAY_CODES)},
    "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3,
}  # fmt: skip

_TIME = re.compile(
    r"^(?P<h>\d{1,2})(?:[:.h]?(?P<m>\d{2}))?(?::(?P<s>\d{2}))?\s*"
    r"(?P<ampm>a\.?\s?m\.?|p\.?\s?m\.?|a|p)?$",
    re.IGNORECASE,
)
_OFFSET = re.compile(r"(?:[+-]\d{2}:?\d{2}|Z)$")


def parse_time(text: str | time | None) -> time:
    """A wall-clock time from what schedules really contain: "09:00", "17:00:00", "9:00am",
    "9 AM", "5:30 p.m.", "1730", "noon", "midnight", "09:00-05:00" (the offset is dropped).

    Raises ValueError with the text when it is not a time.
    """
    if isinstance(text, time):
        return text.replace(tzinfo=None)
    raw = (text or "").strip()
    value = raw.lower()
    if not value:
        raise ValueError("no time given")
    if value in {"noon", "12 noon", "midday"}:
        return time(12, 0)
    if value in {"midnight", "12 midnight"}:
        return time(0, 0)
    if re.match(r"^\d{1,2}:\d{2}(:\d{2})?", value):
        value = _OFFSET.sub("", value).strip()
    match = _TIME.match(value)
    if not match:
        raise ValueError(f"{raw!r} is not a time")
    hour, minute = int(match["h"]), int(match["m"] or 0)
    ampm = (match["ampm"] or "").replace(".", "").replace(" ", "")
    if ampm:
        if not 1 <= hour <= 12:
            raise ValueError(f"{raw!r} is not a time")
        hour = (hour % 12) + (12 if ampm.startswith("p") else 0)
    if hour == 24 and minute == 0:
        return time(23, 59, 59)
    if hour > 23 or minute > 59:
        raise ValueError(f"{raw!r} is not a time")
    return time(hour, minute)


def parse_weekday(text: str | int) -> int:
    """Monday=0 from "Monday", "mon", "MO", or HSDS 1.x weekday numbers (1=Monday … 7=Sunday;
    0 is read as Sunday, as some exports count from Sunday=0)."""
    if isinstance(text, int) or str(text).strip().isdigit():
        number = int(text)
        if not 0 <= number <= 7:
            raise ValueError(f"weekday {text!r} is not 0–7")
        return 6 if number in (0, 7) else number - 1
    key = str(text).strip().lower().rstrip(".")
    if key not in _DAY_WORDS:
        raise ValueError(f"{text!r} is not a day of the week")
    return _DAY_WORDS[key]


def format_time(value: time) -> str:
    """ "9 am", "5:30 pm", "noon", "midnight": how people say it."""
    if value.hour == 12 and value.minute == 0:
        return "noon"
    if value.hour == 0 and value.minute == 0:
        return "midnight"
    hour = value.hour % 12 or 12
    suffix = "am" if value.hour < 12 else "pm"
    return f"{hour} {suffix}" if value.minute == 0 else f"{hour}:{value.minute:02d} {suffix}"


@dataclass(frozen=True)
class OpenStatus:
    is_open: bool | None  # None: no hours on record
    text: str


def _zone(schedule, default_tz: str) -> tzinfo:
    if getattr(schedule, "tz_name", None):
        try:
            return ZoneInfo(schedule.tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    offset = getattr(schedule, "timezone", None)
    if offset is not None:
        return timezone(timedelta(hours=float(offset)))
    return ZoneInfo(default_tz)


def _hours(schedule) -> tuple[time, time] | None:
    try:
        opens = parse_time(schedule.opens_at)
        closes = parse_time(schedule.closes_at)
    except ValueError:
        return None
    return opens, closes


def _all_day(opens: time, closes: time) -> bool:
    return opens == time(0, 0) and closes in (time(0, 0), time(23, 59), time(23, 59, 59))


def _days(schedule) -> list[tuple[int, int | None]]:
    """(weekday, nth-of-month or None) pairs from byday."""
    codes = [c.strip().upper() for c in (schedule.byday or "").split(",") if c.strip()]
    if not codes:
        return [(d, None) for d in range(7)]
    days = []
    for code in codes:
        match = re.fullmatch(r"([+-]?\d)?([A-Z]{2})", code)
        if match and match[2] in DAY_CODES:
            days.append((DAY_CODES.index(match[2]), int(match[1]) if match[1] else None))
    return days


def _nth_weekday_of_month(day: date, nth: int) -> bool:
    """Is `day` the nth (1 = first, -1 = last) of its weekday in its month?"""
    if nth > 0:
        return (day.day - 1) // 7 + 1 == nth
    next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    last_day = next_month - timedelta(days=1)
    return (last_day.day - day.day) // 7 + 1 == -nth


def _occurs_on(schedule, day: date) -> bool:
    for weekday, nth in _days(schedule):
        if day.weekday() != weekday:
            continue
        if (schedule.freq or "WEEKLY").upper() == "MONTHLY" and nth:
            if _nth_weekday_of_month(day, nth):
                return True
            continue
        interval = getattr(schedule, "interval", None) or 1
        start = getattr(schedule, "dtstart", None)
        if interval > 1 and start:
            weeks = (day - (start - timedelta(days=start.weekday()))).days // 7
            if weeks < 0 or weeks % interval:
                continue
        return True
    return False


def _is_exception(schedule) -> bool:
    return schedule.valid_from is not None or schedule.valid_to is not None


def _covers(schedule, day: date) -> bool:
    if schedule.valid_from and day < schedule.valid_from:
        return False
    return not (schedule.valid_to and day > schedule.valid_to)


def _day_schedules(schedules: Sequence, day: date) -> list:
    """The schedules in force on a local date: exceptions covering it, else the regular ones."""
    exceptions = [s for s in schedules if _is_exception(s) and _covers(s, day)]
    if exceptions:
        return [s for s in exceptions if s.opens_at and _occurs_on(s, day)]
    return [s for s in schedules if not _is_exception(s) and _occurs_on(s, day)]


def _intervals(schedules: Sequence, around: datetime, default_tz: str):
    """Aware (start, end) intervals from the day before `around` to a week after it."""
    out = []
    for schedule in schedules:
        zone = _zone(schedule, default_tz)
        local_today = around.astimezone(zone).date()
        for offset in range(-1, 8):
            day = local_today + timedelta(days=offset)
            if schedule not in _day_schedules(schedules, day):
                continue
            hours = _hours(schedule)
            if hours is None:
                continue
            opens, closes = hours
            start = datetime.combine(day, opens, zone)
            if _all_day(opens, closes):
                end = datetime.combine(day + timedelta(days=1), time(0, 0), zone)
            elif closes <= opens:
                end = datetime.combine(day + timedelta(days=1), closes, zone)
            else:
                end = datetime.combine(day, closes, zone)
            out.append((start, end))
    return sorted(out)


def has_hours(schedules: Iterable) -> bool:
    return any(s.opens_at and s.closes_at for s in schedules)


def is_open(schedules: Sequence, at: datetime, default_tz: str = "America/New_York") -> bool | None:
    """Open at this instant? None when no hours are on record."""
    if not has_hours(schedules):
        return None
    return any(start <= at < end for start, end in _intervals(schedules, at, default_tz))


def _merged(intervals):
    merged: list[list[datetime]] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def _when(moment: datetime, now: datetime) -> str:
    local_now = now.astimezone(moment.tzinfo)
    days = (moment.date() - local_now.date()).days
    clock = format_time(moment.time())
    if days == 0:
        return f"at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    return f"{DAY_NAMES[moment.weekday()]} at {clock}"


def open_status(
    schedules: Sequence, at: datetime, default_tz: str = "America/New_York"
) -> OpenStatus:
    """ "Open now · closes at 5 pm", "Closed · opens tomorrow at 9 am", "Open 24 hours"."""
    if not has_hours(schedules):
        return OpenStatus(None, "Call for hours")
    spans = _merged(_intervals(schedules, at, default_tz))
    for start, end in spans:
        if start <= at < end:
            if end - at > timedelta(days=6):
                return OpenStatus(True, "Open 24 hours")
            return OpenStatus(True, f"Open now · closes {_when(end, at)}")
    upcoming = [start for start, _ in spans if start > at]
    if upcoming:
        return OpenStatus(False, f"Closed · opens {_when(upcoming[0], at)}")
    return OpenStatus(False, "Closed")


def weekly_hours(schedules: Sequence) -> list[tuple[str, str]]:
    """Regular weekly hours, Monday first: [("Monday", "9 am – 5 pm"), ("Sunday", "Closed")]."""
    table = []
    regular = [s for s in schedules if not _is_exception(s) and s.opens_at and s.closes_at]
    for index, name in enumerate(DAY_NAMES):
        spans = []
        for schedule in regular:
            if (schedule.freq or "WEEKLY").upper() != "WEEKLY":
                continue
            if index not in [d for d, nth in _days(schedule) if nth is None]:
                continue
            hours = _hours(schedule)
            if hours is None:
                continue
            opens, closes = hours
            text = (
                "Open 24 hours"
                if _all_day(opens, closes)
                else (f"{format_time(opens)} – {format_time(closes)}")
            )
            spans.append((opens, text))
        table.append((name, ", ".join(t for _, t in sorted(spans)) or "Closed"))
    return table


def schedules_for(service) -> list:
    """The most specific hours on record: the service's own, else its locations'."""
    if service.schedules:
        return list(service.schedules)
    found = []
    for sal in service.service_at_locations:
        found.extend(sal.schedules)
    if found:
        return found
    for sal in service.service_at_locations:
        found.extend(sal.location.schedules)
    return found
