"""Typing mistakes: how far apart two words are, how many mistakes a word may hold, and the
likely intended words (from the engine's vocabulary and the synonyms file).
"""

from collections.abc import Iterable

from directory.search import synonyms
from directory.search.engine import SearchEngine


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count one), or limit + 1 when larger."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def max_edits(word: str) -> int:
    """Typing mistakes forgiven in a word: none under 3 letters, one up to 6, else two."""
    if len(word) < 3:
        return 0
    return 1 if len(word) <= 6 else 2


def suggestions(search_engine: SearchEngine, lexicon: synonyms.Synonyms, word: str) -> list[str]:
    """Likely intended words, from the index's own vocabulary and the synonyms file."""
    limit = max_edits(word)
    if not limit:
        return []
    ranked = [(w, d, f) for w, d, f in search_engine.spellings(word, limit)]
    indexed = {w for w, _, _ in ranked}
    for candidate in lexicon.vocabulary:
        if candidate[:1] != word[:1] or candidate in indexed or candidate == word:
            continue
        distance = edit_distance(word, candidate, limit)
        if distance <= limit:
            ranked.append((candidate, distance, 0))
    ranked.sort(key=lambda r: (r[1], -r[2], r[0]))
    return [w for w, _, _ in ranked]


def typed_words(concepts: Iterable[synonyms.Concept]) -> list[str]:
    """Words typed outside any known lay phrase (the ones that may be misspelled)."""
    return [c.text for c in concepts if not c.alternatives and not c.is_phrase]
