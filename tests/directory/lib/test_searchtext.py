"""Search folding (`directory.lib.searchtext`): one form for every case, accent and variant."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from directory.lib.searchtext import fold, fold_all, fold_words

# Letters of the scripts the directory's rooms are written in (Latin with diacritics, Greek,
# Cyrillic, Arabic and Persian, Hebrew, Devanagari, CJK, kana, Hangul), with their marks.
SCRIPTS = st.characters(
    codec="utf-8",
    categories=("L", "M", "N", "P", "S", "Z", "Cf"),
)
TEXT = st.text(SCRIPTS, max_size=40)
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
CASED_SCRIPTS = st.text(
    st.one_of(
        st.characters(min_codepoint=0x41, max_codepoint=0x24F),  # Latin, Latin-1, Extended-A/B
        st.characters(min_codepoint=0x386, max_codepoint=0x3CE),  # Greek
        st.characters(min_codepoint=0x400, max_codepoint=0x4FF),  # Cyrillic
        st.characters(min_codepoint=0x1E00, max_codepoint=0x1EFF),  # Latin Extended Additional
        st.sampled_from(" -"),
    ),
    max_size=40,
)


@given(ANY_TEXT)
def test_folding_twice_changes_nothing(text):
    assert fold(fold(text)) == fold(text)


@given(ANY_TEXT)
def test_folded_text_has_no_case_accent_or_extra_space(text):
    folded = fold(text)
    assert folded == folded.casefold()
    assert folded == " ".join(folded.split())
    dropped = [c for c in folded if unicodedata.category(c) in ("Mn", "Me", "Cf", "Cc")]
    assert set(dropped) <= {"\u3099", "\u309a"}  # only the kana voicing marks are kept


@given(TEXT)
def test_composed_and_decomposed_text_fold_alike(text):
    assert fold(unicodedata.normalize("NFC", text)) == fold(unicodedata.normalize("NFD", text))


@given(CASED_SCRIPTS)
def test_upper_and_lower_case_fold_alike(text):
    assert fold(text.upper()) == fold(text.lower()) == fold(text)


@given(TEXT, TEXT, TEXT)
def test_a_folded_word_is_found_in_the_folded_text_it_came_from(before, word, after):
    # What search relies on: a query word, folded, is a substring of the room's folded text,
    # whatever the texts beside it (fold_all keeps them apart).
    for piece in fold(word).split():
        assert piece in fold_all([before, word, after])


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("ВИНИЛОВЫЕ", "виниловые"),
        ("São Paulo", "sao paulo"),
        ("ΕΛΛΗΝΙΚΆ", "ελληνικα"),  # Greek: case and tonos
        ("Ελληνικός", "ΕΛΛΗΝΙΚΟΣ"),  # final sigma
        ("فارسی", "فارسي"),  # Persian yeh, Arabic yeh
        ("کتاب", "كتاب"),  # keheh, kaf
        ("مـــدرسة", "مدرسه"),  # tatweel, teh marbuta
        ("عَرَبِيّ", "عربي"),  # harakat
        ("أحمد", "احمد"),  # alef with hamza
        ("می\u200cخواهم", "میخواهم"),  # noqa: RUF001 (ZWNJ)
        ("۱۴۰۲", "1402"),  # Persian digits
        ("Straße", "STRASSE"),
        ("İstanbul", "istanbul"),
        ("ıstanbul", "ISTANBUL"),  # noqa: RUF001 (Turkish dotless i)
        ("ＦＵＬＬ", "full"),  # noqa: RUF001 (full-width letters)
        ("ﬁle", "file"),  # ligature
        ("Crème  brûlée\n", "creme brulee"),
    ],
)
def test_variants_fold_to_one_form(one, other):
    assert fold(one) == fold(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("か", "が"),  # kana voicing is a different word
        ("한", "하"),  # a Hangul syllable is not its first parts
        ("ه", "ە"),  # noqa: RUF001 (Kurdish ae stays apart from heh)
    ],
)
def test_different_letters_stay_apart(one, other):
    assert fold(one) != fold(other)
    assert fold(other) not in fold(one)


def test_query_words_are_folded_and_capped():
    assert fold_words("  ВИНИЛОВЫЕ  São\tPaulo  ", 2) == ["виниловые", "sao"]
    assert fold_words("\u200b \u0300", 8) == []
