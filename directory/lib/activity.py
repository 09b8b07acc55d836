"""Activity figures that compare fairly across servers."""

from __future__ import annotations

WEEK_SECONDS = 7 * 24 * 3600


def weekly_active_users(active_users: int | None, cutoff_seconds: int | None) -> int | None:
    """``active_users`` scaled to a 7-day window.

    Servers report active users over their own cutoff (pysogs: 7 days by default, but operators
    change it). Sorting across servers needs one window, as sessioncommunities.online did.
    """
    if active_users is None:
        return None
    if not cutoff_seconds or cutoff_seconds <= 0:
        return active_users
    return round(active_users * WEEK_SECONDS / cutoff_seconds)
