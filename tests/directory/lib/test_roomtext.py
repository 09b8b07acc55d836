"""Room text from hostile servers (directory.lib.roomtext): pure, no Django needed."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from directory.lib.roomtext import (
    GLOBE,
    MAX_TAG_LENGTH,
    RESERVED_TAGS,
    UNLISTED_TAG,
    clean_text,
    is_reserved,
    language_flag,
    language_from_flag,
    language_from_hashtags,
    normalise_tag,
    nsfw_signal,
    repair_mojibake,
    split_trailing_hashtags,
)
from tests.conftest import REPO

SNAPSHOT = REPO / "fixtures" / "snapshot"
BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _flag(territory: str) -> str:
    return "".join(chr(0x1F1E6 + ord(letter) - ord("A")) for letter in territory)


# -- clean_text ------------------------------------------------------------------------------------


def test_bidi_override_cannot_reverse_a_name():
    # "\u202e" would show "gro.noisseS" as "Session.org" in a browser.
    assert clean_text("Official \u202egro.noisseS\u202c", 100) == "Official gro.noisseS"


def test_every_bidi_control_is_removed():
    assert clean_text("a" + "".join(BIDI_CONTROLS) + "b", 100) == "ab"


def test_control_characters_and_nul_are_removed():
    assert clean_text("Ro\x00om\x07\x1b[31m\x7f\x9b", 100) == "Room[31m"


def test_invisible_fillers_are_removed():
    assert clean_text("\u3164\u200b\ufeff\u2060\u115f", 100) == ""
    assert clean_text("ad\u00admin", 100) == "admin"  # soft hyphen


def test_emoji_sequences_survive():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    scotland = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    keycap = "1\ufe0f\u20e3"
    text = f"{family} {scotland} {keycap} \U0001f3f3\ufe0f\u200d\U0001f308"
    assert clean_text(text, 100) == text


def test_stray_emoji_tag_characters_are_removed():
    # Tag characters outside a flag can smuggle invisible text.
    assert clean_text("hi\U000e0069\U000e0067\U000e006e", 100) == "hi"


def test_persian_zero_width_non_joiner_survives():
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # "I want", with a ZWNJ
    assert clean_text(persian, 100) == persian


def test_names_get_single_spaces():
    assert clean_text("  Session\t\n\u00a0 Chat \u2028 ", 100) == "Session Chat"


def test_descriptions_keep_paragraphs():
    text = "Welcome!\r\n\r\n\r\n\r\nRules:\n  1.   Be nice  \n\u2029Bye\u2028 "
    assert clean_text(text, 100, multiline=True) == "Welcome!\n\nRules:\n1. Be nice\n\nBye"


def test_zalgo_is_capped():
    zalgo = "Z" + "\u0335\u0336\u0337\u0338\u0321\u0322\u0327\u0328" * 4
    cleaned = clean_text(zalgo, 100)
    assert cleaned == "Z\u0335\u0336\u0337\u0338"


def test_vietnamese_marks_are_kept():
    assert clean_text("Tiếng Việt", 100) == "Tiếng Việt"


def test_text_is_nfc_normalised():
    assert clean_text("Cafe\u0301", 100) == "Café"


def test_long_text_is_clamped_with_an_ellipsis():
    assert clean_text("abcdefghij", 5) == "abcd…"
    assert clean_text("abc defghij", 5) == "abc…"
    assert clean_text("abcdefghij", 1) == "a"
    assert clean_text("abcdefghij", 0) == ""
    assert clean_text("abcde", 5) == "abcde"


def test_markup_stays_literal_text():
    # Escaping is the template's job: the text itself is kept, never interpreted.
    assert clean_text('<script>alert("x")</script>', 100) == '<script>alert("x")</script>'


@pytest.mark.parametrize(
    ("value", "expected"), [(None, ""), (42, "42"), (True, "True"), (b"caf\xc3\xa9\xff", "café�")]
)
def test_non_text_values_are_coerced(value, expected):
    assert clean_text(value, 100) == expected


def test_negative_max_length_is_a_programming_error():
    with pytest.raises(ValueError, match="max_length"):
        clean_text("x", -1)


def _is_unsafe(char: str, multiline: bool) -> bool:
    if multiline and char == "\n":
        return False
    return char in BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs")


@given(st.text(), st.integers(0, 300), st.booleans())
def test_clean_text_output_is_always_safe_and_bounded(text, max_length, multiline):
    cleaned = clean_text(text, max_length, multiline=multiline)
    assert len(cleaned) <= max_length
    assert not any(_is_unsafe(char, multiline) for char in cleaned)
    assert cleaned == cleaned.strip()


@given(st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Mn"])))
def test_invisible_text_stays_invisible_and_marks_never_pile_up(text):
    cleaned = clean_text(text, 1000)
    categories = {unicodedata.category(char) for char in cleaned}
    assert categories <= {"Mn", "Zs", "Cf"}
    assert not any(char.isspace() and char != " " for char in cleaned)
    assert "Mn" * 5 not in "".join(unicodedata.category(char) for char in cleaned)


@given(st.text(), st.integers(1, 300))
def test_cleaning_twice_changes_nothing(text, max_length):
    once = clean_text(text, max_length)
    assert clean_text(once, max_length) == once


# -- mojibake --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [
        # Copied from session.directory's feed, hence the look-alike characters.
        ("Ð£ÐºÑ€Ð°Ð¸Ð½Ð°", "Украина"),  # noqa: RUF001
        ("Ñ€ÑƒÑ\x81Ñ\x81ÐºÐ¸Ð¹", "русский"),  # noqa: RUF001
        ("ä¸\xadæ–‡", "中文"),  # noqa: RUF001
        ("ðŸŒ¿", "🌿"),
    ],
)
def test_mojibake_from_the_real_feed_is_repaired(broken, fixed):
    assert repair_mojibake(broken) == fixed


@pytest.mark.parametrize(
    "text", ["plain", "Ñandú", "español", "Україна", "中文", "Ã", "naïve café"]
)
def test_ordinary_text_is_not_mistaken_for_mojibake(text):
    assert repair_mojibake(text) == text


# -- hashtags and tags -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "rest", "tags"),
    [
        ("Welcome! #chat #English", "Welcome!", ["chat", "english"]),
        ("Welcome!\nTags: #chat, #english.", "Welcome!", ["chat", "english"]),
        ("Welcome! hashtags:#a,#b", "Welcome!", ["a", "b"]),
        ("#only #tags", "", ["only", "tags"]),
        ("Hi #lang:zh #中文 #a #A", "Hi", ["lang:zh", "中文", "a"]),
        ("No tags here.", "No tags here.", []),
        ("#1 place for fans", "#1 place for fans", []),
        ("Mail me@x #a", "Mail me@x", ["a"]),
        ("Ends with C#", "Ends with C#", []),
        ("Ends with foo#bar", "Ends with foo#bar", []),
        ("Two strays #a :)", "Two strays #a :)", []),
        ("Bad word #a.b", "Bad word #a.b", []),
        ("", "", []),
    ],
)
def test_trailing_hashtags_are_split_off(description, rest, tags):
    assert split_trailing_hashtags(description) == (rest, tags)


def test_trailing_hashtag_search_is_fast_on_hostile_input():
    hostile = "#a " * 20_000 + "x y"
    assert split_trailing_hashtags(hostile) == (hostile, [])


@given(st.text(alphabet=st.sampled_from(list("#ab:, .\n@()")) | st.characters()))
def test_splitting_hashtags_only_ever_cuts_the_end(description):
    rest, tags = split_trailing_hashtags(description)
    assert description.startswith(rest)
    assert all(0 < len(tag) <= MAX_TAG_LENGTH and tag == tag.lower() for tag in tags)
    assert not any(tag.startswith("#") for tag in tags)
    assert bool(tags) <= (rest != description)


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        ("  #Music ", "music"),
        ("espa&ntilde;ol", "español"),
        ("##double", "double"),
        ("Two  Words", "two words"),
        ("#", None),
        ("   ", None),
        ("\u202e\u200b", None),
        (None, None),
        ("x" * 100, "x" * MAX_TAG_LENGTH),
    ],
)
def test_tags_are_normalised(raw, tag):
    assert normalise_tag(raw) == tag


def test_reserved_tags_are_the_directorys_own_words():
    assert {
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
        "unlisted",
    } == RESERVED_TAGS
    assert UNLISTED_TAG in RESERVED_TAGS


@pytest.mark.parametrize(
    "tag",
    ["Official", "#NSFW", "uploads-off", "Read Only", "read_only", "we\u2019re here", " Unlisted "],
)
def test_reserved_words_are_recognised_in_any_spelling(tag):
    assert is_reserved(tag)


@pytest.mark.parametrize("tag", ["officials", "news", "sfw", "testing", "", "#"])
def test_ordinary_tags_are_not_reserved(tag):
    assert not is_reserved(tag)


# -- languages -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "language"),
    [
        (["chat", "lang:en"], "en"),
        (["#lang:ZH", "lang:en"], "zh"),
        (["lang:us", "lang:pt"], "pt"),  # "us" is no language; the next valid tag counts
        (["lang:eng"], "en"),
        (["lang:pt-BR"], "pt"),
        (["lang:iw"], "he"),
        (["lang:any"], "mul"),
        (["lang:all"], "mul"),
        (["lang:mul"], "mul"),
        (["lang:xx", "lang:", "lang:qaa", "lang:und", "language:en", "en"], None),
        ([], None),
    ],
)
def test_language_comes_from_the_first_valid_lang_tag(tags, language):
    assert language_from_hashtags(tags) == language


@pytest.mark.parametrize(
    ("code", "territory"),
    [
        ("en", "GB"),
        ("ja", "JP"),
        ("zh", "CN"),
        ("pt", "BR"),
        ("fa", "IR"),
        ("ko", "KR"),
        ("de", "DE"),
        ("en-US", "US"),
    ],
)
def test_language_flag_is_the_likeliest_territory(code, territory):
    assert language_flag(code) == _flag(territory)


def test_language_flag_is_never_made_up_from_the_code():
    assert language_flag("ja") != _flag("JA")
    assert language_flag("hi") == _flag("IN")


@pytest.mark.parametrize("code", ["", "xx", "und", "eo", "not a code", "qaa"])
def test_unknown_languages_have_no_flag(code):
    assert language_flag(code) == ""


def test_multilingual_rooms_show_a_globe():
    assert language_flag("mul") == GLOBE


@pytest.mark.parametrize(
    ("flag", "language"),
    [
        (_flag("GB"), "en"),
        (_flag("US"), "en"),
        (_flag("JP"), "ja"),
        (_flag("HK"), "zh"),
        (_flag("PT"), "pt"),
        (_flag("IR"), "fa"),
        (GLOBE, "mul"),
        (GLOBE + "\ufe0f", "mul"),
        (_flag("HI"), None),  # "Hindi" written as a fake flag: no such territory
        (_flag("ZZ"), None),
        (_flag("AQ"), None),  # Antarctica: nobody's language
        ("", None),
        ("GB", None),
        (_flag("GB") * 2, None),
    ],
)
def test_language_from_flag(flag, language):
    assert language_from_flag(flag) == language


def test_every_flag_in_the_real_crawl_maps_to_a_language():
    servers = json.loads((SNAPSHOT / "servers.json").read_text(encoding="utf-8"))
    flags = {room["language_flag"] for server in servers for room in server["rooms"]} - {""}
    languages = {flag: language_from_flag(flag) for flag in flags}
    assert languages == {
        _flag("GB"): "en",
        GLOBE: "mul",
        _flag("RU"): "ru",
        _flag("CN"): "zh",
        _flag("PT"): "pt",
        _flag("DE"): "de",
        _flag("ES"): "es",
        _flag("FR"): "fr",
        _flag("IT"): "it",
        _flag("NL"): "nl",
        _flag("CZ"): "cs",
        _flag("ID"): "id",
        _flag("KR"): "ko",
        _flag("PL"): "pl",
        _flag("IR"): "fa",
        _flag("HK"): "zh",
        _flag("HI"): None,
    }


# -- NSFW keywords -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "tags"),
    [
        ("NSFW memes", []),
        ("Gay Porn", []),
        ("gayporn", []),
        ("Erotica", []),
        ("Sex chat", []),
        ("sexy pics", []),
        ("18+ only", []),
        ("Only +18", []),
        ("Chat", ["women", "Porn"]),
        ("Chat", ["sex_ed"]),
    ],
)
def test_nsfw_keywords_in_name_or_tags(name, tags):
    assert nsfw_signal(name, tags)


@pytest.mark.parametrize(
    ("name", "tags"),
    [
        ("Sussex chat", []),
        ("Essex & Middlesex", ["unisex"]),
        ("Sextant navigation", []),
        ("Class of 2018+", []),
        ("Over 180+ members", []),
        (None, []),
        ("General", ["sfw", "chat"]),
    ],
)
def test_innocent_words_are_not_nsfw(name, tags):
    assert not nsfw_signal(name, tags)
