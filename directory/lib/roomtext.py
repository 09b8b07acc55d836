"""Room text from hostile servers: cleaning names and descriptions, tags, languages, NSFW hints.

Every room field comes from a stranger's server. These helpers turn it into plain text that is
safe to store and show (templates still autoescape it: it is text, never markup).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

from directory.lib.languages import (  # noqa: F401  (re-exported: room text's languages)
    GLOBE,
    MULTILINGUAL,
    language_flag,
    language_from_flag,
    standard_language,
)

MAX_TAG_LENGTH = 32
# Vietnamese, Devanagari or Tibetan stack a few marks; more than this is "zalgo" text.
MAX_COMBINING_MARKS = 4

# Format characters (Unicode category Cf) are dropped: they include the bidi overrides, isolates
# and marks (U+202A-202E, U+2066-2069, U+200E/200F, U+061C) that reorder text ("gro.noisseS"
# shown as "Session.org"), zero-width spaces, word joiners, BOMs and soft hyphens. ZWJ and ZWNJ
# are kept: emoji sequences and Persian or Indic text need them. Hangul fillers and the
# combining grapheme joiner are letters or marks that render as nothing: used to fake empty names.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u034f")
_KEPT_FORMAT_CHARACTERS = frozenset("\u200c\u200d")
# Subdivision flags (Scotland, Wales) are a black flag followed by invisible tag characters.
_EMOJI_TAG_SEQUENCE = re.compile("(\U0001f3f4[\U000e0020-\U000e007e]{1,8}\U000e007f)")

UNLISTED_TAG = "unlisted"
RESERVED_TAGS = frozenset(
    {
        "official",
        "nsfw",
        "new",
        "modded",
        "moderated",
        "not modded",
        "not moderated",
        "read-only",
        "uploads off",
        "we're here",
        "test",
        "pinned",
        # Ours: an operator writes #unlisted to opt a room out of the directory. It is a signal
        # for the crawler, never a tag to show.
        UNLISTED_TAG,
    }
)

# A run of hashtags at the very end of a description (the
# convention the sessioncommunities.online crawler reads), with an optional "tags:"
# label before it and at most one stray character after it. It is matched on the *reversed*
# text, anchored at its start: linear time even on hostile descriptions full of '#'.
# Tag words may not contain whitespace, '#', '(', ')', '@', '.' or ','.
_REVERSED_TAG = r"[^\s#()@.,]+#"
_TRAILING_HASHTAGS_REVERSED = re.compile(
    r"\s*[^\s#]??[\s,]*"  # stray character and separators after the run
    rf"(?P<run>{_REVERSED_TAG}(?:[\s,]+{_REVERSED_TAG})*)"
    r"(?:\s*:\s*s?gat(?:hsah)?)?"  # "tags:" or "hashtags:", reversed
    r"(?!\S)",  # the run (or its label) starts the text or follows whitespace
    re.IGNORECASE,
)
_LANG_PREFIX = "lang:"

# "nsfw", "porn" and "erotic" never occur innocently inside other words ("gayporn", "erotica"),
# so they match anywhere; "sex" and "18+" need word boundaries ("sussex", "2018+").
_NSFW_PATTERN = re.compile(
    r"nsfw|porn|erotic|(?<![^\W_])sex(?:y|ting)?(?![^\W_])|(?<!\d)18\+|\+18(?!\d)",
    re.IGNORECASE,
)


def _coerce_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def _is_kept_character(char: str) -> bool:
    if char.isspace():
        return True  # whitespace is normalised later, not deleted
    if char in _INVISIBLE_LETTERS:
        return False
    category = unicodedata.category(char)
    if category == "Cf":
        return char in _KEPT_FORMAT_CHARACTERS
    return category not in ("Cc", "Cs")


def _strip_invisible(text: str) -> str:
    # Odd-numbered pieces are whole emoji tag sequences, kept as they are.
    pieces = _EMOJI_TAG_SEQUENCE.split(text)
    for index in range(0, len(pieces), 2):
        pieces[index] = "".join(char for char in pieces[index] if _is_kept_character(char))
    return "".join(pieces)


def _cap_combining_marks(text: str) -> str:
    kept: list[str] = []
    # Marks at the start or on a space have no letter to sit on: they only stack up or overlay.
    run = MAX_COMBINING_MARKS
    for char in text:
        if unicodedata.category(char) in ("Mn", "Me"):
            run += 1
            if run > MAX_COMBINING_MARKS:
                continue
        else:
            run = MAX_COMBINING_MARKS if char.isspace() else 0
        kept.append(char)
    return "".join(kept)


def _normalise_whitespace(text: str, multiline: bool) -> str:
    if not multiline:
        return " ".join(text.split())
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _clamp(text: str, max_length: int) -> str:
    if len(text) <= max_length:
        return text
    if max_length < 2:
        return text[:max_length]
    return text[: max_length - 1].rstrip() + "\N{HORIZONTAL ELLIPSIS}"


def clean_text(value: object, max_length: int, *, multiline: bool = False) -> str:
    """Plain, visible text from a remote field, at most ``max_length`` characters.

    Removes control, bidi-override and invisible characters and excess combining marks,
    NFC-normalises, and collapses whitespace (``multiline`` keeps single blank lines, for
    descriptions). A clamped result ends with an ellipsis.
    """
    if max_length < 0:
        raise ValueError("max_length must not be negative")
    text = _strip_invisible(_coerce_text(value))
    # NFC after stripping, so marks separated by a removed character still compose.
    text = _cap_combining_marks(unicodedata.normalize("NFC", text))
    return _clamp(_normalise_whitespace(text, multiline), max_length)


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as Windows-1252 ('Ð£ÐºÑ€' -> 'Укр'), else return it as is.

    Seen in session.directory's feed. Ordinary text is left alone: it almost never forms valid
    UTF-8 when read back as Windows-1252 bytes.
    """
    raw = bytearray()
    for char in text:
        try:
            raw += char.encode("cp1252")
        except UnicodeEncodeError:
            if ord(char) > 0xFF:
                return text
            raw.append(ord(char))  # the five bytes cp1252 leaves undefined pass through
    if raw.isascii():
        return text
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return text


