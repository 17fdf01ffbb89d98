"""Reading opening hours written as text, as 211 exports keep them in `original_text`:
"9:00am-5:00pm, Mon-Fri", "Mon-Thu 8:30-4:30", "M-F 9-5", "24 hours", "Closed Sat/Sun".

`read_hours_text(text)` returns the periods the text states, or None when any part of it is not
understood: a text read half-way would publish wrong hours, so what can't be read whole is kept
as the service's plain-text hours instead. A pure module: no database, no Flask.

Rules for times without am/pm, as people write them on a door: the first time of a range is in
the morning from 6 to 11 and in the afternoon from 1 to 5 ("1-4" is 1 pm to 4 pm); the second is
the first one after the opening ("9-5" closes at 5 pm, "8:30-4:30" at 4:30 pm). One side with
am/pm lends it to the other when that keeps the order ("1-4pm", "9-5pm" is 9 am). A range that
closes at or before it opens runs past midnight ("10pm-6am"); "midnight" closes at 00:00.
"""

import re
from dataclasses import dataclass

ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)
ALL_DAY_SPAN = ("00:00", "23:59")


@dataclass(frozen=True)
class Period:
    """Days and their opening spans; no spans means closed on those days. `days` None: the text
    gave times without saying which days (the caller may know them from a weekday column)."""

    days: tuple[int, ...] | None
    spans: tuple[tuple[str, str], ...]

    @property
    def closed(self) -> bool:
        return not self.spans


# --- words ---------------------------------------------------------------------------------------

_DAY_WORDS = {
    0: ("mondays", "monday", "mon", "mo", "m"),
    1: ("tuesdays", "tuesday", "tues", "tue", "tu", "t"),
    2: ("wednesdays", "wednesday", "weds", "wed", "we", "w"),
    3: ("thursdays", "thursday", "thurs", "thur", "thu", "th", "r"),
    4: ("fridays", "friday", "fri", "fr", "f"),
    5: ("saturdays", "saturday", "sat", "sa"),
    6: ("sundays", "sunday", "sun", "su"),
}
_DAY_OF = {word: day for day, words in _DAY_WORDS.items() for word in words}
_DAY = "(?:" + "|".join(sorted(_DAY_OF, key=len, reverse=True)) + r")\.?(?![a-z])"
_DAY_GROUPS = {
    "daily": ALL_DAYS,
    "every day": ALL_DAYS,
    "everyday": ALL_DAYS,
    "seven days a week": ALL_DAYS,
    "7 days a week": ALL_DAYS,
    "7 days": ALL_DAYS,
    "weekdays": (0, 1, 2, 3, 4),
    "weekends": (5, 6),
    "weekend": (5, 6),
}
_GROUP = "(?:" + "|".join(re.escape(g) for g in sorted(_DAY_GROUPS, key=len, reverse=True)) + ")"
_THROUGH = r"\s*(?:-|to|through|thru|until|till|til)\s*"
_TIME = r"(?:noon|midnight|\d{1,2}(?:[:.]?\d{2})?(?:\s?(?:am|pm|a|p)(?![a-z]))?)"
_ALL_DAY = r"(?:open\s+)?(?:24\s*(?:hours|hrs|hr|h)(?:\s*(?:a|per)\s*day)?|24\s*[/-]\s*7|all\s+day)"

_TOKENS = re.compile(
    rf"(?P<allday>{_ALL_DAY})(?![a-z0-9])"
    rf"|(?P<span>(?P<opens>{_TIME}){_THROUGH}(?P<closes>{_TIME}))(?![a-z0-9:])"
    rf"|(?P<group>{_GROUP})(?![a-z])"
    rf"|(?P<dayrange>(?P<first>{_DAY}){_THROUGH}(?P<last>{_DAY}))"
    rf"|(?P<day>{_DAY})"
    r"|(?P<closed>closed)(?![a-z])"
    r"|(?P<filler>(?:open|from|on|hours|hrs|every|each|and|&|\+|,|;|:|/|\||\.|\s)+)"
)


