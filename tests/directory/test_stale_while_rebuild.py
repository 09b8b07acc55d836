"""Stale-while-rebuild: one build per change, the previous copy served while it runs."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.cache import caches

from directory.freshness import StaleWhileRebuild
from tests.support.processes import wait_for


class Builder:
    """Counts builds; each takes `seconds` and returns (version, build number)."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds, self.count, self.lock = seconds, 0, threading.Lock()

    def __call__(self, version: str):
        def build():
            time.sleep(self.seconds)
            with self.lock:
                self.count += 1
                return (version, self.count)

        return build


@pytest.fixture
def background(settings):
    settings.REBUILD_IN_BACKGROUND = True
    settings.REBUILD_MIN_SECONDS = 0.0


def test_fifty_requests_at_once_build_the_first_copy_once(background):
    cache, builder = StaleWhileRebuild(max_keys=4), Builder(seconds=0.2)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("k", "v1", builder("v1"))))
        for _ in range(50)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builder.count == 1
    assert results == [("v1", 1)] * 50


def test_a_change_serves_the_previous_copy_while_one_rebuild_runs(background):
    cache, builder = StaleWhileRebuild(max_keys=4), Builder(seconds=0.3)
    cache.get("k", "v1", builder("v1"))

    started = time.monotonic()
    during = [cache.get("k", "v2", builder("v2")) for _ in range(20)]
    assert time.monotonic() - started < 0.2  # nobody waited for the build
    assert during == [("v1", 1)] * 20

    wait_for(lambda: cache.get("k", "v2", builder("v2")) == ("v2", 2), 5, "the background rebuild")
    assert builder.count == 2  # twenty requests, one rebuild


def test_rebuilds_are_spaced_by_the_minimum_interval(background, settings):
    settings.REBUILD_MIN_SECONDS = 60
    cache, builder = StaleWhileRebuild(max_keys=4), Builder()
    cache.get("k", "v1", builder("v1"))
    for version in ("v2", "v3", "v4"):
        assert cache.get("k", version, builder(version)) == ("v1", 1)
    time.sleep(0.1)
    assert builder.count == 1


def test_a_failed_rebuild_is_retried_in_the_next_request(background):
    cache, builder = StaleWhileRebuild(max_keys=4), Builder()
    cache.get("k", "v1", builder("v1"))

    def broken():
        raise LookupError("listing deleted")

    assert cache.get("k", "v2", broken) == ("v1", 1)
    wait_for(lambda: cache._slot("k").value is None, 5, "the background rebuild")
    with pytest.raises(LookupError):
        cache.get("k", "v2", broken)  # the request sees the error itself


class RebuildsAtOnce(StaleWhileRebuild):
    """As when the request's thread is held up until the rebuild it started has ended."""

    def _start_rebuild(self, slot, version, build):
        super()._start_rebuild(slot, version, build)
        wait_for(lambda: not slot.building, 5, "the background rebuild")


def test_the_request_gets_the_previous_copy_even_if_the_rebuild_ends_first(background):
    cache, builder = RebuildsAtOnce(max_keys=4), Builder()
    cache.get("k", "v1", builder("v1"))

    def broken():
        raise LookupError("listing deleted")

    assert cache.get("k", "v2", broken) == ("v1", 1)  # not the None the failure left
    assert cache.get("k", "v3", builder("v3"), latest=lambda: ("v0", 0)) == ("v0", 0)


def test_off_builds_every_change_in_the_request(settings):
    settings.REBUILD_IN_BACKGROUND = False
    cache, builder = StaleWhileRebuild(max_keys=4), Builder()
    assert cache.get("k", "v1", builder("v1")) == ("v1", 1)
    assert cache.get("k", "v2", builder("v2")) == ("v2", 2)
    assert cache.get("k", "v2", builder("v2")) == ("v2", 2)


def test_keys_beyond_the_limit_forget_the_oldest(settings):
    cache, builder = StaleWhileRebuild(max_keys=2), Builder()
    for key in ("a", "b", "c"):
        cache.get(key, "v", builder("v"))
    assert set(cache._slots) == {"b", "c"}


def test_a_new_process_serves_the_latest_copy_from_elsewhere_and_rebuilds(background):
    cache, builder = StaleWhileRebuild(max_keys=4), Builder()
    assert cache.get("k", "v2", builder("v2"), latest=lambda: ("v1", 0)) == ("v1", 0)
    wait_for(lambda: cache.get("k", "v2", builder("v2")) == ("v2", 1), 5, "the background rebuild")


def test_without_a_latest_copy_the_first_request_builds(background):
    cache, builder = StaleWhileRebuild(max_keys=4), Builder()
    assert cache.get("k", "v1", builder("v1"), latest=lambda: None) == ("v1", 1)


def test_a_first_build_that_fails_takes_no_place(settings):
    cache, builder = StaleWhileRebuild(max_keys=2), Builder()
    cache.get("page", "v", builder("v"))

    def missing():
        raise LookupError("no such room")

    for key in ("nope-1", "nope-2", "nope-3"):
        with pytest.raises(LookupError):
            cache.get(key, "v", missing)
    assert set(cache._slots) == {"page"}


def test_processes_share_one_copy_per_key_through_the_cache(private_cache):
    first, second = StaleWhileRebuild(max_keys=4), StaleWhileRebuild(max_keys=4)  # 2 processes
    builder = Builder()
    shared = {"cache_key": "page", "timeout": 60}
    assert first.get_shared("k", "v1", builder("v1"), **shared) == ("v1", 1)
    assert second.get_shared("k", "v1", builder("v1"), **shared) == ("v1", 1)  # not built again
    assert second.get_shared("k", "v2", builder("v2"), **shared) == ("v2", 2)
    assert caches["default"].get("page") == ("v2", ("v2", 2))  # the newest only
