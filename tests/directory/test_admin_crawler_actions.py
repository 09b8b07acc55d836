"""Admin doors into the crawler: "Poll now" on servers and "Fetch now" on sources enqueue the
crawler's tasks by name (the directory never imports the crawler)."""

from __future__ import annotations

import pytest
from celery import current_app
from django.urls import reverse

from directory.models import Server, Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list:
    calls: list = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args: calls.append((name, args)))
    return calls


def _act(client, model: str, action: str, pks: list[int]):
    url = reverse(f"admin:directory_{model}_changelist")
    return client.post(url, {"action": action, "_selected_action": pks, "index": 0})


def test_poll_now_enqueues_one_poll_per_server(client, moderator, sent):
    servers = [Server.objects.create(pubkey=f"{n:064x}") for n in (1, 2)]
    client.force_login(moderator)
    _act(client, "server", "poll_now", [server.pk for server in servers])
    assert sorted(sent) == sorted(("crawler.poll_server", [server.pk]) for server in servers)


def test_fetch_now_enqueues_the_chosen_sources(client, admin_user, sent):
    # Sources are the operators' (superusers'): the moderators role does not reach them.
    source = Source.objects.create(name="list", url="https://example.org/list", kind="html")
    client.force_login(admin_user)
    _act(client, "source", "fetch_now", [source.pk])
    assert sent == [("crawler.fetch_sources", [[source.pk]])]


def test_moderators_cannot_fetch_sources(client, moderator, sent):
    source = Source.objects.create(name="list", url="https://example.org/list", kind="html")
    client.force_login(moderator)
    assert _act(client, "source", "fetch_now", [source.pk]).status_code == 403
    assert sent == []
