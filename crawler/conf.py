"""The crawler's configuration, read once from Django settings into plain values."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings

from directory.lib.http import GuardedClient, HttpConfig
from directory.lib.onion import generate_privkey


@dataclass(frozen=True)
class CrawlConfig:
    """Everything a crawl needs to know. The defaults are the settings' (`CRAWLER_*`, read by
    `from_settings`); tests and the benchmark change what they need with `with_changes`."""

    http: HttpConfig
    concurrency: int
    deadline: float
    probe_deadlines: tuple[float, ...]
    max_rooms_bytes: int
    max_source_bytes: int
    max_image_bytes: int
    max_image_pixels: int
    icon_size: int
    key_file: Path | None
    new_room_days: int
    users_per_moderator: int
    official_keys: frozenset[str]
    claim_timeout: int
    activity_raw_days: int

    @classmethod
    def from_settings(cls) -> CrawlConfig:
        http = HttpConfig(
            connect_timeout=settings.CRAWLER_CONNECT_TIMEOUT,
            deadline=settings.CRAWLER_DEADLINE,
            allow_private_addresses=settings.CRAWLER_ALLOW_PRIVATE_ADDRESSES,
            proxy=settings.CRAWLER_PROXY or None,
            ca_bundle=settings.CRAWLER_CA_BUNDLE or None,
            user_agent=settings.CRAWLER_USER_AGENT,
        )
        return cls(
            http=http,
            concurrency=max(1, settings.CRAWLER_CONCURRENCY),
            deadline=settings.CRAWLER_DEADLINE,
            probe_deadlines=tuple(settings.CRAWLER_PROBE_DEADLINES) or (settings.CRAWLER_DEADLINE,),
            max_rooms_bytes=settings.CRAWLER_MAX_ROOMS_BYTES,
            max_source_bytes=settings.CRAWLER_MAX_SOURCE_BYTES,
            max_image_bytes=settings.CRAWLER_MAX_IMAGE_BYTES,
            max_image_pixels=settings.CRAWLER_MAX_IMAGE_PIXELS,
            icon_size=settings.CRAWLER_ICON_SIZE,
            key_file=settings.CRAWLER_KEY_FILE,
            new_room_days=settings.CRAWLER_NEW_ROOM_DAYS,
            users_per_moderator=settings.CRAWLER_USERS_PER_MODERATOR,
            official_keys=frozenset(key.lower() for key in settings.CRAWLER_OFFICIAL_KEYS),
            claim_timeout=settings.CRAWLER_CLAIM_TIMEOUT,
            activity_raw_days=settings.CRAWLER_ACTIVITY_RAW_DAYS,
        )

    def with_changes(self, **changes: object) -> CrawlConfig:
        return replace(self, **changes)

    def client(self) -> GuardedClient:
        """The crawl's one HTTP client, its pools sized for every request that can be in
        flight at once: one per host polled, up to `len(probe_deadlines)` while a host has not
        answered yet (`crawler/hedging.py`)."""
        attempts = len(self.probe_deadlines)
        return GuardedClient(self.http, threads=self.concurrency * attempts, per_host=attempts)

    def crawler_privkey(self) -> bytes:
        """The crawler's own X25519 key for the legacy auth flow, kept across runs so legacy
        servers (which count every key that ever held a token) do not count us twice."""
        if self.key_file is None:
            return generate_privkey()
        try:
            key = self.key_file.read_bytes()
            if len(key) == 32:
                return key
        except OSError:
            pass
        key = generate_privkey()
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        self.key_file.write_bytes(key)
        self.key_file.chmod(0o600)
        return key
