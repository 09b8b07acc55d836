"""Servers, their addresses and their rooms as crawls and imports write them.

Which address a server is polled at and which one it is published at; upserting rooms (crawled
fields only), marking rooms gone, and replacing the tags of the crawl's own origins. Crawls and
the snapshot import both write through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.text import slugify

from directory.lib.http import literal_address
from directory.lib.joinlinks import DEFAULT_PORTS
from directory.models import Room, RoomTag, Server, ServerAddress, Tag, prepare_search_text

# An address that has not answered for this long is gone for good: the published address moves
# away from it (to one that answers), where a failed poll or two never moves it.
ADDRESS_GONE_AFTER = timedelta(days=30)


def address_preference(scheme: str, host: str, port: int | None, *, works: bool) -> tuple:
    """Sort key, best first: an address that works, a domain over an IP, https over http.

    The one rule for which address to poll a known server at, for which of a crawl's polls of
    one server is stored, and for the first published address; ``port`` None means the scheme's
    default.
    """
    return (
        not works,
        literal_address(host) is not None,
        scheme != ServerAddress.Scheme.HTTPS,
        host,
        port or DEFAULT_PORTS[scheme],
    )


def best_working_address(addresses: Iterable[ServerAddress]) -> ServerAddress | None:
    """The address to reach the server at now (`address_preference`), or None without any."""
    return min(
        addresses,
        key=lambda address: address_preference(*address.address, works=address.works),
        default=None,
    )


def _answers(address: ServerAddress, now: datetime) -> bool:
    """Proved the server's key there at least once, and not longer ago than ADDRESS_GONE_AFTER."""
    return address.last_success_at is not None and now - address.last_success_at < (
        ADDRESS_GONE_AFTER
    )


def _publication_rank(server: Server, address: ServerAddress, now: datetime) -> tuple:
    answers = _answers(address, now)
    return (
        ":" in address.host,  # IPv6 (stored before links refused it): no Session client joins it
        not (answers and address.base_url == server.advertised_base_url),
        not answers,
        address.pk != server.preferred_address_id,
        address_preference(*address.address, works=address.works),
    )


def choose_preferred_address(server: Server) -> ServerAddress | None:
    """The address the server is published at: its rooms' `join_url`, the API's `server_url`.

    Session clients tell Communities apart by their base URL (libsession's `community` keeps it
    canonical, `src/config/community.cpp`), so one room under two URLs would be joined twice:
    the published address is stable. It is the one the server's own room page advertises
    (`Server.advertised_base_url`) once the server has answered there; else the current one
    while it answers now and then (it is kept through failed polls for ADDRESS_GONE_AFTER);
    else the best by `address_preference`. Which address happens to work in the last poll never
    moves it: polling uses `best_working_address`.
    """
    now = timezone.now()
    addresses = server.addresses.all()
    return min(addresses, key=lambda address: _publication_rank(server, address, now), default=None)


def _refresh_preferred_address(server: Server) -> None:
    preferred = choose_preferred_address(server)
    if preferred is not None and preferred.pk != server.preferred_address_id:
        server.preferred_address = preferred
        server.skip_history_when_saving = True
        server.save(update_fields=["preferred_address"])


def attach_address(server: Server, scheme: str, host: str, port: int | None) -> ServerAddress:
    """Record that ``server`` is reachable at an address, and re-choose its preferred one.

    ``port`` None means the scheme's default port.
    """
    if port is None:
        port = DEFAULT_PORTS[scheme]
    address, _ = ServerAddress.objects.get_or_create(
        server=server, scheme=scheme, host=host, port=port
    )
    _refresh_preferred_address(server)
    return address


# --- Rooms as crawls and imports write them ------------------------------------------------------


