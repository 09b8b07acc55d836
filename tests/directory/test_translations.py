"""The shipped catalogs (directory/locale/<ll>/LC_MESSAGES/django.po) are complete: every msgid
the code and templates use is there, translated, not fuzzy, and msgfmt accepts each one's
placeholders and its number of plural forms (README "Languages").

makemessages runs into a scratch copy of the catalogs, so the shipped files are never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from tests.conftest import REPO

LOCALE = REPO / "directory" / "locale"
LANGUAGES = [code for code, _ in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
# The same folders `make messages` leaves out, and every locale folder (makemessages would
# otherwise find the shipped one and write there).
IGNORE = [".venv", "var", "tests", "build", "staticfiles", "*/locale", "locale"]

pytestmark = pytest.mark.skipif(
    shutil.which("msgfmt") is None, reason="gettext missing: run `make gettext`"
)


def locale_name(language: str) -> str:
    from django.utils.translation import to_locale

    return to_locale(language)


def catalog_of(locale_dir: Path, language: str) -> Path:
    return locale_dir / locale_name(language) / "LC_MESSAGES" / "django.po"


def _key(message) -> tuple:
    msgid = message.id[0] if isinstance(message.id, tuple) else message.id
    return (message.context, msgid)


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings)


def catalog_problems(shipped: Path, extracted: Path) -> list[str]:
    """What is wrong with the ``shipped`` catalog, given a fresh ``extracted`` one (the code's
    msgids, merged by makemessages with the shipped translations)."""
    with shipped.open("rb") as file:
        catalog = read_po(file)
    with extracted.open("rb") as file:
        fresh = read_po(file)
    problems = []
    if catalog.fuzzy:
        problems.append("the header is fuzzy (msgfmt then ignores its Plural-Forms)")
    known = {_key(message) for message in catalog if message.id}
    for message in fresh:
        if message.id and _key(message) not in known:
            problems.append(f"missing: {_key(message)!r}")
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {_key(message)!r}")
        elif not _translated(message):
            problems.append(f"untranslated: {_key(message)!r}")
    return problems


@pytest.fixture(scope="module")
def shipped_before() -> dict[str, bytes]:
    return {language: catalog_of(LOCALE, language).read_bytes() for language in LANGUAGES}


@pytest.fixture(scope="module")
def extracted(shipped_before, tmp_path_factory) -> Path:
    """makemessages' catalogs of the code as it is, in a scratch copy of the shipped ones."""
    scratch = tmp_path_factory.mktemp("catalogs") / "locale"
    shutil.copytree(LOCALE, scratch, ignore=shutil.ignore_patterns("*.mo"))
    with override_settings(LOCALE_PATHS=[str(scratch)]):
        cwd = Path.cwd()
        try:
            os.chdir(REPO)
            call_command(
                "makemessages",
                locale=[locale_name(language) for language in LANGUAGES],
                no_location=True,
                no_obsolete=True,
                ignore_patterns=IGNORE,
                verbosity=0,
            )
        finally:
            os.chdir(cwd)
    return scratch


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalog_has_every_msgid_translated(language, extracted):
    problems = catalog_problems(catalog_of(LOCALE, language), catalog_of(extracted, language))
    assert problems == [], f"{language}: {len(problems)} problems, e.g. {problems[:5]}"


