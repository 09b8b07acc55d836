"""A server's addresses: one base-URL formatter and one preference rule for the whole project."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from directory.lib.joinlinks import (
    DEFAULT_PORTS,
    InvalidJoinLink,
    parse_join_link,
    parse_server_url,
)
from directory.models import Server, ServerAddress
from directory.servers import ADDRESS_GONE_AFTER, address_preference, attach_address, note_address

KEY = "ab" * 32


@pytest.mark.parametrize(
    "join_url",
    [
        f"https://sogs.example/lobby?public_key={KEY}",
        f"http://sogs.example:8080/lobby?public_key={KEY}",
        f"http://203.0.113.9/lobby?public_key={KEY}",
    ],
)
def test_a_stored_address_has_the_base_url_of_its_join_link(join_url):
    link = parse_join_link(join_url)
    scheme, host, port = link.address
    stored = ServerAddress(scheme=scheme, host=host, port=port or DEFAULT_PORTS[scheme])

    assert stored.address == link.address
    assert stored.base_url == link.base_url
    assert parse_server_url(stored.base_url) == link.address


@pytest.mark.parametrize(
    "join_url",
    [
        f"http://[2001:db8::1]:8080/lobby?public_key={KEY}",
        f"https://[2001:db8::1]/lobby?public_key={KEY}",
    ],
)
def test_an_ipv6_join_link_never_becomes_an_address(join_url):
    """Session Desktop's `openGroupV2CompleteURLRegex` (`ts/session/apis/open_group_api/utils/
    OpenGroupUtils.ts`) and libsession's `parse_url` (`src/config/community.cpp`) refuse IPv6
    hosts. (These two links used to parse and be stored with a bracketed base URL; the issue
    "Speak the Session ecosystem's protocols exactly" refuses them.)"""
    with pytest.raises(InvalidJoinLink, match="IPv6 hosts"):
        parse_join_link(join_url)


def test_an_ipv6_address_is_bracketed_in_its_base_url():
    assert ServerAddress(scheme="http", host="::1", port=8080).base_url == "http://[::1]:8080"


def test_the_model_leaves_out_the_default_ports_of_the_join_link_grammar():
    for scheme, port in DEFAULT_PORTS.items():
        assert ServerAddress(scheme=scheme, host="sogs.example", port=port).address == (
            scheme,
            "sogs.example",
            None,
        )
    assert ServerAddress(scheme="http", host="sogs.example", port=443).address[2] == 443


def test_an_address_that_works_comes_before_a_domain_and_https():
    ranked = sorted(
        [
            ("https", "sogs.example", None, False),
            ("http", "203.0.113.9", 8080, True),
        ],
        key=lambda row: address_preference(*row[:3], works=row[3]),
    )
    assert ranked[0][1] == "203.0.113.9"


def test_a_domain_comes_before_an_ip_and_https_before_http():
    addresses = [
        ("http", "203.0.113.9", None),
        ("https", "2001:db8::1", None),
        ("http", "sogs.example", None),
        ("https", "sogs.example", None),
    ]
    ranked = sorted(addresses, key=lambda address: address_preference(*address, works=True))
    assert ranked[:2] == [("https", "sogs.example", None), ("http", "sogs.example", None)]


def test_the_default_port_ranks_the_same_written_or_not():
    assert address_preference("https", "sogs.example", None, works=True) == address_preference(
        "https", "sogs.example", 443, works=True
    )


def _server_at(*hosts: str) -> tuple[Server, list[ServerAddress]]:
    server = Server.objects.create(pubkey=KEY)
    addresses = [attach_address(server, "http", host, None) for host in hosts]
    return server, addresses


@pytest.mark.django_db
def test_the_published_address_stays_through_failures_until_it_is_gone_for_good():
    """Session clients tell Communities apart by the base URL (libsession `canonical_url`,
    `src/config/community.cpp`), so a failed poll never moves it; an address silent for
    ADDRESS_GONE_AFTER while another answers is gone for good."""
    server, (first, second) = _server_at("sogs.example", "203.0.113.9")
    note_address(server, *first.address, ok=True)
    note_address(server, *second.address, ok=True)
    note_address(server, *first.address, ok=False, error="refused")
    assert server.preferred_address == first

    almost = timezone.now() - ADDRESS_GONE_AFTER + timedelta(days=1)
    ServerAddress.objects.filter(pk=first.pk).update(last_success_at=almost)
    note_address(server, *second.address, ok=True)
    assert server.preferred_address == first

    gone = timezone.now() - ADDRESS_GONE_AFTER - timedelta(days=1)
    ServerAddress.objects.filter(pk=first.pk).update(last_success_at=gone)
    note_address(server, *second.address, ok=True)
    assert server.preferred_address == second


@pytest.mark.django_db
def test_an_ipv6_address_stored_before_is_never_published_over_another():
    """Desktop's `openGroupV2CompleteURLRegex` (`ts/session/apis/open_group_api/utils/
    OpenGroupUtils.ts`) and libsession's `parse_url` (`src/config/community.cpp`) cannot join
    an IPv6 host, so an old IPv6 address is published only when there is no other."""
    server, (ipv6, ipv4) = _server_at("2001:db8::1", "203.0.113.9")
    note_address(server, *ipv6.address, ok=True)
    assert server.preferred_address == ipv4
