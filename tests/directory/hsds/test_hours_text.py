"""Opening hours written as text (`original_text` of 211 exports), read into days and spans.

The expected values are written out by hand, apart from the code: (days, spans) per period, with
Monday = 0, or None when the text must stay as plain text.
"""

import pytest

from directory.hsds.importing.hours_text import read_hours_text

WEEKDAYS = (0, 1, 2, 3, 4)
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
NINE_FIVE = (("09:00", "17:00"),)

READABLE = {
    # The forms the issue names.
    "9:00am-5:00pm, Mon-Fri": [(WEEKDAYS, NINE_FIVE)],
    "24 hours": [(EVERY_DAY, (("00:00", "23:59"),))],
    "Mon-Thu 8:30-4:30": [((0, 1, 2, 3), (("08:30", "16:30"),))],
    "Monday - Friday 8am to 4:30pm": [(WEEKDAYS, (("08:00", "16:30"),))],
    "M-F 9-5": [(WEEKDAYS, NINE_FIVE)],
    "Closed Sat/Sun": [((5, 6), ())],
    # Spelling: case, dots, dashes, words for "to", spaces.
    "MON-FRI 9AM-5PM": [(WEEKDAYS, NINE_FIVE)],
    "Mon.-Fri. 9 a.m. - 5 p.m.": [(WEEKDAYS, NINE_FIVE)],
    "Monday through Friday, 9:00 AM to 5:00 PM": [(WEEKDAYS, NINE_FIVE)],
    "Mon thru Fri 9–5": [(WEEKDAYS, NINE_FIVE)],
    "Hours: M-F 9-5.": [(WEEKDAYS, NINE_FIVE)],
    "9am - 5pm Monday-Friday": [(WEEKDAYS, NINE_FIVE)],
    "Mon - Fri: 0900-1700": [(WEEKDAYS, NINE_FIVE)],
    "M-Th 9-5": [((0, 1, 2, 3), NINE_FIVE)],
    "Tues & Thurs 1-4pm": [((1, 3), (("13:00", "16:00"),))],
    "Mon, Wed, Fri 10-2": [((0, 2, 4), (("10:00", "14:00"),))],
    "Saturdays 10am-2pm": [((5,), (("10:00", "14:00"),))],
    "Fri-Mon 9-5": [((0, 4, 5, 6), NINE_FIVE)],  # wraps round the week
    # Day groups.
    "Daily 8am-8pm": [(EVERY_DAY, (("08:00", "20:00"),))],
    "Weekdays 9-5": [(WEEKDAYS, NINE_FIVE)],
    "Weekends 10-4": [((5, 6), (("10:00", "16:00"),))],
    "7 days a week, 7am-7pm": [(EVERY_DAY, (("07:00", "19:00"),))],
    "24 hours a day, 7 days a week": [(EVERY_DAY, (("00:00", "23:59"),))],
    "Open 24 hours": [(EVERY_DAY, (("00:00", "23:59"),))],
    "24/7": [(EVERY_DAY, (("00:00", "23:59"),))],
    "Mon-Fri 24 hours": [(WEEKDAYS, (("00:00", "23:59"),))],
    # am/pm inferred.
    "Mon 9-12": [((0,), (("09:00", "12:00"),))],
    "Mon 12-4": [((0,), (("12:00", "16:00"),))],
    "Mon 7-7": [((0,), (("07:00", "19:00"),))],
    "Mon 9-5pm": [((0,), NINE_FIVE)],
    "Mon 11-1pm": [((0,), (("11:00", "13:00"),))],
    "Mon 10am-2": [((0,), (("10:00", "14:00"),))],
    "Mon 13:00-17:30": [((0,), (("13:00", "17:30"),))],
    "Mon 9a-5p": [((0,), NINE_FIVE)],
    # Past midnight, noon and midnight as words.
    "Fri 10pm-6am": [((4,), (("22:00", "06:00"),))],
    "Sat 8pm-2": [((5,), (("20:00", "02:00"),))],
    "Mon 9-9am": [((0,), (("21:00", "09:00"),))],  # overnight: opens when 9 am is behind
    "Mon-Fri noon-8pm": [(WEEKDAYS, (("12:00", "20:00"),))],
    "Mon-Fri 8pm-midnight": [(WEEKDAYS, (("20:00", "00:00"),))],
    "Sun midnight-8am": [((6,), (("00:00", "08:00"),))],
    "Sun 12 noon to 12 midnight": [((6,), (("12:00", "00:00"),))],
    # Several periods a day, several day groups, closed days.
    "Mon-Fri 9am-12pm, 1pm-5pm": [(WEEKDAYS, (("09:00", "12:00"), ("13:00", "17:00")))],
    "Mon-Fri 9-12 & 1-5": [(WEEKDAYS, (("09:00", "12:00"), ("13:00", "17:00")))],
    "Mon-Fri 9-5; Sat 10-2": [(WEEKDAYS, NINE_FIVE), ((5,), (("10:00", "14:00"),))],
    "9-5 Mon-Fri, 10-2 Sat": [(WEEKDAYS, NINE_FIVE), ((5,), (("10:00", "14:00"),))],
    "Mon-Fri 9-5, Sat-Sun closed": [(WEEKDAYS, NINE_FIVE), ((5, 6), ())],
    "Mon-Fri 9-5. Closed weekends.": [(WEEKDAYS, NINE_FIVE), ((5, 6), ())],
    "9-5, closed weekends": [((5, 6), ()), (WEEKDAYS, NINE_FIVE)],
    "Mon, Wed 9-12\nTue, Thu 1-5": [
        ((0, 2), (("09:00", "12:00"),)),
        ((1, 3), (("13:00", "17:00"),)),
    ],
    # Times without days: the row's weekday column says which day.
    "9:00am-5:00pm": [(None, NINE_FIVE)],
    "from 9 to 5": [(None, NINE_FIVE)],
    "Closed": [(None, ())],
}

UNREADABLE = [
    "",
    "   ",
    "By appointment",
    "Call for hours",
    "Mon-Fri",  # days, no hours
    "9am",  # a time, not a range
    "Mon-Fri 9-5 (closed 12-1 for lunch)",
    "Every other Monday 9-5",
    "Mon-Fri 9-5 except holidays",
    "Mon-Fri 9:00 AM EST - 5:00 PM EST",
    "Mon 25:00-26:00",
    "Mon 9:75-5",
    "Mon 13pm-2pm",
    "Mon 9am-9am",  # closes when it opens
    "Mon-Fri 9-5; 10-2 Sat",  # days then times, then times then days: which goes with which?
    "Mon 9-5 Tue",
    "Closed closed Mon",
    "First Tuesday of the month 9-5",
    "S 9-5",  # Saturday or Sunday?
]


@pytest.mark.parametrize("text", READABLE)
def test_readable_hours_become_days_and_spans(text):
    periods = read_hours_text(text)

    assert periods is not None, text
    assert [(p.days, p.spans) for p in periods] == READABLE[text]


@pytest.mark.parametrize("text", UNREADABLE)
def test_text_that_cannot_be_read_whole_is_not_read_at_all(text):
    assert read_hours_text(text) is None


def test_a_period_without_spans_is_closed():
    closed, open_ = read_hours_text("Closed Sun, Mon 9-5")
    assert (closed.closed, open_.closed) == (True, False)