def upsert_rooms(
    server: Server, rooms: list[dict[str, Any]], *, languages: dict[str, str] | None = None
) -> list[tuple[Room, bool]]:
    """Create or update the rooms of ``server`` from crawled values: (room, created) pairs.

    Only ``Room.CRAWLED_FIELDS`` may be written; ``languages`` (token_key -> code) fills a room's
    language only while moderators have left it empty.
    """
    now = timezone.now()
    existing = {room.token_key: room for room in server.rooms.all()}
    results = []
    for values in rooms:
        curated = set(values) - set(Room.CRAWLED_FIELDS)
        if curated:
            raise ValueError(f"a crawl may not write {sorted(curated)}")
        key = values["token"].lower()
        room = existing.get(key)
        created = room is None
        if room is None:
            room = Room(server=server, first_seen=now, included_at=now)
        for name, value in values.items():
            setattr(room, name, value)
        language = (languages or {}).get(key)
        if language and not room.language:
            room.language = language
        results.append((room, created))
    prepare_search_text([room for room, _ in results])
    for room, created in results:
        if not created:
            # Crawled changes are not moderators' decisions: keep them out of the audit history.
            # (simple_history checks that the attribute exists, whatever its value.)
            room.skip_history_when_saving = True
        room.save()
        if not created:
            del room.skip_history_when_saving
    return results


def mark_rooms_gone(server: Server, seen_token_keys: Iterable[str]) -> int:
    """Rooms the server no longer lists are marked, never deleted; returns how many changed."""
    gone = server.rooms.exclude(token_key__in=set(seen_token_keys)).filter(listed_by_server=True)
    return gone.update(listed_by_server=False)


def tag_for(label: str, kind: str, description: str = "", cache: dict | None = None) -> Tag | None:
    """The Tag for a label (created on first use), or None when the label has no slug."""
    slug = slugify(label, allow_unicode=True)[:64]
    if not slug:
        return None
    if cache is not None and slug in cache:
        return cache[slug]
    tag, _ = Tag.objects.get_or_create(
        slug=slug, defaults={"label": label[:64], "kind": kind, "description": description}
    )
    if cache is not None:
        cache[slug] = tag
    return tag


def replace_room_tags(
    room: Room,
    wanted: Iterable[tuple[str, str]],
    origins: Iterable[str],
    *,
    descriptions: dict[str, str] | None = None,
    cache: dict | None = None,
) -> None:
    """Make the room's tags of the given ``origins`` exactly ``wanted`` ((label, origin) pairs).

    Tags of other origins (a maintainer's, or a source's during a server poll) are left alone.
    """
    origins = set(origins)
    pairs: set[tuple[int, str]] = set()
    for label, origin in wanted:
        if origin not in origins:
            raise ValueError(f"origin {origin!r} is not being replaced")
        tag = tag_for(label, origin, (descriptions or {}).get(label, ""), cache)
        if tag is not None:
            pairs.add((tag.pk, origin))
    for assignment in RoomTag.objects.filter(room=room, origin__in=origins):
        if (assignment.tag_id, assignment.origin) in pairs:
            pairs.discard((assignment.tag_id, assignment.origin))
        else:
            assignment.delete()
    if pairs:
        RoomTag.objects.bulk_create(
            [RoomTag(room=room, tag_id=tag_id, origin=origin) for tag_id, origin in pairs]
        )
        # bulk_create sends no post_save: the search text learns of the new tags here.
        Room.objects.filter(pk=room.pk).refresh_search_text()


def note_address(
    server: Server, scheme: str, host: str, port: int | None, *, ok: bool, error: str = ""
) -> ServerAddress:
    """Record a poll's outcome at an address (creating it), and re-choose the preferred one."""
    address = attach_address(server, scheme, host, port)
    now = timezone.now()
    if ok:
        address.last_success_at, address.last_error = now, ""
    else:
        address.last_failure_at, address.last_error = now, error[:500]
    address.save(update_fields=["last_success_at", "last_failure_at", "last_error"])
    _refresh_preferred_address(server)
    return address