def _normalize(text: str) -> str:
    text = text.lower().replace("\u2013", "-").replace("\u2014", "-").replace("\u2010", "-")
    text = re.sub(r"\ba\.\s?m\.?", "am", text)
    text = re.sub(r"\bp\.\s?m\.?", "pm", text)
    text = re.sub(r"\b12\s*(noon|midnight)\b", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


# --- times ---------------------------------------------------------------------------------------

_CLOCK = re.compile(r"^(\d{1,2})(?:[:.]?(\d{2}))?\s?(am|pm|a|p)?$")


def _clock(text: str) -> tuple[int, int, str | None]:
    """(hour, minute, "am"/"pm"/None); noon and midnight are 12:00 pm and 12:00 am."""
    text = text.strip()
    if text == "noon":
        return 12, 0, "pm"
    if text == "midnight":
        return 12, 0, "am"
    match = _CLOCK.match(text)
    if not match:
        raise ValueError(text)
    hour, minute = int(match[1]), int(match[2] or 0)
    meridiem = {"a": "am", "p": "pm"}.get(match[3] or "", match[3])
    if minute > 59 or hour > 24 or (meridiem and not 1 <= hour <= 12):
        raise ValueError(text)
    return hour, minute, meridiem


def _minutes(hour: int, minute: int, meridiem: str | None) -> int:
    if meridiem:
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    return (hour % 24) * 60 + minute


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _span(opens: str, closes: str) -> tuple[str, str]:
    """One range as ("HH:MM", "HH:MM"), am/pm inferred as the module docstring says."""
    oh, om, omer = _clock(opens)
    ch, cm, cmer = _clock(closes)
    if omer is None and cmer is not None and oh <= 12:
        same = _minutes(oh, om, cmer)
        omer = cmer if same < _minutes(ch, cm, cmer) else ("am" if cmer == "pm" else "pm")
    elif omer is None and oh <= 12 and not opens.startswith("0"):
        omer = "pm" if 1 <= oh <= 5 else ("pm" if oh == 12 else "am")
    start = _minutes(oh, om, omer)
    if cmer is None and ch <= 12 and not closes.startswith("0"):
        # The first 12-hour reading after the opening: "9-5" closes at 17:00, "8pm-2" at 02:00.
        morning, evening = _minutes(ch, cm, "am"), _minutes(ch, cm, "pm")
        later = [m for m in (morning, evening) if m > start]
        end = min(later) if later else morning
    elif ch == 24 and cm == 0:
        end = 24 * 60 - 1
    else:
        end = _minutes(ch, cm, cmer)
    if start == end:
        raise ValueError(f"{opens}-{closes}")
    return _hhmm(start), _hhmm(end)


# --- reading -------------------------------------------------------------------------------------


def _days(kind: str, match: re.Match) -> tuple[int, ...]:
    if kind == "group":
        return _DAY_GROUPS[match["group"]]
    if kind == "day":
        return (_DAY_OF[match["day"].rstrip(".")],)
    first, last = _DAY_OF[match["first"].rstrip(".")], _DAY_OF[match["last"].rstrip(".")]
    return tuple((first + step) % 7 for step in range((last - first) % 7 + 1))


def _tokens(text: str) -> list[tuple[str, object]] | None:
    """("days", (0, 1)), ("spans", [("09:00", "17:00")]), ("closed", None); None if unreadable."""
    tokens: list[tuple[str, object]] = []
    position = 0
    while position < len(text):
        match = _TOKENS.match(text, position)
        if match is None or match.end() == position:
            return None
        position = match.end()
        kind = match.lastgroup
        if kind in ("opens", "closes", "first", "last"):  # the inner groups of span/dayrange
            kind = "span" if match["span"] else "dayrange"
        if kind == "filler":
            continue
        if kind == "allday":
            tokens.append(("spans", [ALL_DAY_SPAN]))
        elif kind == "span":
            try:
                tokens.append(("spans", [_span(match["opens"], match["closes"])]))
            except ValueError:
                return None
        elif kind == "closed":
            tokens.append(("closed", None))
        else:
            tokens.append(("days", _days(kind, match)))
    return tokens


def _groups(tokens: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """Runs of the same kind joined: "Mon, Wed, Fri" is one set of days, "9-12, 1-5" two spans."""
    groups: list[tuple[str, object]] = []
    for kind, value in tokens:
        if groups and groups[-1][0] == kind and kind != "closed":
            previous = groups[-1][1]
            groups[-1] = (kind, [*previous, *value])  # type: ignore[misc]
        else:
            groups.append((kind, list(value) if isinstance(value, tuple | list) else value))
    return groups


def read_hours_text(text: str | None) -> list[Period] | None:
    """The periods a text of opening hours states, or None when it can't be read whole."""
    if not text or not text.strip():
        return None
    tokens = _tokens(_normalize(text))
    if not tokens:
        return None
    periods: list[Period] = []
    pending_days: tuple[int, ...] | None = None
    pending_spans: list | None = None
    pending_closed = False
    for kind, value in _groups(tokens):
        if kind == "days":
            days = tuple(sorted(set(value)))  # type: ignore[arg-type]
            if pending_closed:
                periods.append(Period(days, ()))
                pending_closed = False
            elif pending_spans is not None:
                periods.append(Period(days, tuple(pending_spans)))
                pending_spans = None
            elif pending_days is not None:
                return None
            else:
                pending_days = days
        elif kind == "spans":
            if pending_days is not None:
                periods.append(Period(pending_days, tuple(value)))  # type: ignore[arg-type]
                pending_days = None
            elif pending_spans is not None or pending_closed:
                return None
            else:
                pending_spans = list(value)  # type: ignore[arg-type]
        else:  # closed
            if pending_days is not None:
                periods.append(Period(pending_days, ()))
                pending_days = None
            elif pending_closed:
                return None
            else:
                pending_closed = True
    if pending_days is not None:
        return None  # days with no hours: "Mon-Fri" says nothing about when
    if pending_closed:
        periods.append(Period(None, ()))
    if pending_spans is not None:
        periods.append(Period(_unstated_days(periods, pending_spans), tuple(pending_spans)))
    return periods


def _unstated_days(periods: list[Period], spans: list) -> tuple[int, ...] | None:
    """Days for times stated without days: the days not said closed ("9-5, closed weekends"),
    every day for "24 hours"; else unknown."""
    closed = {d for p in periods if p.closed and p.days for d in p.days}
    if closed:
        return tuple(d for d in ALL_DAYS if d not in closed)
    if spans == [ALL_DAY_SPAN]:
        return ALL_DAYS
    return None
