"""sitemap.xml: the fixed pages, every public safe-rated room and every visible server, in
every site language.

Like the home page, kept whole per address until the data changes (directory/freshness.py), and
built from the address alone: what Django's sitemap view (`django/contrib/sitemaps/views.py`)
does, without handing the visitor's request to the copy everyone is served.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.core.cache import cache
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_safe

from directory.freshness import StaleWhileRebuild, data_version
from directory.models import Room, Server
from directory.site_language import prefixed_path

# Longest time the shared copy is kept; a change of the data replaces it sooner.
SHARED_SECONDS = 3600
# What Django's sitemap view sends (its x_robots_tag decorator).
X_ROBOTS_TAG = "noindex, noodp, noarchive"


class TranslatedSitemap(Sitemap):
    """Every page in every site language, each with its hreflang alternates (README
    "Languages"); Django's sitemap framework builds them from settings.LANGUAGES."""

    i18n = True
    alternates = True
    x_default = True


class PageSitemap(TranslatedSitemap):
    changefreq = "daily"

    def items(self) -> list[str]:
        return ["home", "join_help", "about", "submit"]

    def location(self, name: str) -> str:
        return reverse(name)


class RoomSitemap(TranslatedSitemap):
    """Every room in every language. Without the alternates: they would grow with the square of
    the languages (2,000 rooms: 22,000 addresses, each naming 12), and every room page carries
    its own hreflang links."""

    changefreq = "daily"
    alternates = False
    x_default = False
    # Addresses per sitemap page (the protocol's most): 4,545 rooms in 11 languages.
    limit = 50_000

    def items(self):
        rooms = Room.objects.public().safe().select_related("server")
        return rooms.order_by("pk")

    def location(self, room: Room) -> str:
        # One reverse() per room, not one per room and language (room_url remembers them).
        with translation.override(settings.LANGUAGE_CODE):
            path = room.get_absolute_url()
        return prefixed_path(translation.get_language(), path)

    def lastmod(self, room: Room):
        return room.last_seen


class ServerSitemap(TranslatedSitemap):
    changefreq = "weekly"

    def items(self):
        return Server.objects.visible().order_by("pk")

    def location(self, server: Server) -> str:
        return reverse("server_detail", kwargs={"pubkey": server.pubkey})


SITEMAPS = {"pages": PageSitemap, "rooms": RoomSitemap, "servers": ServerSitemap}


@dataclass(frozen=True)
class _Site:
    """What a Sitemap reads of the site (as of a RequestSite): the host the sitemap was asked at."""

    domain: str


def render_sitemap(protocol: str, domain: str, page: int) -> tuple[str, bytes]:
    """Page `page` of the sitemap at this address, with its ETag; Http404 past the last page."""
    urls = []
    for sitemap in SITEMAPS.values():
        try:
            urls.extend(sitemap().get_urls(page=page, site=_Site(domain), protocol=protocol))
        except (EmptyPage, PageNotAnInteger):
            raise Http404(f"Page {page} empty") from None
    body = render_to_string("sitemap.xml", {"urlset": urls}).encode()
    return f'W/"{hashlib.sha256(body).hexdigest()[:32]}"', body


# Per process, the latest copy per address and page (see directory/freshness.py).
_copies: StaleWhileRebuild[tuple[str, bytes]] = StaleWhileRebuild(max_keys=16)


@require_safe
def sitemap_xml(request: HttpRequest) -> HttpResponse:
    try:
        page = int(request.GET.get("p", "1"))
    except ValueError:
        raise Http404("No such page.") from None
    protocol, domain = request.scheme, request.get_host()
    scope = f"{cache.key_prefix}:{protocol}://{domain}:{page}"
    etag, body = _copies.get_shared(
        scope,
        data_version().token,
        partial(render_sitemap, protocol, domain, page),
        cache_key=f"web:sitemap:{hashlib.sha256(scope.encode()).hexdigest()[:32]}",
        timeout=SHARED_SECONDS,
    )
    response = HttpResponse(body, content_type="application/xml")
    response["X-Robots-Tag"] = X_ROBOTS_TAG
    response["ETag"] = etag
    return get_conditional_response(request, etag=etag, response=response)
