"""Reading the messy values real HSDS exports contain: ids, times, weekdays, dates, languages.

Web addresses, emails, phone numbers, US states and ZIP codes follow `directory.normalize`, the
rules the pages and the API use too; the parsers here only turn its errors into `BadValue`.

Plain functions without a database, so each rule is tested on its own. Every function either
returns a clean value or raises `BadValue` with a message a person can act on.
"""

import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache, wraps
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as date_parser

from directory import languages, normalize
from directory.hours import DAY_CODES, parse_time, parse_weekday
from directory.models import ServiceStatus


class BadValue(ValueError):
    """A value that can't be read, with a message naming the value."""


# Fixed namespace for the ids of records whose source ids are not UUIDs. Never change it: every
# database that imported a package would see its records as new ones.
IMPORT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://wraparound.invalid/hsds-import")

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EMPTY_WORDS = {"null", "none", "n/a", "na", "nil", "#n/a"}
_SPREADSHEET_INTEGER = re.compile(r"\d+\.0+")


def blank(value: Any) -> bool:
    """True for None, empty or whitespace text, and the placeholders spreadsheets write ("NULL")."""
    if value is None:
        return True
    if isinstance(value, str):
        text = value.strip()
        return not text or text.lower() in _EMPTY_WORDS
    return False


# C0 and C1 control characters but tab and newline (CR becomes a newline): exports carry NUL
# bytes (which PostgreSQL refuses), bells and escapes from old systems; none is text people read.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CARRIAGE_RETURN = re.compile(r"\r\n?")


def has_controls(text: str) -> bool:
    """Whether `text` holds a character `strip_controls` would change (fast for plain text)."""
    return not text.isprintable() and ("\r" in text or _CONTROLS.search(text) is not None)


def strip_controls(text: str) -> str:
    """`text` without control characters other than tab and newline; CR and CRLF become newlines."""
    return _CONTROLS.sub("", _CARRIAGE_RETURN.sub("\n", text))


def clean_cell(text: str) -> tuple[str, bool]:
    """A text cell of a package with its control characters stripped (`strip_controls`), and
    whether any were there to report (a CR becoming a newline is not worth a warning)."""
    if text.isprintable() or not has_controls(text):
        return text, False
    return strip_controls(text), _CONTROLS.search(text) is not None


def clean_text(value: Any) -> str | None:
    """Text without surrounding spaces; None when blank. Numbers and booleans become text.
    Control characters are stripped (`strip_controls`): none reaches the database."""
    if value is None:
        return None
    if type(value) is str:  # the common case, kept fast: imports call this millions of times
        text = value.strip()
        if not text.isprintable() and has_controls(text):
            text = strip_controls(text).strip()
        return None if not text or (len(text) < 5 and text.lower() in _EMPTY_WORDS) else text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        raise BadValue("a nested object where text was expected")
    return str(value).strip()


def source_id_text(value: Any) -> str | None:
    """A source id as text: stripped, with spreadsheet damage ("12.0") undone; None when blank."""
    text = clean_text(value)
    if text is None:
        return None
    if _SPREADSHEET_INTEGER.fullmatch(text):
        text = text.split(".")[0]
    return text


def as_uuid(text: str) -> uuid.UUID | None:
    """The UUID a source id spells, or None when it is some other kind of id (12, "ORG-7")."""
    return uuid.UUID(text) if _UUID.match(text) else None


class IdMapper:
    """Our id for a source id: UUIDs are kept; other ids become uuid5 of dataset, table and id.

    The same package imported again maps to the same ids, so records update instead of doubling.
    """

    def __init__(self, dataset: str):
        self.dataset = dataset
        self._derived: dict[tuple[str, str], uuid.UUID] = {}
        self._kept: dict[uuid.UUID, uuid.UUID] = {}  # one object per UUID: a package names
        # each service in services.csv, service_at_locations.csv, phones.csv...

    def __call__(self, table: str, value: Any) -> uuid.UUID | None:
        text = source_id_text(value)
        if text is None:
            return None
        return self.of(table, text)

    def of(self, table: str, text: str) -> uuid.UUID:
        """Our id for a non-blank source id (already cleaned by source_id_text)."""
        kept = as_uuid(text)
        if kept is None:
            return self.derived(table, text)
        return self._kept.setdefault(kept, kept)

    def derived(self, table: str, key: str) -> uuid.UUID:
        """A stable id for a record known by `key` within its table and this dataset."""
        found = self._derived.get((table, key))
        if found is None:
            found = uuid.uuid5(IMPORT_NAMESPACE, f"{self.dataset}:{table}:{key}")
            self._derived[(table, key)] = found
        return found


