"""The lay-language file: its format, phrase matching and the shipped entries."""

import pytest

from directory.search import synonyms
from directory.search.synonyms import Concept, SynonymFileError, Synonyms


def _table(text):
    return Synonyms.from_text(text)


def test_a_lay_phrase_becomes_one_concept_with_its_formal_terms():
    table = _table("help paying rent, rent help => rental assistance, eviction prevention\n")
    assert table.expand("Help paying RENT") == [
        Concept("help paying rent", ("rental assistance", "eviction prevention"))
    ]


def test_phrases_match_whole_ignoring_little_words_plurals_and_accents():
    table = _table("ride to the doctor => medical transportation\n")
    expected = ("medical transportation",)
    assert table.expand("rides to doctor")[0].alternatives == expected
    assert table.expand("a ride to my doctor")[0].alternatives == expected
    assert table.expand("doctor") == [Concept("doctor")]  # a part of a phrase is not the phrase


def test_longest_phrase_wins_and_other_words_stay_concepts():
    table = _table("food => groceries\nfood stamps => snap\n")
    assert table.expand("food stamps Spanish") == [
        Concept("food stamps", ("snap",)),
        Concept("spanish"),
    ]


def test_filler_lines_drop_words():
    table = _table("near me, cerca de mí =>\nfood => groceries\n")
    assert table.expand("food near me") == [Concept("food", ("groceries",))]
    assert table.expand("comida cerca de mi") == [Concept("comida")]
    assert table.expand("near me") == []


def test_lines_for_the_same_phrase_are_merged_and_comments_ignored():
    table = _table("# comment\n\nrehab => treatment\nrehab, drug rehab => recovery\n")
    assert table.expand("rehab")[0].alternatives == ("treatment", "recovery")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rent help rental assistance\n", "line 1: expected one '=>'"),
        ("# ok\n=> formal\n", "line 2: nothing before"),
        ("a => b => c\n", "line 1"),
        ("the, my => something\n", "only little words"),
    ],
)
def test_mistakes_in_the_file_name_the_line(text, message):
    with pytest.raises(SynonymFileError, match=message):
        Synonyms.from_text(text)


def test_the_file_is_reread_when_staff_edit_it(tmp_path):
    path = tmp_path / "synonyms.txt"
    path.write_text("comida => food\n")
    assert synonyms.load(path).expand("comida")[0].alternatives == ("food",)
    path.write_text("comida => food, meals\n")
    import os

    os.utime(path, (1, 1))  # a different modification time, as an edit gives
    assert synonyms.load(path).expand("comida")[0].alternatives == ("food", "meals")


@pytest.mark.parametrize(
    ("typed", "formal"),
    [
        ("help paying rent", "rental assistance"),
        ("food stamps", "snap"),
        ("ride to the doctor", "medical transportation"),
        ("rehab", "substance use treatment"),
        ("detox", "withdrawal management"),
        ("somewhere to sleep tonight", "emergency shelter"),
        ("ESL", "english as a second language"),
        ("AA meeting", "alcoholics anonymous"),
        ("light bill", "utility assistance"),
        ("someone to talk to", "counseling"),
        ("a lawyer for free", "legal aid"),
        ("my kid needs clothes", "clothing"),
        ("comida", "food pantry"),
        ("vivienda", "affordable housing"),
        ("renta", "rental assistance"),
        ("abogado", "legal aid"),
        ("ayuda con la renta", "rental assistance"),
        ("transporte al médico", "medical transportation"),
    ],
)
def test_the_shipped_file_knows_the_words_people_use(typed, formal):
    concepts = synonyms.load().expand(typed)
    assert len(concepts) == 1, concepts
    assert formal in concepts[0].alternatives


def test_the_shipped_file_parses():
    table = synonyms.load()
    assert len(table.table) > 200
    assert table.knows("abogado") and not table.knows("abogdo")


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Food Stamps", "food stamps"),
        ("Español", "espanol"),
        ("AYUDA CON LA RENTA", "ayuda con la renta"),
        ("Straße", "strasse"),
        ("Médico", "medico"),
    ],
)
def test_words_fold_to_lower_case_without_accents(text, folded):
    assert synonyms.fold(text) == folded