def msgfmt_check(catalog: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """What CI runs (.ci/run): placeholders as in the msgid, plural forms as the header says."""
    return subprocess.run(
        [
            "msgfmt",
            "--check-format",
            "--check-header",
            "-o",
            str(tmp_path / "django.mo"),
            str(catalog),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalog_passes_msgfmt_check_format(language, tmp_path):
    result = msgfmt_check(catalog_of(LOCALE, language), tmp_path)
    assert result.returncode == 0, result.stderr


def test_extraction_leaves_the_shipped_catalogs_alone(shipped_before, extracted):
    for language in LANGUAGES:
        assert catalog_of(extracted, language).exists()
        assert catalog_of(LOCALE, language).read_bytes() == shipped_before[language]
    assert not list(REPO.glob("locale/*/LC_MESSAGES/django.po"))


PO_HEADER = """msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"

"""


def test_the_check_catches_missing_fuzzy_and_empty_entries(tmp_path):
    shipped, extracted = tmp_path / "shipped.po", tmp_path / "extracted.po"
    shipped.write_text(
        PO_HEADER
        + 'msgid "Browse"\nmsgstr "Обзор"\n\n'
        + '#, fuzzy\nmsgid "Search"\nmsgstr "Поиск"\n\n'
        + 'msgid "Tag"\nmsgstr ""\n\n'
        + 'msgid "%(n)s active"\nmsgid_plural "%(n)s active"\nmsgstr[0] "%(n)s"\nmsgstr[1] ""\n\n'
        + 'msgctxt "button"\nmsgid "Copy"\nmsgstr "Копировать"\n',
        encoding="utf-8",
    )
    extracted.write_text(
        PO_HEADER
        + 'msgid "Browse"\nmsgstr ""\n\n'
        + 'msgid "Search"\nmsgstr ""\n\n'
        + 'msgid "Tag"\nmsgstr ""\n\n'
        + 'msgid "%(n)s active"\nmsgid_plural "%(n)s active"\nmsgstr[0] ""\nmsgstr[1] ""\n\n'
        + 'msgctxt "button"\nmsgid "Copy"\nmsgstr ""\n\n'
        + 'msgctxt "heading"\nmsgid "Copy"\nmsgstr ""\n\n'
        + 'msgid "Listing policy and privacy"\nmsgstr ""\n',
        encoding="utf-8",
    )
    assert catalog_problems(shipped, extracted) == [
        "missing: ('heading', 'Copy')",
        "missing: (None, 'Listing policy and privacy')",
        "fuzzy: (None, 'Search')",
        "untranslated: (None, 'Tag')",
        "untranslated: (None, '%(n)s active')",
    ]
    complete = tmp_path / "complete.po"
    complete.write_text(PO_HEADER + 'msgid "Browse"\nmsgstr "Обзор"\n', encoding="utf-8")
    assert catalog_problems(complete, complete) == []


def test_the_check_catches_a_fuzzy_header(tmp_path):
    catalog = tmp_path / "django.po"
    catalog.write_text("#, fuzzy\n" + PO_HEADER + 'msgid "Browse"\nmsgstr "Обзор"\n')
    assert catalog_problems(catalog, catalog) == [
        "the header is fuzzy (msgfmt then ignores its Plural-Forms)"
    ]


def test_msgfmt_check_format_refuses_a_broken_placeholder(tmp_path):
    broken = tmp_path / "django.po"
    broken.write_text(
        PO_HEADER
        + '#, python-format\nmsgid "Page %(number)s of %(pages)s"\n'
        + 'msgstr "Seite %(nummer)s von %(pages)s"\n',
        encoding="utf-8",
    )
    assert msgfmt_check(broken, tmp_path).returncode != 0


def test_msgfmt_check_refuses_too_few_plural_forms(tmp_path):
    """Arabic has six plural forms: a catalog that gives two is refused."""
    arabic = tmp_path / "django.po"
    header = PO_HEADER.replace(
        "nplurals=2; plural=(n != 1);",
        "nplurals=6; plural=n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : "
        "n%100>=11 ? 4 : 5;",
    )
    entry = '#, python-format\nmsgid "%(n)s active"\nmsgid_plural "%(n)s active"\n'
    two = 'msgstr[0] "%(n)s نشط"\nmsgstr[1] "%(n)s نشط"\n'
    arabic.write_text(header + entry + two, encoding="utf-8")
    assert msgfmt_check(arabic, tmp_path).returncode != 0
    six = "".join(f'msgstr[{i}] "%(n)s نشط"\n' for i in range(6))
    arabic.write_text(header + entry + six, encoding="utf-8")
    assert msgfmt_check(arabic, tmp_path).returncode == 0, msgfmt_check(arabic, tmp_path).stderr
