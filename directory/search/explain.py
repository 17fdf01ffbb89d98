"""Explain the match: which concept found a service when its text lacks the words typed.

Someone types "daycare" and gets "Child Care Subsidy Applications": the synonym layer searched
the concept's formal terms too. A coordinator trusts that result more when the card says
"matched: childcare". Engine-neutral: words are compared as the synonym layer compares them
(folded, singular, little words ignored) against what the card shows.
"""

from collections.abc import Iterable

from directory.search import synonyms


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    size = len(phrase)
    return size > 0 and any(words[i : i + size] == phrase for i in range(len(words) - size + 1))


def card_words(service) -> tuple[str, ...]:
    """The comparable words of what a result card shows: name, organization, description,
    categories."""
    parts = [service.name, service.organization.name, service.description or ""]
    parts += [a.taxonomy_term.name for a in service.attributes]
    return synonyms.phrase_key(" . ".join(parts))


def matched(
    concepts: Iterable[synonyms.Concept], words: tuple[str, ...], typed: bool = True
) -> tuple[str, ...]:
    """The formal terms that matched where the typed words did not, one per concept, in the
    order searched. With `typed` False the concepts were not typed (crisis services put
    first), so their own words count as matched terms too."""
    found = []
    for concept in concepts:
        own = synonyms.phrase_key(concept.text)
        if typed and _contains(words, own):
            continue
        terms = concept.alternatives if typed else (concept.text, *concept.alternatives)
        for term in terms:
            if _contains(words, synonyms.phrase_key(term)):
                if term not in found:
                    found.append(term)
                break
    return tuple(found)
