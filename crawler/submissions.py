"""The check of a submitted join link (the website's "submit a community"): the server is
reachable, proves the link's key, and has the room. The outcome lands on the Submission for
moderators; nothing about the server is stored.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from crawler.conf import CrawlConfig
from crawler.pipeline import MISSING
from crawler.sogs import poll_address
from directory.lib.joinlinks import InvalidJoinLink, parse_join_link
from directory.models import Submission

log = logging.getLogger(__name__)


def check_submission(pk: int, config: CrawlConfig | None = None) -> str:
    """Check a submitted join link: server reachable, key proven, room there. Never raises for
    a bad server; the outcome is in the Submission's check fields (its CheckState returned, or
    MISSING)."""
    submission = Submission.objects.filter(pk=pk).first()
    if submission is None:
        return MISSING
    try:
        passed, detail = _check(submission, config or CrawlConfig.from_settings())
    except Exception as error:
        log.exception("checking submission %s failed", pk)
        passed, detail = False, f"The check could not run ({type(error).__name__})."
    submission.check_state = (
        Submission.CheckState.PASSED if passed else Submission.CheckState.FAILED
    )
    submission.check_detail = detail
    submission.checked_at = timezone.now()
    submission.save(update_fields=["check_state", "check_detail", "checked_at"])
    return submission.check_state


def _check(submission: Submission, config: CrawlConfig) -> tuple[bool, str]:
    try:
        link = parse_join_link(submission.join_url)
    except InvalidJoinLink as error:
        return False, f"The join link is not valid: {error}."
    with config.client() as client:
        poll = poll_address(
            client, config, link.address, [link.pubkey], [link.token], config.crawler_privkey()
        )
    if link.pubkey in poll.mismatches:
        return False, "The server at that address does not hold the key in the link."
    if poll.error is not None:
        return False, f"The server could not be checked: {poll.error.reason}."
    if poll.proof is None:
        return False, "The server answered, but its key could not be proven."
    names = {str(room.get("token", "")).lower(): room for room in poll.rooms}
    room = names.get(link.token_key)
    if room is None:
        return False, f"The server has no room {link.token!r}."
    return True, f"Server reachable, key proven ({poll.proof.label}), room {link.token!r} found."
