"""The directory's data: sources, servers (by public key), rooms, tags, listings, history, crawls.

Crawled fields and curated fields are kept apart: a crawl writes only the fields named in
``Server.CRAWLED_FIELDS`` / ``Room.CRAWLED_FIELDS``; everything else is the moderators'.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import (
    Case,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Lower
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from directory.lib.joinlinks import DEFAULT_PORTS, format_base_url
from directory.lib.languages import is_valid_language, language_flag
from directory.lib.searchtext import fold_all, fold_words

pubkey_validator = RegexValidator(
    r"^[0-9a-f]{64}\Z", "A server public key is 64 lower-case hex digits (X25519)."
)
token_validator = RegexValidator(
    r"^[A-Za-z0-9_-]{1,64}\Z", "A room token is 1-64 of A-Z, a-z, 0-9, '_' and '-'."
)


def validate_language(value: str) -> None:
    if value and not is_valid_language(value):
        raise ValidationError(f"{value!r} is not an ISO 639 language code (e.g. en, de, zh, mul).")


class AgeRating(models.TextChoices):
    UNRATED = "unrated", _("Unrated")
    SFW = "sfw", _("Safe for work")
    NSFW = "nsfw", _("Adult (NSFW)")


class Source(models.Model):
    """A published page or feed of join links that the crawler reads."""

    class Kind(models.TextChoices):
        HTML = "html", "HTML page"
        JSON = "json", "JSON feed of {url, tags, nsfw}"
        MARKDOWN = "markdown", "Markdown list"

    class Status(models.TextChoices):
        NEVER = "never", "Never fetched"
        OK = "ok", "OK"
        FAILED = "failed", "Failed (last good body used)"

    name = models.CharField(max_length=64, unique=True)
    url = models.URLField(max_length=500, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    notes = models.TextField(blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEVER)
    last_error = models.TextField(blank=True)
    last_good_body = models.TextField(blank=True)
    last_good_at = models.DateTimeField(null=True, blank=True)
    links_found = models.PositiveIntegerField(default=0)
    suggested_age_rating = models.CharField(
        max_length=16,
        choices=AgeRating.choices,
        default=AgeRating.UNRATED,
        help_text="The rating this source suggests for every room it lists (e.g. an adult list).",
    )

    history = HistoricalRecords(excluded_fields=["last_good_body"])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ServerQuerySet(models.QuerySet):
    def visible(self) -> ServerQuerySet:
        return self.filter(hidden=False).exclude(key_state=Server.KeyState.FAILED)

    def online(self) -> ServerQuerySet:
        """Servers that answered their last poll (`Server.is_online`)."""
        return self.filter(last_poll_status=Server.PollStatus.OK)


class Server(models.Model):
    """One SOGS, identified by its X25519 public key, reachable at one or more addresses."""

    class ApiKind(models.TextChoices):
        UNKNOWN = "unknown", _("Unknown")
        MODERN = "modern", _("Modern SOGS")
        LEGACY = "legacy", _("Legacy SOGS")

    class KeyState(models.TextChoices):
        UNVERIFIED = "unverified", _("Not yet proven")
        PROVEN = "proven", _("Proven")
        FAILED = "failed", _("Proof failed")

    class PollStatus(models.TextChoices):
        NEVER = "never", _("Never polled")
        OK = "ok", pgettext_lazy("server poll status", "OK")
        UNREACHABLE = "unreachable", _("Unreachable")
        TIMEOUT = "timeout", _("Timed out")
        NOT_SOGS = "not_sogs", _("Not a SOGS")
        HTTP_ERROR = "http_error", _("HTTP error")
        BAD_RESPONSE = "bad_response", _("Bad response")
        TOO_LARGE = "too_large", _("Reply too large")
        KEY_MISMATCH = "key_mismatch", _("Key mismatch")
        ERROR = "error", _("Error")

    CRAWLED_FIELDS = (
        "preferred_address",
        "api_kind",
        "capabilities",
        "last_seen",
        "last_poll_at",
        "last_poll_status",
        "last_poll_error",
        "consecutive_failures",
        "key_state",
        "key_checked_at",
        "key_conflict",
        "polling_started_at",
        "advertised_base_url",
    )
    CURATED_FIELDS = ("hidden", "default_age_rating", "notes", "official", "name", "icon")

    pubkey = models.CharField(max_length=64, unique=True, validators=[pubkey_validator])
    preferred_address = models.ForeignKey(
        "ServerAddress", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_kind = models.CharField(max_length=16, choices=ApiKind.choices, default=ApiKind.UNKNOWN)
    capabilities = models.JSONField(default=list, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(null=True, blank=True, help_text="Last successful poll.")
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_poll_status = models.CharField(
        max_length=16, choices=PollStatus.choices, default=PollStatus.NEVER
    )
    last_poll_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    key_state = models.CharField(
        max_length=16, choices=KeyState.choices, default=KeyState.UNVERIFIED
    )
    key_checked_at = models.DateTimeField(null=True, blank=True)
    key_conflict = models.TextField(
        blank=True, help_text="What a failed key proof found, for moderators."
    )
    # Curated: SOGS has no server-wide name or icon, so moderators set them.
    name = models.CharField(
        max_length=200, blank=True, help_text="Server-wide name, shown on the server's page."
    )
    icon = models.FileField(
        upload_to="server-icons/", blank=True, help_text="PNG, JPEG, WebP or GIF."
    )
    # Claim marker: a poll sets it with a conditional UPDATE so two workers never poll at once.
    polling_started_at = models.DateTimeField(null=True, blank=True)
    # pysogs shows `<URL_BASE>/<token>?public_key=<key>` on `/r/<token>/` (`view_room.html`):
    # the base URL its operator configured, which becomes the published one once it answers.
    advertised_base_url = models.CharField(
        max_length=300,
        blank=True,
        help_text="The base URL in the join link of the server's own room page.",
    )

    # Curated.
    hidden = models.BooleanField(default=False)
    default_age_rating = models.CharField(
        max_length=16, choices=AgeRating.choices, default=AgeRating.UNRATED
    )
    notes = models.TextField(blank=True)
    official = models.BooleanField(default=False)

    objects = ServerQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=list(CRAWLED_FIELDS))

    class Meta:
        ordering = ["pubkey"]

    def __str__(self) -> str:
        return f"{self.base_url or '(no address)'} ({self.pubkey[:8]})"

    @property
    def base_url(self) -> str:
        """The published base URL: stable from crawl to crawl, since Session clients tell
        Communities apart by it (`directory.servers.choose_preferred_address`)."""
        return self.preferred_address.base_url if self.preferred_address_id else ""

    @property
    def server_id(self) -> str:
        """The short id the existing directories use: the key's first 8 hex digits."""
        return self.pubkey[:8]

    @property
    def is_online(self) -> bool:
        return self.last_poll_status == self.PollStatus.OK

    @property
    def icon_url(self) -> str:
        """Our own copy of the icon moderators uploaded, or '' when there is none."""
        if not self.icon:
            return ""
        # Remembered like room_url: a listing asks once per room of the server.
        return _server_url(
            "server_icon", self.pubkey, get_script_prefix(), settings.ROOT_URLCONF, get_language()
        )


