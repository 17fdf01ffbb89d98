"""Contact values as a directory user expects them: web addresses, emails, phone numbers, US
states and ZIP codes. One rule each, shared by the HSDS importer, the HSDS API (which publishes
only valid values) and the pages, and by the listing-edit form to come.

Each function takes the text as people and exports write it and returns the clean form, or
raises `InvalidValue` with a message naming the value. Phone numbers are the exception: one that
can't be read is kept as written (a person can still read it), so `phone` returns the problem
with the value instead of raising.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from urllib.parse import quote, urlsplit

import phonenumbers
from flask import current_app, has_app_context
from phonenumbers import PhoneNumberFormat, shortnumberinfo

from geo.places import US_STATES as _STATE_CODES


class InvalidValue(ValueError):
    """A value that can't be used, with a message naming it."""


# --- web addresses ------------------------------------------------------------------------------

# RFC 3986 absolute URI, from its ABNF (scheme ":" hier-part ["?" query] ["#" fragment]).
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|{_PCT})"
_URI = re.compile(
    rf"""[A-Za-z][A-Za-z0-9+.\-]*:
    (?: //(?:(?:[A-Za-z0-9\-._~!$&'()*+,;=:]|{_PCT})*@)?
          (?:\[[0-9A-Fa-f:.vV]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|{_PCT})*)
          (?::[0-9]*)?
          (?:/{_PCHAR}*)*
      | /(?:{_PCHAR}+(?:/{_PCHAR}*)*)?
      | {_PCHAR}+(?:/{_PCHAR}*)*
      | )
    (?:\?(?:{_PCHAR}|[/?])*)?
    (?:\#(?:{_PCHAR}|[/?])*)?""",
    re.VERBOSE,
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_TYPO_SCHEME = re.compile(r"^(https?)(?::/|//|:\\\\|:(?=[^/]))(?=[^/])", re.IGNORECASE)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_SAFE_IN_PATH = "!$&'()*+,;=:@/~-._%"  # RFC 3986 pchar and "/", plus % (kept when it encodes)
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def is_uri(text: str) -> bool:
    """Whether the text is an absolute URI by RFC 3986 ("https://a.org/x", "urn:isbn:1")."""
    return bool(_URI.fullmatch(text))


def _host(name: str, value: str) -> str:
    """A dotted host name in ASCII ("Café.example" -> "xn--caf-dma.example"), or refused."""
    host = name.rstrip(".").lower()
    if _IPV4.match(host):
        if all(int(part) <= 255 for part in host.split(".")):
            return host
        raise InvalidValue(f"{value!r} has no valid host")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidValue(f"{value!r} has no valid host") from None
    labels = host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidValue(f"{value!r} has no valid host name (like example.org)")
    top = labels[-1]
    if not (top.isalpha() and len(top) >= 2) and not top.startswith("xn--"):
        raise InvalidValue(f"{value!r} has no valid host name (like example.org)")
    return host


def _encoded(part: str, also_safe: str = "") -> str:
    """A path, query or fragment with what RFC 3986 forbids (spaces, quotes) percent-encoded."""
    return _LONE_PERCENT.sub("%25", quote(part, safe=_SAFE_IN_PATH + also_safe))


@lru_cache(maxsize=4096)
def url(value: str, *, web: bool = True) -> str:
    """An absolute web address from what exports hold: "www.x.org" -> "https://www.x.org".

    https:// is added unless a scheme is given; the result is an RFC 3986 URI with a dotted
    host. With web=False (identifiers such as a taxonomy term's URI) other schemes are kept when
    the URI is valid ("urn:...").
    """
    text = value.strip().strip("<>\"'").strip().replace("\\", "/")
    if not text:
        raise InvalidValue("no web address given")
    text = _TYPO_SCHEME.sub(lambda m: m[1] + "://", text)  # "http//x.org", "http:/x.org"
    scheme = _SCHEME.match(text)
    if text.startswith("//"):
        text = "https:" + text
    elif scheme is None or "." in scheme[1]:  # "www.x.org:8080/a" has a port, not a scheme
        text = "https://" + text
    elif scheme[1].lower() not in ("http", "https"):
        if not web and is_uri(text):
            return text
        raise InvalidValue(f"{value!r} is not a web address (http or https)")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidValue(f"{value!r} is not a web address") from None
    if not parts.hostname or any(ch.isspace() for ch in parts.netloc):
        raise InvalidValue(f"{value!r} is not a web address")
    netloc = _host(parts.hostname, value)
    if port is not None:
        netloc += f":{port}"
    if "@" in parts.netloc:
        netloc = _encoded(parts.netloc.rpartition("@")[0]).replace("/", "%2F") + "@" + netloc
    result = f"{parts.scheme.lower()}://{netloc}{_encoded(parts.path)}"
    if parts.query:
        result += "?" + _encoded(parts.query, "?")
    if parts.fragment:
        result += "#" + _encoded(parts.fragment, "?")
    if not is_uri(result):
        raise InvalidValue(f"{value!r} is not a web address")
    return result


def _or_none(read: Callable[[str], str], value: str | None) -> str | None:
    """`read(value)` for a stored value, None when it is blank or can't be read."""
    if not value or not value.strip():
        return None
    try:
        return read(value)
    except InvalidValue:
        return None


def web_url(value: str | None) -> str | None:
    """A stored link safe to publish or put in href (http or https only); None if it isn't one."""
    return _or_none(url, value)


def published_uri(value: str | None) -> str | None:
    """A stored URI as the HSDS API may publish it (format "uri"); None when it is not one."""
    return _or_none(partial(url, web=False), value)


# --- email --------------------------------------------------------------------------------------

_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_BRACKETED = re.compile(r"<([^<>]+)>")


@lru_cache(maxsize=4096)
def email(value: str) -> str:
    """An email address from "mailto:Info@X.org", "Intake <intake@x.org>": one @, a dotted
    domain, no spaces. A cell with several addresses keeps the first (HSDS has one field)."""
    text = value.strip()
    bracketed = _BRACKETED.search(text)
    if bracketed:
        text = bracketed[1].strip()
    text = re.sub(r"^mailto:", "", text, flags=re.IGNORECASE).split("?")[0]
    candidates = [part for part in re.split(r"[,;\s]+", text) if part]
    if not candidates:
        raise InvalidValue("no email address given")
    text = candidates[0].strip(".")
    local, at, domain = text.rpartition("@")
    if not at or "@" in local or not _LOCAL_PART.match(local):
        raise InvalidValue(f"{value!r} is not an email address")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidValue(f"{value!r} is not an email address")
    try:
        domain = _host(domain, value)
    except InvalidValue:
        raise InvalidValue(f"{value!r} is not an email address") from None
    if _IPV4.match(domain):
        raise InvalidValue(f"{value!r} is not an email address")
    return f"{local}@{domain}"


def valid_email(value: str | None) -> str | None:
    """A stored email safe to publish or put in mailto:; None when it isn't one."""
    return _or_none(email, value)


# --- phone numbers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phone:
    """A phone number as we store it, its extension, the tel: URI to call it, and what's wrong
    with it when it could not be read (it is then kept as written)."""

    number: str
    extension: int | None = None
    tel: str | None = None
    problem: str | None = None


_TEL_PREFIX = re.compile(r"^\s*tel:\s*", re.IGNORECASE)
_EXTENSION = re.compile(
    r"\s*[,;]?\s*(?:;?ext=|ext\.?|extension|x|#)\s*:?\s*(\d{1,9})\s*$", re.IGNORECASE
)
_DIGITS_ONLY = re.compile(r"^[\d\s().+\-/]+$")
_VANITY = re.compile(r"^[+\d\s().\-]*[A-Za-z]{2,}[A-Za-z\d\s().\-]*$")
_VANITY_WITH_DIGITS = re.compile(r"^(.*?[A-Za-z][A-Za-z\d\-]*)\s*\((\d+)\)\s*$")


def phone_region() -> str:
    """The region numbers without a country code are read in (DEFAULT_PHONE_REGION, else US)."""
    if has_app_context():
        return current_app.config.get("DEFAULT_PHONE_REGION") or "US"
    return "US"


def _format(parsed: phonenumbers.PhoneNumber, region: str) -> str:
    home = phonenumbers.region_code_for_number(parsed) == region or (
        parsed.country_code == phonenumbers.country_code_for_region(region)
    )
    style = PhoneNumberFormat.NATIONAL if home else PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(parsed, style)


def _tel(parsed: phonenumbers.PhoneNumber) -> str:
    return "tel:" + phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def _parsed(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


@lru_cache(maxsize=8192)
def phone(value: str, region: str = "US") -> Phone:
    """A phone number from "315.555.0100 x12", "1 (315) 555-0100", "+44 20 7946 0958", "211",
    "1-800-FLOWERS", "1-800-273-TALK (8255)".

    Numbers are formatted the national way for `region` ("(315) 555-0100"), the international
    way otherwise; an extension in the text comes out as `extension`. Short numbers (211, 988)
    and vanity numbers are kept as written, with a tel: URI that dials them. Anything else is
    kept as written, with the reason in `problem`, and a tel: URI when one number can be found.
    """
    text = " ".join(_TEL_PREFIX.sub("", value).split())
    if not text:
        raise InvalidValue("no phone number given")
    extension = None
    found = _EXTENSION.search(text)
    if found and found.start() > 0:
        extension, text = int(found[1]), text[: found.start()].rstrip(" ,;")
    if _DIGITS_ONLY.match(text):
        digits = re.sub(r"\D", "", text)
        if len(digits) <= 6:
            parsed = _parsed(digits, region)
            if parsed and shortnumberinfo.is_valid_short_number_for_region(parsed, region):
                return Phone(digits, extension, f"tel:{digits}")
        parsed = _parsed(text, region)
        if parsed is not None and phonenumbers.is_valid_number(parsed):
            return Phone(_format(parsed, region), extension, _tel(parsed))
    if _VANITY.match(text):
        dialled = text
        with_digits = _VANITY_WITH_DIGITS.match(text)
        if with_digits:  # "1-800-273-TALK (8255)": the digits spell the word
            letters = re.search(r"[A-Za-z]+$", with_digits[1])
            if letters:
                dialled = with_digits[1][: letters.start()] + with_digits[2]
        parsed = _parsed(phonenumbers.convert_alpha_characters_in_number(dialled), region)
        if parsed is not None and phonenumbers.is_valid_number(parsed):
            return Phone(text.upper(), extension, _tel(parsed))
    written = text  # as written, less an extension read above
    matches = list(phonenumbers.PhoneNumberMatcher(written, region))
    if len(matches) == 1:  # "Main: (315) 555-0100": words around one number
        number = matches[0].number
        if number.extension and extension is None:
            extension = int(number.extension)
        return Phone(written, extension, _tel(number), f"{written!r} has words besides the number")
    if matches:
        return Phone(written, extension, None, f"{written!r} holds {len(matches)} numbers")
    if not re.search(r"\d", written):
        return Phone(written, extension, None, f"{written!r} is not a phone number")
    return Phone(written, extension, None, f"{written!r} is not a complete phone number")


def tel_uri(number: str | None, extension: int | None, region: str | None = None) -> str | None:
    """The tel: URI that dials a stored number (E.164, ";ext=" for an extension); None when the
    number can't be dialled as written."""
    if not number or not number.strip():
        return None
    try:
        read = phone(number, region or phone_region())
    except InvalidValue:
        return None
    if read.tel is None:
        return None
    extension = extension if extension is not None else read.extension
    if extension is not None and read.tel[4:].startswith("+"):
        return f"{read.tel};ext={extension}"
    return read.tel


# --- US states and ZIP codes ---------------------------------------------------------------------

_STATES = set(_STATE_CODES.values())
# Traditional and AP abbreviations that show up in exports typed by hand.
_STATE_ABBREVIATIONS = {
    "ala": "AL", "ariz": "AZ", "ark": "AR", "calif": "CA", "cal": "CA", "colo": "CO",
    "conn": "CT", "del": "DE", "fla": "FL", "ill": "IL", "ind": "IN", "kan": "KS",
    "kans": "KS", "mass": "MA", "mich": "MI", "minn": "MN", "miss": "MS", "mont": "MT",
    "neb": "NE", "nebr": "NE", "nev": "NV", "okla": "OK", "ore": "OR", "oreg": "OR",
    "penn": "PA", "penna": "PA", "tenn": "TN", "tex": "TX", "wash": "WA", "wis": "WI",
    "wisc": "WI", "wyo": "WY", "wva": "WV", "wash dc": "DC", "washington dc": "DC",
    "new york state": "NY", "state of new york": "NY",
}  # fmt: skip


@lru_cache(maxsize=1024)
def us_state(value: str) -> str:
    """A US state's two-letter code from "New York", "new york", "N.Y.", "ny", "Calif."."""
    key = re.sub(r"[.\s]+", " ", value.replace(".", ". ")).strip().lower()
    squeezed = key.replace(" ", "")
    if len(squeezed) == 2 and squeezed.upper() in _STATES:
        return squeezed.upper()
    found = _STATE_CODES.get(key) or _STATE_ABBREVIATIONS.get(key)
    found = found or _STATE_ABBREVIATIONS.get(squeezed)
    if found is None:
        raise InvalidValue(f"{value.strip()!r} is not a US state")
    return found


_ZIP = re.compile(r"^(\d{3,5})(?:\.0+)?(?:\s*[-\s]\s*(\d{4}))?-?$")


def us_zip(value: str) -> str:
    """A US ZIP code, ZIP+4 kept: "13202", "13202-1234", "132021234" and "13202 1234" ->
    "13202-1234"; a code that lost its leading zeros in a spreadsheet ("7102") is padded."""
    text = value.strip()
    if re.fullmatch(r"\d{8,9}", text):
        text = f"{text[:-4]}-{text[-4:]}"
    match = _ZIP.match(text)
    if match is None:
        raise InvalidValue(f"{value.strip()!r} is not a US ZIP code")
    code = match[1].zfill(5)
    return f"{code}-{match[2]}" if match[2] else code
