"""Serve the last good copy while one thread builds the new one (stale-while-revalidate).

Pages and listings built from the whole directory (the home page's list, `/listing/all`) cost
hundreds of milliseconds to build and change whenever a crawl stores a server, which during a
crawl is every second. Rebuilding them in the request that notices the change would make every
visitor wait, and 50 visitors noticing it at once would build it 50 times. Instead, per process:

- the first build of a key happens in the request, once (other requests for it wait for it);
- afterwards a request that finds the data changed gets the previous copy at once, and starts
  one background rebuild, at most one per key at a time and one per REBUILD_MIN_SECONDS.

So a change shows up within about REBUILD_MIN_SECONDS plus one build, and no request waits for
a build that another request or thread is already doing. With REBUILD_IN_BACKGROUND off (the
test suite's default), a changed version is built in the request, still only once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connections
from django.http import Http404

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Slot(Generic[T]):
    lock: threading.Lock
    version: str | None = None
    value: T | None = None
    building: bool = False
    built_at: float = 0.0


class StaleWhileRebuild(Generic[T]):
    """The latest value per key, with the version of the data it was built from."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._slots: dict[str, _Slot[T]] = {}
        self._guard = threading.Lock()

    def _slot(self, key: str) -> _Slot[T]:
        with self._guard:
            slot = self._slots.get(key)
            if slot is None:
                if len(self._slots) >= self.max_keys:  # forget the oldest key (insertion order)
                    self._slots.pop(next(iter(self._slots)))
                slot = self._slots[key] = _Slot(threading.Lock())
            return slot

    def get(
        self,
        key: str,
        version: str,
        build: Callable[[], T],
        latest: Callable[[], T | None] | None = None,
    ) -> T:
        """The value of `key` at `version`, or the previous one while a rebuild runs.

        `latest` (optional) finds the newest copy some other process built, of any version:
        a process that just started serves it instead of building in the request."""
        slot = self._slot(key)
        if slot.version == version and slot.value is not None:
            return slot.value
        if slot.value is None and latest is not None and settings.REBUILD_IN_BACKGROUND:
            found = latest()
            if found is not None:
                with slot.lock:
                    if slot.value is None:
                        slot.value, slot.version = found, ""  # "" is never a real version
        if slot.value is None or not settings.REBUILD_IN_BACKGROUND:
            with slot.lock:  # single flight: the first request builds, the others wait
                if slot.value is None or slot.version != version:
                    try:
                        self._store(slot, version, build())
                    except Exception:
                        self._forget_empty(key, slot)  # a 404 must not take a place
                        raise
                return slot.value
        self._start_rebuild(slot, version, build)
        return slot.value

    def get_shared(
        self, key: str, version: str, build: Callable[[], T], *, cache_key: str, timeout: float
    ) -> T:
        """`get`, with the newest copy shared between processes through Django's cache, kept
        with its version under `cache_key`: one entry per key, not one per version (a crawl
        makes a new version every few seconds). A process takes another's build of the same
        version instead of building it again, and one that just started serves the newest at
        once while it rebuilds."""

        def make() -> T:
            found = cache.get(cache_key)
            if found is not None and found[0] == version:
                return found[1]
            value = build()
            cache.set(cache_key, (version, value), timeout)
            return value

        def latest() -> T | None:
            found = cache.get(cache_key)
            return None if found is None else found[1]

        return self.get(key, version, make, latest=latest)

    def _forget_empty(self, key: str, slot: _Slot[T]) -> None:
        with self._guard:
            if slot.value is None and self._slots.get(key) is slot:
                del self._slots[key]

    def _store(self, slot: _Slot[T], version: str, value: T) -> None:
        slot.value, slot.version, slot.built_at = value, version, time.monotonic()

    def _start_rebuild(self, slot: _Slot[T], version: str, build: Callable[[], T]) -> None:
        with slot.lock:
            waited = time.monotonic() - slot.built_at
            if slot.building or waited < settings.REBUILD_MIN_SECONDS:
                return
            slot.building = True
        threading.Thread(target=self._rebuild, args=(slot, version, build), daemon=True).start()

    def _rebuild(self, slot: _Slot[T], version: str, build: Callable[[], T]) -> None:
        close_old_connections()
        try:
            value = build()
            with slot.lock:
                self._store(slot, version, value)
        except Exception as error:
            # Built again in the next request, which then sees the error itself (a listing
            # that was deleted answers 404, not its old body forever). A 404 is no failure:
            # the room or listing is gone since (hidden, deleted).
            if not isinstance(error, Http404):
                log.exception("background rebuild failed")
            with slot.lock:
                slot.value = slot.version = None
        finally:
            slot.building = False
            connections.close_all()  # this thread's own connections
