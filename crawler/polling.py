"""Pipeline steps 2-3 at scale: poll every address concurrently, one request at a time per host
(and port).

Addresses are grouped by host, and each host is one job in a thread pool (capped at the
configured concurrency) sharing one GuardedClient; a job polls its addresses, then fetches the
icons that changed. No database in the jobs: the caller's thread stores each server as soon as
every address that claims its key has been polled, so storing overlaps with polling.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from crawler.conf import CrawlConfig
from crawler.failures import PollError
from crawler.icons import fetch_icons
from crawler.sogs import Address, AddressPoll, HostSession, poll_address
from directory.lib import http
from directory.lib.joinlinks import DEFAULT_PORTS, format_base_url
from directory.models import Server

log = logging.getLogger(__name__)


@dataclass
class Target:
    """One address to poll, the keys claimed for it, the room tokens links name there, and
    the image ids of the icons already stored (token_key -> image_id) per key."""

    address: Address
    claimed: set[str] = field(default_factory=set)
    tokens: dict[str, str] = field(default_factory=dict)  # token_key -> token
    stored_icons: dict[tuple[str, str], int | None] = field(default_factory=dict)


class Targets:
    """Addresses to poll, merged: the same address from many links is polled once."""

    def __init__(self) -> None:
        self.by_address: dict[Address, Target] = {}

    def add(
        self,
        address: Address,
        pubkey: str | None = None,
        tokens: Iterable[str] = (),
    ) -> Target:
        target = self.by_address.setdefault(address, Target(address))
        if pubkey:
            target.claimed.add(pubkey)
        for token in tokens:
            target.tokens.setdefault(token.lower(), token)
        return target

    def by_host(self) -> dict[str, list[Target]]:
        """Targets per host and port: each group is polled one request at a time. (Another port
        is another service, as loopback test networks and shared hosting both show.)"""
        hosts: dict[str, list[Target]] = defaultdict(list)
        for target in self.by_address.values():
            scheme, host, port = target.address
            hosts[f"{host}:{port or DEFAULT_PORTS[scheme]}"].append(target)
        return hosts

    def __len__(self) -> int:
        return len(self.by_address)


def poll_host(
    client: http.GuardedClient, config: CrawlConfig, targets: list[Target], privkey: bytes
) -> list[AddressPoll]:
    """Poll one host's addresses in turn, then fetch the icons whose image_id changed."""
    polls = []
    for target in targets:
        started = time.monotonic()
        try:
            poll = poll_address(
                client, config, target.address, target.claimed, target.tokens.values(), privkey
            )
            if poll.ok and poll.api_kind == Server.ApiKind.MODERN:
                _fetch_changed_icons(client, config, poll, target)
        except Exception as error:  # a bug meeting hostile data must not end the whole crawl
            base_url = format_base_url(*target.address)
            log.exception("polling %s failed", base_url, extra={"server": base_url})
            poll = AddressPoll(target.address, frozenset(target.claimed))
            poll.error = PollError(f"internal error: {type(error).__name__}")
        poll.seconds = time.monotonic() - started
        polls.append(poll)
    return polls


def _fetch_changed_icons(
    client: http.GuardedClient, config: CrawlConfig, poll: AddressPoll, target: Target
) -> None:
    wanted = {}
    for room in poll.rooms:
        token, image_id = room.get("token"), room.get("image_id")
        if (
            not isinstance(token, str)
            or not isinstance(image_id, int)
            or isinstance(image_id, bool)
        ):
            continue
        if target.stored_icons.get((poll.pubkey, token.lower())) != image_id:
            wanted[token.lower()] = (token, image_id)
    if not wanted:
        return
    session = HostSession(client, format_base_url(*poll.address), config)
    session.answered = True  # the host has just answered: full deadline, one attempt
    poll.icons = fetch_icons(
        session, wanted, size=config.icon_size, max_pixels=config.max_image_pixels
    )
    poll.requests += session.requests


Store = Callable[[str, list[AddressPoll]], None]


def poll_all(
    targets: Targets, config: CrawlConfig, store: Store, client: http.GuardedClient | None = None
) -> list[AddressPoll]:
    """Poll every target concurrently; call `store(pubkey, polls)` once per key, as soon as
    every address claiming that key is done (an address found without a claim: at once)."""
    hosts = targets.by_host()
    pending: dict[str, set[str]] = defaultdict(set)  # pubkey -> hosts still polling
    for host, host_targets in hosts.items():
        for target in host_targets:
            for pubkey in target.claimed:
                pending[pubkey].add(host)
    results: dict[str, list[AddressPoll]] = defaultdict(list)
    everything: list[AddressPoll] = []
    owned = client is None
    client = client or config.client()
    privkey = config.crawler_privkey()
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(config.concurrency, len(hosts)))) as pool:
            futures = {
                pool.submit(poll_host, client, config, host_targets, privkey): host
                for host, host_targets in hosts.items()
            }
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    host = futures.pop(future)
                    polls = future.result()
                    everything += polls
                    _deliver(host, polls, pending, results, store)
    finally:
        if owned:
            client.close()
    return everything


def _deliver(
    host: str,
    polls: list[AddressPoll],
    pending: dict[str, set[str]],
    results: dict[str, list[AddressPoll]],
    store: Store,
) -> None:
    keys = set()
    for poll in polls:
        for pubkey in poll.claimed | ({poll.pubkey} if poll.pubkey else set()):
            results[pubkey].append(poll)
            keys.add(pubkey)
    for pubkey in keys:
        waiting = pending.get(pubkey)
        if waiting is not None:
            waiting.discard(host)
        if not waiting:
            store(pubkey, results.pop(pubkey))
            pending.pop(pubkey, None)