@lru_cache(maxsize=4096)
def _server_url(name: str, pubkey: str, prefix: str, urlconf: str, language: str | None) -> str:
    return reverse(name, kwargs={"pubkey": pubkey})


class ServerAddress(models.Model):
    """One way to reach a server: scheme, host and port, with its own success record."""

    class Scheme(models.TextChoices):
        HTTP = "http", "http"
        HTTPS = "https", "https"

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="addresses")
    scheme = models.CharField(max_length=5, choices=Scheme.choices)
    host = models.CharField(max_length=253)
    port = models.PositiveIntegerField(help_text="Always stored; left out of URLs when default.")
    first_seen = models.DateTimeField(default=timezone.now)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # Moved by every save: an address a moderator edits changes the join links (the data version).
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["server", "host", "scheme"]
        constraints = [
            models.UniqueConstraint(
                fields=["server", "scheme", "host", "port"], name="unique_address_per_server"
            )
        ]

    def __str__(self) -> str:
        return self.base_url

    @property
    def address(self) -> tuple[str, str, int | None]:
        """(scheme, host, port) as join links carry it: port None when it is the default."""
        port = None if self.port == DEFAULT_PORTS.get(self.scheme) else self.port
        return (self.scheme, self.host, port)

    @property
    def base_url(self) -> str:
        return format_base_url(*self.address)

    @property
    def works(self) -> bool:
        """Whether the last poll here succeeded (a success not older than the last failure)."""
        return self.last_success_at is not None and (
            self.last_failure_at is None or self.last_success_at >= self.last_failure_at
        )


