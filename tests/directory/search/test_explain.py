"""Explain the match: a result found through a concept, not the words typed, says which."""

from directory import search
from directory.search import explain, synonyms
from geo import places


def test_only_concepts_whose_typed_words_are_missing_are_explained():
    concepts = [
        synonyms.Concept("daycare", ("child care", "preschool")),
        synonyms.Concept("food", ("pantry",)),
    ]
    words = synonyms.phrase_key("Child Care Subsidy. Food for families.")
    assert explain.matched(concepts, words) == ("child care",)
    assert explain.matched(concepts, synonyms.phrase_key("Daycare and food pantry")) == ()


def test_crisis_concepts_count_their_own_words():
    concepts = [synonyms.Concept("crisis", ("suicide",))]
    words = synonyms.phrase_key("24/7 Crisis Line")
    assert explain.matched(concepts, words) == ()
    assert explain.matched(concepts, words, typed=False) == ("crisis",)


def test_cards_and_the_api_say_what_matched(demo, client):
    downtown = places.resolve_place("13202")
    found = search.search(search.SearchQuery(text="daycare", place=downtown))
    first = found.hits[0]
    assert "daycare" not in explain.card_words(first.service)
    assert first.matched == ("childcare",)

    typed = search.search(search.SearchQuery(text="food pantry", place=downtown)).hits[0]
    assert "Pantry" in typed.service.name and typed.matched == ()

    body = client.get("/api/v1/services", query_string={"q": "daycare", "near": "13202"}).json
    assert body["results"][0]["matched"] == ["childcare"]
    html = client.get("/search", query_string={"q": "daycare", "near": "13202"}).text
    assert '<p class="matched muted">Matched: childcare</p>' in html
