"""One client address behind trusted reverse proxies (NUM_PROXIES) for the website's rate limits,
the API's throttles and the admin's login lock-outs."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.directory.ops.test_deployment import _start_django

LINK = "https://chat.example.org/{token}?public_key=" + "ab" * 32
CLIENT, OTHER_CLIENT = "198.51.100.7", "203.0.113.9"

pytestmark = pytest.mark.usefixtures("private_cache")  # counts of this test only


def trust_proxies(settings, count: int) -> None:
    """NUM_PROXIES as the code reads it: through DRF's settings, which reload on a change."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": count}


def via_two_proxies(client: str, claimed: str, inner_proxy: str = "10.0.0.2") -> dict[str, str]:
    """What Django sees of a request that went client -> outer proxy -> inner proxy: the
    client's own X-Forwarded-For (anything it likes), then each proxy's appended entry."""
    return {"REMOTE_ADDR": inner_proxy, "HTTP_X_FORWARDED_FOR": f"{claimed}, {client}, 10.0.0.1"}


def submit(client, number: int, **headers: str) -> int:
    join_url = LINK.format(token=f"room{number}")
    return client.post(reverse("submit"), {"join_url": join_url}, **headers).status_code


def listings(client, **headers: str) -> int:
    return client.get("/listings", **headers).status_code


@pytest.mark.django_db
def test_behind_two_proxies_the_site_and_the_api_count_the_same_client(client, settings):
    trust_proxies(settings, 2)
    settings.WEB_SUBMISSIONS_PER_HOUR = 1
    settings.LP_THROTTLE_RATE = "1/min"
    # The same client through two inner proxies, claiming a new address each time.
    first = via_two_proxies(CLIENT, claimed="192.0.2.1", inner_proxy="10.0.0.2")
    again = via_two_proxies(CLIENT, claimed="192.0.2.2", inner_proxy="10.0.0.3")
    other = via_two_proxies(OTHER_CLIENT, claimed="192.0.2.1", inner_proxy="10.0.0.2")

    assert [submit(client, 1, **first), submit(client, 2, **again)] == [302, 429]
    assert [listings(client, **first), listings(client, **again)] == [200, 429]
    assert submit(client, 3, **other) == 302
    assert listings(client, **other) == 200


@pytest.mark.django_db
def test_by_default_no_proxy_is_trusted_and_x_forwarded_for_is_ignored(client, settings):
    settings.WEB_SUBMISSIONS_PER_HOUR = 1
    settings.LP_THROTTLE_RATE = "1/min"
    first, again = ({"HTTP_X_FORWARDED_FOR": address} for address in ("192.0.2.1", "192.0.2.2"))

    assert [submit(client, 1, **first), submit(client, 2, **again)] == [302, 429]
    assert [listings(client, **first), listings(client, **again)] == [200, 429]


def test_admin_login_lock_out_counts_the_client_behind_the_proxies(client, moderator, settings):
    trust_proxies(settings, 2)
    settings.AXES_FAILURE_LIMIT = 2
    login = reverse("admin:login")

    def log_in(password: str, headers: dict[str, str]) -> int:
        form = {"username": "mod", "password": password, "next": reverse("admin:index")}
        return client.post(login, form, **headers).status_code

    for inner_proxy in ("10.0.0.2", "10.0.0.3"):
        log_in("wrong", via_two_proxies(CLIENT, claimed="192.0.2.1", inner_proxy=inner_proxy))
    assert log_in("correct horse battery", via_two_proxies(CLIENT, claimed="192.0.2.9")) == 429
    assert log_in("correct horse battery", via_two_proxies(OTHER_CLIENT, claimed=CLIENT)) == 302


@pytest.mark.parametrize("old_name", ["WEB_NUM_PROXIES", "API_NUM_PROXIES"])
def test_the_old_proxy_counts_are_refused_with_the_new_name(old_name):
    done = _start_django(**{old_name: "1"})
    assert done.returncode != 0
    assert f"{old_name} is now NUM_PROXIES" in done.stderr
