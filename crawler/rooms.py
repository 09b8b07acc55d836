"""From a server's room objects to crawled values and tags (the crawl's last step).

Pure functions: a room object (hostile JSON) in, the crawled field values, the derived and
hashtag tags, the language and rating hints out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from directory.lib.activity import weekly_active_users
from directory.lib.roomtext import (
    UNLISTED_TAG,
    is_reserved,
    language_from_hashtags,
    nsfw_signal,
    split_trailing_hashtags,
)
from directory.lib.sogs import room_values
from directory.models import AgeRating

READ_ONLY = "read-only"
UPLOADS_OFF = "uploads off"
NEW = "new"
MODERATED = "moderated"
OFFICIAL = "official"
NSFW = "nsfw"


@dataclass
class CrawledRoom:
    """One room as the crawl stores it."""

    values: dict[str, Any]  # Room.CRAWLED_FIELDS only
    derived_tags: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    language: str | None = None
    nsfw: bool = False

    @property
    def token_key(self) -> str:
        return self.values["token"].lower()


def crawled_room(
    data: dict,
    *,
    now: datetime,
    official: bool,
    new_room_days: int,
    users_per_moderator: int,
    legacy_member_count: int | None = None,
) -> CrawledRoom:
    """Crawled values and tags of one room object validated by `directory.lib.sogs`.

    The trailing hashtags (and with them the language, the adult signal and `#unlisted`) are
    read from the whole description as the server sent it (`sogs_room`), not from the text
    cleaned for the website. A legacy server's
    `legacy_member_count` counts everyone who ever held a token: it is kept apart, never taken
    for SOGS `active_users`."""
    created = data.get("created")
    created_at = datetime.fromtimestamp(created, tz=UTC) if created is not None else None
    description = data.get("sogs_room", data).get("description") or ""
    _, hashtags = split_trailing_hashtags(description)
    room = CrawledRoom(values=room_values(data, now))
    room.values["legacy_member_count"] = legacy_member_count
    room.language = language_from_hashtags(hashtags)
    room.nsfw = nsfw_signal(data.get("name"), hashtags)
    room.values["unlisted_by_operator"] = UNLISTED_TAG in hashtags
    room.values["suggested_age_rating"] = AgeRating.NSFW if room.nsfw else AgeRating.UNRATED
    # Reserved words are the directory's; a description cannot claim them.
    room.hashtags = [
        tag for tag in hashtags if not is_reserved(tag) and not tag.startswith("lang:")
    ]
    room.derived_tags = _derived_tags(
        data, created_at, now, official, new_room_days, users_per_moderator
    )
    return room


def _derived_tags(
    data: dict,
    created_at: datetime | None,
    now: datetime,
    official: bool,
    new_room_days: int,
    users_per_moderator: int,
) -> list[str]:
    tags = []
    if data.get("write") is False:
        tags.append(READ_ONLY)
    if data.get("upload") is False and data.get("write") is not False:
        tags.append(UPLOADS_OFF)
    if created_at is not None and now - created_at < timedelta(days=new_room_days):
        tags.append(NEW)
    staff = len(set(data.get("admins", [])) | set(data.get("moderators", [])))
    # One visible moderator per `users_per_moderator` weekly users, and at least one.
    weekly = weekly_active_users(data.get("active_users"), data.get("active_users_cutoff")) or 0
    if staff and staff * users_per_moderator >= weekly:
        tags.append(MODERATED)
    if official:
        tags.append(OFFICIAL)
    return tags