class Tag(models.Model):
    """A label on rooms; ``kind`` says where the tag comes from."""

    class Kind(models.TextChoices):
        DERIVED = "derived", "Derived by rules"
        SOURCE = "source", "From a source"
        HASHTAG = "hashtag", "From the room's description hashtags"
        MAINTAINER = "maintainer", "Set by a maintainer"

    slug = models.SlugField(max_length=64, unique=True, allow_unicode=True)
    label = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MAINTAINER)
    description = models.TextField(blank=True)
    # Moved by every edit: a renamed tag changes what pages and listings show (the data version).
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


# Rated safe, or unrated with no adult signal from a source or the room's hashtags (they only
# ever suggest NSFW). The default views show only these; every other room is adult.
SAFE_RATING = Q(age_rating=AgeRating.SFW) | Q(
    age_rating=AgeRating.UNRATED, suggested_age_rating=AgeRating.UNRATED
)
# Never polled is neither online nor offline: the room page says "not polled yet".
ONLINE = Q(listed_by_server=True, server__last_poll_status=Server.PollStatus.OK)
OFFLINE = Q(listed_by_server=False) | ~Q(
    server__last_poll_status__in=[Server.PollStatus.OK, Server.PollStatus.NEVER]
)

# Message rates: from the first and last poll within the window; a shorter span of polls than
# MIN_RATE_SPAN says more about noise than about the room, so it gives no rate.
RATE_WINDOW = timedelta(days=7)
MIN_RATE_SPAN = timedelta(hours=1)

# The sort orders of the site and the API, by name. Unknown counts and dates go last on every
# database (PostgreSQL would put them first); names in any case, then pk, break ties.
ROOM_SORTS: dict[str, tuple] = {
    "active_users": (
        "-pinned",
        F("active_users_weekly").desc(nulls_last=True),
        Lower("name"),
        "pk",
    ),
    "name": (Lower("name"), "pk"),
    "created": (F("created").desc(nulls_last=True), Lower("name"), "pk"),
    "newest": ("-included_at", Lower("name"), "pk"),
    "messages": (F("messages_per_day").desc(nulls_last=True), Lower("name"), "pk"),
}
DEFAULT_SORT = "active_users"
# Names links still use: the site called the default order "active" before it took the API's.
SORT_ALIASES = {"active": "active_users"}
SEARCH_WORDS = 8
# The room's own fields the search reads; its tags and its server's name and addresses as well
# (`Room.search_text`).
SEARCHED_ROOM_FIELDS = frozenset({"name", "description", "maintainer_description", "token"})


def sort_name(name: str) -> str | None:
    """The canonical name of a sort order (an alias resolved), or None when there is none."""
    name = SORT_ALIASES.get(name, name)
    return name if name in ROOM_SORTS else None


class Microseconds(Func):
    """The microseconds from ``earlier`` to ``later`` (datetimes), as a number in the database.

    Django subtracts datetimes per backend: SQLite and MySQL give microseconds already,
    PostgreSQL an interval."""

    template = "%(expressions)s"
    output_field = FloatField()

    def __init__(self, later, earlier) -> None:
        super().__init__(ExpressionWrapper(later - earlier, output_field=DurationField()))

    def as_postgresql(self, compiler, connection, **extra):
        template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::double precision"
        return self.as_sql(compiler, connection, template=template, **extra)


