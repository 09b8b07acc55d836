"""ISO 639 language codes and the emoji flags derived from them (never typed by hand)."""

from __future__ import annotations

import re

import langcodes

MULTILINGUAL = "mul"
GLOBE = "\N{GLOBE WITH MERIDIANS}"
_PRIVATE_USE_TERRITORY = re.compile(r"AA|Q[M-Z]|X[A-JL-Z]|ZZ")
_REGIONAL_INDICATOR_A = 0x1F1E6


def _parse_language(code: str) -> langcodes.Language | None:
    code = code.strip()
    if not code or len(code) > 35:
        return None
    try:
        language = langcodes.Language.get(code)
    except ValueError:  # LanguageTagError is a ValueError
        return None
    subtag = language.language
    if not subtag or not language.is_valid() or subtag in ("und", "zxx", "mis"):
        return None
    if "qaa" <= subtag <= "qtz":  # private use
        return None
    return language


def standard_language(code: str) -> str | None:
    if code.strip().lower() in ("any", "all", MULTILINGUAL):
        return MULTILINGUAL
    language = _parse_language(code)
    return language.language if language is not None else None


def _flag_for_territory(territory: str) -> str:
    return "".join(chr(_REGIONAL_INDICATOR_A + ord(letter) - ord("A")) for letter in territory)


def _is_flag_territory(territory: str | None) -> bool:
    return bool(
        territory
        and re.fullmatch(r"[A-Z]{2}", territory)
        and not _PRIVATE_USE_TERRITORY.fullmatch(territory)
    )


def language_flag(code: str) -> str:
    """The emoji flag for a language code: its most likely territory, '' when unknown.

    English shows the British flag, as the existing directories do; 'mul' shows a globe.
    """
    if standard_language(code or "") == MULTILINGUAL:
        return GLOBE
    language = _parse_language(code or "")
    if language is None:
        return ""
    if language.language == "en" and language.territory is None:
        territory = "GB"
    else:
        territory = language.maximize().territory
    return _flag_for_territory(territory) if _is_flag_territory(territory) else ""


def _territory_of_flag(flag: str) -> str | None:
    offsets = [ord(char) - _REGIONAL_INDICATOR_A for char in flag]
    if len(offsets) != 2 or not all(0 <= offset < 26 for offset in offsets):
        return None
    return "".join(chr(ord("A") + offset) for offset in offsets)


def language_from_flag(flag: str) -> str | None:
    """The main language of a flag's territory (🇬🇧 -> 'en', 🌐 -> 'mul'), or None.

    Used to import the old directories, which stored flags rather than languages. Flags made up
    from language codes (🇭🇮 for Hindi) name no territory and give None.
    """
    flag = (flag or "").strip().replace("\ufe0f", "")
    if flag in (GLOBE, "\N{EARTH GLOBE EUROPE-AFRICA}", "\N{EARTH GLOBE AMERICAS}"):
        return MULTILINGUAL
    territory = _territory_of_flag(flag)
    if not _is_flag_territory(territory) or not langcodes.tag_is_valid(f"und-{territory}"):
        return None
    language = langcodes.Language.get(f"und-{territory}").maximize().language
    return language if language and language != "und" else None


def normalise_language(code: str) -> str | None:
    """The bare ISO 639 language subtag a room may store ('EN' -> 'en', 'eng' -> 'en'), or None.

    Region or script subtags are refused: the room's language is a language, its flag derived.
    """
    language = _parse_language(code or "")
    if (code or "").strip().lower() in ("any", "all", MULTILINGUAL):
        return MULTILINGUAL
    if language is None or language.territory or language.script:
        return None
    return language.language


def is_valid_language(code: str) -> bool:
    return normalise_language(code) == code
