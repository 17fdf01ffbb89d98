"""The order of search results: close, open, matching services first. Pure functions.

The rule, for each service the search found:

    score = relevance × nearness × (1 + OPEN_NOW_BOOST if open now)

- relevance: the engine's text score divided by the best score of this search (0–1], so the
  best text match is 1 whatever the engine's scale. Without words, every service has 1.
- nearness: HALF_DISTANCE_KM / (HALF_DISTANCE_KM + d), where d is the distance in km to the
  service's nearest location. A service 8 km away counts half as much as one next door, one
  24 km away a quarter: the decay is gentle, so a much better match a little further away
  still wins. A service whose service area covers the person's place counts as
  COVERED_DISTANCE_KM away when its office is further (it serves them where they are).
  A service with neither a located office nor coverage has d = UNKNOWN_DISTANCE_KM.
  Without a place, nearness is 1.
- open now: a small boost (OPEN_NOW_BOOST) reorders near-equals, never buries a better match.

When too few services match every searched word and any word may match, services matching
more of the words (`coverage`) come first whatever their score; the rule orders each group.

A place without words (a "what's near me" browse) is ordered purely by distance (covered
services as COVERED_DISTANCE_KM), and neither words nor place by name. Ties always fall back to
name, then id, so pages are stable.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

HALF_DISTANCE_KM = 8.0
COVERED_DISTANCE_KM = 2.0
UNKNOWN_DISTANCE_KM = 100.0
OPEN_NOW_BOOST = 0.1


@dataclass(frozen=True)
class Candidate:
    key: Any
    relevance: float | None  # 0–1, None when the search had no words
    distance_km: float | None = None
    serves_area: bool = False
    open_now: bool | None = None
    name: str = ""
    coverage: float = 1.0  # share of the searched words matched
    score: float = 0.0


def relevance(score: float, best: float) -> float:
    """A text score as a share of the best score of the same search (0–1)."""
    if best <= 0:
        return 1.0
    return max(0.0, min(1.0, score / best))


def effective_distance_km(distance_km: float | None, serves_area: bool) -> float:
    """The distance used for ranking: coverage counts as near, unknown as far."""
    if serves_area:
        if distance_km is None:
            return COVERED_DISTANCE_KM
        return min(distance_km, COVERED_DISTANCE_KM)
    return UNKNOWN_DISTANCE_KM if distance_km is None else max(0.0, distance_km)


def nearness(distance_km: float | None, serves_area: bool = False) -> float:
    """1 next door, ½ at HALF_DISTANCE_KM, ¼ at three times that."""
    distance = effective_distance_km(distance_km, serves_area)
    return HALF_DISTANCE_KM / (HALF_DISTANCE_KM + distance)


def score(candidate: Candidate, has_place: bool) -> float:
    """The combined score of the rule above."""
    value = 1.0 if candidate.relevance is None else candidate.relevance
    if has_place:
        value *= nearness(candidate.distance_km, candidate.serves_area)
    if candidate.open_now:
        value *= 1 + OPEN_NOW_BOOST
    return value


def _order(candidate: Candidate, has_text: bool, has_place: bool) -> tuple:
    tie = (candidate.name, str(candidate.key))
    if has_text:
        return (-round(candidate.coverage, 6), -candidate.score, *tie)
    if has_place:
        return (effective_distance_km(candidate.distance_km, candidate.serves_area), *tie)
    return tie


def rank(candidates: list[Candidate], has_place: bool) -> list[Candidate]:
    """The candidates best first, each with its `score` filled in."""
    scored = [replace(c, score=score(c, has_place)) for c in candidates]
    has_text = any(c.relevance is not None for c in candidates)
    return sorted(scored, key=lambda c: _order(c, has_text, has_place))


# --- The same rule over arrays, for searches that find thousands of services ---------------


def scores(
    relevance: np.ndarray | None,
    distance_km: np.ndarray | None,
    serves_area: np.ndarray | None,
    open_now: np.ndarray,
) -> np.ndarray:
    """`score()` for many candidates at once. distance_km holds NaN where unknown; open_now is
    1 (open), 0 (closed) or -1 (no hours); relevance None means no words; distance None means
    no place."""
    value = np.ones(len(open_now)) if relevance is None else np.clip(relevance, 0.0, 1.0)
    if distance_km is not None:
        value = value * (HALF_DISTANCE_KM / (HALF_DISTANCE_KM + effective_distances(
            distance_km, serves_area)))  # fmt: skip
    return np.where(open_now == 1, value * (1 + OPEN_NOW_BOOST), value)


def effective_distances(distance_km: np.ndarray, serves_area: np.ndarray | None) -> np.ndarray:
    """`effective_distance_km()` for many candidates at once."""
    distance = np.where(np.isnan(distance_km), UNKNOWN_DISTANCE_KM, np.maximum(distance_km, 0))
    if serves_area is None:
        return distance
    covered = np.where(
        np.isnan(distance_km), COVERED_DISTANCE_KM, np.minimum(distance_km, COVERED_DISTANCE_KM)
    )
    return np.where(serves_area, covered, distance)


def order(
    *,
    scores: np.ndarray,
    coverage: np.ndarray,
    distance_km: np.ndarray | None,
    serves_area: np.ndarray | None,
    names: Sequence[str],
    keys: Sequence,
    has_text: bool,
    limit: int,
) -> list[int]:
    """Positions of the best `limit` candidates, best first, as `rank()` orders them."""
    count = len(names)
    if has_text:
        numeric = [-np.round(coverage, 6), -scores]
    elif distance_km is not None:
        numeric = [effective_distances(distance_km, serves_area)]
    else:
        numeric = []
    if numeric and limit < count:
        # Cheap numeric pre-selection, widened to every tie of the last one kept.
        by_numbers = np.lexsort(numeric[::-1])
        last = by_numbers[limit - 1]
        tied = np.ones(count, dtype=bool)
        for column in numeric:
            tied &= column == column[last]
        keep = np.union1d(by_numbers[:limit], np.flatnonzero(tied))
    else:
        keep = np.arange(count)

    def full_key(i: int) -> tuple:
        return (*(float(column[i]) for column in numeric), names[i], str(keys[i]))

    return sorted(keep.tolist(), key=full_key)[:limit]
