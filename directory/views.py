"""HTML pages for visitors: browse and search, room and server pages, submissions and reports.

Every page works without JavaScript; the home page's room list is cached per query until a crawl
or a moderator changes the data (directory.freshness.data_version).
"""

from __future__ import annotations

import hashlib
import logging
from functools import partial
from urllib.parse import urljoin

import segno
from celery import current_app
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Max
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.safestring import mark_safe
from django.utils.translation import pgettext
from django.views.decorators.http import require_http_methods, require_safe

from directory import browse
from directory.forms import ReportForm, SubmissionForm
from directory.freshness import StaleWhileRebuild, data_version
from directory.lib.languages import language_flag
from directory.lib.roomtext import clean_text
from directory.models import Report, Room, Server, Submission, Tag
from directory.ops.client_address import client_address

log = logging.getLogger(__name__)
STATUS_SALT = "directory.submission-status"


# -- home ------------------------------------------------------------------------------------------


def _filter_choices() -> dict:
    """Languages and tags that public rooms have, for the filter menus (cached with the list)."""
    public = Room.objects.public()
    languages = (
        public.exclude(language="")
        .values("language")
        .annotate(n=Count("pk"))
        .order_by("-n", "language")
    )
    tags = (
        Tag.objects.filter(room_tags__room__in=public)
        .annotate(n=Count("room_tags__room", distinct=True))
        .order_by("-n", "label")[:60]
    )
    return {
        "languages": [
            (row["language"], language_flag(row["language"]), row["n"]) for row in languages
        ],
        "tags": [(tag.slug, tag.label, tag.n) for tag in tags],
    }


def _results_context(query: browse.RoomQuery) -> dict:
    rooms = browse.filter_rooms(query)
    page = Paginator(rooms, settings.WEB_ROOMS_PER_PAGE).get_page(query.page)
    shown = list(browse.with_display_data(Room.objects.filter(pk__in=[r.pk for r in page])))
    order = {room.pk: index for index, room in enumerate(page)}
    shown.sort(key=lambda room: order[room.pk])
    trends = browse.user_trends([room.pk for room in shown])
    for room in shown:
        room.trend = trends.get(room.pk)
    return {
        "query": query,
        "page": page,
        "rooms": shown,
        "total": page.paginator.count,
        "all_count": Room.objects.public().count(),
        "refreshed_at": Room.objects.public().aggregate(at=Max("last_seen"))["at"],
    }


# Per process, the latest rendering of each view of the list (see directory/freshness.py).
_home_results: StaleWhileRebuild[dict] = StaleWhileRebuild(max_keys=64)


def _cached_results(query: browse.RoomQuery, language: str) -> dict:
    """The rendered list and filter menus in one language, cached until the data changes."""

    def make() -> dict:
        with translation.override(language):
            results = render_to_string("directory/_results.html", _results_context(query))
        return {"results": results, **_filter_choices()}

    return _home_results.get_shared(
        f"{cache.key_prefix}:{language}:{query.cache_key()}",
        data_version().token,
        make,
        cache_key=f"web:home:{language}:{query.cache_key()}",
        timeout=settings.WEB_HOME_CACHE_SECONDS,
    )


def _site_json_ld(home_url: str) -> dict:
    return {
        "@context": "https://schema.org",
        "@type": "WebSite",
        "name": pgettext("site name", "Session Communities"),
        "url": home_url,
        "inLanguage": translation.get_language(),
        "isAccessibleForFree": True,
        "potentialAction": {
            "@type": "SearchAction",
            "target": f"{home_url}?q={{search_term_string}}",
            "query-input": "required name=search_term_string",
        },
    }


