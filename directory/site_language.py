"""The visitor's language: chosen by the URL prefix (English unprefixed), offered on a first
visit by Accept-Language, and the localized data shown in it (language names, dates, numbers).

No cookie remembers the choice: the URL carries it (README "Languages"). Pages outside the
translated site (the listing-provider API, /api/, the probes, /metrics, the admin) are served
in English and get no language header of any kind, so their bytes never depend on it.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_decimal
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import get_urlconf, is_valid_path, translate_url
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import pgettext

from directory.lib.languages import MULTILINGUAL, standard_language


def site_languages() -> list[str]:
    return [code for code, _ in settings.LANGUAGES]


def prefixed_path(language: str, path: str) -> str:
    """An English (unprefixed) path of the translated site in ``language``: i18n_patterns'
    prefix rule, for places that build many addresses at once (the sitemap)."""
    return path if language == settings.LANGUAGE_CODE else f"/{language}{path}"


def is_translated_path(path: str) -> bool:
    """True for the pages of the translated site (those under i18n_patterns), in any language."""
    return _is_translated_path(path, get_urlconf() or settings.ROOT_URLCONF)


# Asked twice per request (the redirect, the response's headers): remembered per path.
@lru_cache(maxsize=8192)
def _is_translated_path(path: str, urlconf: str) -> bool:
    language = translation.get_language_from_path(path)
    if language is None:  # unprefixed: would it resolve as a page of another language?
        language = site_languages()[-1]
        path = prefixed_path(language, path)
    # i18n_patterns match only the prefix of the active language.
    with translation.override(language):
        return bool(is_valid_path(path, urlconf))


def preferred_language(request: HttpRequest) -> str:
    """The site language that best matches the request's Accept-Language ('en' when none)."""
    header = request.headers.get("Accept-Language", "")
    for code, _quality in translation.trans_real.parse_accept_lang_header(header):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def _from_own_site(request: HttpRequest) -> bool:
    referer = request.headers.get("Referer", "")
    return bool(referer) and urlsplit(referer).netloc == request.get_host()


class SiteLanguageMiddleware:
    """Activates the language of the URL prefix; on a visitor's first unprefixed page (no
    Referer from this site), redirects to the page in the visitor's Accept-Language.

    A visitor who picks "English" on a translated page comes with this site's Referer
    (SECURE_REFERRER_POLICY is same-origin), so the choice holds without a cookie.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        prefixed = translation.get_language_from_path(path)
        language = prefixed or settings.LANGUAGE_CODE
        translated = is_translated_path(path)
        if translated and not prefixed and request.method in ("GET", "HEAD"):
            wanted = preferred_language(request)
            request.get_host()  # a host outside ALLOWED_HOSTS is refused (400), not redirected
            if wanted != settings.LANGUAGE_CODE and not _from_own_site(request):
                response = self._redirect(request, wanted)
                patch_vary_headers(response, ["Accept-Language"])
                return response
        translation.activate(language)
        request.LANGUAGE_CODE = language
        try:
            response = self.get_response(request)
        finally:
            translation.deactivate()
        if translated:
            if not prefixed:  # a prefixed page is the same whatever the Accept-Language
                patch_vary_headers(response, ["Accept-Language"])
            response.headers.setdefault("Content-Language", language)
        return response

    def _redirect(self, request: HttpRequest, language: str) -> HttpResponse:
        target = prefixed_path(language, request.path)
        query = request.META.get("QUERY_STRING", "")
        response = HttpResponseRedirect(f"{target}?{query}" if query else target)
        response["Cache-Control"] = "private"
        return response


def language_links(url: str) -> list[dict[str, str]]:
    """The page at ``url`` in every site language, in that language's own name, for the
    language switch and the hreflang alternates. Pages outside the translated site (the API's
    page) link each language's home page instead."""
    path = urlsplit(url).path
    translated = is_translated_path(path)
    links = []
    for code, own_name in settings.LANGUAGES:
        href = translate_url(url, code) if translated else prefixed_path(code, "/")
        links.append(
            {
                "code": code,
                "name": own_name,
                "href": href,
                "bidi": _is_bidi(code),
                "alternate": translated,  # the same page in that language: an hreflang link
            }
        )
    return links


def _is_bidi(code: str) -> bool:
    return code in settings.LANGUAGES_BIDI


# -- localized data (CLDR, through Babel) ---------------------------------------------------------


@lru_cache(maxsize=32)
def babel_locale(language: str) -> Locale:
    """The CLDR locale of a Django language code ('pt-br' -> pt_BR, 'zh-hans' -> zh_Hans)."""
    try:
        return Locale.parse(translation.to_locale(language))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def current_locale() -> Locale:
    return babel_locale(translation.get_language() or settings.LANGUAGE_CODE)


@lru_cache(maxsize=4096)
def _language_name(code: str, locale: Locale) -> str:
    name = locale.languages.get(code) or Locale.parse("en").languages.get(code) or code
    # CLDR writes some names lowercase (ru "немецкий"); a name on its own starts a sentence.
    return name[:1].upper() + name[1:]


def language_name(code: str) -> str:
    """A room's language in the visitor's language ('fa' -> 'Persian', 'فارسی' for fa
    visitors); 'mul' reads as 'Multilingual', never as a bare code."""
    standard = standard_language(code or "")
    if standard is None:
        return code or ""
    if standard == MULTILINGUAL:
        return pgettext("room language", "Multilingual")
    return _language_name(standard, current_locale())


def local_date(value: date | datetime | None, format: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, format=format, locale=current_locale())


def local_month_day(value: date) -> str:
    """A day without its year, as on a chart's axis ("Mar 5", "5 мар.", "3月5日")."""
    return format_skeleton("MMMd", value, locale=current_locale())


def local_datetime(value: datetime | None, format: str = "medium") -> str:
    """A moment in UTC (the site's time zone), formatted for the visitor's locale: the date
    in ``format`` and the time to the minute (CLDR's own way of joining the two)."""
    if value is None:
        return ""
    locale = current_locale()
    day = format_date(value, format=format, locale=locale)
    time = format_time(value, format="short", tzinfo=value.tzinfo, locale=locale)
    return locale.datetime_formats[format].format(time, day)


def local_number(value: int | float | None) -> str:
    if value is None:
        return ""
    return format_decimal(value, locale=current_locale())
