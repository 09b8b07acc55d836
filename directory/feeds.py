"""The Atom feed of newly listed communities (safe-rated ones: a feed has no age toggle)."""

from __future__ import annotations

from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape
from django.utils.translation import gettext_lazy
from django.views.decorators.http import etag

from directory.freshness import data_version_etag
from directory.lib.roomtext import clean_text
from directory.models import Room

FEED_SIZE = 50


class NewCommunitiesFeed(Feed):
    feed_type = Atom1Feed
    title = gettext_lazy("New Session Communities")
    subtitle = gettext_lazy("Communities newly listed in the directory.")

    def link(self) -> str:
        return reverse("home") + "?sort=newest"

    def items(self):
        rooms = Room.objects.public().safe().select_related("server")
        return rooms.order_by("-included_at")[:FEED_SIZE]

    def item_title(self, room: Room) -> str:
        return clean_text(room.name, 200) or room.token

    def item_description(self, room: Room) -> str:
        # The feed generator escapes this; remote text stays text.
        # An Atom summary is type="html": a reader renders it as markup, so the room's text is
        # escaped here as HTML (the feed generator only escapes it once more as XML).
        return escape(clean_text(room.description, 500, multiline=True))

    def item_pubdate(self, room: Room):
        return room.included_at

    def item_updateddate(self, room: Room):
        return room.included_at


# Built in each request (it is small), and answered with a 304 while the data is unchanged.
new_communities_feed = etag(data_version_etag)(NewCommunitiesFeed())