# Whole home pages per address (the page names its own URL) and data version.
_home_pages: StaleWhileRebuild[bytes] = StaleWhileRebuild(max_keys=128)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The list of communities. The same for every visitor (no cookie, no form token), so the
    whole page is kept per URL (and so per language: its prefix) until the data changes; it is
    built from the URL, the query read from it and the language, never from the request of the
    visitor who happens to build it."""
    fragment = request.headers.get("X-Requested-With") == "fetch"
    page_url = request.build_absolute_uri()
    language = translation.get_language()
    key = f"{cache.key_prefix}:{language}:{fragment}:{page_url}"
    query = browse.RoomQuery.from_params(request.GET)
    build = partial(_render_home, query, page_url, fragment, language)
    content = _home_pages.get(key, data_version().token, build)
    response = HttpResponse(content)
    patch_vary_headers(response, ["X-Requested-With"])
    return response


def _render_home(query: browse.RoomQuery, page_url: str, fragment: bool, language: str) -> bytes:
    # A rebuild may run in a background thread (freshness.StaleWhileRebuild): the language is
    # handed over as a value and made active here, never read from a visitor's request.
    with translation.override(language):
        return _render_home_in_language(query, page_url, fragment, language)


def _render_home_in_language(
    query: browse.RoomQuery, page_url: str, fragment: bool, language: str
) -> bytes:
    cached = _cached_results(query, language)
    # Our own template output, escaped when it was rendered; only the cache stored it as text.
    results = mark_safe(cached["results"])  # noqa: S308
    if fragment:
        return results.encode()
    context = {
        **cached,
        "results": results,
        "query": query,
        "sorts": browse.SORTS,
        "json_ld": _site_json_ld(urljoin(page_url, reverse("home"))),
        "page_url": page_url,
    }
    return render_to_string("directory/home.html", context).encode()


# -- rooms -------------------------------------------------------------------------------------


def _public_room(pubkey: str, token: str) -> Room:
    rooms = Room.objects.public().select_related("server", "server__preferred_address")
    return get_object_or_404(rooms, server__pubkey=pubkey.lower(), token_key=token.lower())


def _room_json_ld(room: Room, page_url: str) -> dict:
    name = clean_text(room.name, 200) or room.token
    return {
        "@context": "https://schema.org",
        "@type": "WebPage",
        "name": name,
        "description": clean_text(room.description, 300),
        "url": urljoin(page_url, room.get_absolute_url()),
        "mainEntity": {
            "@type": "EntryPoint",
            "name": name,
            "url": room.join_url,
            "inLanguage": room.language or None,
            "keywords": [clean_text(tag.label, 64) for tag in room.tags.all()],
        },
    }


# Whole room pages per address and data version: like the home page, the same for everyone
# (the report form, with its CSRF token, has a page of its own).
_room_pages: StaleWhileRebuild[bytes] = StaleWhileRebuild(max_keys=512)


@require_safe
def room_detail(request: HttpRequest, pubkey: str, token: str) -> HttpResponse:
    reported = request.GET.get("reported") == "1"
    # Other query strings get the same page: they must not multiply the copies kept.
    page_url = request.build_absolute_uri(request.path)
    language = translation.get_language()
    build = partial(_render_room, pubkey, token, page_url, reported, language)
    key = f"{cache.key_prefix}:{language}:{page_url}:{reported}"
    return HttpResponse(_room_pages.get(key, data_version().token, build))


def _render_room(pubkey: str, token: str, page_url: str, reported: bool, language: str) -> bytes:
    with translation.override(language):  # as _render_home: a value, never the request
        return _render_room_in_language(pubkey, token, page_url, reported)


def _render_room_in_language(pubkey: str, token: str, page_url: str, reported: bool) -> bytes:
    room = _public_room(pubkey, token)  # a 404 is raised, never kept
    days = browse.server_days_up(room.server)
    context = {
        "room": room,
        "history": browse.room_history(room),
        "server_uptime": browse.uptime_percent(days, room.server.first_seen),
        "json_ld": _room_json_ld(room, page_url),
        "page_url": page_url,
        "reported": reported,
    }
    context["has_history"] = any(day.active_users is not None for day in context["history"])
    return render_to_string("directory/room.html", context).encode()


def _stored_icon(icon: FieldFile, missing: str) -> FileResponse:
    """An icon file we keep, cached for a day and never sniffed as another type."""
    if not icon:
        raise Http404(missing)
    response = FileResponse(icon.open("rb"))
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def room_icon(request: HttpRequest, pubkey: str, token: str) -> FileResponse:
    """Our own stored copy of a room's icon (never a hot link to the room's server)."""
    room = _public_room(pubkey, token)
    return _stored_icon(room.icon, "This room has no icon.")


@require_safe
def server_icon(request: HttpRequest, pubkey: str) -> FileResponse:
    """The icon moderators uploaded for a server (SOGS has none of its own to copy)."""
    server = get_object_or_404(Server.objects.visible(), pubkey=pubkey.lower())
    return _stored_icon(server.icon, "This server has no icon.")


@require_safe
def room_qr(request: HttpRequest, pubkey: str, token: str) -> HttpResponse:
    """The join link as a QR code, generated here as SVG (the home page links it lazily)."""
    room = _public_room(pubkey, token)
    svg = segno.make(room.join_url, error="m").svg_inline(scale=4, border=2, omitsize=True)
    body = svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    response = HttpResponse(body, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def _client_key(request: HttpRequest) -> str:
    """A hash of the client's address: enough to count requests, not kept beyond an hour."""
    address = client_address(request)
    return hashlib.sha256(f"{settings.SECRET_KEY}:{address}".encode()).hexdigest()[:24]


def rate_limited(request: HttpRequest, scope: str, per_hour: int) -> bool:
    """Count one request of this client in ``scope``; True when it is over the hourly limit."""
    key = f"web:rate:{scope}:{_client_key(request)}:{timezone.now():%Y%m%d%H}"
    cache.add(key, 0, 3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, 3600)
        count = 1
    # None: the cache is down (django-redis ignores the error); nothing is counted, let it pass.
    return count is not None and count > per_hour