# --- numbers, dates, booleans -------------------------------------------------------------------

_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)$")


def parse_decimal(value: Any) -> Decimal:
    """A decimal from 12, "12.5", " $35.00 ", "1,200"."""
    if isinstance(value, bool):
        raise BadValue(f"{value!r} is not a number")
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    text = str(value).strip().replace(",", "").replace("$", "").replace("£", "").replace("€", "")
    if not _NUMBER.match(text):
        raise BadValue(f"{value!r} is not a number")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise BadValue(f"{value!r} is not a number") from None


def parse_int(value: Any) -> int:
    """A whole number from 3, "3", "3.0"."""
    number = parse_decimal(value)
    if number != number.to_integral_value():
        raise BadValue(f"{value!r} is not a whole number")
    return int(number)


def parse_leading_number(value: Any) -> Decimal:
    """The number an age or amount starts with: "18 years" -> 18, "65+" -> 65."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return Decimal(str(value))
    match = re.match(r"^\s*\$?\s*(\d+(?:\.\d+)?)", str(value))
    if not match:
        raise BadValue(f"{value!r} is not a number")
    return Decimal(match[1])


def parse_date(value: Any) -> date:
    """A calendar date from "2019-12-24", "12/24/2019", "Dec 24, 2019" (US month-first order)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise BadValue(f"{text!r} is not a date") from None
    if not re.search(r"\d", text):
        raise BadValue(f"{text!r} is not a date")
    try:
        return date_parser.parse(text, dayfirst=False, yearfirst=False).date()
    except (ValueError, OverflowError):
        raise BadValue(f"{text!r} is not a date") from None


