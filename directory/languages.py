"""The one list of languages: codes, English names and the other ways people and files spell them.

The HSDS import (the code and name written on a language row), the search index (the value a
listing is filed under and the words it is found by) and the search filters (the value in the
URL and its label) all read this table, so an imported row, its index entry and its filter agree.

Codes follow BCP 47's primary language subtag: the two-letter ISO 639-1 code where the language
has one ("es", "pa"), else the three-letter ISO 639-3 code ("hmn" Hmong, "ase" American Sign
Language, "kar" Karen). Cantonese ("yue"), Mandarin ("cmn") and Dari ("prs") are languages of
their own: 211 listings name them apart, because a person needs staff who speak *their*
language. They are varieties of Chinese ("zh") and Persian ("fa"), so a filter on Chinese also
finds a Cantonese or Mandarin listing (`with_varieties`).

Names are in English. Other spellings: ISO 639-2 codes (but not ones that are everyday words,
like "pan", "arm" or "rum"), the language's own name, its Spanish name, and the usual US 211
spellings ("Creole" is Haitian Creole, "ASL" and "Sign language" American Sign Language,
"Farsi" Persian). Spellings are compared without case or accents.
"""

import unicodedata
from collections.abc import Iterable

LANGUAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "en": ("English", ("eng", "inglés")),
    "es": ("Spanish", ("spa", "español", "castellano")),
    "zh": ("Chinese", ("chi", "zho", "chino", "zh-cn", "zh-tw")),
    "yue": ("Cantonese", ("cantonés", "zh-yue", "cantonese chinese", "chinese (cantonese)")),
    "cmn": ("Mandarin", ("mandarín", "zh-cmn", "mandarin chinese", "chinese (mandarin)")),
    "vi": ("Vietnamese", ("vie", "tiếng việt", "vietnamita")),
    "ru": ("Russian", ("rus", "ruso")),
    "ar": ("Arabic", ("ara", "árabe")),
    "fr": ("French", ("fre", "fra", "français", "francés")),
    "ht": ("Haitian Creole", ("hat", "haitian", "kreyòl", "creole", "criollo haitiano")),
    "ko": ("Korean", ("kor", "coreano")),
    "pt": ("Portuguese", ("por", "português", "portugués")),
    "tl": ("Tagalog", ("tgl", "fil", "filipino", "tagalo")),
    "pl": ("Polish", ("pol", "polski", "polaco")),
    "it": ("Italian", ("ita", "italiano")),
    "de": ("German", ("ger", "deu", "deutsch", "alemán")),
    "so": ("Somali", ("som", "somalí")),
    "bn": ("Bengali", ("ben", "bangla", "bengalí")),
    "hi": ("Hindi", ("hin",)),
    "ur": ("Urdu", ("urd",)),
    "pa": ("Punjabi", ("panjabi", "panyabí")),
    "gu": ("Gujarati", ("guj", "guyaratí")),
    "ne": ("Nepali", ("nep", "nepalí")),
    "my": ("Burmese", ("bur", "mya", "birmano")),
    "kar": ("Karen", ()),
    "sw": ("Swahili", ("swa", "kiswahili", "suajili")),
    "rw": ("Kinyarwanda", ("kin", "rwanda")),
    "fa": ("Persian", ("per", "fas", "farsi", "persa")),
    "prs": ("Dari", ()),
    "ps": ("Pashto", ("pus", "pashtu", "pastún")),
    "uz": ("Uzbek", ("uzb", "uzbeko")),
    "ku": ("Kurdish", ("kur", "kurdo")),
    "ja": ("Japanese", ("jpn", "japonés")),
    "th": ("Thai", ("tha", "tailandés")),
    "uk": ("Ukrainian", ("ukr", "ucraniano")),
    "am": ("Amharic", ("amh", "amárico")),
    "ti": ("Tigrinya", ("tir", "tigriña")),
    "he": ("Hebrew", ("heb", "hebreo")),
    "yi": ("Yiddish", ("yid", "ídish")),
    "km": ("Khmer", ("khm", "cambodian", "jemer")),
    "hmn": ("Hmong", ()),
    "lo": ("Lao", ("laotian",)),
    "el": ("Greek", ("gre", "ell", "griego")),
    "sq": ("Albanian", ("alb", "sqi", "albanés")),
    "bs": ("Bosnian", ("bos", "bosnio")),
    "hy": ("Armenian", ("hye", "armenio")),
    "ro": ("Romanian", ("ron", "rumano")),
    "tr": ("Turkish", ("tur", "turco")),
    "nl": ("Dutch", ("dut", "nld", "neerlandés", "holandés")),
    "ase": (
        "American Sign Language",
        ("asl", "sign language", "lengua de señas americana", "lenguaje de señas"),
    ),
}
VARIETY_OF = {"yue": "zh", "cmn": "zh", "prs": "fa"}  # a filter on the right finds the left too


def _folded(text: str) -> str:
    """Lower case without accents or surrounding spaces: " Español" -> "espanol"."""
    decomposed = unicodedata.normalize("NFKD", text.strip())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


_CODES = {
    _folded(spelling): code
    for code, (name, spellings) in LANGUAGES.items()
    for spelling in (code, name, *spellings)
}


def code_for(text: str) -> str | None:
    """The code of a language written as its code, name or another spelling; None if unknown.
    Region and script tags are not read here ("es-MX"): see `canonical`."""
    return _CODES.get(_folded(text))


def name(code: str) -> str:
    """The English name of a known code."""
    return LANGUAGES[code][0]


def spellings(code: str) -> tuple[str, ...]:
    """The other spellings of a known code (what the search index also finds it by)."""
    return LANGUAGES[code][1]


def canonical(value: str) -> tuple[str, str]:
    """(code, name) for any way of writing a language: "Español", "spa", "es-MX" -> ("es",
    "Spanish"). Unknown languages keep their own words: "Klingon" -> ("klingon", "Klingon")."""
    folded = _folded(value)
    code = _CODES.get(folded) or _CODES.get(folded.replace("_", "-").split("-")[0])
    if code:
        return code, name(code)
    return folded, value.strip().title()


def with_varieties(codes: Iterable[str]) -> tuple[str, ...]:
    """The codes, each followed by its varieties: ("zh",) -> ("zh", "yue", "cmn")."""
    found: dict[str, None] = {}
    for code in codes:
        found[code] = None
        found.update(dict.fromkeys(v for v, of in VARIETY_OF.items() if of == code))
    return tuple(found)