@require_http_methods(["GET", "HEAD", "POST"])
def room_report(request: HttpRequest, pubkey: str, token: str) -> HttpResponse:
    """The report form (GET) and its handling (POST): reports go to the moderators' queue."""
    room = _public_room(pubkey, token)
    if request.method != "POST":
        return render(request, "directory/report.html", {"room": room, "form": ReportForm()})
    form = ReportForm(request.POST)
    if rate_limited(request, "report", settings.WEB_REPORTS_PER_HOUR):
        return render(request, "directory/limited.html", status=429)
    if not form.is_valid():
        return render(request, "directory/report.html", {"room": room, "form": form}, status=400)
    Report.objects.create(room=room, **form.cleaned_data)
    return redirect(room.get_absolute_url() + "?reported=1#report")


# -- servers -----------------------------------------------------------------------------------


@require_safe
def server_detail(request: HttpRequest, pubkey: str) -> HttpResponse:
    servers = Server.objects.visible().select_related("preferred_address")
    server = get_object_or_404(servers, pubkey=pubkey.lower())
    rooms = browse.with_display_data(Room.objects.public().filter(server=server))
    rooms = rooms.safe() if request.GET.get("nsfw") != "1" else rooms
    days = browse.server_days_up(server)
    context = {
        "server": server,
        "addresses": server.addresses.all(),
        "rooms": rooms.order_by("-pinned", "name"),
        "days": days,
        "uptime": browse.uptime_percent(days, server.first_seen),
        "hidden_adult": Room.objects.public().filter(server=server).adult().count(),
    }
    return render(request, "directory/server.html", context)


# -- submissions -------------------------------------------------------------------------------


def _enqueue_check(pk: int) -> None:
    """Queue the check; with the broker down (a bounded wait, CELERY_TASK_PUBLISH_RETRY_POLICY)
    the submission stays saved and waiting, and crawler.requeue_unchecked_submissions queues
    its check once Redis is back. The outcome lands on the Submission: no result is kept."""
    try:
        current_app.send_task("crawler.check_submission", args=[pk], ignore_result=True)
    except Exception as error:  # any failure to publish: the submission is saved already
        log.warning("could not queue the check of submission %s (%r); queued later", pk, error)


def submission_status_url(submission: Submission) -> str:
    code = signing.dumps(submission.pk, salt=STATUS_SALT)
    return reverse("submission_status", kwargs={"code": code})


def _already_listed(form: SubmissionForm) -> Room | None:
    link = form.link
    return (
        Room.objects.public()
        .filter(server__pubkey=link.pubkey, token_key=link.token_key)
        .select_related("server")
        .first()
    )


@require_http_methods(["GET", "POST"])
def submit(request: HttpRequest) -> HttpResponse:
    form = SubmissionForm(request.POST or None)
    if request.method == "POST":
        if rate_limited(request, "submit", settings.WEB_SUBMISSIONS_PER_HOUR):
            return render(request, "directory/limited.html", status=429)
        if form.is_valid():
            listed = _already_listed(form)
            if listed is not None:
                return render(request, "directory/submit.html", {"form": form, "listed": listed})
            submission = _create_submission(form)
            return redirect(submission_status_url(submission))
    return render(request, "directory/submit.html", {"form": form})


def _create_submission(form: SubmissionForm) -> Submission:
    link = form.link
    with transaction.atomic():
        submission = Submission.objects.create(
            join_url=link.url,
            server_url=link.base_url,
            pubkey=link.pubkey,
            token=link.token,
            suggested_tags=form.cleaned_data["tags"],
            suggested_language=form.cleaned_data["language"],
            note=form.cleaned_data["note"],
        )
        transaction.on_commit(lambda: _enqueue_check(submission.pk))
    return submission


@require_safe
def submission_status(request: HttpRequest, code: str) -> HttpResponse:
    try:
        pk = signing.loads(code, salt=STATUS_SALT)
    except signing.BadSignature:
        raise Http404("No such submission.") from None
    submission = get_object_or_404(Submission.objects.select_related("room__server"), pk=pk)
    listed = submission.room if submission.room and not submission.room.hidden else None
    return render(
        request, "directory/submission.html", {"submission": submission, "listed": listed}
    )


# -- static pages, feeds -----------------------------------------------------------------------


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    sitemap = request.build_absolute_uri("/sitemap.xml")
    # The submit form in every language (README "Languages").
    submit = [
        f"Disallow: /{code}/submit/"
        for code, _ in settings.LANGUAGES
        if code != settings.LANGUAGE_CODE
    ]
    lines = ["User-agent: *", f"Disallow: /{settings.ADMIN_URL}", "Disallow: /submit/", *submit, ""]
    lines.append(f"Sitemap: {sitemap}")
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