class RoomQuerySet(models.QuerySet):
    """The one vocabulary of room queries: the site, the API, the admin and the feeds use it.

    Each state has a `Room` property of the same meaning (`is_online`, `is_offline`,
    `is_adult`, `is_legacy`) for a room already loaded."""

    def public(self) -> RoomQuerySet:
        """Rooms the public may see: not hidden, on a visible server, not gone for too long."""
        cutoff = timezone.now() - timedelta(days=settings.OFFLINE_GRACE_DAYS)
        return self.filter(
            hidden=False,
            server__hidden=False,
            last_seen__gte=cutoff,
            unlisted_by_operator=False,
        ).exclude(server__key_state=Server.KeyState.FAILED)

    def safe(self) -> RoomQuerySet:
        """Rated safe, or unrated and flagged adult by no source or hashtag."""
        return self.filter(SAFE_RATING)

    def adult(self) -> RoomQuerySet:
        """Every room that is not `safe()`: rated adult, or unrated and flagged adult."""
        return self.exclude(SAFE_RATING)

    def online(self) -> RoomQuerySet:
        """Its server answered the last poll and still lists the room."""
        return self.filter(ONLINE)

    def legacy(self) -> RoomQuerySet:
        """Rooms of legacy servers (rust-sogs), which current Session clients cannot join:
        Desktop asks for `/capabilities` first and gives up without them (session-desktop
        `ts/session/apis/open_group_api/sogsv3/sogsV3RoomInfos.ts`)."""
        return self.filter(server__api_kind=Server.ApiKind.LEGACY)

    def modern(self) -> RoomQuerySet:
        """Every room that is not `legacy()`: its server speaks the SOGS API (or was not yet
        polled, as imported rooms, which came with SOGS room objects)."""
        return self.exclude(server__api_kind=Server.ApiKind.LEGACY)

    def offline(self) -> RoomQuerySet:
        """The server's last poll failed, or the server stopped listing the room. Not the
        opposite of `online()`: a room whose server was never polled is neither."""
        return self.filter(OFFLINE)

    def search(self, text: str) -> RoomQuerySet:
        """Rooms where every word of ``text`` (the first SEARCH_WORDS) appears, in any case and
        with or without accents, in any script, in the name, the description, the maintainers'
        description, the token, a tag's label or slug, the server's name or one of its
        addresses: the folded words (`directory.lib.searchtext.fold`) in `Room.search_text`."""
        condition = Q()
        for word in fold_words(text, SEARCH_WORDS):
            condition &= Q(search_text__contains=word)
        return self.filter(condition)

    def refresh_search_text(self) -> int:
        """Write these rooms' `search_text` again from their fields, tags and server; returns
        how many changed. `Room.save` and `update()` keep it themselves; the receivers below
        call this when a tag, a server's name or its addresses change."""
        fields = ("pk", "server_id", "search_text", *SEARCHED_ROOM_FIELDS)
        changed = []
        for room, text in _batched_search_texts(list(self.order_by().only(*fields))):
            if room.search_text != text:
                room.search_text = text
                changed.append(room)
        Room.objects.bulk_update(changed, ["search_text"], batch_size=SEARCH_BATCH)
        return len(changed)

    def update(self, **kwargs) -> int:
        """QuerySet.update(), keeping `search_text` when a searched field is written."""
        if not SEARCHED_ROOM_FIELDS & kwargs.keys():
            return super().update(**kwargs)
        pks = list(self.values_list("pk", flat=True))
        count = super().update(**kwargs)
        Room.objects.filter(pk__in=pks).refresh_search_text()
        return count

    def with_message_rates(self, window: timedelta = RATE_WINDOW) -> RoomQuerySet:
        """Annotate ``messages_per_day``: the growth of the message sequence from the first to
        the last poll within ``window``, per day; None under MIN_RATE_SPAN of polls.

        `message_sequence` counts posts, edits and deletions, so this is activity, not posts."""
        polls = (
            RoomActivity.objects.filter(
                room=OuterRef("pk"),
                at__gte=timezone.now() - window,
                message_sequence__isnull=False,
            )
            .order_by()
            .values("room")
            .annotate(
                span=Microseconds(Max("at"), Min("at")),
                growth=Max("message_sequence") - Min("message_sequence"),
            )
        )
        day = timedelta(days=1) / timedelta(microseconds=1)
        rate = Case(
            When(
                span__gte=MIN_RATE_SPAN // timedelta(microseconds=1),
                then=F("growth") / (F("span") / Value(day)),
            ),
            default=None,
            output_field=FloatField(),
        )
        return self.annotate(messages_per_day=Subquery(polls.values(rate=rate)[:1]))

    def sorted_by(self, name: str) -> RoomQuerySet:
        """In the sort order ``name`` (see ROOM_SORTS; aliases accepted, unknown: default)."""
        name = sort_name(name) or DEFAULT_SORT
        rooms = self
        if name == "messages" and "messages_per_day" not in self.query.annotations:
            rooms = rooms.with_message_rates()
        return rooms.order_by(*ROOM_SORTS[name])


def room_url(name: str, pubkey: str, token: str) -> str:
    """`reverse()` of a room's URL, remembered: a listing of 2,000 rooms asks for 4,000.
    Per language too: the room page is under the visitor's language prefix (README "Languages")."""
    return _room_url(
        name, pubkey, token, get_script_prefix(), settings.ROOT_URLCONF, get_language()
    )


@lru_cache(maxsize=16384)
def _room_url(
    name: str, pubkey: str, token: str, prefix: str, urlconf: str, language: str | None
) -> str:
    return reverse(name, kwargs={"pubkey": pubkey, "token": token})


