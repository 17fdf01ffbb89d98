"""Crisis words first: a search that signals danger shows the crisis lines above everything.

"he hits me", "no quiero vivir", "my friend took too many pills": whatever else the words match,
the person may be in danger now. `detect()` reads the search text against a word list staff can
edit (crisis_words.txt, format at its top) and says which kinds of danger it signals;
`searching.search()` then puts the crisis lines (988, 911 and the line for that danger) in the
results and the directory's crisis services first. Engine-neutral: plain words in, plain data out.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from directory.search import synonyms

DEFAULT_PATH = Path(__file__).with_name("crisis_words.txt")
KINDS = ("suicide", "violence", "overdose")
NOT = "not"
_APOSTROPHE = re.compile(r"['’]")


class CrisisFileError(ValueError):
    """A line of the crisis word list that can't be read, with its number."""


@dataclass(frozen=True)
class CrisisLine:
    """A number to call or text, as the banner and the API show it."""

    name: str
    number: str  # as dialled: "988", "911", "18007997233"
    display: str  # as shown: "988", "1-800-799-7233"
    note: str
    text: bool = False  # can also be texted

    @property
    def tel_uri(self) -> str:
        return f"tel:{self.number}"


EMERGENCY = CrisisLine("Emergency services", "911", "911", "If you are in danger right now.")
LIFELINE = CrisisLine(
    "988 Suicide and Crisis Lifeline",
    "988",
    "988",
    "Call or text, 24 hours. En español: marque 988 y oprima 2.",
    text=True,
)
LINES = {
    "suicide": (),
    "violence": (
        CrisisLine(
            "National Domestic Violence Hotline",
            "18007997233",
            "1-800-799-7233",
            "24 hours, confidential; text START to 88788. Se habla español.",
        ),
    ),
    "overdose": (
        CrisisLine(
            "Poison Control",
            "18002221222",
            "1-800-222-1222",
            "24 hours, free and confidential, for overdoses and poisonings.",
        ),
    ),
}

# What the directory's crisis services are called, searched (any of them) to put them first.
SERVICE_WORDS = {
    "suicide": ("crisis", ("suicide", "crisis line", "hotline", "psychiatric emergency")),
    "violence": ("domestic violence", ("abuse", "violence", "safe house", "hotline", "crisis")),
    "overdose": ("overdose", ("naloxone", "narcan", "poison", "crisis", "detox")),
}


@dataclass(frozen=True)
class Crisis:
    """What a search signalled: the kinds of danger, and the lines to show, most urgent first."""

    kinds: tuple[str, ...]

    @property
    def lines(self) -> tuple[CrisisLine, ...]:
        extra = tuple(line for kind in self.kinds for line in LINES[kind])
        return (EMERGENCY, LIFELINE, *extra)

    def service_concepts(self) -> tuple[synonyms.Concept, ...]:
        """The concepts a search for this danger's services asks for (any may match)."""
        return tuple(synonyms.Concept(*SERVICE_WORDS[kind]) for kind in self.kinds)


def words(text: str) -> list[str]:
    """Folded words without apostrophes: "Don't" → "dont"."""
    return [_APOSTROPHE.sub("", w) for w in synonyms.tokens(text)]


def parse(text: str) -> dict[str, list[tuple[str, ...]]]:
    """{kind: [phrase words]} from the word list; CrisisFileError naming the bad line."""
    table: dict[str, list[tuple[str, ...]]] = {kind: [] for kind in (*KINDS, NOT)}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kind, arrow, phrases = line.partition("=>")
        kind = kind.strip()
        if not arrow or kind not in table:
            raise CrisisFileError(
                f"line {number}: expected 'kind => phrases' with kind one of "
                f"{', '.join((*KINDS, NOT))}"
            )
        for phrase in phrases.split(","):
            if found := tuple(words(phrase)):
                table[kind].append(found)
    return table


@lru_cache(maxsize=65536)  # searches repeat words; a search stays well under a millisecond
def _near(typed: str, word: str) -> bool:
    """The typed word is the listed word, or a typo of a long one (first two letters right)."""
    if typed == word:
        return True
    allowed = 2 if len(word) >= 9 else 1 if len(word) >= 7 else 0
    if not allowed or typed[:2] != word[:2] or abs(len(typed) - len(word)) > allowed:
        return False
    return _distance(typed, word) <= allowed


def _distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) from a to b."""
    previous, current = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        before, previous, current = previous, current, [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
    return current[-1]


def _possible(phrase: tuple[str, ...], present: set) -> bool:
    """Cheap check first: the phrase's short words (matched exactly) are all in the text."""
    return all(word in present for word in phrase if len(word) < 7)


def _find(tokens: list[str | None], phrase: tuple[str, ...]) -> list[int] | None:
    """Positions of the phrase's words in order, at most one other word between two of them."""
    for start, token in enumerate(tokens):
        if token is None or not _near(token, phrase[0]):
            continue
        positions, at = [start], start
        for word in phrase[1:]:
            for step in (1, 2):
                nxt = at + step
                if nxt < len(tokens) and tokens[nxt] is not None and _near(tokens[nxt], word):
                    positions.append(nxt)
                    at = nxt
                    break
            else:
                break
        if len(positions) == len(phrase):
            return positions
    return None


class CrisisWords:
    """The parsed word list."""

    def __init__(self, table: dict[str, list[tuple[str, ...]]]):
        self.table = table

    @classmethod
    def from_text(cls, text: str) -> "CrisisWords":
        return cls(parse(text))

    def detect(self, text: str) -> Crisis | None:
        """The danger the text signals, or None."""
        tokens: list[str | None] = list(words(text))
        if not tokens:
            return None
        for phrase in self.table[NOT]:
            while (found := _find(tokens, phrase)) is not None:
                for position in found:
                    tokens[position] = None
        present = set(tokens)
        kinds = tuple(
            kind
            for kind in KINDS
            if any(
                _possible(phrase, present) and _find(tokens, phrase) is not None
                for phrase in self.table[kind]
            )
        )
        return Crisis(kinds) if kinds else None


def load(path: str | Path | None = None) -> CrisisWords:
    """The word list in `path` (default: crisis_words.txt here), re-read when the file changes."""
    return synonyms.read_cached(Path(path) if path else DEFAULT_PATH, CrisisWords.from_text)


def detect(text: str, path: str | Path | None = None) -> Crisis | None:
    """The danger a search text signals (the default word list), or None."""
    return load(path).detect(text)
