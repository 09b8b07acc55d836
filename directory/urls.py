"""URL map: the public site, the moderators' admin and the listing-provider API."""

from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from directory import changes, views
from directory.feeds import new_communities_feed
from directory.ops import health, metrics
from directory.sitemaps import sitemap_xml

ROOM = "community/<str:pubkey>/<str:token>/"

# The translated site: English unprefixed, every other language under /<code>/
# (directory/site_language.py). Everything after it stays unprefixed and language-neutral.
urlpatterns = i18n_patterns(
    path("", views.home, name="home"),
    path(ROOM, views.room_detail, name="room_detail"),
    path(f"{ROOM}report", views.room_report, name="room_report"),
    path("server/<str:pubkey>/", views.server_detail, name="server_detail"),
    path("submit/", views.submit, name="submit"),
    path("submit/status/<str:code>/", views.submission_status, name="submission_status"),
    path("join/", TemplateView.as_view(template_name="directory/join.html"), name="join_help"),
    path("about/", TemplateView.as_view(template_name="directory/about.html"), name="about"),
    path("feed/new.atom", new_communities_feed, name="feed_new"),
    path("changes/", changes.changes_page, name="changes"),
    path("feed/changes.atom", changes.ChangesFeed(), name="feed_changes"),
    prefix_default_language=False,
)
urlpatterns += [
    # Images are the same in every language: one address each, for HTTP caches too.
    path(f"{ROOM}icon", views.room_icon, name="room_icon"),
    path(f"{ROOM}qr.svg", views.room_qr, name="room_qr"),
    path("server/<str:pubkey>/icon", views.server_icon, name="server_icon"),
    path("sitemap.xml", sitemap_xml, name="django.contrib.sitemaps.views.sitemap"),
    path("robots.txt", views.robots_txt, name="robots_txt"),
    # Also answered by middleware ahead of the host check (directory/ops/health.py, metrics.py).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.ReadyView.as_view(), name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path(settings.ADMIN_URL, admin.site.urls),
    path("", include("listings_api.urls")),
]