class Room(models.Model):
    """A Community: one room on one server, identified by (server, lower-cased token)."""

    CRAWLED_FIELDS = (
        "token",
        "name",
        "description",
        "active_users",
        "active_users_cutoff",
        "active_users_weekly",
        "created",
        "info_updates",
        "message_sequence",
        "image_id",
        "read",
        "write",
        "upload",
        "admins",
        "moderators",
        "suggested_age_rating",
        "last_seen",
        "listed_by_server",
        "icon",
        "icon_image_id",
        "unlisted_by_operator",
        "sogs_room",
        "legacy_member_count",
    )
    CURATED_FIELDS = (
        "age_rating",
        "language",
        "maintainer_description",
        "hidden",
        "pinned",
        "rating_verified_at",
        "included_at",
    )

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="rooms")
    token = models.CharField(max_length=64, validators=[token_validator])
    token_key = models.CharField(max_length=64, editable=False)

    # What the SOGS API reports.
    name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    active_users = models.PositiveIntegerField(null=True, blank=True)
    active_users_cutoff = models.PositiveIntegerField(null=True, blank=True)
    # active_users scaled to a 7-day window, so rooms of different servers compare fairly.
    active_users_weekly = models.PositiveIntegerField(null=True, blank=True, db_index=True)
    created = models.DateTimeField(null=True, blank=True)
    info_updates = models.BigIntegerField(null=True, blank=True)
    message_sequence = models.BigIntegerField(null=True, blank=True)
    image_id = models.BigIntegerField(null=True, blank=True)
    read = models.BooleanField(null=True)
    write = models.BooleanField(null=True)
    upload = models.BooleanField(null=True)
    admins = models.JSONField(default=list, blank=True)
    moderators = models.JSONField(default=list, blank=True)
    # The room object exactly as the server sent it (only NUL and unpaired surrogates removed),
    # served as the listing's `room`; the fields above are its text cleaned for the website.
    sogs_room = models.JSONField(default=dict, blank=True)
    # A legacy server's `member_count`: everyone who ever held a token, not SOGS `active_users`.
    legacy_member_count = models.PositiveIntegerField(null=True, blank=True)

    # Crawl state.
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    listed_by_server = models.BooleanField(default=True)
    suggested_age_rating = models.CharField(
        max_length=16,
        choices=AgeRating.choices,
        default=AgeRating.UNRATED,
        help_text="What sources and the room's own hashtags suggest; moderators decide.",
    )
    icon = models.FileField(upload_to="icons/", blank=True)
    icon_image_id = models.BigIntegerField(null=True, blank=True)
    # The operator wrote #unlisted in the description: an opt-out that keeps the room off pages.
    unlisted_by_operator = models.BooleanField(default=False)

    # Curated.
    age_rating = models.CharField(
        max_length=16, choices=AgeRating.choices, default=AgeRating.UNRATED, db_index=True
    )
    language = models.CharField(
        max_length=12,
        blank=True,
        validators=[validate_language],
        help_text="ISO 639 code, e.g. en, de, zh; 'mul' for many. The flag is derived from it.",
    )
    tags = models.ManyToManyField(Tag, through="RoomTag", related_name="rooms", blank=True)
    maintainer_description = models.TextField(blank=True)
    hidden = models.BooleanField(default=False)
    pinned = models.BooleanField(default=False)
    rating_verified_at = models.DateTimeField(null=True, blank=True)
    included_at = models.DateTimeField(default=timezone.now)

    # Every text the search reads, folded (`RoomQuerySet.search`): derived, never edited.
    search_text = models.TextField(blank=True, default="", editable=False)

    objects = RoomQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=[*CRAWLED_FIELDS, "search_text"])

    class Meta:
        ordering = ["-pinned", "-active_users_weekly", "name"]
        constraints = [
            models.UniqueConstraint(fields=["server", "token_key"], name="unique_room_token")
        ]

    def __str__(self) -> str:
        return self.name or self.token

    def save(self, *args, **kwargs) -> None:
        self.token_key = self.token.lower()
        update_fields = kwargs.get("update_fields")
        prepared = self.__dict__.pop("_search_text_prepared", False)  # prepare_search_text()
        if update_fields is None or SEARCHED_ROOM_FIELDS & set(update_fields):
            if not prepared:
                (self.search_text,) = _search_texts([self])
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return room_url("room_detail", self.server.pubkey, self.token)

    @property
    def language_flag(self) -> str:
        return language_flag(self.language)

    @property
    def qr_url(self) -> str:
        """The join link's QR code (one address for every language)."""
        return room_url("room_qr", self.server.pubkey, self.token)

    @property
    def icon_url(self) -> str:
        """Our own copy of the icon, or '' when none is stored."""
        if not self.icon:
            return ""
        return room_url("room_icon", self.server.pubkey, self.token)

    @property
    def join_url(self) -> str:
        return f"{self.server.base_url}/{self.token}?public_key={self.server.pubkey}"

    @property
    def is_online(self) -> bool:
        """`RoomQuerySet.online()`: its server answered the last poll and still lists it."""
        return self.listed_by_server and self.server.is_online

    @property
    def is_offline(self) -> bool:
        """`RoomQuerySet.offline()`: the last poll failed or the server stopped listing it.
        Never polled is neither online nor offline."""
        status = self.server.last_poll_status
        failed = status not in (Server.PollStatus.OK, Server.PollStatus.NEVER)
        return failed or not self.listed_by_server

    @property
    def is_legacy(self) -> bool:
        """`RoomQuerySet.legacy()`: current Session clients cannot join it."""
        return self.server.api_kind == Server.ApiKind.LEGACY

    @property
    def is_adult(self) -> bool:
        """`RoomQuerySet.adult()`: anything not safe (see SAFE_RATING)."""
        safe = self.age_rating == AgeRating.SFW or (
            self.age_rating == AgeRating.UNRATED and self.suggested_age_rating == AgeRating.UNRATED
        )
        return not safe


