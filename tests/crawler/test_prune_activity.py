"""Activity older than the raw window is thinned to one row per room and hour."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crawler.maintenance import prune_activity
from directory.models import Room, RoomActivity, Server

pytestmark = pytest.mark.django_db


def test_old_activity_keeps_one_row_per_hour_with_the_highest_figures(config):
    server = Server.objects.create(pubkey="ab" * 32)
    lobby = Room.objects.create(server=server, token="lobby")
    old = (timezone.now() - timedelta(days=40)).replace(minute=0)
    for minutes, active in [(0, 5), (15, 9), (30, 7), (75, 3)]:
        RoomActivity.objects.create(
            room=lobby, at=old + timedelta(minutes=minutes), active_users=active
        )
    recent = timezone.now() - timedelta(days=1)
    for minutes in (0, 15):
        RoomActivity.objects.create(
            room=lobby, at=recent + timedelta(minutes=minutes), active_users=1
        )

    assert prune_activity(config) == 2
    old_rows = RoomActivity.objects.filter(at__lt=timezone.now() - timedelta(days=30))
    assert sorted(old_rows.values_list("active_users", flat=True)) == [3, 9]
    assert RoomActivity.objects.count() == 4


def test_the_kept_row_is_the_hours_first_and_a_second_prune_removes_nothing(config):
    server = Server.objects.create(pubkey="cd" * 32)
    lobby = Room.objects.create(server=server, token="lobby")
    dev = Room.objects.create(server=server, token="dev")
    hour = (timezone.now() - timedelta(days=40)).replace(minute=0, second=0, microsecond=0)
    for minutes, active, sequence in [(40, 2, 100), (10, 1, None), (50, None, 90)]:
        RoomActivity.objects.create(
            room=lobby,
            at=hour + timedelta(minutes=minutes),
            active_users=active,
            message_sequence=sequence,
        )
    RoomActivity.objects.create(room=dev, at=hour + timedelta(minutes=5), active_users=4)

    assert prune_activity(config) == 2
    (kept,) = RoomActivity.objects.filter(room=lobby)
    assert (kept.at, kept.active_users, kept.message_sequence) == (
        hour + timedelta(minutes=10),
        2,
        100,
    )
    assert RoomActivity.objects.get(room=dev).active_users == 4  # another room's hour: its own
    assert prune_activity(config) == 0
