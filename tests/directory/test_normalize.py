"""The contact-value rules (directory.normalize) on the messy forms real 211 exports hold."""

import pytest
from flask import Flask

from directory import normalize
from directory.normalize import InvalidValue

# --- web addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("www.example.org", "https://www.example.org"),
        ("example.org", "https://example.org"),
        (" example.org/food ", "https://example.org/food"),
        ("http://example.org", "http://example.org"),  # a scheme given is kept
        ("HTTPS://Example.ORG/Pantry?day=Mon#hours", "https://example.org/Pantry?day=Mon#hours"),
        ("www.example.org/food pantry", "https://www.example.org/food%20pantry"),
        ("www.example.org/a%20b", "https://www.example.org/a%20b"),  # not encoded twice
        ("www.example.org/100%", "https://www.example.org/100%25"),
        ("http//example.org", "http://example.org"),
        ("https:/example.org/x", "https://example.org/x"),
        ("http:\\\\example.org", "http://example.org"),
        ("//cdn.example.org/x", "https://cdn.example.org/x"),
        ("www.example.org:8080/a", "https://www.example.org:8080/a"),  # a port, not a scheme
        ("<https://example.org>", "https://example.org"),
        ("example.org.", "https://example.org"),
        ("facebook.com/HopePantry", "https://facebook.com/HopePantry"),
        ("Café.example/menu", "https://xn--caf-dma.example/menu"),
    ],
)
def test_web_addresses_get_a_scheme_and_become_absolute_uris(written, expected):
    assert normalize.url(written) == expected
    assert normalize.is_uri(expected)
    assert normalize.url(expected) == expected  # stable: normalising twice changes nothing


@pytest.mark.parametrize(
    "written",
    [
        "n/a",
        "none",
        "localhost",
        "Call for info",
        "http://exa mple.org",
        "ftp://example.org",
        "mailto:info@example.org",
        "javascript:alert(1)",
        "http://999.1.1.1",
        "https://example.org:99999",
        "www.example.123",
        "-bad-.example.org",
    ],
)
def test_what_is_no_web_address_is_refused(written):
    with pytest.raises(InvalidValue):
        normalize.url(written)
    assert normalize.web_url(written) is None


def test_identifier_uris_may_have_other_schemes():
    assert normalize.url("urn:isbn:0451450523", web=False) == "urn:isbn:0451450523"
    assert normalize.url("example.org/tax/F-1", web=False) == "https://example.org/tax/F-1"
    assert normalize.published_uri("www.example.org") == "https://www.example.org"
    assert normalize.published_uri("not a uri") is None
    assert normalize.published_uri("") is None


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("https://example.org/a?b=c#d", True),
        ("urn:isbn:1", True),
        ("mailto:a@example.org", True),
        ("www.example.org", False),
        ("example.org", False),
        ("https://example.org/a b", False),
        ("https://example.org/<x>", False),
        ("1http://example.org", False),
    ],
)
def test_rfc_3986_absolute_uri_check(text, valid):
    assert normalize.is_uri(text) is valid


# --- email --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("info@hope.example", "info@hope.example"),
        (" info@hope.example ", "info@hope.example"),
        ("mailto:Info@Hope.EXAMPLE", "Info@hope.example"),  # domain lower-cased, not the name
        ("MAILTO:intake@example.org?subject=Help", "intake@example.org"),
        ("Intake Desk <intake@example.org>", "intake@example.org"),
        ("first.last+food@sub.example.co.uk", "first.last+food@sub.example.co.uk"),
        ("a@example.org; b@example.org", "a@example.org"),  # HSDS has one email: the first
        ("info@example.org.", "info@example.org"),  # the full stop of a sentence
    ],
)
def test_emails_are_trimmed_and_checked(written, expected):
    assert normalize.email(written) == expected
    assert normalize.valid_email(written) == expected


@pytest.mark.parametrize(
    "written",
    [
        "not-an-email",
        "info at example dot org",
        "a@b",
        "a b@example.org",
        "a@@example.org",
        "a..b@example.org",
        "user@localhost",
        "a@192.168.0.1",
        "@example.org",
        "info@example.123",
    ],
)
def test_what_is_no_email_is_refused(written):
    with pytest.raises(InvalidValue):
        normalize.email(written)
    assert normalize.valid_email(written) is None


