"""The website's "crawler.check_submission": reachable, key proven, room exists — or why not."""

from __future__ import annotations

import pytest

from crawler import submissions
from crawler.conf import CrawlConfig
from directory.models import Submission
from tests.crawler.conftest import loopback_config
from tests.support.sogs import room

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loopback(monkeypatch):
    config = loopback_config()  # built from the settings before they are replaced
    monkeypatch.setattr(CrawlConfig, "from_settings", classmethod(lambda cls: config))


def _submit(join_url: str, pubkey: str, token: str) -> Submission:
    return Submission.objects.create(
        join_url=join_url, server_url="http://x", pubkey=pubkey, token=token
    )


def test_a_good_link_passes(sogs):
    server = sogs([room("lobby")])
    submission = _submit(server.join_link("lobby"), server.pubkey, "lobby")
    assert submissions.check_submission(submission.pk) == Submission.CheckState.PASSED
    submission.refresh_from_db()
    assert "key proven" in submission.check_detail and submission.checked_at


def _checked(join_url: str, pubkey: str, token: str) -> Submission:
    """A submission of this link, after its check."""
    submission = _submit(join_url, pubkey, token)
    submissions.check_submission(submission.pk)
    submission.refresh_from_db()
    return submission


def test_a_missing_room_fails(sogs):
    server = sogs([room("lobby")])
    submission = _checked(server.join_link("nope"), server.pubkey, "nope")
    assert submission.check_state == Submission.CheckState.FAILED
    assert "no room" in submission.check_detail


def test_a_wrong_key_fails(sogs):
    server = sogs([room("lobby")])
    submission = _checked(server.join_link("lobby", pubkey="12" * 32), "12" * 32, "lobby")
    assert submission.check_state == Submission.CheckState.FAILED
    assert "does not hold the key" in submission.check_detail


def test_a_dead_server_fails_without_raising(sogs):
    server = sogs([room("lobby")])
    submission = _submit(server.join_link("lobby"), server.pubkey, "lobby")
    server.stop()
    from crawler.tasks import check_submission

    assert check_submission.apply(args=[submission.pk]).get() == Submission.CheckState.FAILED
    submission.refresh_from_db()
    assert "could not be checked" in submission.check_detail