def parse_datetime(value: Any) -> datetime:
    """An aware UTC datetime from ISO 8601 text ("2023-03-15T10:30:45.123Z") or a date (midnight
    UTC); times without an offset are read as UTC."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        if not re.search(r"\d", text):
            raise BadValue(f"{text!r} is not a date and time")
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                moment = date_parser.parse(text)
            except (ValueError, OverflowError):
                raise BadValue(f"{text!r} is not a date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


_TRUE = {"true", "t", "yes", "y", "1", "closed", "x"}
_FALSE = {"false", "f", "no", "n", "0", "open", ""}


def parse_bool(value: Any) -> bool:
    """True/False from true, "TRUE", "yes", "Y", 1, "closed"."""
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadValue(f"{value!r} is not yes or no")


def parse_year(value: Any) -> int:
    """A year from 1997, "1997", "1997.0", "1997-01-01", "01/01/1997"."""
    text = clean_text(value) or ""
    match = re.fullmatch(r"(\d{4})(\.0+)?", text)
    if match:
        return int(match[1])
    try:
        return parse_date(text).year
    except BadValue:
        raise BadValue(f"{value!r} is not a year") from None


# --- times and weekdays -------------------------------------------------------------------------

_ISO_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$")
ALL_DAY = ("00:00", "23:59")
_ALL_DAY_WORDS = re.compile(
    r"^(open\s+)?(24\s*(hours|hrs|hr|h)(\s*a\s*day)?|24\s*/\s*7|all\s+day)$"
)
_CLOSED_WORDS = {"closed", "close", "none", "not open", "n/a", "-", "no hours"}
_RANGE_SPLIT = re.compile(r"\s*(?:-|–|—|\bto\b|\bthrough\b|\bthru\b|\buntil\b)\s*", re.IGNORECASE)


_ZONE_SUFFIX = re.compile(r"\s*\b(?:[ecmp]|ak|h)[sd]?t\.?$")


def time_text(value: time) -> str:
    """ "09:00": the HH:MM form our schedules store."""
    return f"{value.hour:02d}:{value.minute:02d}"


def is_all_day(text: str) -> bool:
    """ "24 hours", "Open 24 hrs", "24/7", "all day"."""
    return bool(_ALL_DAY_WORDS.match(text.strip().lower()))


def is_closed_word(text: str) -> bool:
    """ "Closed" and the like, written where a time belongs."""
    return text.strip().lower().rstrip(".") in _CLOSED_WORDS


@lru_cache(maxsize=4096, typed=True)  # exports repeat the same few spellings endlessly
def normalize_time(value: Any, *, keep_iso: bool = False) -> str:
    """A schedule time as "HH:MM" from "9:00am", "9 AM", "noon", "5:30 p.m.", "17:00:00".

    With keep_iso, text already in ISO form ("10:00:00", "09:00-05:00") is kept as written, so
    HSDS 3.0 data round-trips unchanged. Raises BadValue for anything else.
    """
    if isinstance(value, time):
        return time_text(value)
    text = clean_text(value)
    if text is None:
        raise BadValue("no time given")
    if keep_iso and _ISO_TIME.match(text):
        try:
            parse_time(text)
        except ValueError as exc:
            raise BadValue(str(exc)) from None
        return text
    try:
        return time_text(parse_time(text))
    except ValueError:
        pass
    compact = re.sub(r"\s+", " ", text.lower()).replace("a.m", "am").replace("p.m", "pm")
    compact = _ZONE_SUFFIX.sub("", compact)  # "9:00 AM EST": the zone is the location's anyway
    try:
        return time_text(parse_time(compact))
    except ValueError:
        raise BadValue(f"{text!r} is not a time") from None


def split_time_range(text: str) -> tuple[str, str] | None:
    """ "9:00am - 5:00pm" -> ("9:00am", "5:00pm"); None when the text is not a range."""
    parts = [p for p in _RANGE_SPLIT.split(text.strip()) if p]
    if len(parts) != 2:
        return None
    return parts[0], parts[1]


_DAY_GROUPS = {
    "daily": list(range(7)),
    "every day": list(range(7)),
    "everyday": list(range(7)),
    "7 days": list(range(7)),
    "7 days a week": list(range(7)),
    "weekdays": list(range(5)),
    "weekends": [5, 6],
    "weekend": [5, 6],
}
_DAY_LETTERS = {"m": 0, "t": 1, "w": 2, "r": 3, "th": 3, "f": 4, "sa": 5, "su": 6, "s": 5}


def _one_day(text: str) -> int:
    key = text.strip().lower().rstrip(".")
    try:
        return parse_weekday(key)
    except ValueError:
        pass
    if key in _DAY_LETTERS:
        return _DAY_LETTERS[key]
    # Plurals as in "Mondays".
    if key.endswith("s"):
        try:
            return parse_weekday(key[:-1])
        except ValueError:
            pass
    raise BadValue(f"{text.strip()!r} is not a day of the week")


@lru_cache(maxsize=4096, typed=True)  # exports repeat the same few spellings endlessly
def parse_weekdays(value: Any) -> tuple[int, ...]:
    """Monday=0 weekdays from 1, "Monday", "Mon", "MO", "Mon-Fri", "Monday, Wednesday", "weekdays".

    Numbers follow HSDS 1.x (1 = Monday ... 7 = Sunday; 0 is read as Sunday).
    """
    if isinstance(value, bool):
        raise BadValue(f"{value!r} is not a day of the week")
    if isinstance(value, int | float):
        value = str(int(value)) if float(value).is_integer() else str(value)
    text = clean_text(value)
    if text is None:
        raise BadValue("no weekday given")
    lowered = re.sub(r"\s+", " ", text.lower())
    if lowered in _DAY_GROUPS:
        return tuple(_DAY_GROUPS[lowered])
    try:
        days = _days_in(lowered)
    except BadValue:
        raise BadValue(f"{text!r} is not a day of the week") from None
    if not days:
        raise BadValue(f"{text!r} is not a day of the week")
    return tuple(sorted(set(days)))


def _days_in(lowered: str) -> list[int]:
    days: list[int] = []
    for part in re.split(r"\s*(?:,|;|/|&|\band\b)\s*", lowered):
        if not part:
            continue
        if part in _DAY_GROUPS:
            days.extend(_DAY_GROUPS[part])
            continue
        ends = [p for p in _RANGE_SPLIT.split(part) if p]
        if len(ends) == 2:
            first, last = _one_day(ends[0]), _one_day(ends[1])
            span = (last - first) % 7
            days.extend((first + step) % 7 for step in range(span + 1))
        elif len(ends) == 1:
            days.append(_one_day(ends[0]))
        else:
            raise BadValue(f"{part!r} is not a day of the week")
    return days


def byday_text(days: Iterable[int]) -> str:
    """ "MO,TU,WE" from Monday=0 weekday numbers."""
    return ",".join(DAY_CODES[d] for d in sorted(set(days)))


_BYDAY_TOKEN = re.compile(r"^([+-]?\d)?(MO|TU|WE|TH|FR|SA|SU)$")


@lru_cache(maxsize=4096, typed=True)  # exports repeat the same few spellings endlessly
def normalize_byday(value: Any) -> str:
    """An RFC 5545 BYDAY list ("MO,WE", "1SA", "-1FR"); day names are turned into codes."""
    text = clean_text(value)
    if text is None:
        raise BadValue("no days given")
    tokens = [t.strip().upper() for t in re.split(r"[,\s]+", text) if t.strip()]
    if tokens and all(_BYDAY_TOKEN.match(t) for t in tokens):
        return ",".join(tokens)
    return byday_text(parse_weekdays(text))


# --- places, languages, phones ------------------------------------------------------------------

US_STATES = {
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY", "PR", "VI", "GU", "AS", "MP",
}  # fmt: skip

_COUNTRY_NAMES = {
    "usa": "US", "u.s.": "US", "u.s.a.": "US", "united states": "US",
    "united states of america": "US", "america": "US", "can": "CA", "canada": "CA",
    "mex": "MX", "mexico": "MX", "puerto rico": "PR", "gbr": "GB", "united kingdom": "GB",
    "uk": "GB", "england": "GB",
}  # fmt: skip


def normalize_country(value: Any) -> str:
    """An ISO 3166-1 alpha-2 code from "us", "USA", "United States"."""
    text = clean_text(value)
    if text is None:
        raise BadValue("no country given")
    key = text.lower().strip()
    if key in _COUNTRY_NAMES:
        return _COUNTRY_NAMES[key]
    if re.fullmatch(r"[a-z]{2}", key):
        return key.upper()
    raise BadValue(f"country {text!r} is not a two-letter ISO 3166 code")


# Bounding boxes (min lat, max lat, min lon, max lon) of the United States and its territories.
_US_BOXES = (
    (17.5, 72.0, -180.0, -64.0),  # states, Alaska, Hawaii, Puerto Rico, Virgin Islands
    (51.0, 55.0, 172.0, 180.0),  # the western Aleutians
    (13.0, 21.0, 144.0, 146.5),  # Guam, Northern Mariana Islands
    (-14.8, -11.0, -171.5, -168.0),  # American Samoa
)


def in_united_states(latitude: float, longitude: float) -> bool:
    """Whether a point falls within the United States or its territories (roughly)."""
    return any(a <= latitude <= b and c <= longitude <= d for a, b, c, d in _US_BOXES)


def split_languages(value: Any) -> list[str]:
    """ "en, es" / "English; Spanish" / "English and Spanish" -> one entry each."""
    text = clean_text(value)
    if text is None:
        return []
    return [p.strip() for p in re.split(r"\s*(?:,|;|/|\||\band\b)\s*", text) if p.strip()]


# What 211 exports write in a language cell that is no language: a note on interpretation.
_INTERPRETATION_NOTE = re.compile(
    r"\b(interpret\w*|translat\w*|language\s*line|upon\s+request|on\s+request|by\s+request"
    r"|others?\b|all\s+languages|any\s+language|other\s+languages|multiple\s+languages"
    r"|as\s+needed|if\s+needed|available)\b",
    re.IGNORECASE,
)


def is_interpretation_note(text: str) -> bool:
    """ "Others available upon request", "All languages via interpreter", "Interpretation
    available": a note about interpretation (HSDS service.interpretation_services), not a
    language."""
    return bool(_INTERPRETATION_NOTE.search(text))


def languages_and_notes(value: Any) -> tuple[list[str], list[str]]:
    """A language cell split into languages and interpretation notes: "English, Spanish; French"
    -> three languages; "Spanish, others via interpreter" -> Spanish and a note; a cell with no
    known language in it ("Others available upon request") -> one note, as written."""
    text = clean_text(value)
    if text is None:
        return [], []
    if is_interpretation_note(text) and not any(
        not is_interpretation_note(part) and language_fields(part)["code"]
        for part in split_languages(text)
    ):
        return [], [text]
    names, notes = [], []
    for part in split_languages(text):
        (notes if is_interpretation_note(part) else names).append(part)
    return names, notes


def language_fields(value: str) -> dict[str, str | None]:
    """HSDS language name and code from either: "es" -> Spanish/es, "Spanish" -> Spanish/es."""
    text = value.strip()
    key = text.lower()
    if code := languages.code_for(text):  # the one table search and the filters read
        return {"name": languages.name(code), "code": code}
    base = key.split("-")[0].split("_")[0]
    if base in languages.LANGUAGES and len(key) <= 10:  # a region tag: "es-MX"
        return {"name": languages.name(base), "code": key}
    return {"name": text, "code": None}


def _normalized(rule: Callable[[str], str], value: Any) -> str | None:
    text = clean_text(value)
    if text is None:
        return None
    try:
        return rule(text)
    except normalize.InvalidValue as exc:
        raise BadValue(str(exc)) from None


def parse_web_url(value: Any) -> str | None:
    """A web address: "www.x.org" -> "https://www.x.org"; BadValue when it can't be one."""
    return _normalized(normalize.url, value)


