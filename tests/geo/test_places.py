"""Places people type: ZIP codes, cities, coordinates, offline."""

import pytest

from geo.places import (
    UnknownPlace,
    km_from_zip,
    place_from_latlon,
    resolve_place,
    timezone_for_zip,
)


def test_a_zip_code_is_its_centroid():
    place = resolve_place("85701")
    assert place.kind == "zip"
    assert place.latitude == pytest.approx(32.22, abs=0.05)
    assert place.longitude == pytest.approx(-110.97, abs=0.05)
    assert "Tucson" in place.label


def test_zip_plus_four_and_a_zip_at_the_end_of_an_address():
    assert resolve_place("87102-1234").kind == "zip"
    assert resolve_place("Albuquerque, NM 87102").label.startswith("87102")


@pytest.mark.parametrize(
    "text",
    ["Albuquerque, NM", "albuquerque nm", "Albuquerque, New Mexico", "ALBUQUERQUE New Mexico"],
)
def test_city_and_state_in_the_ways_people_write_them(text):
    place = resolve_place(text)
    assert place.kind == "city"
    assert place.latitude == pytest.approx(35.1, abs=0.2)
    assert place.longitude == pytest.approx(-106.6, abs=0.2)
    assert place.label == "Albuquerque, NM"


def test_saint_abbreviations_and_accents_are_forgiven():
    assert resolve_place("St. Paul, MN").latitude == pytest.approx(44.95, abs=0.1)
    assert resolve_place("Española, NM").label == "Española, NM"


def test_a_city_name_used_in_one_state_only_needs_no_state():
    assert resolve_place("Albuquerque").label == "Albuquerque, NM"


def test_an_ambiguous_city_asks_for_the_state():
    with pytest.raises(UnknownPlace, match="Several places are called Springfield"):
        resolve_place("Springfield")


def test_coordinates_typed_as_lat_lon():
    place = resolve_place(" 47.6062, -122.3321 ")
    assert (place.latitude, place.longitude, place.kind) == (47.6062, -122.3321, "latlon")


def test_browser_location_is_labelled_as_such():
    place = place_from_latlon("21.3069", "-157.8583", "browser")
    assert (place.kind, place.label) == ("browser", "your location")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter a ZIP code"),
        ("00000", "not a US ZIP code"),
        ("Atlantis, ZZ", "not a US state"),
        ("Nowheresville, OK", "can't find Nowheresville"),
        ("91.5, 10", "latitude 91.5 is outside"),
        ("0, 0", "placeholder"),
        ("qwertyuiop", "can't find"),
    ],
)
def test_places_we_cannot_find_say_what_to_type(text, message):
    with pytest.raises(UnknownPlace, match=message):
        resolve_place(text)


def test_time_zone_of_a_zip_code():
    assert timezone_for_zip("85701") == "America/Phoenix"
    assert timezone_for_zip("96813") == "Pacific/Honolulu"
    assert timezone_for_zip("00000") is None
    assert timezone_for_zip(None) is None


def test_distance_from_a_zip_code_centroid():
    assert km_from_zip("13202", 43.048, -76.147) < 5  # downtown Syracuse
    assert km_from_zip("13202-1234", 43.048, -76.147) < 5  # ZIP+4
    assert km_from_zip("13202", 40.71, -74.0) == pytest.approx(315, abs=15)  # New York City
    assert km_from_zip("00000", 43.0, -76.0) is None
    assert km_from_zip(None, 43.0, -76.0) is None


def test_geo_imports_no_other_domain():
    """Dependencies point one way (referrals → directory → geo); a fresh interpreter shows it."""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import sys, geo.places, geo.shapes, geo.spatialite, geo.sql\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'app', 'extensions', 'directory', 'accounts', 'referrals'})))"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == ""


def test_the_search_seam_still_names_place():
    from directory.search.query import Place
    from geo.places import Place as GeoPlace

    assert Place is GeoPlace


def test_counties_by_name():
    from geo.places import county

    assert county("onondaga, ny") == "Onondaga County, NY"
    assert county("Onondaga County, New York") == "Onondaga County, NY"
    for text in ("Onondaga", "Narnia County, NY", "Onondaga County, Atlantis"):
        with pytest.raises(UnknownPlace):
            county(text)
