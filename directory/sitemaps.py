"""sitemap.xml: the fixed pages, every public safe-rated room and every visible server."""

from __future__ import annotations

from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from directory.models import Room, Server


class PageSitemap(Sitemap):
    changefreq = "daily"

    def items(self) -> list[str]:
        return ["home", "join_help", "about", "submit"]

    def location(self, name: str) -> str:
        return reverse(name)


class RoomSitemap(Sitemap):
    changefreq = "daily"
    limit = 5000

    def items(self):
        rooms = Room.objects.public().safe().select_related("server")
        return rooms.order_by("pk")

    def lastmod(self, room: Room):
        return room.last_seen


class ServerSitemap(Sitemap):
    changefreq = "weekly"

    def items(self):
        return Server.objects.visible().order_by("pk")

    def location(self, server: Server) -> str:
        return reverse("server_detail", kwargs={"pubkey": server.pubkey})


SITEMAPS = {"pages": PageSitemap, "rooms": RoomSitemap, "servers": ServerSitemap}
