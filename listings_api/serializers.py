"""The documented shapes of the API (they generate the OpenAPI schema), and query validation.

Responses are built as plain dicts in `data.py` and cached as bytes; these serializers say what
every field means. The tests check real responses against the generated schema.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from rest_framework import serializers

from directory.models import DEFAULT_SORT, ROOM_SORTS, AgeRating, Listing, Tag


class ListingSummarySerializer(serializers.Serializer):
    id = serializers.SlugField(help_text="The listing id: use it in `GET /listing/<id>`.")
    name = serializers.CharField(help_text="Human name of the listing.")
    description = serializers.CharField(
        allow_blank=True, help_text="What the listing holds, from its maintainer (may be empty)."
    )
    rating = serializers.ChoiceField(
        choices=Listing.RatingFilter.choices,
        help_text=(
            "Which age ratings the listing admits: `any`; `safe` (rated safe for work, or unrated "
            "and not suggested adult by any source); `sfw` (rated safe only); `nsfw` (adult only)."
        ),
    )
    rooms = serializers.IntegerField(
        help_text="How many rooms `GET /listing/<id>` returns now (without `include=legacy`)."
    )
    created = serializers.DateTimeField(help_text="When the listing was created (ISO 8601, UTC).")
    updated = serializers.DateTimeField(
        help_text="When a maintainer last changed the listing's definition (ISO 8601, UTC)."
    )


class ListingsSerializer(serializers.Serializer):
    listings = ListingSummarySerializer(many=True, help_text="Every listing, ordered by id.")


class PinnedMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The pinned message's id.")
    pinned_at = serializers.FloatField(help_text="When it was pinned, in Unix seconds.")
    pinned_by = serializers.CharField(help_text="Session id of the admin who pinned it.")


class SogsRoomSerializer(serializers.Serializer):
    """The room object exactly as the room's server sent it to an anonymous `GET /rooms` or
    `GET /room/<token>` (pysogs' `get_room_info`, `sogs/routes/rooms.py`): the same keys, values
    and JSON types, so it can be treated as the server's own reply. A key the server left out is
    left out; a null it sent is null (bunsogs sends `description` and `image_id` as null where
    pysogs leaves them out); keys not described here pass through as sent. Only what the
    database cannot store is removed: NUL characters (U+0000) and unpaired surrogates, from
    every string. A room whose `name` is over 200 characters, whose `description` is over
    4000, or whose whole object is over 200,000 characters (as compact JSON) is refused when
    crawled and not listed, never cut. A legacy server's room (`room_extra.server_api`
    `legacy`, only with `include=legacy`) has `token` and `name` alone: that is all the legacy
    API tells."""

    token = serializers.CharField(help_text="The room token, as in the join URL.")
    name = serializers.CharField(
        required=False, allow_blank=True, help_text="Display name (at most 200 characters)."
    )
    description = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="The room's own description (free text, at most 4000 characters).",
    )
    info_updates = serializers.IntegerField(
        required=False, help_text="Goes up when the room's metadata changes."
    )
    message_sequence = serializers.IntegerField(
        required=False, help_text="Goes up with every post, edit or deletion."
    )
    created = serializers.FloatField(
        required=False, help_text="When the room was created, in Unix seconds (a float)."
    )
    active_users = serializers.IntegerField(
        required=False, help_text="Users who polled the room within `active_users_cutoff`."
    )
    active_users_cutoff = serializers.IntegerField(
        required=False, help_text="The window of `active_users`, in seconds."
    )
    image_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="File id of the room image on its server (`/room/<token>/file/<image_id>`).",
    )
    pinned_messages = PinnedMessageSerializer(
        many=True,
        required=False,
        help_text="The pinned messages, oldest pin first; pysogs leaves the key out if none.",
    )
    moderators = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Session ids of the visible moderators, as the server sent them.",
    )
    admins = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Session ids of the visible admins, as the server sent them.",
    )
    read = serializers.BooleanField(required=False, help_text="Anonymous users may read.")
    write = serializers.BooleanField(required=False, help_text="Anonymous users may post.")
    upload = serializers.BooleanField(required=False, help_text="Anonymous users may upload.")


class LanguageSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="ISO 639 language code, e.g. `en`, `de`; `mul`: many.")
    flag = serializers.CharField(
        allow_blank=True, help_text="A flag emoji for the language ('' when there is none)."
    )


class TagSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="The tag as shown.")
    type = serializers.ChoiceField(
        choices=Tag.Kind.choices,
        help_text=(
            "Where the tag comes from: `derived` by the directory's rules, a `source` list, the "
            "room's own `hashtag`s, or a `maintainer`."
        ),
    )


class RoomExtraSerializer(serializers.Serializer):
    """What this directory adds; no name collides with a SOGS room field."""

    join_url = serializers.CharField(
        help_text="The join link Session opens: `<server_url>/<token>?public_key=<server_pubkey>`."
    )
    server_url = serializers.CharField(
        help_text=(
            "The server's base URL, stable from crawl to crawl (Session clients tell Communities "
            "apart by it): the one its own room page advertises, once the server answered there; "
            "else the first that answered."
        )
    )
    server_pubkey = serializers.CharField(help_text="The server's X25519 public key (64 hex).")
    server_name = serializers.CharField(
        allow_null=True,
        help_text=(
            "The server-wide name the directory's moderators set (SOGS has none); null when unset."
        ),
    )
    server_icon_url = serializers.CharField(
        allow_null=True,
        help_text=(
            "The server icon the directory's moderators uploaded, served by this site (absolute "
            "URL, `/server/<server_pubkey>/icon`); null when there is none."
        ),
    )
    language = LanguageSerializer(
        allow_null=True, help_text="The room's language as moderators set it; null when unknown."
    )
    language_flag = serializers.CharField(
        allow_blank=True, help_text="The language's flag emoji, as older listings give it ('')."
    )
    tags = TagSerializer(many=True, help_text="The room's tags, each once, by text.")
    age_rating = serializers.ChoiceField(
        choices=AgeRating.choices, help_text="The moderators' age rating."
    )
    rating_verified_at = serializers.DateTimeField(
        allow_null=True, help_text="When a moderator last checked the rating (ISO 8601, UTC)."
    )
    included_at = serializers.DateTimeField(
        help_text="When the room entered the directory (ISO 8601, UTC)."
    )
    pinned = serializers.BooleanField(help_text="Moderators pinned the room to the top.")
    online = serializers.BooleanField(
        help_text="The server answered its last poll and still lists the room."
    )
    last_seen = serializers.DateTimeField(
        help_text="When a poll (or an import) last saw the room (ISO 8601, UTC)."
    )
    key_proven = serializers.BooleanField(
        help_text=(
            "The server proved it holds `server_pubkey`. False for rooms known only from an "
            "import or a source and not yet proven."
        )
    )
    key_checked_at = serializers.DateTimeField(
        allow_null=True, help_text="When the key was last checked (ISO 8601, UTC)."
    )
    messages_per_day = serializers.FloatField(
        allow_null=True,
        help_text=(
            "Posts, edits and deletions per day over the last week, from our polls; null "
            "without at least an hour of polls in that week."
        ),
    )
    icon_url = serializers.CharField(
        allow_null=True, help_text="Our own copy of the room icon (absolute URL); null if none."
    )
    room_page_url = serializers.CharField(help_text="The room's page on this site (absolute URL).")
    maintainer_description = serializers.CharField(
        allow_blank=True, help_text="The directory maintainers' description of the room ('')."
    )
    server_api = serializers.ChoiceField(
        choices=["sogs", "legacy"],
        help_text=(
            "What the server speaks: `sogs` (the SOGS API of pysogs and its kin), or `legacy` "
            "(an old rust-sogs server: current Session clients cannot join its rooms). Legacy "
            "rooms are listed only with `include=legacy`."
        ),
    )
    legacy_member_count = serializers.IntegerField(
        allow_null=True,
        help_text=(
            "A legacy server's `member_count`: everyone who ever held a token in the room, not "
            "recent users (so never given as `room.active_users`); null for other rooms or when "
            "the server did not tell."
        ),
    )


class ListedRoomSerializer(serializers.Serializer):
    room = SogsRoomSerializer(help_text="The SOGS room object.")
    room_extra = RoomExtraSerializer(help_text="What the directory adds.")


class ListingSerializer(serializers.Serializer):
    id = serializers.SlugField(help_text="The listing id.")
    name = serializers.CharField(help_text="Human name of the listing.")
    description = serializers.CharField(allow_blank=True, help_text="The maintainer's description.")
    rating = serializers.ChoiceField(
        choices=Listing.RatingFilter.choices, help_text="Age ratings the listing admits."
    )
    created = serializers.DateTimeField(help_text="When the listing was created (ISO 8601, UTC).")
    updated = serializers.DateTimeField(
        help_text="When its definition last changed (ISO 8601, UTC)."
    )
    rooms = ListedRoomSerializer(many=True, help_text="The rooms, filtered and sorted as asked.")


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for people.")


class ValidationErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for people.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per query parameter.",
    )


# Documented in the schema (as `pattern`), so a schema-valid request is never rejected.
NO_NUL = RegexValidator(r"^[^\x00]*$", "Null characters are not allowed.")


def text_filter(max_length: int, help_text: str) -> serializers.CharField:
    """An optional text parameter: blank by default, bounded, never a NUL."""
    return serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=max_length,
        default="",
        validators=[NO_NUL],
        help_text=help_text,
    )


class ListingQuerySerializer(serializers.Serializer):
    """The query parameters of `GET /listing/<id>`."""

    language = text_filter(12, "Only rooms in this language (ISO 639 code, e.g. `en`).")
    tag = text_filter(64, "Only rooms with this tag (its text or slug, any case).")
    q = text_filter(
        100,
        (
            "Only rooms where every word of this text appears (any case, with or without "
            "accents, in any script) in the name, the description, `maintainer_description`, "
            "the token, a tag, or the server's name or address; the same search as the "
            "website's."
        ),
    )
    sort = serializers.ChoiceField(
        choices=list(ROOM_SORTS),
        required=False,
        default=DEFAULT_SORT,
        help_text=(
            "The website's orders: `active_users` (default: pinned first, then most active over "
            "a week), `name` (A to Z), `created` (newest on its server first), `newest` (newest "
            "in the directory first, by `included_at`) or `messages` (most `messages_per_day` "
            "first)."
        ),
    )
    include = serializers.ChoiceField(
        choices=["legacy"],
        required=False,
        allow_blank=True,
        default="",
        help_text=(
            "`legacy`: also list the rooms of legacy servers (`room_extra.server_api` "
            "`legacy`), which current Session clients cannot join. Left out by default."
        ),
    )
