"""One rule for which hosts are public: the submission form refuses exactly what the guarded
client refuses before connecting (directory/lib/http.py `is_public_host`), for every host a join
link may have. IPv6 hosts are refused by the join-link grammar itself, public or not, as Session
Desktop's `openGroupV2CompleteURLRegex` (`ts/session/apis/open_group_api/utils/OpenGroupUtils.ts`)
and libsession's `parse_url` (`src/config/community.cpp`) refuse them; the client still judges
them (an operator's proxy or pinned host may hand it one).

The client goes through a real loopback proxy that reaches every host at a loopback server, so
an accepted host is really requested and no request leaves the machine.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from directory.forms import SubmissionForm
from directory.lib.http import BlockedAddress, GuardedClient, HttpConfig, is_public_address
from directory.lib.joinlinks import IPV6_REFUSED
from tests.support.loopback import LoopbackServer, json_reply
from tests.support.proxy import LoopbackProxy

KEY = "ab" * 32
REFUSALS = ("private, loopback or reserved", "this machine or a local network")

# Hosts as a join link writes them, and whether they are public.
HOSTS = [
    ("10.1.2.3", False),
    ("172.16.0.1", False),
    ("192.168.1.1", False),
    ("127.0.0.1", False),
    ("127.8.9.10", False),
    ("[::1]", False),
    ("169.254.169.254", False),  # link-local: cloud metadata
    ("[fe80::1]", False),
    ("100.64.0.1", False),  # CGNAT
    ("[fc00::1]", False),  # unique local
    ("[fec0::1]", False),  # site-local (deprecated, still routed inward)
    ("0.0.0.0", False),  # noqa: S104 (a host to refuse, not one to bind)
    ("[::]", False),
    ("224.0.0.1", False),
    ("[ff0e::1]", False),  # global-scope multicast
    ("240.0.0.1", False),
    ("255.255.255.255", False),
    ("192.0.2.1", False),  # documentation
    ("[2001:db8::1]", False),
    ("[::ffff:10.0.0.1]", False),  # IPv4-mapped
    ("[64:ff9b::a00:1]", False),  # NAT64
    ("[2002:a00:1::]", False),  # 6to4
    ("admin.localhost", False),
    ("printer.local", False),
    ("db.internal", False),
    ("8.8.8.8", True),
    ("[2606:4700:4700::1111]", True),
    ("[::ffff:8.8.8.8]", True),
    ("sogs.example", True),
]


class _EveryHostIsLoopback(dict):
    """The proxy's name map: whatever host is asked for, the loopback server answers."""

    def get(self, host: str, default: str | None = None) -> str:
        return "127.0.0.1"


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        server.route("/lobby", json_reply(["reached"]))
        yield server


@pytest.fixture(scope="module")
def client() -> Iterator[GuardedClient]:
    with LoopbackProxy() as proxy:
        proxy.hosts = _EveryHostIsLoopback()
        with GuardedClient(HttpConfig(proxy=proxy.url, connect_timeout=2, deadline=5)) as client:
            yield client


def form_refuses(host: str) -> bool:
    form = SubmissionForm(data={"join_url": f"http://{host}:8080/lobby?public_key={KEY}"})
    if form.is_valid():
        return False
    errors = " ".join(form.errors["join_url"])
    assert any(refusal in errors for refusal in REFUSALS), errors  # not a grammar error
    return True


def form_refuses_as_ipv6(host: str) -> bool:
    form = SubmissionForm(data={"join_url": f"http://{host}:8080/lobby?public_key={KEY}"})
    return not form.is_valid() and IPV6_REFUSED in " ".join(form.errors["join_url"])


def client_refuses(client: GuardedClient, server: LoopbackServer, host: str) -> bool:
    try:
        response = client.get(f"http://{host}:{server.port}/lobby", max_bytes=100)
    except BlockedAddress:
        return True
    assert response.json() == ["reached"]
    return False


@pytest.mark.parametrize(("host", "public"), HOSTS)
def test_the_form_and_the_client_refuse_the_same_hosts(client, server, host, public):
    """(Changed by the issue "Speak the Session ecosystem's protocols exactly": the form used to
    accept a public IPv6 host and refuse the others as private; now it refuses every IPv6 host
    because no Session client can join it. The client's verdicts are unchanged.)"""
    if host.startswith("["):
        assert form_refuses_as_ipv6(host)
    else:
        assert form_refuses(host) is (not public)
    assert client_refuses(client, server, host) is (not public)


@given(st.ip_addresses())
def test_the_form_and_the_client_agree_on_every_ip_address(client, server, address):
    """(For IPv6, changed by the same issue: the form refuses them all; the client still refuses
    exactly the non-public ones.)"""
    if address.version == 6:
        host = f"[{address}]"
        assert form_refuses_as_ipv6(host)
        assert client_refuses(client, server, host) is (not is_public_address(address))
        return
    host = str(address)
    assert form_refuses(host) == client_refuses(client, server, host)
