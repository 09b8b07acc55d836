"""Search folding: one comparable form of text in any script, for rooms and visitors' queries.

A query matches when its folded words are substrings of the room's folded text, on every
database: SQLite's LIKE folds only ASCII and PostgreSQL's depends on the collation, so the
folding happens here, once, in Python (`Room.search_text`, `RoomQuerySet.search`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

# Letters written several ways in Arabic-script text, folded to one as Lucene's ArabicNormalizer
# and PersianNormalizer do: Persian yeh, alef maksura and yeh barree to the Arabic yeh; keheh
# to kaf; teh marbuta, heh goal and heh with yeh above to heh. Turkish dotless i folds to i, so
# that "istanbul" finds "\u0130stanbul" and "\u0131stanbul" alike.
_LETTERS = {
    "\u06cc": "\u064a",  # FARSI YEH -> YEH
    "\u0649": "\u064a",  # ALEF MAKSURA -> YEH
    "\u06d2": "\u064a",  # YEH BARREE -> YEH
    "\u06a9": "\u0643",  # KEHEH -> KAF
    "\u0629": "\u0647",  # TEH MARBUTA -> HEH
    "\u06c1": "\u0647",  # HEH GOAL -> HEH
    "\u0131": "i",  # DOTLESS I
}
# Heh with yeh above decomposes (NFKD) into the Kurdish ae and a hamza: composed (NFC) first,
# however it was written, it folds to heh.
_BEFORE_DECOMPOSING = str.maketrans({"\u06c0": "\u0647"})
# The kana voicing marks are kept: they tell different words apart (か ka, が ga).
_KEPT_MARKS = frozenset("\u3099\u309a")
# Nonspacing and enclosing marks: accents, harakat, the hamza above. Spacing marks (Indic vowel
# signs) are letters of their words. Format characters (tatweel is a letter, Lm, see below;
# ZWNJ, ZWJ, bidi marks, soft hyphens) and controls leave no trace.
_DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf", "Cc", "Cs", "Co", "Cn"})
_TATWEEL = "\u0640"


def _fold_character(character: str) -> str:
    if character.isspace():
        return " "
    if character in _KEPT_MARKS:
        return character
    if character == _TATWEEL or unicodedata.category(character) in _DROPPED_CATEGORIES:
        return ""
    if (digit := unicodedata.decimal(character, None)) is not None:
        return str(digit)  # Arabic-Indic, Persian and other decimal digits read as 0-9
    return _LETTERS.get(character, character)


def fold(text: str) -> str:
    """``text`` in the form searches compare: case folded, compatibility-decomposed (ﬁ, ①,
    full-width letters), without accents or harakat, Arabic-script letter variants and digits
    unified, invisible characters dropped, whitespace collapsed to single spaces."""
    text = unicodedata.normalize("NFC", text).translate(_BEFORE_DECOMPOSING)
    text = unicodedata.normalize("NFKD", text).casefold()
    text = "".join(map(_fold_character, unicodedata.normalize("NFKD", text)))
    # Recomposed, so that Hangul syllables and voiced kana compare whole, not by their parts.
    return " ".join(unicodedata.normalize("NFC", text).split())


def fold_words(text: str, limit: int) -> list[str]:
    """The first ``limit`` words of ``text`` (a visitor's query), each folded."""
    return fold(text).split()[:limit]


def fold_all(parts: Iterable[str]) -> str:
    """Several texts folded into one searchable text; no word runs across two of them."""
    return fold(" ".join(parts))