SEARCH_BATCH = 500


def _search_texts(rooms: Sequence[Room]) -> list[str]:
    """The `search_text` of each room: its SEARCHED_ROOM_FIELDS, its tags' labels and slugs,
    its server's name and hosts, folded into one text (three queries for the lot)."""
    server_ids = {room.server_id for room in rooms}
    names = dict(Server.objects.filter(pk__in=server_ids).order_by().values_list("pk", "name"))
    hosts = defaultdict(list)
    addresses = ServerAddress.objects.filter(server_id__in=server_ids).order_by()
    for server_id, host in addresses.values_list("server_id", "host"):
        hosts[server_id].append(host)
    tags = defaultdict(list)
    if room_ids := [room.pk for room in rooms if room.pk is not None]:
        assignments = RoomTag.objects.filter(room_id__in=room_ids).order_by()
        for room_id, label, slug in assignments.values_list("room_id", "tag__label", "tag__slug"):
            tags[room_id] += (label, slug)
    return [
        fold_all(
            [
                *(getattr(room, name) for name in sorted(SEARCHED_ROOM_FIELDS)),
                names.get(room.server_id, ""),
                *sorted(hosts[room.server_id]),
                *sorted(tags[room.pk]),
            ]
        )
        for room in rooms
    ]


def _batched_search_texts(rooms: Sequence[Room]) -> Iterator[tuple[Room, str]]:
    """Each room with its `search_text`, computed SEARCH_BATCH rooms at a time."""
    for start in range(0, len(rooms), SEARCH_BATCH):
        batch = rooms[start : start + SEARCH_BATCH]
        yield from zip(batch, _search_texts(batch), strict=True)


def prepare_search_text(rooms: Sequence[Room]) -> None:
    """Set the `search_text` of rooms about to be saved, all at once (three queries, not three
    a room); their next save() keeps it. Crawls and imports save every room of a server."""
    for room, text in _batched_search_texts(rooms):
        room.search_text = text
        room._search_text_prepared = True


class RoomTag(models.Model):
    """A tag on a room, with where that assignment came from (crawls only touch their own)."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="room_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="room_tags")
    origin = models.CharField(max_length=16, choices=Tag.Kind.choices)
    added_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "tag", "origin"], name="unique_room_tag")
        ]

    def __str__(self) -> str:
        return f"{self.room} #{self.tag} ({self.origin})"


class Listing(models.Model):
    """A named selection of rooms served by the listing-provider API."""

    class RatingFilter(models.TextChoices):
        ANY = "any", "Any rating"
        SAFE = "safe", "Safe for work and unrated"
        SFW = "sfw", "Rated safe for work only"
        NSFW = "nsfw", "Adult (NSFW) only"

    ALL = "all"

    slug = models.SlugField(max_length=64, unique=True, help_text="The listing id in the API.")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    include_all = models.BooleanField(default=False, help_text="Every public room.")
    rooms = models.ManyToManyField(Room, blank=True, related_name="listings")
    tags = models.ManyToManyField(
        Tag, blank=True, related_name="listings", help_text="Rooms with any of these tags."
    )
    rating_filter = models.CharField(
        max_length=8, choices=RatingFilter.choices, default=RatingFilter.ANY
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_builtin(self) -> bool:
        return self.slug == self.ALL

    def delete(self, *args, **kwargs):
        if self.is_builtin:
            raise ValidationError("The built-in listing 'all' cannot be deleted.")
        return super().delete(*args, **kwargs)

    def room_queryset(self) -> RoomQuerySet:
        rooms = Room.objects.public()
        if not self.include_all:
            chosen = Q(pk__in=self.rooms.values("pk")) | Q(tags__in=self.tags.all())
            rooms = rooms.filter(chosen).distinct()
        return rooms.filter(self._rating_q())

    def _rating_q(self) -> Q:
        if self.rating_filter == self.RatingFilter.SFW:
            return Q(age_rating=AgeRating.SFW)
        if self.rating_filter == self.RatingFilter.NSFW:
            return Q(age_rating=AgeRating.NSFW)
        if self.rating_filter == self.RatingFilter.SAFE:
            return SAFE_RATING
        return Q()


class RoomActivity(models.Model):
    """One row per successful poll of a room: the raw series behind rates and charts."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="activity")
    at = models.DateTimeField(default=timezone.now)
    active_users = models.PositiveIntegerField(null=True)
    message_sequence = models.BigIntegerField(null=True)

    class Meta:
        ordering = ["room", "at"]
        indexes = [models.Index(fields=["room", "at"])]
        verbose_name_plural = "room activity"

    def __str__(self) -> str:
        return f"{self.room_id} at {self.at:%Y-%m-%d %H:%M}: {self.active_users} active"


