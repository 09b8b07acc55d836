"""What the public pages show: a visitor's query of rooms, and the rooms' activity series.

Plain functions of a query and the database, so views stay thin and tests can call them directly.
Search, ratings, online state and sort orders are `RoomQuerySet`'s (directory/models.py), shared
with the API and the admin.
"""

from __future__ import annotations

import hashlib
from dataclasses import astuple, dataclass
from datetime import date, timedelta

from django.db.models import Max, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import pgettext_lazy

from directory.models import DEFAULT_SORT, Room, RoomActivity, RoomTag, Server, sort_name

# The orders the home page's menu offers (ROOM_SORTS names; every one of them works in links).
SORTS = {
    "active_users": pgettext_lazy("sort order", "Active users"),
    "name": pgettext_lazy("sort order", "Name"),
    "newest": pgettext_lazy("sort order", "Newest"),
    "messages": pgettext_lazy("sort order", "Most messages"),
}
HISTORY_DAYS = 30
MAX_QUERY_LENGTH = 100


@dataclass(frozen=True)
class RoomQuery:
    """A visitor's search, filters and sort order, read from GET parameters and cleaned."""

    q: str = ""
    language: str = ""
    tag: str = ""
    online: bool = False
    sort: str = DEFAULT_SORT
    nsfw: bool = False
    legacy: bool = False  # legacy servers' rooms too (current Session apps cannot join them)
    page: int = 1

    @classmethod
    def from_params(cls, params) -> RoomQuery:
        try:
            page = max(1, min(10_000, int(params.get("page", "1"))))
        except ValueError:
            page = 1
        return cls(
            q=" ".join(params.get("q", "").split())[:MAX_QUERY_LENGTH],
            language=params.get("lang", "").strip().lower()[:12],
            tag=params.get("tag", "").strip()[:64],
            online=params.get("online") == "1",
            sort=sort_name(params.get("sort", "")) or DEFAULT_SORT,
            nsfw=params.get("nsfw") == "1",
            legacy=params.get("legacy") == "1",
            page=page,
        )

    def cache_key(self) -> str:
        raw = repr(astuple(self))
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def params(self, **changes) -> dict[str, str]:
        """The non-default parameters of this query (with changes), for building links."""
        values = {
            "q": self.q,
            "lang": self.language,
            "tag": self.tag,
            "online": "1" if self.online else "",
            "sort": "" if self.sort == DEFAULT_SORT else self.sort,
            "nsfw": "1" if self.nsfw else "",
            "legacy": "1" if self.legacy else "",
            "page": "" if self.page == 1 else str(self.page),
        }
        values.update({key: str(value) for key, value in changes.items()})
        return {key: value for key, value in values.items() if value}


def filter_rooms(query: RoomQuery) -> QuerySet[Room]:
    rooms = Room.objects.public()
    if not query.nsfw:
        rooms = rooms.safe()
    if not query.legacy:
        rooms = rooms.modern()
    if query.language:
        rooms = rooms.filter(language=query.language)
    if query.tag:
        rooms = rooms.filter(pk__in=RoomTag.objects.filter(tag__slug=query.tag).values("room_id"))
    if query.online:
        rooms = rooms.online()
    return rooms.search(query.q).sorted_by(query.sort)


def with_display_data(rooms: QuerySet[Room]) -> QuerySet[Room]:
    return rooms.select_related("server", "server__preferred_address").prefetch_related("tags")


# -- activity series ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    day: date
    active_users: int | None
    messages: int | None


def _days(today: date, count: int) -> list[date]:
    return [today - timedelta(days=offset) for offset in range(count - 1, -1, -1)]


def daily_series(rows: list[dict], today: date, count: int = HISTORY_DAYS) -> list[Day]:
    """One Day per calendar day, oldest first; messages are day-over-day sequence growth."""
    by_day = {row["day"]: row for row in rows}
    series: list[Day] = []
    previous_seq = None
    for day in _days(today, count + 1):
        row = by_day.get(day)
        seq = row["seq"] if row else None
        messages = None
        if seq is not None and previous_seq is not None:
            messages = max(0, seq - previous_seq)
        if day != today - timedelta(days=count):
            series.append(Day(day, row["users"] if row else None, messages))
        previous_seq = seq if seq is not None else previous_seq
    return series


def _activity_rows(room_ids: list[int], since) -> QuerySet:
    return (
        RoomActivity.objects.filter(room_id__in=room_ids, at__gte=since)
        .annotate(day=TruncDate("at"))
        .values("room_id", "day")
        .annotate(users=Max("active_users"), seq=Max("message_sequence"))
        .order_by()
    )


def room_history(room: Room, count: int = HISTORY_DAYS) -> list[Day]:
    today = timezone.now().date()
    since = timezone.now() - timedelta(days=count + 1)
    return daily_series(list(_activity_rows([room.pk], since)), today, count)


def user_trends(room_ids: list[int], count: int = HISTORY_DAYS) -> dict[int, list[int | None]]:
    """Daily active users of many rooms at once (one query), for the sparklines."""
    today = timezone.now().date()
    since = timezone.now() - timedelta(days=count)
    grouped: dict[int, list[dict]] = {}
    for row in _activity_rows(room_ids, since):
        grouped.setdefault(row["room_id"], []).append(row)
    return {
        room_id: [day.active_users for day in daily_series(rows, today, count)]
        for room_id, rows in grouped.items()
    }


def server_days_up(server: Server, count: int = HISTORY_DAYS) -> list[tuple[date, bool]]:
    """For each of the last ``count`` days: was any room of the server polled successfully?"""
    today = timezone.now().date()
    since = timezone.now() - timedelta(days=count)
    seen = set(
        RoomActivity.objects.filter(room__server=server, at__gte=since)
        .annotate(day=TruncDate("at"))
        .values_list("day", flat=True)
        .distinct()
    )
    return [(day, day in seen) for day in _days(today, count)]


def uptime_percent(days: list[tuple[date, bool]], first_seen) -> int | None:
    """Share of the days since the server was first seen (within the window) it answered."""
    known = [up for day, up in days if day >= first_seen.date()]
    if not known or not any(up for _, up in days):
        return None
    return round(100 * sum(known) / len(known))
