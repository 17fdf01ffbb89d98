import uuid

import pytest
from sqlalchemy import func, select

from directory.models import Taxonomy, TaxonomyTerm
from directory.taxonomy import (
    TaxonomyFileError,
    default_taxonomy_id,
    load_open_eligibility,
    open_eligibility_term_id,
    read_terms,
    taxonomy_id,
    term_id,
)


def _terms(db, taxonomy: uuid.UUID) -> dict[str, TaxonomyTerm]:
    rows = db.session.scalars(select(TaxonomyTerm).where(TaxonomyTerm.taxonomy_id == taxonomy))
    return {t.code: t for t in rows}


def test_open_eligibility_loads_once_with_stable_ids_and_parents(db):
    first = load_open_eligibility()
    db.session.commit()
    again = load_open_eligibility()
    db.session.commit()

    assert first.id == again.id == default_taxonomy_id()
    assert db.session.scalar(select(func.count()).select_from(Taxonomy)) == 1
    terms = _terms(db, first.id)
    assert len(terms) == 290
    assert db.session.scalar(select(func.count()).select_from(TaxonomyTerm)) == 290
    pantry = terms["102-04"]
    assert (pantry.name, pantry.id) == ("Food Pantry", open_eligibility_term_id("102-04"))
    assert pantry.parent_id == terms["102"].id
    assert terms["103-05-02-01"].parent.parent.parent.name == "Housing"
    roots = sorted(t.name for t in terms.values() if t.parent_id is None)
    assert roots == [
        "Care",
        "Education",
        "Emergency",
        "Food",
        "Goods",
        "Health",
        "Housing",
        "Legal",
        "Money",
        "Transit",
        "Work",
    ]


def test_a_term_renamed_in_the_database_is_put_back_on_reload(db):
    load_open_eligibility()
    db.session.get(TaxonomyTerm, open_eligibility_term_id("102-04")).name = "Typo"
    db.session.commit()

    load_open_eligibility()
    db.session.commit()

    assert db.session.get(TaxonomyTerm, open_eligibility_term_id("102-04")).name == "Food Pantry"


def test_command_loads_open_eligibility_by_default(runner, db):
    result = runner.invoke(args=["directory", "load-taxonomy"])

    assert result.exit_code == 0, result.output
    assert "Open Eligibility" in result.output and "290 terms" in result.output
    assert len(_terms(db, default_taxonomy_id())) == 290


def test_command_loads_another_taxonomy_and_updates_it_in_place(runner, db, tmp_path):
    path = tmp_path / "local_needs.csv"
    # Children before parents, stray spaces and a BOM: files as people export them.
    path.write_text(
        "\ufeffid,name,parent_id\nH-1, Rent help ,H\nH,Housing,\nF,Food,\n", encoding="utf-8"
    )

    result = runner.invoke(args=["directory", "load-taxonomy", str(path), "--name", "Local Needs"])

    assert result.exit_code == 0, result.output
    assert "3 terms" in result.output
    key = "local-needs"
    terms = _terms(db, taxonomy_id(key))
    assert {c: t.name for c, t in terms.items()} == {
        "H-1": "Rent help",
        "H": "Housing",
        "F": "Food",
    }
    assert terms["H-1"].parent_id == terms["H"].id == term_id(key, "H")

    path.write_text("id,name,parent_id\nH,Housing and shelter,\nH-1,Rent help,H\nH-2,Shelter,H\n")
    result = runner.invoke(args=["directory", "load-taxonomy", str(path), "--name", "Local Needs"])

    assert result.exit_code == 0, result.output
    db.session.expire_all()
    terms = _terms(db, taxonomy_id(key))
    assert terms["H"].name == "Housing and shelter"
    assert terms["H-2"].parent_id == term_id(key, "H")
    assert "F" in terms  # a term dropped from the file stays: services may still use it
    assert db.session.scalar(select(func.count()).select_from(Taxonomy)) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("code,label\nA,Food\n", "no name column"),
        ("name,parent_id\nFood,\n", "no id column"),
        (
            "id,name,parent_id\nA,Food,\nA-1,Pantry,B\n",
            "names a parent 'B' that is not in the file",
        ),
        ("id,name,parent_id\nA,Food,B\nB,Housing,A\n", "loop back"),
        ("id,name,parent_id\nA,Food,\nA,Housing,\n", "line 3: the id 'A' appears twice"),
        ("id,name,parent_id\nA,,\n", "line 2: the term 'A' has no name"),
        ("id,name,parent_id\n", "no terms"),
    ],
)
def test_command_refuses_a_bad_file_with_a_reason_and_writes_nothing(
    runner, db, tmp_path, content, message
):
    path = tmp_path / "bad.csv"
    path.write_text(content)

    result = runner.invoke(args=["directory", "load-taxonomy", str(path)])

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert db.session.scalar(select(func.count()).select_from(Taxonomy)) == 0


def test_command_refuses_a_file_that_is_not_text(runner, db, tmp_path):
    path = tmp_path / "picture.csv"
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x80\x81")

    result = runner.invoke(args=["directory", "load-taxonomy", str(path)])

    assert result.exit_code != 0
    assert "not a UTF-8 text file" in result.output


def test_read_terms_puts_parents_before_children_whatever_the_file_order():
    rows = read_terms("id,name,parent_id\nc,C,b\nb,B,a\na,A,\nd,D,\n")

    assert [r.code for r in rows] == ["a", "d", "b", "c"]


def test_read_terms_rejects_a_term_that_is_its_own_parent():
    with pytest.raises(TaxonomyFileError, match="its own parent"):
        read_terms("id,name,parent_id\na,A,a\n")
