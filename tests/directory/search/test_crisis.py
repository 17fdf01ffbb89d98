"""Crisis words first: danger in the words shows 988 and 911 above everything, and the
directory's crisis services first (the demo directory, on both databases)."""

import pytest

from directory import search
from directory.search import crisis
from geo import places


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("suicide", "suicide"),
        ("I don't want to live anymore", "suicide"),
        ("i dont wanna live", "suicide"),
        ("thinking about killing myself", "suicide"),
        ("sucide hotline", "suicide"),  # misspelt
        ("suiside", "suicide"),
        ("my daughter is cutting herself and says she wants to die", "suicide"),
        ("no quiero vivir", "suicide"),
        ("ya no quiero seguir viviendo", "suicide"),
        ("me quiero matar", "suicide"),
        ("pensamientos suicidas", "suicide"),
        # A search about the subject, not a person in danger, still shows the lines (a banner
        # shown in error costs a line of screen; one missed can cost a life).
        ("suicide prevention training for staff", "suicide"),
        ("he hits me", "violence"),
        ("my boyfriend always hits me", "violence"),
        ("my husband is abusive", "violence"),
        ("child abuse", "violence"),
        ("mi esposo me pega", "violence"),
        ("mi pareja me golpea y tengo miedo", "violence"),
        ("violencia doméstica", "violence"),
        ("my friend overdosed", "overdose"),
        ("overdoce", "overdose"),
        ("she took too many pills", "overdose"),
        ("where can I get narcan", "overdose"),
        ("sobredosis", "overdose"),
    ],
)
def test_danger_is_recognised_in_english_and_spanish(text, kind):
    found = crisis.detect(text)
    assert found is not None and kind in found.kinds


@pytest.mark.parametrize(
    "text",
    [
        "killing it at my new job",
        "this commute is killing me",  # an idiom: "kill me" is listed, "killing me" is not
        "substance abuse treatment",
        "abuso de sustancias",
        "hit the gym",
        "amused",  # one letter from "abuse": short words forgive no typo
        "food pantry",
        "help paying rent",
        "die cut printing",
        "",
    ],
)
def test_ordinary_words_are_not_danger(text):
    assert crisis.detect(text) is None


def test_the_lines_are_911_and_988_then_the_line_for_the_danger():
    numbers = [line.display for line in crisis.detect("mi esposo me pega").lines]
    assert numbers[:2] == ["911", "988"]
    assert "1-800-799-7233" in numbers
    assert [line.display for line in crisis.detect("quiero morir").lines] == ["911", "988"]


def test_a_bad_line_in_the_word_list_is_named():
    with pytest.raises(crisis.CrisisFileError, match="line 2"):
        crisis.CrisisWords.from_text("suicide => suicide\nworry => sad\n")


CRISIS_SERVICES = {
    "suicide": {"24/7 Crisis Line", "Crisis Hotline", "Crisis and Suicide Prevention Line"},
    "violence": {"24-Hour Domestic Violence and Sexual Assault Hotline"},
}


def test_crisis_services_come_first_whatever_else_matches(demo):
    downtown = places.resolve_place("13202")
    found = search.search(search.SearchQuery(text="he hits me and I need food", place=downtown))
    names = [hit.service.name for hit in found.hits]
    assert names[0] in CRISIS_SERVICES["violence"]
    assert any("Pantry" in n or "Dining" in n or "Meal" in n for n in names)  # food still there

    found = search.search(search.SearchQuery(text="no quiero vivir", place=downtown))
    assert found.hits[0].service.name in CRISIS_SERVICES["suicide"]

    ordinary = search.search(search.SearchQuery(text="food pantry", place=downtown))
    assert ordinary.crisis is None
    assert not {h.service.name for h in ordinary.hits[:5]} & set().union(*CRISIS_SERVICES.values())


def test_the_api_returns_the_crisis_lines(demo, client):
    body = client.get("/api/v1/services", query_string={"q": "my husband hits me"}).get_json()
    assert body["crisis"]["kinds"] == ["violence"]
    assert [line["tel"] for line in body["crisis"]["lines"]][:2] == ["tel:911", "tel:988"]
    assert body["results"][0]["name"] in CRISIS_SERVICES["violence"]
    assert client.get("/api/v1/services?q=food").get_json()["crisis"] is None


def test_the_page_shows_the_banner_with_numbers_to_call_above_the_results(demo, client):
    html = client.get("/search", query_string={"q": "I want to kill myself", "near": "13202"}).text
    assert 'class="crisis-banner" role="alert"' in html
    assert 'href="tel:988"' in html and 'href="tel:911"' in html and 'href="sms:988"' in html
    assert html.index("crisis-banner") < html.index('class="cards"')
    assert "crisis-banner" not in client.get("/search?q=food").text
