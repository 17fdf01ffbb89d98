from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from directory.hours import (
    format_time,
    is_open,
    open_status,
    parse_time,
    parse_weekday,
    weekly_hours,
)

NY = ZoneInfo("America/New_York")


@dataclass
class Sched:
    byday: str | None = "MO,TU,WE,TH,FR"
    opens_at: str | None = "09:00"
    closes_at: str | None = "17:00"
    freq: str | None = "WEEKLY"
    valid_from: date | None = None
    valid_to: date | None = None
    dtstart: date | None = None
    interval: int | None = None
    tz_name: str | None = "America/New_York"
    timezone: float | None = None


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00", time(9)),
        ("17:00:00", time(17)),
        ("9:00am", time(9)),
        ("9 AM", time(9)),
        (" 5:30 p.m. ", time(17, 30)),
        ("1730", time(17, 30)),
        ("12:00 PM", time(12)),
        ("12am", time(0)),
        ("noon", time(12)),
        ("midnight", time(0)),
        ("09:00-05:00", time(9)),
        ("24:00", time(23, 59, 59)),
    ],
)
def test_times_as_exports_write_them(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["", "closed", "25:00", "13pm", "9:75"])
def test_non_times_are_refused_with_the_text(text):
    with pytest.raises(ValueError):
        parse_time(text)


@pytest.mark.parametrize(
    ("text", "index"), [("Monday", 0), ("tues", 1), ("SU", 6), (1, 0), ("7", 6), ("0", 6)]
)
def test_weekdays(text, index):
    assert parse_weekday(text) == index


def test_people_read_times_plainly():
    assert [format_time(t) for t in (time(9), time(17, 30), time(12), time(0))] == [
        "9 am",
        "5:30 pm",
        "noon",
        "midnight",
    ]


def test_weekday_office_hours():
    hours = [Sched()]
    assert is_open(hours, ny(2026, 11, 23, 10)) is True  # a Monday
    assert is_open(hours, ny(2026, 11, 23, 17)) is False  # closing time is closed
    assert is_open(hours, ny(2026, 11, 22, 10)) is False  # Sunday
    assert open_status(hours, ny(2026, 11, 23, 10)).text == "Open now · closes at 5 pm"
    assert open_status(hours, ny(2026, 11, 23, 18)).text == "Closed · opens tomorrow at 9 am"
    assert open_status(hours, ny(2026, 11, 27, 18)).text == "Closed · opens Monday at 9 am"


def test_hours_past_midnight_belong_to_the_day_they_start():
    hours = [Sched(byday="FR,SA", opens_at="20:00", closes_at="02:00")]
    assert is_open(hours, ny(2026, 11, 28, 1, 30)) is True  # Saturday 1:30 am, from Friday
    assert is_open(hours, ny(2026, 11, 29, 1, 30)) is True  # Sunday 1:30 am, from Saturday
    assert is_open(hours, ny(2026, 11, 30, 1, 30)) is False  # Monday 1:30 am
    assert open_status(hours, ny(2026, 11, 27, 23)).text == "Open now · closes tomorrow at 2 am"


def test_open_all_day_every_day():
    hours = [Sched(byday="MO,TU,WE,TH,FR,SA,SU", opens_at="00:00", closes_at="23:59")]
    assert is_open(hours, ny(2026, 11, 22, 3)) is True
    assert open_status(hours, ny(2026, 11, 22, 3)).text == "Open 24 hours"


def test_hours_are_read_in_the_schedules_own_zone():
    pacific = [Sched(tz_name="America/Los_Angeles")]
    # 12:30 New York time is 9:30 in Los Angeles: open. 10:00 New York is 7:00 there: closed.
    assert is_open(pacific, ny(2026, 11, 23, 12, 30)) is True
    assert is_open(pacific, ny(2026, 11, 23, 10)) is False
    utc_offset = [Sched(tz_name=None, timezone=-8)]
    assert is_open(utc_offset, ny(2026, 11, 23, 12, 30)) is True


def test_holiday_exception_closes_the_day():
    hours = [
        Sched(),
        Sched(
            opens_at=None,
            closes_at=None,
            byday=None,
            valid_from=date(2026, 11, 26),
            valid_to=date(2026, 11, 26),
        ),
    ]
    assert is_open(hours, ny(2026, 11, 26, 10)) is False  # Thanksgiving
    assert is_open(hours, ny(2026, 11, 27, 10)) is True


def test_monthly_nth_weekday():
    first_saturday = [Sched(freq="MONTHLY", byday="1SA", opens_at="10:00", closes_at="12:00")]
    assert is_open(first_saturday, ny(2026, 12, 5, 11)) is True
    assert is_open(first_saturday, ny(2026, 12, 12, 11)) is False
    last_friday = [Sched(freq="MONTHLY", byday="-1FR", opens_at="10:00", closes_at="12:00")]
    assert is_open(last_friday, ny(2026, 11, 27, 11)) is True
    assert is_open(last_friday, ny(2026, 11, 20, 11)) is False


def test_no_hours_on_record_is_unknown_not_closed():
    assert is_open([], ny(2026, 11, 23, 10)) is None
    assert open_status([Sched(opens_at=None)], ny(2026, 11, 23, 10)).text == "Call for hours"


def test_weekly_table_lists_every_day():
    table = weekly_hours([Sched(), Sched(byday="SA", opens_at="10:00", closes_at="14:30")])
    assert table[0] == ("Monday", "9 am – 5 pm")
    assert table[5] == ("Saturday", "10 am – 2:30 pm")
    assert table[6] == ("Sunday", "Closed")
