"""One language table (directory.languages) for the import, the search index and the filters."""

import shutil
from pathlib import Path

import pytest

from directory import languages
from directory.hsds.importing import values as hsds_import_values
from directory.hsds.importing.values import language_fields

MESSY = Path(__file__).resolve().parents[1] / "data" / "import" / "legacy_messy"


def test_one_table_for_the_import_the_index_and_the_filters():
    from directory import demo
    from directory.search import listings

    assert not hasattr(hsds_import_values, "LANGUAGES")  # the lists that used to disagree
    assert not hasattr(listings, "LANGUAGES")
    for code, (name, spellings) in languages.LANGUAGES.items():
        for spelling in (code, name, *spellings, name.upper(), f" {name.lower()} "):
            assert language_fields(spelling) == {"name": name, "code": code}, spelling
            assert languages.canonical(spelling) == (code, name), spelling
    for code, name in demo.LANGUAGES.items():  # the demo's pick of languages agrees too
        assert languages.name(code) == name


# Each language, by its code and name, with the ways 211 data writes it.
SPELLINGS = {
    ("pa", "Punjabi"): ("Punjabi",),
    ("yue", "Cantonese"): ("Cantonese", "zh-yue"),
    ("cmn", "Mandarin"): ("Chinese (Mandarin)",),
    ("zh", "Chinese"): ("Chinese",),
    ("es", "Spanish"): ("Español",),
    ("ht", "Haitian Creole"): ("Creole",),
    ("ase", "American Sign Language"): ("Sign language", "ASL"),
    ("fa", "Persian"): ("Farsi",),
    ("prs", "Dari"): ("Dari",),
}


@pytest.mark.parametrize(
    ("written", "code", "name"),
    [(written, *language) for language, spellings in SPELLINGS.items() for written in spellings],
)
def test_common_211_spellings(written, code, name):
    assert languages.canonical(written) == (code, name)
    assert language_fields(written) == {"name": name, "code": code}


def test_region_tags_and_unknown_languages():
    assert languages.canonical("es-MX") == ("es", "Spanish")
    assert languages.canonical("en_US") == ("en", "English")
    assert language_fields("es-MX") == {"name": "Spanish", "code": "es-mx"}  # the tag is kept
    assert languages.canonical("Klingon") == ("klingon", "Klingon")
    assert language_fields("Klingon") == {"name": "Klingon", "code": None}


def test_a_language_filter_includes_its_varieties():
    assert languages.with_varieties(["zh"]) == ("zh", "yue", "cmn")
    assert languages.with_varieties(["fa", "es"]) == ("fa", "prs", "es")
    assert languages.with_varieties(["yue"]) == ("yue",)  # but not the other way round


def _import_with_languages(runner, tmp_path, rows: str) -> None:
    package = tmp_path / "county"
    shutil.copytree(MESSY, package)
    (package / "languages.csv").write_text(f"id,service_id,location_id,language\n{rows}")
    result = runner.invoke(args=["directory", "import-hsds", str(package)])
    assert result.exit_code == 0, result.output


def test_imported_languages_are_found_by_their_code_and_keep_their_names(db, runner, tmp_path):
    from directory import search

    _import_with_languages(runner, tmp_path, '90,10,,Punjabi\n91,11,,"Cantonese; Mandarin"\n')

    def found(language: str) -> list[str]:
        results = search.search(search.query_from_args({"language": language}))
        return [hit.service.name for hit in results.hits]

    assert found("pa") == ["Food Pantry"]  # the row says "pa" and "Punjabi"
    assert found("Punjabi") == ["Food Pantry"]
    assert found("yue") == found("cmn") == found("Mandarin") == ["Emergency Beds"]
    assert found("zh") == ["Emergency Beds"]  # Chinese includes Cantonese and Mandarin
    facets = search.search(search.query_from_args({})).facets["language"]
    assert {(f.value, f.label, f.count) for f in facets} == {
        ("pa", "Punjabi", 1),
        ("yue", "Cantonese", 1),
        ("cmn", "Mandarin", 1),
    }


def test_the_filter_shows_the_language_name(db, runner, client, tmp_path):
    _import_with_languages(runner, tmp_path, "91,11,,Cantonese\n")

    html = client.get("/?language=pa").get_data(as_text=True)  # chosen, nothing found
    assert 'value="pa"' in html and "Punjabi" in html
    html = client.get("/?language=yue").get_data(as_text=True)
    assert "Emergency Beds" in html and "Cantonese" in html and "Chinese" not in html
