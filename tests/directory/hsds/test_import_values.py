"""The messy-value rules of the HSDS importer, and its file reading, without a database."""

import uuid
from datetime import date
from decimal import Decimal

import pytest

from directory.hsds.importing.read import (
    ImportFailed,
    decode,
    read_csv,
    read_datapackage,
    read_json,
)
from directory.hsds.importing.values import (
    BadValue,
    IdMapper,
    in_united_states,
    is_all_day,
    is_closed_word,
    language_fields,
    languages_and_notes,
    normalize_byday,
    normalize_country,
    normalize_time,
    parse_date,
    parse_extension,
    parse_utc_offset,
    parse_weekdays,
    parse_year,
    split_languages,
    split_time_range,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9:00am", "09:00"),
        ("9 AM", "09:00"),
        ("9:00 a.m.", "09:00"),
        ("noon", "12:00"),
        ("5:30 p.m.", "17:30"),
        ("5:30 P.M.", "17:30"),
        ("12:00am", "00:00"),
        ("midnight", "00:00"),
        ("17:00:00", "17:00"),
        ("1730", "17:30"),
        (" 08:15 ", "08:15"),
        ("9:00 AM EST", "09:00"),
        ("5 pm PDT", "17:00"),
    ],
)
def test_free_text_times_become_hh_mm(text, expected):
    assert normalize_time(text) == expected


def test_iso_times_are_kept_as_written_for_hsds_3_data():
    assert normalize_time("10:00:00", keep_iso=True) == "10:00:00"
    assert normalize_time("09:00-05:00", keep_iso=True) == "09:00-05:00"
    assert normalize_time("9am", keep_iso=True) == "09:00"


@pytest.mark.parametrize("text", ["25:99", "soon", "9:75", "13pm", ""])
def test_unreadable_times_are_refused_by_name(text):
    with pytest.raises(BadValue):
        normalize_time(text)


@pytest.mark.parametrize(
    ("value", "days"),
    [
        (1, [0]),
        ("1", [0]),
        (7, [6]),
        ("0", [6]),
        ("Monday", [0]),
        ("mon", [0]),
        ("Tues", [1]),
        ("WE", [2]),
        ("thu ", [3]),
        ("Fridays", [4]),
        ("Mon-Fri", [0, 1, 2, 3, 4]),
        ("Monday - Wednesday", [0, 1, 2]),
        ("Fri-Mon", [0, 4, 5, 6]),
        ("Monday, Wednesday & Friday", [0, 2, 4]),
        ("weekdays", [0, 1, 2, 3, 4]),
        ("Daily", [0, 1, 2, 3, 4, 5, 6]),
        ("Sat and Sun", [5, 6]),
    ],
)
def test_weekdays_in_every_spelling(value, days):
    assert parse_weekdays(value) == tuple(days)


@pytest.mark.parametrize("value", ["Funday", "8", "", None, "Mon-Blursday"])
def test_unknown_weekdays_are_refused(value):
    with pytest.raises(BadValue):
        parse_weekdays(value)


def test_byday_keeps_rfc5545_codes_and_translates_names():
    assert normalize_byday("mo,we") == "MO,WE"
    assert normalize_byday("1SA") == "1SA"
    assert normalize_byday("-1FR") == "-1FR"
    assert normalize_byday("Monday, Friday") == "MO,FR"
    with pytest.raises(BadValue):
        normalize_byday("XX")


def test_all_day_closed_and_ranges_are_recognized():
    assert is_all_day("24 hours") and is_all_day("Open 24 hrs") and is_all_day("24/7")
    assert not is_all_day("9am")
    assert is_closed_word("Closed") and is_closed_word("closed.")
    assert not is_closed_word("9:00")
    assert split_time_range("9:00am - 5:00pm") == ("9:00am", "5:00pm")
    assert split_time_range("9am to 5pm") == ("9am", "5pm")
    assert split_time_range("9am") is None


def test_ids_that_are_uuids_are_kept_and_others_are_stable_per_dataset_and_table():
    ids = IdMapper("county-211")
    given = "6A1F7C36-7F55-4C64-9C1E-2A8D7A4B1001"
    assert ids("service", given) == uuid.UUID(given)
    assert ids("service", "12") == ids("service", " 12 ") == ids("service", "12.0")
    assert ids("service", 12) == ids("service", "12")
    assert ids("service", "12") != ids("organization", "12")
    assert ids("service", "12") != IdMapper("other-211")("service", "12")
    assert ids("service", "12") == IdMapper("county-211")("service", "12")
    assert ids("service", "") is None and ids("service", "NULL") is None


def test_languages_are_split_and_named():
    assert split_languages("en, es") == ["en", "es"]
    assert split_languages("English; Spanish and French") == ["English", "Spanish", "French"]
    assert language_fields("es") == {"name": "Spanish", "code": "es"}
    assert language_fields("Haitian Creole") == {"name": "Haitian Creole", "code": "ht"}
    assert language_fields("ASL") == {"name": "American Sign Language", "code": "ase"}
    assert language_fields("Klingon") == {"name": "Klingon", "code": None}