def normalise_tag(text: object) -> str | None:
    """A tag as stored: trimmed, entities decoded, no '#', lower-case, clamped; None if empty."""
    tag = html.unescape(_coerce_text(text).strip())
    tag = clean_text(tag, 4 * MAX_TAG_LENGTH).lstrip("#").strip().lower()
    tag = tag[:MAX_TAG_LENGTH].rstrip()
    return tag or None


def _fold_tag(tag: str) -> str:
    # "uploads-off" (the search form), "read_only" and a typographic apostrophe are the same words.
    folded = tag.replace("\N{RIGHT SINGLE QUOTATION MARK}", "'").replace("_", " ")
    return " ".join(folded.replace("-", " ").split())


_FOLDED_RESERVED_TAGS = frozenset(_fold_tag(tag) for tag in RESERVED_TAGS)


def is_reserved(tag: str) -> bool:
    """Whether ``tag`` is one of the directory's own words, which servers may not claim."""
    normalised = normalise_tag(tag)
    return normalised is not None and _fold_tag(normalised) in _FOLDED_RESERVED_TAGS


def split_trailing_hashtags(description: str) -> tuple[str, list[str]]:
    """Cut the trailing run of hashtags (and a "tags:" label) off a description.

    Returns the rest of the description and the normalised, de-duplicated tags of the run.
    """
    text = _coerce_text(description)
    match = _TRAILING_HASHTAGS_REVERSED.match(text[::-1])
    if match is None:
        return text, []
    tags: list[str] = []
    for word in re.split(r"[\s,]+", match["run"][::-1]):
        tag = normalise_tag(word)
        if tag is not None and tag not in tags:
            tags.append(tag)
    return text[: len(text) - match.end()].rstrip(), tags


def language_from_hashtags(tags: Iterable[str]) -> str | None:
    """The language named by the first valid ``lang:xx`` tag ('en', 'zh', 'mul'), or None.

    Invalid codes such as ``lang:us`` are skipped, so a later valid tag still counts.
    """
    for tag in tags:
        normalised = normalise_tag(tag)
        if normalised and normalised.startswith(_LANG_PREFIX):
            language = standard_language(normalised[len(_LANG_PREFIX) :])
            if language is not None:
                return language
    return None


def nsfw_signal(name: str | None, tags: Iterable[str]) -> bool:
    """Whether the room name or its tags suggest adult content (keywords as the
    sessioncommunities.online crawler uses them).

    The description is left out on purpose: it gives too many false positives.
    """
    text = " ".join([_coerce_text(name), *(_coerce_text(tag) for tag in tags)])
    return _NSFW_PATTERN.search(text) is not None
