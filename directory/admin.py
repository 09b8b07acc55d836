"""The moderators' admin: curate servers, rooms, tags, listings and sources.

Crawled fields are read-only here; curated fields are editable, and every change to them is kept
in the audit history (django-simple-history) with who made it and when.
"""

from __future__ import annotations

import warnings

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from PIL import Image
from simple_history.admin import SimpleHistoryAdmin

from directory import admin_record, crawl_report, moderation
from directory.models import (
    AgeRating,
    CrawlRun,
    Listing,
    Report,
    Room,
    RoomTag,
    Server,
    ServerAddress,
    Source,
    Submission,
    Tag,
)

# When "poll now" or "fetch now" cannot reach the broker (Redis down).
QUEUE_DOWN = "The task queue (Redis) is not reachable; try again once it is back."

admin.site.site_header = "Session Communities directory"
admin.site.site_title = "Directory admin"
admin.site.index_title = "Moderation"


class OnlineFilter(admin.SimpleListFilter):
    """Rooms or servers `online()` as the site and the API say it, or all the others (offline
    and never polled alike)."""

    title = "online"
    parameter_name = "online"

    def lookups(self, request, model_admin):
        return [("yes", "Online"), ("no", "Offline")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.online()
        if self.value() == "no":
            return queryset.exclude(pk__in=queryset.model.objects.online().values("pk"))
        return queryset


class LanguageFilter(admin.SimpleListFilter):
    title = "language"
    parameter_name = "language"

    def lookups(self, request, model_admin):
        codes = Room.objects.exclude(language="").values_list("language", flat=True)
        return [("-", "Not set")] + [(code, code) for code in sorted(set(codes))]

    def queryset(self, request, queryset):
        if self.value() == "-":
            return queryset.filter(language="")
        if self.value():
            return queryset.filter(language=self.value())
        return queryset


class RoomActionForm(admin_record.ReasonActionForm):
    """The extra inputs that the bulk actions next to the action menu read."""

    age_rating = forms.ChoiceField(choices=[("", "rating…"), *AgeRating.choices], required=False)
    tag = forms.ModelChoiceField(Tag.objects.all(), required=False, empty_label="tag…")


class RoomTagInline(admin.TabularInline):
    model = RoomTag
    extra = 0
    autocomplete_fields = ["tag"]
    fields = ["tag", "origin", "added_at"]
    readonly_fields = ["added_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["tag", "origin", "added_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Room)
class RoomAdmin(admin_record.PublicReasonMixin, SimpleHistoryAdmin):
    list_display = [
        "name",
        "token",
        "server",
        "age_rating",
        "suggested_age_rating",
        "language",
        "active_users_weekly",
        "online",
        "hidden",
        "pinned",
    ]
    list_filter = [
        "age_rating",
        "suggested_age_rating",
        LanguageFilter,
        ("tags", admin.RelatedOnlyFieldListFilter),
        OnlineFilter,
        "hidden",
        "pinned",
        "listed_by_server",
        ("server", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["name", "description", "token", "server__addresses__host", "server__pubkey"]
    list_select_related = ["server", "server__preferred_address"]
    readonly_fields = ["server", *Room.CRAWLED_FIELDS, "first_seen", "join_url", "language_flag"]
    fieldsets = [
        (
            "Curated",
            {
                "fields": [
                    "age_rating",
                    "rating_verified_at",
                    "language",
                    "language_flag",
                    "maintainer_description",
                    "hidden",
                    "pinned",
                    "included_at",
                ]
            },
        ),
        admin_record.REASON_FIELDSET,
        ("Crawled (read-only)", {"fields": ["server", "join_url", *Room.CRAWLED_FIELDS]}),
        ("Crawl state", {"fields": ["first_seen"]}),
    ]
    inlines = [RoomTagInline]
    action_form = RoomActionForm
    actions = [
        "set_age_rating",
        "add_tag",
        "remove_tag",
        "hide_rooms",
        "unhide_rooms",
        "pin_rooms",
        "unpin_rooms",
    ]
    history_list_display = ["age_rating", "language", "hidden", "pinned"]

    def has_add_permission(self, request):
        return False  # rooms come from crawls and imports

    @admin.display(boolean=True)
    def online(self, room: Room) -> bool:
        return room.is_online

    def save_model(self, request, obj, form, change):
        if "age_rating" in form.changed_data and "rating_verified_at" not in form.changed_data:
            obj.rating_verified_at = timezone.now()
        super().save_model(request, obj, form, change)

    @admin.action(description="Set the age rating chosen beside the menu", permissions=["change"])
    def set_age_rating(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        rating = request.POST.get("age_rating", "")
        if rating not in AgeRating.values:
            self.message_user(request, "Choose an age rating first.", messages.ERROR)
            return
        if not (reason := admin_record.chosen_reason(self, request)):
            return
        count = moderation.set_age_rating(queryset, rating, reason)
        self.message_user(request, f"Rated {count} rooms '{rating}'.", messages.SUCCESS)

    def _chosen_tag(self, request: HttpRequest) -> Tag | None:
        tag = Tag.objects.filter(pk=request.POST.get("tag") or None).first()
        if tag is None:
            self.message_user(request, "Choose a tag first.", messages.ERROR)
        return tag

    @admin.action(description="Add the tag chosen beside the menu", permissions=["change"])
    def add_tag(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        if tag := self._chosen_tag(request):
            count = moderation.add_tag(queryset, tag)
            self.message_user(request, f"Tagged {count} rooms '{tag}'.", messages.SUCCESS)

    @admin.action(description="Remove the tag chosen beside the menu", permissions=["change"])
    def remove_tag(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        if tag := self._chosen_tag(request):
            count = moderation.remove_tag(queryset, tag)
            self.message_user(request, f"Removed '{tag}' from {count} rooms.", messages.SUCCESS)

    @admin.action(description="Hide from the public", permissions=["change"])
    def hide_rooms(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        if reason := admin_record.chosen_reason(self, request):
            count = moderation.set_flag(queryset, "hidden", True, reason)
            self.message_user(request, f"Hid {count} rooms.")

    @admin.action(description="Show to the public again", permissions=["change"])
    def unhide_rooms(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        if reason := admin_record.chosen_reason(self, request):
            count = moderation.set_flag(queryset, "hidden", False, reason)
            self.message_user(request, f"Unhid {count} rooms.")

    @admin.action(description="Pin", permissions=["change"])
    def pin_rooms(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        self.message_user(request, f"Pinned {moderation.set_flag(queryset, 'pinned', True)} rooms.")

    @admin.action(description="Unpin", permissions=["change"])
    def unpin_rooms(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        count = moderation.set_flag(queryset, "pinned", False)
        self.message_user(request, f"Unpinned {count} rooms.")


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0
    show_change_link = True
    fields = ["name", "token", "active_users", "listed_by_server", "age_rating", "hidden", "pinned"]
    # Rating and hiding are public changes that need a reason: on the room's own page.
    readonly_fields = ["name", "token", "active_users", "listed_by_server", "age_rating", "hidden"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ServerAddressInline(admin.TabularInline):
    model = ServerAddress
    extra = 0
    fields = ["scheme", "host", "port", "last_success_at", "last_failure_at", "last_error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


# A moderator's icon is served as uploaded (a crawled one is re-encoded, crawler/icons.py), so
# it must open in Pillow as one of these formats, within these bounds.
ICON_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}
ICON_MAX_BYTES = 1_000_000
ICON_MAX_PIXELS = 4096 * 4096


def icon_format(upload: UploadedFile) -> str:
    """The Pillow format of an uploaded icon; ValidationError for anything else."""
    if upload.size > ICON_MAX_BYTES:
        raise forms.ValidationError(f"An icon may be at most {ICON_MAX_BYTES:,} bytes.")
    with warnings.catch_warnings():
        # Over Pillow's own pixel cap is an error here, not a warning: a decompression bomb.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(upload, formats=list(ICON_FORMATS)) as image:
                size, kind = image.width * image.height, image.format
                image.verify()
        except Exception:  # Pillow's errors on broken files have many types (as in ImageField)
            raise forms.ValidationError("Upload a PNG, JPEG, WebP or GIF image.") from None
    if size > ICON_MAX_PIXELS:
        raise forms.ValidationError(f"An icon may have at most {ICON_MAX_PIXELS:,} pixels.")
    upload.seek(0)
    return kind


class ServerForm(admin_record.ReasonForm):
    """The server change form: an uploaded icon is checked and named after its real format."""

    def clean_icon(self) -> object:
        icon = self.cleaned_data.get("icon")
        if isinstance(icon, UploadedFile):  # else unchanged or cleared
            # Served with the type its name says (FileResponse), so the name follows the bytes.
            icon.name = f"{self.instance.pubkey[:16]}.{ICON_FORMATS[icon_format(icon)]}"
        return icon


@admin.register(Server)
class ServerAdmin(admin_record.PublicReasonMixin, SimpleHistoryAdmin):
    form = ServerForm
    list_display = [
        "__str__",
        "api_kind",
        "key_state",
        "online",
        "room_count",
        "last_seen",
        "consecutive_failures",
        "hidden",
        "official",
    ]
    list_filter = ["api_kind", "key_state", OnlineFilter, "hidden", "official", "last_poll_status"]
    search_fields = ["pubkey", "addresses__host", "notes"]
    list_select_related = ["preferred_address"]
    readonly_fields = ["pubkey", *Server.CRAWLED_FIELDS, "first_seen"]
    fieldsets = [
        (
            "Curated",
            {"fields": ["name", "icon", "hidden", "official", "default_age_rating", "notes"]},
        ),
        admin_record.REASON_FIELDSET,
        ("Crawled (read-only)", {"fields": ["pubkey", "first_seen", *Server.CRAWLED_FIELDS]}),
    ]
    inlines = [ServerAddressInline, RoomInline]
    action_form = admin_record.ReasonActionForm
    actions = ["hide_servers", "unhide_servers", "poll_now"]

    def has_add_permission(self, request):
        return False  # servers come from crawls, imports and approved submissions

    @admin.display(boolean=True)
    def online(self, server: Server) -> bool:
        return server.is_online

    def get_queryset(self, request: HttpRequest) -> QuerySet[Server]:
        # One COUNT per page, not one per listed server.
        return super().get_queryset(request).annotate(room_total=Count("rooms"))

    @admin.display(description="rooms", ordering="room_total")
    def room_count(self, server: Server) -> int:
        return server.room_total

    @admin.action(description="Hide from the public", permissions=["change"])
    def hide_servers(self, request: HttpRequest, queryset: QuerySet[Server]) -> None:
        if reason := admin_record.chosen_reason(self, request):
            count = moderation.set_flag(queryset, "hidden", True, reason)
            self.message_user(request, f"Hid {count} servers.")

    @admin.action(description="Show to the public again", permissions=["change"])
    def unhide_servers(self, request: HttpRequest, queryset: QuerySet[Server]) -> None:
        if reason := admin_record.chosen_reason(self, request):
            count = moderation.set_flag(queryset, "hidden", False, reason)
            self.message_user(request, f"Unhid {count} servers.")

    @admin.action(description="Poll now", permissions=["change"])
    def poll_now(self, request: HttpRequest, queryset: QuerySet[Server]) -> None:
        # By task name: the directory never imports the crawler.
        from celery import current_app

        pks = list(queryset.values_list("pk", flat=True))
        try:
            for pk in pks:
                current_app.send_task("crawler.poll_server", args=[pk])
        except Exception as error:  # the broker is down (a bounded wait): say so, never a 500
            self.message_user(request, f"{QUEUE_DOWN} ({type(error).__name__})", messages.ERROR)
            return
        self.message_user(request, f"Queued a poll of {len(pks)} servers.")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["label", "slug", "kind", "description"]
    list_filter = ["kind"]
    search_fields = ["label", "slug"]
    prepopulated_fields = {"slug": ["label"]}


@admin.register(Listing)
class ListingAdmin(admin_record.ListingReasonMixin, SimpleHistoryAdmin):
    list_display = ["slug", "name", "include_all", "rating_filter", "updated"]
    search_fields = ["slug", "name"]
    autocomplete_fields = ["rooms", "tags"]
    readonly_fields = ["created", "updated"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.is_builtin:
            fields += ["slug", "include_all"]
        return fields

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_builtin:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset.exclude(slug=Listing.ALL))


@admin.register(Source)
class SourceAdmin(SimpleHistoryAdmin):
    list_display = ["name", "kind", "enabled", "last_status", "last_fetched_at", "links_found"]
    list_filter = ["kind", "enabled", "last_status"]
    search_fields = ["name", "url", "notes"]
    readonly_fields = [
        "last_fetched_at",
        "last_status",
        "last_error",
        "last_good_at",
        "links_found",
    ]
    exclude = ["last_good_body"]
    actions = ["fetch_now"]

    @admin.action(description="Fetch now", permissions=["change"])
    def fetch_now(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        # By task name: the directory never imports the crawler.
        from celery import current_app

        pks = list(queryset.values_list("pk", flat=True))
        try:
            current_app.send_task("crawler.fetch_sources", args=[pks])
        except Exception as error:  # the broker is down (a bounded wait): say so, never a 500
            self.message_user(request, f"{QUEUE_DOWN} ({type(error).__name__})", messages.ERROR)
            return
        self.message_user(request, f"Queued a fetch of {len(pks)} sources.")


@admin.register(CrawlRun)
class CrawlRunAdmin(admin.ModelAdmin):
    change_list_template = "admin/directory/crawlrun/change_list.html"
    list_display = [
        "started_at",
        "status",
        "duration",
        "links_found",
        "servers_polled",
        "servers_ok",
        "servers_failed",
        "rooms_found",
        "rooms_new",
        "rooms_updated",
        "rooms_gone",
    ]
    list_filter = ["status"]
    exclude = ["server_states"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="duration")
    def duration(self, run: CrawlRun) -> str:
        if run.finished_at is None:
            return "-"
        return f"{(run.finished_at - run.started_at).total_seconds():.1f} s"

    def get_urls(self):
        report = self.admin_site.admin_view(self.report_view)
        return [path("report/", report, name="directory_crawlrun_report"), *super().get_urls()]

    def report_view(self, request: HttpRequest) -> TemplateResponse:
        """Last runs, failing servers and why, key-proof changes and sudden drops."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Crawl report",
            "opts": self.model._meta,
            "report": crawl_report.build_report(),
            "settings": {
                "stale_minutes": settings.CRAWL_REPORT_STALE_MINUTES,
                "drop_percent": settings.CRAWL_REPORT_DROP_PERCENT,
            },
        }
        return TemplateResponse(request, "admin/directory/crawlrun/report.html", context)


class SubmissionActionForm(ActionForm):
    """The reason a rejection needs, typed next to the action menu."""

    reason = forms.CharField(required=False, label="Reason (for rejections)")


@admin.register(Submission)
class SubmissionAdmin(SimpleHistoryAdmin):
    """The queue of submitted communities: approve (listed) or reject with a reason."""

    list_display = ["join_url", "created_at", "check_state", "status", "decided_by"]
    list_filter = ["status", "check_state"]
    search_fields = ["join_url", "note", "suggested_tags"]
    action_form = SubmissionActionForm
    actions = ["approve", "reject"]
    readonly_fields = [
        "join_url",
        "server_url",
        "pubkey",
        "token",
        "created_at",
        "check_state",
        "check_detail",
        "checked_at",
        "status",
        "decided_at",
        "decided_by",
        "room",
    ]
    fields = [
        *readonly_fields[:4],
        "suggested_tags",
        "suggested_language",
        "note",
        *readonly_fields[4:],
        "rejection_reason",
    ]

    def has_add_permission(self, request):
        return False

    @admin.action(
        description="Approve: list the room (its server becomes known)",
        permissions=["change"],
    )
    def approve(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        pending = queryset.exclude(status=Submission.Status.APPROVED)
        for submission in pending:
            moderation.approve_submission(submission, request.user)
        self.message_user(request, f"Approved {len(pending)} submission(s).", messages.SUCCESS)

    @admin.action(
        description="Reject with the reason typed next to the menu", permissions=["change"]
    )
    def reject(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Type a reason to reject.", messages.ERROR)
            return
        pending = queryset.filter(status=Submission.Status.PENDING)
        for submission in pending:
            moderation.reject_submission(submission, request.user, reason)
        self.message_user(request, f"Rejected {len(pending)} submission(s).", messages.SUCCESS)


@admin.register(Report)
class ReportAdmin(SimpleHistoryAdmin):
    """Visitors' reports about rooms, resolved or dismissed by moderators."""

    list_display = ["room", "kind", "created_at", "status"]
    list_filter = ["status", "kind"]
    search_fields = ["message", "room__name", "room__token"]
    readonly_fields = ["room", "kind", "message", "created_at"]
    fields = ["room", "kind", "message", "created_at", "status", "moderator_note"]
    actions = ["resolve", "dismiss"]

    def has_add_permission(self, request):
        return False

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Report], status: str) -> None:
        count = 0
        for report in queryset:
            report.status = status
            report.save(update_fields=["status"])
            count += 1
        self.message_user(request, f"Marked {count} report(s) {status}.", messages.SUCCESS)

    @admin.action(description="Mark resolved", permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        self._set_status(request, queryset, Report.Status.RESOLVED)

    @admin.action(description="Dismiss", permissions=["change"])
    def dismiss(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        self._set_status(request, queryset, Report.Status.DISMISSED)