def test_small_fields_from_spreadsheets():
    assert parse_extension("x12") == 12 and parse_extension("ext. 7") == 7
    assert parse_extension(42.0) == 42
    with pytest.raises(BadValue):
        parse_extension("ask for Bob")
    assert normalize_country("USA") == "US" and normalize_country("us") == "US"
    assert normalize_country("Canada") == "CA"
    with pytest.raises(BadValue):
        normalize_country("Atlantis")
    assert parse_date("12/24/2024") == date(2024, 12, 24)
    assert parse_date("2019-12-24") == date(2019, 12, 24)
    assert parse_year("1997-01-01") == 1997 and parse_year("2004.0") == 2004
    assert parse_utc_offset("-05:00") == Decimal("-5.00")
    assert parse_utc_offset("UTC+5:30") == Decimal("5.50")
    with pytest.raises(BadValue):
        parse_utc_offset("-25")


def test_united_states_bounds():
    assert in_united_states(43.05, -76.15)  # Syracuse
    assert in_united_states(21.3, -157.8)  # Honolulu
    assert in_united_states(18.4, -66.1)  # San Juan
    assert not in_united_states(-76.15, 43.05)  # swapped
    assert not in_united_states(51.5, -0.1)  # London


def test_encodings_are_detected():
    assert decode("Café".encode("cp1252"), "x.csv") == ("Café", "cp1252")
    assert decode("\ufeffCafé".encode(), "x.csv") == ("Café", "utf-8")
    assert decode("Café".encode("utf-16"), "x.csv") == ("Café", "utf-16")


def test_csv_reading_tolerates_blank_lines_spaces_and_other_delimiters(tmp_path):
    path = tmp_path / "services.csv"
    path.write_text("\n Id ;Organization ID;Name\n\n1;2; Pantry \n;;\n", encoding="utf-8")
    table = read_csv(path, required=("id", "name"))
    assert table.columns == ["id", "organization_id", "name"]
    assert list(table.rows) == [(4, {"id": "1", "organization_id": "2", "name": " Pantry "})]


def test_excel_separator_line_names_the_delimiter(tmp_path):
    path = tmp_path / "services.csv"
    path.write_text("sep=;\r\nid;name\r\n1;Pantry, food\r\n", encoding="utf-8")
    table = read_csv(path, required=("id", "name"))
    assert list(table.rows) == [(3, {"id": "1", "name": "Pantry, food"})]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('id,name\n1,"Pantry\n2,Shelter\n', "malformed"),
        ("id,name\n1,Pantry,extra,more\n", "has 4 fields but the header has 2"),
        ("id,name,description\n1,Pantry,Food\n2,Shel", "cut short"),
        ("id,title\n1,Pantry\n", "has no 'name' column"),
        ("", "empty"),
        ("\n\n", "empty"),
    ],
)
def test_broken_csv_files_are_refused_with_the_line(tmp_path, content, message):
    path = tmp_path / "services.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFailed, match=message):
        read_csv(path, required=("id", "name"))


def test_broken_json_names_line_and_column(tmp_path):
    path = tmp_path / "services.json"
    path.write_text('[{"id": "1", "name": "Pantry"},\n {"id": "2", "na', encoding="utf-8")
    with pytest.raises(ImportFailed, match=r"services.json is not valid JSON \(line 2"):
        read_json(path)


def test_newline_delimited_json_is_read(tmp_path):
    path = tmp_path / "services.ndjson"
    path.write_text('{"id": "1"}\n{"id": "2"}\n', encoding="utf-8")
    assert read_json(path) == [{"id": "1"}, {"id": "2"}]


def test_datapackage_written_as_a_symlink_path_is_followed(tmp_path):
    (tmp_path / "real.json").write_text('{"name": "real", "resources": []}', encoding="utf-8")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "datapackage.json").write_text("../real.json", encoding="utf-8")
    assert read_datapackage(tmp_path / "pkg")["name"] == "real"
    (tmp_path / "pkg" / "datapackage.json").write_text('{"name": ', encoding="utf-8")
    with pytest.raises(ImportFailed, match="datapackage.json is not valid JSON"):
        read_datapackage(tmp_path / "pkg")


@pytest.mark.parametrize(
    ("cell", "languages", "notes"),
    [
        ("English, Spanish; French", ["English", "Spanish", "French"], []),
        ("Creole", ["Creole"], []),
        ("Others available upon request", [], ["Others available upon request"]),
        ("All languages via interpreter", [], ["All languages via interpreter"]),
        ("Interpretation available", [], ["Interpretation available"]),
        ("Language Line", [], ["Language Line"]),
        ("Spanish; all languages via interpreter", ["Spanish"], ["all languages via interpreter"]),
        (
            "Spanish and others available upon request",
            ["Spanish"],
            ["others available upon request"],
        ),
        ("", [], []),
    ],
)
def test_language_cells_split_into_languages_and_interpretation_notes(cell, languages, notes):
    assert languages_and_notes(cell) == (languages, notes)


def test_creole_in_a_us_export_is_haitian_creole():
    assert language_fields("Creole") == {"name": "Haitian Creole", "code": "ht"}
