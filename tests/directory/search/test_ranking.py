"""The ranking rule: relevance × nearness × open-now boost, place-only by distance."""

import pytest

from directory.search import ranking
from directory.search.ranking import Candidate


def _names(ranked):
    return [c.name for c in ranked]


def test_relevance_is_a_share_of_the_best_score():
    assert ranking.relevance(5.0, 10.0) == 0.5
    assert ranking.relevance(10.0, 10.0) == 1.0
    assert ranking.relevance(3.0, 0.0) == 1.0  # nothing to compare with


def test_nearness_halves_at_the_half_distance():
    assert ranking.nearness(0.0) == 1.0
    assert ranking.nearness(ranking.HALF_DISTANCE_KM) == pytest.approx(0.5)
    assert ranking.nearness(3 * ranking.HALF_DISTANCE_KM) == pytest.approx(0.25)


def test_coverage_counts_as_near_and_unknown_as_far():
    covered_far_office = ranking.nearness(150.0, serves_area=True)
    assert covered_far_office == ranking.nearness(ranking.COVERED_DISTANCE_KM)
    assert ranking.nearness(0.5, serves_area=True) == ranking.nearness(0.5)
    assert ranking.nearness(None) == ranking.nearness(ranking.UNKNOWN_DISTANCE_KM)


def test_a_much_better_match_a_little_further_beats_a_weak_match_next_door():
    ranked = ranking.rank(
        [
            Candidate("weak", relevance=0.2, distance_km=0.3, name="Weak next door"),
            Candidate("strong", relevance=1.0, distance_km=6.0, name="Strong nearby"),
        ],
        has_place=True,
    )
    assert _names(ranked) == ["Strong nearby", "Weak next door"]


def test_distance_separates_equal_matches():
    ranked = ranking.rank(
        [
            Candidate(1, relevance=1.0, distance_km=20.0, name="Far"),
            Candidate(2, relevance=1.0, distance_km=2.0, name="Near"),
        ],
        has_place=True,
    )
    assert _names(ranked) == ["Near", "Far"]


def test_open_now_reorders_near_equals_but_never_buries_a_better_match():
    near_equals = ranking.rank(
        [
            Candidate(1, relevance=0.97, open_now=False, name="Closed"),
            Candidate(2, relevance=0.95, open_now=True, name="Open"),
        ],
        has_place=False,
    )
    assert _names(near_equals) == ["Open", "Closed"]
    clear_winner = ranking.rank(
        [
            Candidate(1, relevance=1.0, open_now=False, name="Closed but right"),
            Candidate(2, relevance=0.6, open_now=True, name="Open but weak"),
        ],
        has_place=False,
    )
    assert _names(clear_winner) == ["Closed but right", "Open but weak"]


def test_place_only_searches_are_ordered_by_distance_whatever_the_hours():
    ranked = ranking.rank(
        [
            Candidate(1, relevance=None, distance_km=3.0, open_now=True, name="Open, 3 km"),
            Candidate(2, relevance=None, distance_km=1.0, open_now=False, name="Closed, 1 km"),
            Candidate(3, relevance=None, distance_km=90.0, serves_area=True, name="Covers you"),
        ],
        has_place=True,
    )
    assert _names(ranked) == ["Closed, 1 km", "Covers you", "Open, 3 km"]


def test_no_words_and_no_place_is_alphabetical_and_ties_are_stable():
    ranked = ranking.rank(
        [Candidate("b", None, name="beta"), Candidate("a", None, name="alpha")],
        has_place=False,
    )
    assert _names(ranked) == ["alpha", "beta"]
    same = [Candidate(k, 1.0, name="same") for k in ("z", "y", "x")]
    assert [c.key for c in ranking.rank(same, has_place=False)] == ["x", "y", "z"]


def test_when_any_word_may_match_more_words_matched_come_first():
    ranked = ranking.rank(
        [
            Candidate("half", relevance=1.0, coverage=0.5, distance_km=0.5, name="Half, near"),
            Candidate("all", relevance=0.3, coverage=1.0, distance_km=9.0, name="All, far"),
            Candidate("half2", relevance=0.9, coverage=0.5, distance_km=9.0, name="Half, far"),
        ],
        has_place=True,
    )
    assert _names(ranked) == ["All, far", "Half, near", "Half, far"]


def test_the_array_form_orders_exactly_as_rank_does():
    import random

    import numpy as np

    rng = random.Random(4)
    for has_text, has_place in [(True, True), (True, False), (False, True), (False, False)]:
        candidates = [
            Candidate(
                key=f"k{i:03}",
                relevance=rng.choice([0.2, 0.5, 1.0]) if has_text else None,
                coverage=rng.choice([1.0, 0.5]) if has_text else 1.0,
                distance_km=rng.choice([None, 0.5, 3.0, 3.0, 40.0]) if has_place else None,
                serves_area=has_place and rng.random() < 0.2,
                open_now=rng.choice([True, False, None]),
                name=rng.choice(["alpha", "beta", "gamma"]),
            )
            for i in range(60)
        ]
        expected = ranking.rank(candidates, has_place=has_place)
        open_now = np.array([-1 if c.open_now is None else int(c.open_now) for c in candidates])
        relevance = np.array([c.relevance for c in candidates]) if has_text else None
        distance = serves = None
        if has_place:
            distance = np.array(
                [np.nan if c.distance_km is None else c.distance_km for c in candidates]
            )
            serves = np.array([c.serves_area for c in candidates])
        scores = ranking.scores(relevance, distance, serves, open_now)
        for candidate, value in zip(candidates, scores, strict=True):
            assert value == pytest.approx(ranking.score(candidate, has_place))
        for limit in (5, 60):
            positions = ranking.order(
                scores=scores,
                coverage=np.array([c.coverage for c in candidates]),
                distance_km=distance,
                serves_area=serves,
                names=[c.name for c in candidates],
                keys=[c.key for c in candidates],
                has_text=has_text,
                limit=limit,
            )
            assert [candidates[i].key for i in positions] == [c.key for c in expected][:limit]