def parse_uri(value: Any) -> str | None:
    """An identifier URI ("urn:...", or a web address made absolute like parse_web_url)."""
    return _normalized(lambda text: normalize.url(text, web=False), value)


def parse_email(value: Any) -> str | None:
    """An email address, "mailto:" trimmed; BadValue when it isn't one."""
    return _normalized(normalize.email, value)


def parse_extension(value: Any) -> int:
    """A phone extension from 42, "42", "x42", "ext. 42"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return parse_int(value)
    digits = re.sub(r"^\s*(ext\.?|extension|x|#)\s*", "", str(value).strip(), flags=re.IGNORECASE)
    if not re.fullmatch(r"\d{1,9}(\.0+)?", digits):
        raise BadValue(f"extension {value!r} is not a number")
    return int(digits.split(".")[0])


def parse_utc_offset(value: Any) -> Decimal:
    """An HSDS schedule timezone (hours from UTC) from -5, "-5", "-05:00", "UTC-5"."""
    text = (clean_text(value) or "").upper().replace("UTC", "").replace("GMT", "").strip()
    match = re.fullmatch(r"([+-])?(\d{1,2})(?::?(\d{2}))?(\.\d+)?", text)
    if not match:
        raise BadValue(f"timezone {value!r} is not a UTC offset in hours")
    if match[4]:
        hours = Decimal(match[2] + match[4])
    else:
        hours = Decimal(match[2]) + Decimal(match[3] or 0) / 60
    hours = -hours if match[1] == "-" else hours
    if not -14 <= hours <= 14:
        raise BadValue(f"timezone {value!r} is not between -14 and +14 hours")
    return hours.quantize(Decimal("0.01"))


# --- HSDS fields with a fixed form; each gives None for a blank value ---------------------------

_CENTS = Decimal("0.01")

# The HSDS words themselves, then the other words exports use for them.
_STATUS = {status.value: status for status in ServiceStatus} | {
    "open": ServiceStatus.active,
    "deleted": ServiceStatus.inactive,
    "hidden": ServiceStatus.inactive,
    "closed": ServiceStatus.defunct,
    "permanently closed": ServiceStatus.defunct,
    "temporarily_closed": ServiceStatus.temporarily_closed,
    "temporarily-closed": ServiceStatus.temporarily_closed,
    "temp closed": ServiceStatus.temporarily_closed,
    "suspended": ServiceStatus.temporarily_closed,
}


T = TypeVar("T")


def _blank_is_none(parse: Callable[[str], T]) -> Callable[[Any], T | None]:
    """A field parser from a parser of its cleaned text: a blank field is None, never an error."""

    @wraps(parse)
    def parse_field(value: Any) -> T | None:
        text = clean_text(value)
        return None if text is None else parse(text)

    return parse_field


@_blank_is_none
def parse_status(text: str) -> str:
    """A service status from the words exports use ("open", "deleted", "temp closed")."""
    key = " ".join(text.lower().split())
    if key not in _STATUS:
        raise BadValue(f"{text!r} is not one of {', '.join(ServiceStatus)}")
    return _STATUS[key].value


def one_of(*allowed: str) -> Callable[[Any], str | None]:
    """A parser for a field with a fixed list of values, in any case, with - or _ for spaces."""

    @_blank_is_none
    def parse(text: str) -> str:
        key = text.lower().replace("-", "_").replace(" ", "_")
        for option in allowed:
            if key == option.replace(" ", "_"):
                return option
        raise BadValue(f"{text!r} is not one of {', '.join(allowed)}")

    return parse


@_blank_is_none
def parse_freq(text: str) -> str:
    """A schedule freq: WEEKLY or MONTHLY (DAILY is read as WEEKLY on every day)."""
    key = text.upper()
    if key == "DAILY":
        return "WEEKLY"  # with no byday, a weekly schedule is every day
    if key not in ("WEEKLY", "MONTHLY"):
        raise BadValue(f"freq {text!r} is not WEEKLY or MONTHLY")
    return key


@_blank_is_none
def parse_wkst(text: str) -> str:
    """A schedule wkst: one day code ("MO")."""
    code = normalize_byday(text)
    if "," in code or len(code) != 2:
        raise BadValue(f"wkst {text!r} is not one day")
    return code


def parse_schedule_time(value: Any) -> str | None:
    """A schedule opens_at or closes_at, ISO times kept as written."""
    return None if clean_text(value) is None else normalize_time(value, keep_iso=True)


@_blank_is_none
def parse_tz_name(text: str) -> str:
    """An IANA time zone name ("America/New_York")."""
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadValue(f"{text!r} is not an IANA time zone") from None
    return text


def parse_age(value: Any) -> Decimal | None:
    """An age in years, to the hundredth ("18 years" -> 18.00)."""
    if clean_text(value) is None:
        return None
    age = parse_leading_number(value).quantize(_CENTS, ROUND_HALF_UP)
    if not 0 <= age < 1000:
        raise BadValue(f"age {value!r} is out of range")
    return age


def parse_plausible_year(value: Any) -> int | None:
    """A year between 1500 and 2100 (a year of incorporation)."""
    if clean_text(value) is None:
        return None
    year = parse_year(value)
    if not 1500 <= year <= 2100:
        raise BadValue(f"year {value!r} is out of range")
    return year


@_blank_is_none
def parse_currency(text: str) -> str:
    """An ISO 4217 currency code from "USD", "usd" or "$"."""
    symbols = {"$": "USD", "us$": "USD", "usd": "USD", "£": "GBP", "€": "EUR"}
    code = symbols.get(text.lower(), text.upper())
    if len(code) != 3 or not code.isalpha():
        raise BadValue(f"currency {text!r} is not a three-letter code")
    return code


def parse_amount(value: Any) -> Decimal | None:
    """An amount of money, to the cent; "free" is 0."""
    text = clean_text(value)
    if text is None:
        return None
    if text.lower() in ("free", "no cost", "no charge"):
        return Decimal(0)
    amount = parse_decimal(value).quantize(_CENTS, ROUND_HALF_UP)
    if abs(amount) >= 10**10:
        raise BadValue(f"amount {value!r} is too large")
    return amount