class CrawlRun(models.Model):
    """What one crawl did: counts and errors, for operators and the admin's crawl report."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    sources = models.PositiveIntegerField(default=0)
    links_found = models.PositiveIntegerField(default=0)
    servers_polled = models.PositiveIntegerField(default=0)
    servers_ok = models.PositiveIntegerField(default=0)
    servers_failed = models.PositiveIntegerField(default=0)
    rooms_new = models.PositiveIntegerField(default=0)
    rooms_updated = models.PositiveIntegerField(default=0)
    rooms_gone = models.PositiveIntegerField(default=0)
    rooms_found = models.PositiveIntegerField(default=0, help_text="Rooms seen by this crawl.")
    errors = models.JSONField(default=list, blank=True)
    # {Server.PollStatus: servers}: why the servers that failed failed, one kind each (the most
    # informative failure, `crawler/failures.py`).
    failures = models.JSONField(default=dict, blank=True)
    # {pubkey: {"status", "key", "rooms"}} as this crawl left each server: the crawl report
    # compares the last two to find servers that went down, key changes and drops in rooms.
    server_states = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Crawl {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    def record_server_states(self) -> None:
        """Fill `rooms_found` and `server_states` from what the run saw (not saved here)."""
        seen = Q(rooms__last_seen__gte=self.started_at)
        rows = (
            Server.objects.filter(Q(last_poll_at__gte=self.started_at) | seen)
            .annotate(rooms_seen=models.Count("rooms", filter=seen))
            .values_list("pubkey", "last_poll_status", "key_state", "rooms_seen")
        )
        self.server_states = {
            pubkey: {"status": status, "key": key_state, "rooms": rooms}
            for pubkey, status, key_state, rooms in rows
        }
        self.rooms_found = Room.objects.filter(last_seen__gte=self.started_at).count()


class Submission(models.Model):
    """A community someone asked us to list: pending until a moderator approves or rejects it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    class CheckState(models.TextChoices):
        WAITING = "waiting", _("Waiting for the check")
        PASSED = "passed", _("Server reachable, key proven, room exists")
        FAILED = "failed", _("Check failed")

    join_url = models.CharField(max_length=300, help_text="As submitted, normalised.")
    server_url = models.CharField(max_length=300)
    pubkey = models.CharField(max_length=64, validators=[pubkey_validator])
    token = models.CharField(max_length=64, validators=[token_validator])
    suggested_tags = models.CharField(max_length=300, blank=True)
    suggested_language = models.CharField(max_length=12, blank=True, validators=[validate_language])
    note = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    check_state = models.CharField(
        max_length=16, choices=CheckState.choices, default=CheckState.WAITING
    )
    check_detail = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rejection_reason = models.TextField(blank=True)
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.SET_NULL)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.join_url


class Report(models.Model):
    """A visitor's report about a room (wrong rating, abuse, dead link), queued for moderators."""

    class Kind(models.TextChoices):
        RATING = "rating", _("Wrong age rating")
        ABUSE = "abuse", _("Abuse or illegal content")
        DEAD = "dead", _("Dead or broken link")
        OTHER = "other", _("Something else")

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="reports")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    message = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    moderator_note = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.room}"


