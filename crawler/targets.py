"""What a crawl polls: the addresses of join links, of `crawl --server` URLs and of the servers
already known, each with the keys claimed for it (`crawler.polling.Targets`).

Also what changes a target's poll: the icons already stored (only changed ones are fetched) and
the servers another worker is polling (left to it).
"""

from __future__ import annotations

from collections.abc import Iterable

from crawler.polling import Targets
from directory.lib.joinlinks import (
    DEFAULT_PORTS,
    InvalidJoinLink,
    SourceEntry,
    parse_join_link,
    parse_server_url,
)
from directory.models import Room, Server, ServerAddress
from directory.servers import best_working_address


def add_known_server(targets: Targets, server: Server) -> None:
    """A known server is polled at the address that works best, and at its published and its
    advertised address when they are others (most servers have one address): it stays online
    while its published address fails, and the published one's record stays current.

    (`server.addresses` is read once; prefetch it when adding many servers.)
    """
    addresses = list(server.addresses.all())
    chosen = [best_working_address(addresses)]
    chosen += [
        address
        for address in addresses
        if address.pk == server.preferred_address_id
        or (server.advertised_base_url and address.base_url == server.advertised_base_url)
    ]
    for address in chosen:
        if address is not None:
            targets.add(address.address, server.pubkey)


def add_entries(targets: Targets, entries: Iterable[SourceEntry]) -> None:
    for entry in entries:
        targets.add(entry.link.address, entry.link.pubkey, [entry.link.token])


def add_server_url(targets: Targets, text: str) -> None:
    """`crawl --server`: a join link (address, key, room) or a bare server URL (keys from the
    database, else from the server's own room page). Raises InvalidServerUrl."""
    try:
        link = parse_join_link(text)
        targets.add(link.address, link.pubkey, [link.token])
        return
    except InvalidJoinLink:
        pass
    address = parse_server_url(text)
    scheme, host, port = address
    port = port or DEFAULT_PORTS[scheme]
    known = ServerAddress.objects.filter(host=host, port=port).select_related("server")
    target = targets.add(address)
    target.claimed.update(known_address.server.pubkey for known_address in known)


def stored_icons(targets: Targets) -> dict[tuple[str, str], int | None]:
    """The image id of each stored room icon, by (pubkey, token_key), for the claimed keys."""
    keys = {pubkey for target in targets.by_address.values() for pubkey in target.claimed}
    rows = Room.objects.filter(server__pubkey__in=keys).values_list(
        "server__pubkey", "token_key", "icon_image_id"
    )
    return {(pubkey, token_key): image_id for pubkey, token_key, image_id in rows}


def drop_busy(targets: Targets, busy_keys: set[str]) -> None:
    """Servers another worker is polling are left to it."""
    for address, target in list(targets.by_address.items()):
        if target.claimed and target.claimed <= busy_keys:
            del targets.by_address[address]
        else:
            target.claimed -= busy_keys
