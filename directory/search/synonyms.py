"""Lay-language expansion of search text, read from a file staff can edit (search/synonyms.txt).

People type "help paying rent", "food stamps", "comida"; listings say "Rental Assistance", "SNAP",
"Food Pantry". Each line of the file maps lay phrases to the formal terms services use (the
format is documented at the top of the file). This module splits search text into *concepts*:
a known lay phrase (matched as a whole phrase, longest first) becomes one concept whose
alternatives are its formal terms; every other word is a concept of its own. The engine then
searches each concept's literal words and alternatives. It knows nothing of Whoosh, so every
search backend shares it.

Words are compared folded: lower case, accents dropped, a plural "s" dropped, and little words
("the", "my", "de", "la") ignored, so "Rides to the doctor" matches "ride to doctor".
"""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

DEFAULT_PATH = Path(__file__).with_name("synonyms.txt")
T = TypeVar("T")

# Ignored when matching phrases (English and Spanish). Kept out of the engine's concepts too.
LITTLE_WORDS = frozenset(
    """a an the to for of in on at by with and or my me i im i'm our we you your is are be
    it its some any get can please want need needs needed looking find where how
    el la los las un una unos unas de del al para por con mi mis y o que en""".split()
)
_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


class SynonymFileError(ValueError):
    """A line of the synonyms file that can't be read, with its number."""


def fold(text: str) -> str:
    """Lower case without accents: "Español" → "espanol"."""
    if text.isascii():  # most text: nothing to strip (and indexing folds millions of words)
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def tokens(text: str) -> list[str]:
    """The folded words of a text, little words included."""
    return _TOKEN.findall(fold(text).replace("’", "'"))


def word_key(word: str) -> str:
    """How a word is compared: "rides" → "ride", "pantries" → "pantry", "comidas" → "comida"."""
    word = word.removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def phrase_key(text: str) -> tuple[str, ...]:
    """The comparison key of a phrase: its folded, singular words minus little words."""
    return tuple(word_key(t) for t in tokens(text) if t not in LITTLE_WORDS)


@dataclass(frozen=True)
class Concept:
    """One idea in the search text: the words typed, and what else they mean."""

    text: str  # the words as typed, folded (searched as a phrase)
    alternatives: tuple[str, ...] = ()  # formal terms, each searched as a phrase

    @property
    def is_phrase(self) -> bool:
        return " " in self.text


@dataclass(frozen=True)
class Entry:
    lay: tuple[str, ...]
    formal: tuple[str, ...]
    line: int


def parse(text: str) -> list[Entry]:
    """Read the synonyms format; raise SynonymFileError naming the line of any mistake."""
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.count("=>") != 1:
            raise SynonymFileError(f"line {number}: expected one '=>' between lay and formal words")
        left, right = (side.strip() for side in line.split("=>"))
        lay = tuple(p.strip() for p in left.split(",") if p.strip())
        formal = tuple(p.strip() for p in right.split(",") if p.strip())
        if not lay:
            raise SynonymFileError(f"line {number}: nothing before '=>'")
        for phrase in lay:
            if not phrase_key(phrase):
                raise SynonymFileError(f"line {number}: {phrase!r} has only little words")
        entries.append(Entry(lay, formal, number))
    return entries


class Synonyms:
    """The parsed file: lay phrase keys → formal terms (an empty tuple: filler, dropped)."""

    def __init__(self, entries: list[Entry]):
        self.table: dict[tuple[str, ...], tuple[str, ...]] = {}
        for entry in entries:
            for phrase in entry.lay:
                key = phrase_key(phrase)
                merged = self.table.get(key, ()) + tuple(
                    f for f in entry.formal if f not in self.table.get(key, ())
                )
                self.table[key] = merged
        self.longest = max((len(k) for k in self.table), default=0)
        self.vocabulary = frozenset(
            word
            for entry in entries
            for phrase in (*entry.lay, *entry.formal)
            for word in tokens(phrase)
        )

    @classmethod
    def from_text(cls, text: str) -> "Synonyms":
        return cls(parse(text))

    def expand(self, text: str) -> list[Concept]:
        """Split search text into concepts, known phrases first (longest match wins)."""
        words = [t for t in tokens(text) if t not in LITTLE_WORDS]
        keys = [word_key(w) for w in words]
        concepts: list[Concept] = []
        i = 0
        while i < len(words):
            for size in range(min(self.longest, len(words) - i), 0, -1):
                formal = self.table.get(tuple(keys[i : i + size]))
                if formal is not None:
                    if formal:  # an empty right side marks filler ("near me")
                        concepts.append(Concept(" ".join(words[i : i + size]), formal))
                    i += size
                    break
            else:
                concepts.append(Concept(words[i]))
                i += 1
        return _dedupe(concepts)

    def knows(self, word: str) -> bool:
        """Is this folded word part of some lay phrase or formal term (so not a typo)?"""
        return word in self.vocabulary or word in LITTLE_WORDS


def _dedupe(concepts: list[Concept]) -> list[Concept]:
    seen: set[str] = set()
    out = []
    for concept in concepts:
        if concept.text not in seen:
            seen.add(concept.text)
            out.append(concept)
    return out


_cache: dict[tuple[Path, Callable], tuple[float, Any]] = {}


def read_cached(path: Path, build: Callable[[str], T]) -> T:
    """`build(text of path)`, kept until the file changes (staff edit these lists live)."""
    mtime = path.stat().st_mtime
    cached = _cache.get((path, build))
    if cached and cached[0] == mtime:
        return cached[1]
    built = build(path.read_text(encoding="utf-8"))
    _cache[(path, build)] = (mtime, built)
    return built


def load(path: str | Path | None = None) -> Synonyms:
    """The synonyms in `path` (default: synonyms.txt here), re-read when the file changes."""
    return read_cached(Path(path) if path else DEFAULT_PATH, Synonyms.from_text)