class PublicChange(models.Model):
    """One entry of the public record (/changes/): a change visitors can see, and why.

    Written by directory/changes.py next to the history row of the same save, whose user is the
    moderator. The public page shows neither the moderator nor the private note.
    """

    class Action(models.TextChoices):
        DELISTED = "delisted", _("De-listed")
        RELISTED = "relisted", _("Re-listed")
        RATED_ADULT = "rated_adult", _("Rated adult (18+)")
        RATED_SAFE = "rated_safe", _("Rated safe for work")
        UNRATED = "unrated", _("Rating removed")
        LISTING_ADDED = "listing_added", _("Added to a listing")
        LISTING_REMOVED = "listing_removed", _("Removed from a listing")

    class Reason(models.TextChoices):
        ILLEGAL = "illegal", _("Illegal content")
        SPAM = "spam", _("Spam")
        ABUSE = "abuse", _("Abuse")
        OPERATOR = "operator", _("Operator's request")
        DEAD = "dead", pgettext_lazy("reason for a de-listing", "Dead")
        RATING = "rating", _("Wrong rating")
        OTHER = "other", _("Other (see the text)")

    at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    # The subject: a room (with its server) or a server alone. The identity and name are copied
    # so that the entry outlives the objects.
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.SET_NULL, related_name="public_changes"
    )
    server = models.ForeignKey(
        Server, null=True, blank=True, on_delete=models.SET_NULL, related_name="public_changes"
    )
    server_pubkey = models.CharField(max_length=64)
    server_url = models.CharField(max_length=300, blank=True)
    room_token = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200, blank=True, help_text="The room's name then.")
    listing = models.ForeignKey(Listing, null=True, blank=True, on_delete=models.SET_NULL)
    listing_name = models.CharField(max_length=100, blank=True)
    # Blank when no reason was given (a change made outside the admin, which always asks).
    reason = models.CharField(max_length=16, choices=Reason.choices, blank=True)
    reason_text = models.CharField(max_length=500, blank=True, help_text="Shown publicly.")
    private_note = models.TextField(blank=True, help_text="For moderators only; never shown.")
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The history row of the same save (of the room, the server, or the listing).
    history_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "public record entry"
        verbose_name_plural = "public record"

    def __str__(self) -> str:
        subject = self.room_token or self.server_url or self.server_pubkey[:8]
        return f"{self.get_action_display()}: {subject}"


# --- Keeping Room.search_text: the writes that do not go through Room.save ------------------------


def _deleted_with_room_or_server(origin: object) -> bool:
    """Whether a delete started from rooms or servers (cascading): their rooms are going too."""
    model = origin.model if isinstance(origin, models.QuerySet) else type(origin)
    return model in (Room, Server)


@receiver(post_save, sender=RoomTag)
@receiver(post_delete, sender=RoomTag)
def _room_tags_changed(sender, instance: RoomTag, raw: bool = False, origin=None, **kwargs) -> None:
    if not raw and not _deleted_with_room_or_server(origin):
        Room.objects.filter(pk=instance.room_id).refresh_search_text()


@receiver(m2m_changed, sender=Room.tags.through)
def _room_tags_added(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    # `room.tags.add()` and `tag.rooms.add()` bulk-create their assignments, without post_save.
    if action == "post_add":
        pks = pk_set if reverse else {instance.pk}
        Room.objects.filter(pk__in=pks).refresh_search_text()


@receiver(post_save, sender=Tag)
def _tag_saved(sender, instance: Tag, created: bool, raw: bool = False, **kwargs) -> None:
    if not created and not raw:
        tagged = RoomTag.objects.filter(tag=instance).values("room_id")
        Room.objects.filter(pk__in=tagged).refresh_search_text()


@receiver(post_save, sender=Server)
def _server_saved(sender, instance: Server, created: bool, update_fields=None, **kwargs) -> None:
    renamed = update_fields is None or "name" in update_fields
    if renamed and not created and not kwargs.get("raw"):
        Room.objects.filter(server_id=instance.pk).refresh_search_text()


@receiver(post_save, sender=ServerAddress)
@receiver(post_delete, sender=ServerAddress)
def _server_address_changed(sender, instance: ServerAddress, **kwargs) -> None:
    update_fields = kwargs.get("update_fields")
    moved = kwargs.get("created", True) or update_fields is None or "host" in update_fields
    deleted_with_server = _deleted_with_room_or_server(kwargs.get("origin"))
    if moved and not kwargs.get("raw") and not deleted_with_server:
        Room.objects.filter(server_id=instance.server_id).refresh_search_text()
