"""The site in its visitors' languages: how the language is chosen, what stays language-neutral
(the listing-provider API, the probes, the admin), hreflang and the sitemap, localized data, and
whole-page caches kept per language (README "Languages")."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from directory import browse, views
from directory.models import Room

LANGUAGES = [code for code, _ in settings.LANGUAGES]
OTHERS = [code for code in LANGUAGES if code != "en"]
ACCEPT = ["fa", "ru-RU,ru;q=0.9,en;q=0.5", "zh-Hans-CN", "pt-BR", "de;q=0.1, *;q=0.01", "xx"]


@pytest.fixture
def room(imported) -> Room:
    return Room.objects.select_related("server").get(token="ai")


def lang_and_dir(page: str) -> tuple[str, str]:
    match = re.search(r'<html lang="([^"]+)" dir="([^"]+)">', page)
    assert match, "no <html lang dir>"
    return match.group(1), match.group(2)


# -- choosing the language ----------------------------------------------------------------


def test_accept_language_fa_on_the_home_page_leads_to_the_persian_page(client, imported):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="fa-IR,fa;q=0.9,en;q=0.8")
    assert response.status_code == 302
    assert response["Location"] == "/fa/"
    assert "Accept-Language" in response["Vary"]
    page = client.get(response["Location"]).content.decode()
    assert lang_and_dir(page) == ("fa", "rtl")


def test_the_redirect_keeps_the_page_and_its_query(client, room):
    response = client.get(room.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="ru")
    assert response["Location"] == "/ru" + room.get_absolute_url()
    response = client.get("/?q=vinyl&sort=name", HTTP_ACCEPT_LANGUAGE="de")
    assert response["Location"] == "/de/?q=vinyl&sort=name"


@pytest.mark.parametrize("header", ["", "en-US,en;q=0.9", "xx-YY", "*"])
def test_english_or_unknown_languages_get_the_english_page_without_a_redirect(
    client, imported, header
):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE=header)
    assert response.status_code == 200
    assert lang_and_dir(response.content.decode()) == ("en", "ltr")
    assert "Accept-Language" in response["Vary"]
    assert response["Content-Language"] == "en"


def test_a_visitor_who_picked_english_on_our_site_stays_in_english(client, imported):
    """The link "English" on /fa/ leads to / with our own Referer: no redirect, no cookie."""
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="fa", HTTP_REFERER="http://testserver/fa/")
    assert response.status_code == 200
    assert lang_and_dir(response.content.decode()) == ("en", "ltr")
    assert not response.cookies
    about = client.get("/about/", HTTP_ACCEPT_LANGUAGE="fa", HTTP_REFERER="http://testserver/")
    assert about.status_code == 200


def test_a_referer_from_another_site_still_redirects(client, imported):
    response = client.get(
        "/", HTTP_ACCEPT_LANGUAGE="fa", HTTP_REFERER="https://testserver.evil.example/"
    )
    assert response["Location"] == "/fa/"


def test_forms_are_not_redirected(client, imported):
    response = client.post("/submit/", {"join_url": "x"}, HTTP_ACCEPT_LANGUAGE="fa")
    assert response.status_code == 200  # the form again, with its error, in English


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_its_pages(client, room, language):
    prefix = "" if language == "en" else f"/{language}"
    for path in ("/", room.get_absolute_url(), "/join/", "/about/", "/changes/", "/submit/"):
        response = client.get(prefix + path)
        assert response.status_code == 200, prefix + path
        lang, direction = lang_and_dir(response.content.decode())
        assert lang == language
        assert direction == ("rtl" if language in ("fa", "ar") else "ltr")
        assert response["Content-Language"] == language
        assert ("Accept-Language" in response.get("Vary", "")) == (language == "en")  # unprefixed


def test_a_missing_page_answers_404_in_the_visitors_language(client, imported):
    response = client.get("/fa/no-such-page/")
    assert response.status_code == 404
    assert lang_and_dir(response.content.decode()) == ("fa", "rtl")


# -- what stays language-neutral ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/listing/all", "/listings", "/healthz", "/api/schema/"])
def test_api_and_probes_answer_the_same_bytes_and_headers_in_any_language(client, imported, path):
    plain = client.get(path)
    assert plain.status_code == 200
    for header in ACCEPT:
        other = client.get(path, HTTP_ACCEPT_LANGUAGE=header)
        assert other.status_code == 200
        assert other.content == plain.content, header
        assert dict(other.headers) == dict(plain.headers), header
    assert "Accept-Language" not in plain.get("Vary", "")
    assert "Content-Language" not in plain.headers


def test_api_paths_have_no_language_prefix(client, imported):
    assert client.get("/fa/listing/all").status_code == 404
    assert client.get("/fa/listings").status_code == 404


def test_the_api_page_and_the_admin_stay_english(client, imported):
    api = client.get(reverse("api_home"), HTTP_ACCEPT_LANGUAGE="fa")
    assert api.status_code == 200
    assert lang_and_dir(api.content.decode()) == ("en", "ltr")
    assert '<a href="/fa/" hreflang="fa"' in api.content.decode()  # the switch: /fa/
    assert '<link rel="alternate" hreflang' not in api.content.decode()  # no translation of it
    admin = client.get(f"/{settings.ADMIN_URL}login/", HTTP_ACCEPT_LANGUAGE="ru")
    assert admin.status_code == 200
    assert 'lang="en"' in admin.content.decode()


def test_room_images_have_one_address_for_every_language(client, room):
    assert room.qr_url == f"/community/{room.server.pubkey}/ai/qr.svg"
    home = client.get("/ru/?q=intelligence&nsfw=1").content.decode()
    assert f'src="{room.qr_url}"' in home
    assert "/ru/community/" in home and 'src="/ru/community/' not in home
    response = client.get(room.qr_url, HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 200 and "Vary" not in response
    assert client.get("/ru" + room.qr_url).status_code == 404


# -- hreflang, the language switch, the sitemap -------------------------------------------


def test_every_page_links_itself_in_every_language_with_hreflang(client, room):
    page = client.get("/fa" + room.get_absolute_url()).content.decode()
    path = room.get_absolute_url()
    for language in OTHERS:
        href = f"http://testserver/{language}{path}"
        assert f'<link rel="alternate" hreflang="{language}" href="{href}">' in page
    assert f'<link rel="alternate" hreflang="en" href="http://testserver{path}">' in page
    assert f'<link rel="alternate" hreflang="x-default" href="http://testserver{path}">' in page


def test_the_language_switch_names_each_language_in_its_own_words(client, imported):
    page = client.get("/fa/?q=chat").content.decode()
    switch = re.search(r'<details class="languages">(.*?)</details>', page, re.S).group(1)
    for code, own_name in settings.LANGUAGES:
        assert f'hreflang="{code}" lang="{code}"' in switch
        assert f">{own_name}</a>" in switch
    assert 'href="http://testserver/ru/?q=chat"' in switch  # the same page, query kept
    assert 'href="http://testserver/?q=chat"' in switch  # English: unprefixed
    assert 'lang="fa" dir="rtl" aria-current="true">فارسی' in switch


def test_the_sitemap_lists_every_language(client, room):
    body = client.get("/sitemap.xml").content.decode()
    locations = set(re.findall(r"<loc>([^<]+)</loc>", body))
    path = room.get_absolute_url()
    for language in OTHERS:
        assert f"http://testserver/{language}/" in locations
        assert f"http://testserver/{language}/about/" in locations
        assert f"http://testserver/{language}{path}" in locations
    assert f"http://testserver{path}" in locations
    # The fixed pages and servers name their alternates; rooms do it on their own pages.
    assert (
        '<xhtml:link rel="alternate" hreflang="x-default" href="http://testserver/about/"/>' in body
    )
    assert 'hreflang="fa" href="http://testserver/fa/about/"' in body
    assert f'href="http://testserver/fa{path}"/>' not in body


# -- localized data ----------------------------------------------------------------------


def test_language_names_are_in_the_visitors_language(client, imported):
    """From CLDR (Babel): the filter and the badges never show a bare code."""
    persian = client.get("/fa/").content.decode()
    assert re.search(r'<option value="de">[^<]*آلمانی \(', persian)
    assert re.search(r'<option value="ru">[^<]*روسی \(', persian)
    russian = client.get("/ru/").content.decode()
    assert re.search(r'<option value="de">[^<]*Немецкий \(', russian)
    english = client.get("/").content.decode()
    assert re.search(r'<option value="de">[^<]*German \(', english)
    assert re.search(r'<option value="mul">[^<]*Multilingual \(', english)
    assert not re.search(r'<option value="mul">[^<]* mul \(', persian)


def test_dates_and_numbers_follow_the_locale(client, room):
    from directory.site_language import local_datetime, local_number

    with translation.override("ru"):
        assert local_number(12345) == "12\xa0345"
        expected = local_datetime(room.last_seen)
    page = client.get("/ru" + room.get_absolute_url()).content.decode()
    assert expected in page
    with translation.override("de"):
        assert local_number(12345) == "12.345"


# -- caches per language -----------------------------------------------------------------


def test_cached_pages_are_kept_per_language(client, room):
    for path in ("/", room.get_absolute_url()):
        english = client.get(path).content.decode()
        russian = client.get("/ru" + path).content.decode()
        again = client.get(path).content.decode()
        assert lang_and_dir(english)[0] == "en" and lang_and_dir(russian)[0] == "ru"
        assert again == english


def test_a_page_build_takes_its_language_as_a_value(imported):
    """A rebuild may run on a background thread, where no visitor's language is active: the
    build gets the language handed over (directory/freshness.py, views.py)."""
    query = browse.RoomQuery()
    with translation.override("en"):
        page = views._render_home(query, "http://testserver/fa/", False, "fa").decode()
    assert lang_and_dir(page) == ("fa", "rtl")
    assert 'href="/fa/community/' in page
    with translation.override("fa"):
        english = views._render_home(query, "http://testserver/", False, "en").decode()
    assert lang_and_dir(english) == ("en", "ltr")
    assert 'href="/community/' in english


def test_a_host_outside_allowed_hosts_is_refused_not_redirected(client, imported):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="fa", HTTP_HOST="evil.example")
    assert response.status_code == 400


def test_robots_keep_crawlers_off_the_submit_form_in_every_language(client):
    text = client.get("/robots.txt").content.decode()
    for language in OTHERS:
        assert f"Disallow: /{language}/submit/" in text
