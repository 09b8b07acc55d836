"""Structured crawl events: one "server polled" per server (whatever became of it), one "room
skipped" per hostile room, one "crawl finished" per crawl, their figures in `extra` fields."""

from __future__ import annotations

import logging

import pytest

from crawler.pipeline import run_crawl
from tests.support.processes import free_port
from tests.support.sogs import room

pytestmark = pytest.mark.django_db


def _events(caplog, message: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage() == message]


def test_every_server_polled_and_every_crawl_logs_one_event(config, sogs, caplog):
    good = sogs([room("lobby"), room("dev"), {"token": "bad token!"}])
    impostor = sogs([room("lobby")])
    unclaimed_key = "ab" * 32  # the impostor's link claims a key it cannot prove
    down = f"http://127.0.0.1:{free_port()}/lobby?public_key={'cd' * 32}"
    caplog.set_level(logging.INFO, logger="crawler")
    run = run_crawl(
        config,
        server_urls=[
            good.join_link("lobby"),
            impostor.join_link("lobby", pubkey=unclaimed_key),
            down,
        ],
    )

    polled = {record.pubkey: record for record in _events(caplog, "server polled")}
    assert len(_events(caplog, "server polled")) == 3
    ok, refuted, failed = polled[good.pubkey], polled[unclaimed_key], polled["cd" * 32]
    assert (ok.server, ok.outcome, ok.rooms, ok.error) == (good.base_url, "ok", 2, "")
    assert (refuted.server, refuted.outcome, refuted.rooms) == (
        impostor.base_url,
        "key_mismatch",
        0,
    )
    assert "did not prove" in refuted.error
    assert (failed.server, failed.outcome, failed.rooms) == (
        down[: down.index("/lobby")],
        "unreachable",
        0,
    )
    assert failed.error
    assert all(isinstance(record.duration_ms, int) for record in polled.values())
    assert ok.duration_ms >= 0

    (skipped,) = _events(caplog, "room skipped")
    assert (skipped.server, skipped.pubkey, skipped.room) == (
        good.base_url,
        good.pubkey,
        "bad token!",
    )
    assert skipped.error.startswith("token:")

    (finished,) = _events(caplog, "crawl finished")
    assert finished.run == run.pk
    figures = ("servers_ok", "servers_failed", "rooms_new", "rooms_updated", "rooms_gone")
    assert {name: getattr(finished, name) for name in figures} == {
        "servers_ok": 1,
        "servers_failed": 2,
        "rooms_new": 2,
        "rooms_updated": 0,
        "rooms_gone": 0,
    }
    # Two servers failed; one room was refused, with its reason for moderators.
    assert finished.errors == len(run.errors) == 3
    assert f"{good.base_url}: room 'bad token!' refused: token: " in "\n".join(run.errors)
    assert (finished.servers_polled, finished.sources, finished.links) == (3, 0, 0)
    assert isinstance(finished.duration_ms, int)