# --- phone numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "number", "extension", "tel"),
    [
        ("(315) 555-0100", "(315) 555-0100", None, "tel:+13155550100"),
        ("315-555-0100", "(315) 555-0100", None, "tel:+13155550100"),
        ("315.555.0100", "(315) 555-0100", None, "tel:+13155550100"),
        ("3155550100", "(315) 555-0100", None, "tel:+13155550100"),
        ("1 (315) 555-0100", "(315) 555-0100", None, "tel:+13155550100"),
        ("+1 315 555 0100", "(315) 555-0100", None, "tel:+13155550100"),
        ("1-800-555-0199", "(800) 555-0199", None, "tel:+18005550199"),
        ("315.555.0100 x123", "(315) 555-0100", 123, "tel:+13155550100"),
        ("315-555-0100 ext. 5", "(315) 555-0100", 5, "tel:+13155550100"),
        ("315 555 0100 ext 12", "(315) 555-0100", 12, "tel:+13155550100"),
        ("315-555-0100 Ext: 22", "(315) 555-0100", 22, "tel:+13155550100"),
        ("(315)555-0100#4", "(315) 555-0100", 4, "tel:+13155550100"),
        ("tel:+1-315-555-0100;ext=7", "(315) 555-0100", 7, "tel:+13155550100"),
        ("+44 20 7946 0958", "+44 20 7946 0958", None, "tel:+442079460958"),
        ("011 44 20 7946 0958", "+44 20 7946 0958", None, "tel:+442079460958"),
        # Short numbers people dial as they are.
        ("211", "211", None, "tel:211"),
        ("2-1-1", "211", None, "tel:211"),
        ("988", "988", None, "tel:988"),
        ("911", "911", None, "tel:911"),
        # Vanity numbers keep their letters; the link dials the digits.
        ("1-800-FLOWERS", "1-800-FLOWERS", None, "tel:+18003569377"),
        ("800-555-help", "800-555-HELP", None, "tel:+18005554357"),
        ("1-800-273-TALK (8255)", "1-800-273-TALK (8255)", None, "tel:+18002738255"),
    ],
)
def test_phone_numbers_are_formatted_one_way_with_extensions_kept(written, number, extension, tel):
    read = normalize.phone(written)
    assert (read.number, read.extension, read.tel, read.problem) == (number, extension, tel, None)
    again = normalize.phone(read.number)  # what we store reads back the same
    assert (again.number, again.tel) == (number, tel)


@pytest.mark.parametrize(
    ("written", "tel", "problem"),
    [
        ("Call the front desk", None, "is not a phone number"),
        ("555-0100", None, "is not a complete phone number"),  # no area code
        ("(315) 555-0100 / (315) 555-0101", None, "holds 2 numbers"),
        ("Main: (315) 555-0100", "tel:+13155550100", "has words besides the number"),
        ("315-555-0100, option 2", "tel:+13155550100", "has words besides the number"),
    ],
)
def test_numbers_that_cant_be_read_are_kept_as_written_with_the_reason(written, tel, problem):
    read = normalize.phone(written)
    assert read.number == written
    assert read.tel == tel
    assert problem in read.problem


def test_numbers_are_read_in_the_configured_region():
    assert normalize.phone("020 7946 0958", "GB").number == "020 7946 0958"
    assert normalize.phone("020 7946 0958", "GB").tel == "tel:+442079460958"
    assert normalize.phone("+1 315 555 0100", "GB").number == "+1 315-555-0100"


@pytest.mark.parametrize(
    ("number", "extension", "uri"),
    [
        ("(315) 555-0100", 12, "tel:+13155550100;ext=12"),
        ("(315) 555-0100", None, "tel:+13155550100"),
        ("315-555-0100 x9", None, "tel:+13155550100;ext=9"),  # stored before this rule
        ("1-800-FLOWERS", None, "tel:+18003569377"),
        ("211", None, "tel:211"),
        ("Call the front desk", None, None),
        ("", None, None),
    ],
)
def test_tel_uris_dial_e164_with_the_extension(number, extension, uri):
    assert normalize.tel_uri(number, extension, "US") == uri


def test_the_phone_region_comes_from_the_configuration():
    assert normalize.phone_region() == "US"  # outside an app
    app = Flask(__name__)
    with app.app_context():
        assert normalize.phone_region() == "US"
        app.config["DEFAULT_PHONE_REGION"] = "GB"
        assert normalize.phone_region() == "GB"
        assert normalize.tel_uri("020 7946 0958", None) == "tel:+442079460958"


# --- US states and ZIP codes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("NY", "NY"),
        ("ny", "NY"),
        ("New York", "NY"),
        ("new  york", "NY"),
        ("NEW YORK", "NY"),
        ("N.Y.", "NY"),
        ("N. Y.", "NY"),
        ("New York State", "NY"),
        ("North Carolina", "NC"),
        ("District of Columbia", "DC"),
        ("D.C.", "DC"),
        ("Calif.", "CA"),
        ("Penna", "PA"),
        ("W. Va.", "WV"),
        ("Puerto Rico", "PR"),
    ],
)
def test_us_state_names_become_two_letter_codes(written, code):
    assert normalize.us_state(written) == code


@pytest.mark.parametrize("written", ["Ontario", "ON", "Atlantis", "N"])
def test_what_is_no_us_state_is_refused(written):
    with pytest.raises(InvalidValue):
        normalize.us_state(written)


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("13202", "13202"),
        ("13202-1234", "13202-1234"),  # ZIP+4 kept
        ("132021234", "13202-1234"),
        ("13202 1234", "13202-1234"),
        ("13202-", "13202"),
        ("13202.0", "13202"),  # a spreadsheet's number
        ("7102", "07102"),  # a spreadsheet dropped the leading zero
        ("71021234", "07102-1234"),
    ],
)
def test_zip_codes_keep_their_plus_four(written, code):
    assert normalize.us_zip(written) == code


@pytest.mark.parametrize("written", ["ABCDE", "M5V 1A1", "123456", "13202-12"])
def test_what_is_no_zip_code_is_refused(written):
    with pytest.raises(InvalidValue):
        normalize.us_zip(written)
