"""The guarded HTTP client (directory/lib/http.py) against real servers on loopback.

Nothing is mocked: servers, TLS and the proxy are real (tests/support). Names never reach real
DNS: clients get a fake resolver, or a proxy that resolves through its own map.
"""

from __future__ import annotations

import ipaddress
import logging
import pickle
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from directory.lib.http import (
    BadResponse,
    BadScheme,
    BadURL,
    BlockedAddress,
    FetchError,
    GuardedClient,
    HttpConfig,
    HTTPStatusError,
    ResponseTooLarge,
    Timeout,
    TLSError,
    TooManyRedirects,
    Unreachable,
    is_public_address,
)
from tests.support.loopback import (
    Certificates,
    LoopbackHandler,
    LoopbackServer,
    blackhole,
    compressed,
    echo,
    gzip_bomb,
    json_reply,
    make_certificates,
    redirect,
    reply,
    slow_drip,
    stream,
)
from tests.support.proxy import LoopbackProxy

# Deadline tests use short deadlines and check the time taken with this much slack, generous
# enough for a loaded CI machine; a deadline that is not enforced misses it by far more.
SLACK = 1.0
HUGE = 64 * 1024 * 1024  # more than any loopback socket buffers can hold


def fake_dns(answers: Mapping[str, Sequence[str]]) -> object:
    """A resolver that knows only `answers`; any other name fails as unknown."""

    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} unknown to the test resolver")
        return answers[host]

    return resolve


def guarded_client(**config: object) -> GuardedClient:
    """A client with the address guard on that reaches the loopback servers as sogs.example
    (pinned, as an operator would) and resolves nothing else."""
    pins = {"sogs.example": "127.0.0.1", "other.example": "127.0.0.1"}
    return GuardedClient(HttpConfig(pinned_hosts=pins, **config), resolver=fake_dns({}))


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def client() -> Iterator[GuardedClient]:
    """A client allowed to reach loopback, as crawler tests use it."""
    with GuardedClient(HttpConfig(allow_private_addresses=True)) as client:
        yield client


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"), hostnames=["sogs.example"])


@pytest.fixture
def tls_server(certificates: Certificates) -> Iterator[LoopbackServer]:
    with LoopbackServer(tls=certificates.server_context()) as server:
        yield server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Healthy exchanges ---------------------------------------------------------------------------


def test_json_reply_is_returned_with_status_headers_and_final_url(server, client):
    url = server.route("/rooms", json_reply([{"token": "lobby"}]))

    response = client.get(url, max_bytes=1000)

    assert (response.status, response.ok, response.url) == (200, True, url)
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [{"token": "lobby"}]
    assert 0 <= response.elapsed < SLACK


def test_user_agent_is_sent_and_configurable(server):
    url = server.route("/echo", echo())

    default = GuardedClient(HttpConfig(allow_private_addresses=True)).get(url, max_bytes=10_000)
    custom = GuardedClient(HttpConfig(allow_private_addresses=True, user_agent="probe/2"))

    assert default.json()["headers"]["User-Agent"].startswith("session-directory/")
    assert custom.get(url, max_bytes=10_000).json()["headers"]["User-Agent"] == "probe/2"


def test_caller_headers_replace_defaults_whatever_their_case(server, client):
    url = server.route("/echo", echo())

    sent = client.get(url, max_bytes=10_000, headers={"user-agent": "mine"}).json()["headers"]

    assert [value for name, value in sent.items() if name.lower() == "user-agent"] == ["mine"]


def test_post_sends_the_body(server, client):
    url = server.route("/echo", echo())

    sent = client.post(url, b"\x00payload", max_bytes=10_000).json()

    assert (sent["method"], sent["body"]) == ("POST", "\x00payload")


def test_error_statuses_are_returned_and_raised_only_on_request(server, client):
    url = server.url("/missing")

    response = client.get(url, max_bytes=1000)

    assert (response.status, response.ok) == (404, False)
    with pytest.raises(HTTPStatusError) as error:
        response.raise_for_status()
    assert (error.value.status, error.value.url) == (404, url)


# --- The address guard ---------------------------------------------------------------------------

INTERNAL_HOSTS = [
    "127.0.0.1",
    "127.0.0.2",
    "[::1]",
    "0.0.0.0",  # noqa: S104 (a URL host under test, not a bind address)
    "[::]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[64:ff9b::7f00:1]",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "127.1",
    "127.0.0.1.",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "224.0.0.1",
    "255.255.255.255",
    "240.0.0.1",
    "[fe80::1]",
    "[fc00::1]",
    "[fec0::1]",
    "localhost",
    "LOCALHOST.",
    "admin.localhost",
]


@pytest.mark.parametrize("host", INTERNAL_HOSTS)
def test_internal_addresses_are_refused_by_default(server, host):
    server.route("/admin", json_reply("secret"))

    with pytest.raises(BlockedAddress) as error:
        guarded_client().get(server.url("/admin", host=host), max_bytes=1000)

    assert "not a public address" in error.value.reason
    assert server.hits == {}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "0x7f.1", "127.1"])
def test_loopback_is_allowed_with_the_flag(server, client, host):
    url = server.route("/rooms", json_reply([]))

    assert client.get(server.url("/rooms", host=host), max_bytes=100).json() == []
    assert server.hits["/rooms"] == 1 and url


def test_ipv6_loopback_is_allowed_with_the_flag(client):
    try:
        server = LoopbackServer("::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with server:
        url = server.route("/rooms", json_reply([]))
        assert client.get(url, max_bytes=100).json() == []


@pytest.mark.parametrize(
    "answer",
    [["127.0.0.1"], ["10.1.2.3"], ["::ffff:10.1.2.3"], ["93.184.215.14", "10.1.2.3"]],
    ids=["loopback", "private", "mapped-private", "one-private-among-public"],
)
def test_a_name_resolving_to_any_internal_address_is_refused_before_connecting(server, answer):
    server.route("/admin", json_reply("secret"))
    client = GuardedClient(HttpConfig(), resolver=fake_dns({"internal.example": answer}))

    with pytest.raises(BlockedAddress) as error:
        client.get(server.url("/admin", host="internal.example"), max_bytes=1000)

    assert "internal.example resolves to non-public" in error.value.reason
    assert server.hits == {}


def test_a_host_is_resolved_once_per_connection_and_never_re_resolved(server):
    # A rebinding DNS server: the first answer passes, later ones point inside.
    lookups: list[str] = []

    def rebinding_dns(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"] if len(lookups) == 1 else ["192.0.2.1"]

    config = HttpConfig(allow_private_addresses=True)
    client = GuardedClient(config, resolver=rebinding_dns)
    url = server.route("/rooms", json_reply([]))

    for _ in range(3):
        client.get(server.url("/rooms", host="rebind.example"), max_bytes=100)

    assert lookups == ["rebind.example"]  # the kept-alive connection is to the vetted address
    assert server.hits["/rooms"] == 3 and url


def test_pinned_hosts_connect_without_dns(server):
    server.route("/rooms", json_reply(["pinned"]))

    response = guarded_client().get(server.url("/rooms", host="sogs.example"), max_bytes=100)

    assert response.json() == ["pinned"]


def test_redirect_to_a_loopback_address_is_refused(server):
    server.route("/target", json_reply("secret"))
    hop = server.route("/hop", redirect(server.url("/target")))

    with pytest.raises(BlockedAddress) as error:
        guarded_client().get(hop.replace("127.0.0.1", "sogs.example"), max_bytes=1000)

    assert error.value.url == server.url("/target")
    assert (server.hits["/hop"], server.hits["/target"]) == (1, 0)


def test_redirect_to_a_name_resolving_inside_is_refused_at_connect_time(server):
    server.route("/target", json_reply("secret"))
    server.route("/hop", redirect(server.url("/target", host="internal.example")))
    pins = {"sogs.example": "127.0.0.1"}
    dns = fake_dns({"internal.example": ["127.0.0.1"]})
    client = GuardedClient(HttpConfig(pinned_hosts=pins), resolver=dns)

    with pytest.raises(BlockedAddress) as error:
        client.get(server.url("/hop", host="sogs.example"), max_bytes=1000)

    assert "internal.example resolves to non-public 127.0.0.1" in error.value.reason
    assert server.hits["/target"] == 0


# --- Redirects -----------------------------------------------------------------------------------


def test_redirects_are_followed_up_to_the_limit(server, client):
    server.route("/end", json_reply("done"))
    for step in range(3):
        server.route(f"/r{step}", redirect(f"/r{step + 1}" if step < 2 else "/end"))

    response = client.get(server.url("/r0"), max_bytes=100)

    assert (response.json(), response.url) == ("done", server.url("/end"))


def test_one_redirect_more_than_the_limit_is_refused(server, client):
    server.route("/end", json_reply("done"))
    for step in range(4):
        server.route(f"/r{step}", redirect(f"/r{step + 1}" if step < 3 else "/end"))

    with pytest.raises(TooManyRedirects):
        client.get(server.url("/r0"), max_bytes=100)

    assert server.hits["/end"] == 0


def test_redirects_are_not_followed_when_the_caller_says_so(server, client):
    url = server.route("/hop", redirect("/elsewhere", status=301))

    response = client.get(url, max_bytes=100, allow_redirects=False)

    assert (response.status, response.headers["Location"]) == (301, "/elsewhere")
    assert server.hits["/elsewhere"] == 0


@pytest.mark.parametrize(("status", "method", "body"), [(303, "GET", ""), (307, "POST", "data")])
def test_redirected_post_follows_the_status_semantics(server, client, status, method, body):
    server.route("/echo", echo())
    url = server.route("/form", redirect("/echo", status=status))

    sent = client.post(url, b"data", max_bytes=10_000).json()

    assert (sent["method"], sent["body"]) == (method, body)


def test_redirect_to_another_scheme_is_refused(server, client):
    url = server.route("/hop", redirect("file:///etc/passwd"))

    with pytest.raises(BadScheme):
        client.get(url, max_bytes=100)


# --- Deadlines -----------------------------------------------------------------------------------


def assert_cut_at(deadline: float, started: float) -> None:
    assert deadline - 0.05 <= time.monotonic() - started < deadline + SLACK


def test_a_server_that_never_answers_is_cut_at_the_deadline(server, client):
    url = server.route("/hang", blackhole())
    started = time.monotonic()

    with pytest.raises(Timeout):
        client.get(url, max_bytes=1000, deadline=0.5)

    assert_cut_at(0.5, started)


def test_a_body_dripped_slowly_is_cut_at_the_deadline(server, client):
    url = server.route("/drip", slow_drip(b"x" * 1000, interval=0.1))
    started = time.monotonic()

    with pytest.raises(Timeout):
        client.get(url, max_bytes=10_000, deadline=1.0)

    assert_cut_at(1.0, started)
    assert server.bytes_sent["/drip"] < 1000


def test_headers_dripped_slowly_are_cut_at_the_deadline(server, client):
    url = server.route("/drip", slow_drip(b"x", interval=0.05, whole_response=True))
    started = time.monotonic()

    with pytest.raises(Timeout):
        client.get(url, max_bytes=10_000, deadline=0.5)

    assert_cut_at(0.5, started)


def test_slow_dns_is_cut_at_the_deadline(server):
    def slow_dns(host: str, port: int) -> list[str]:
        time.sleep(3)
        return ["127.0.0.1"]

    client = GuardedClient(HttpConfig(allow_private_addresses=True), resolver=slow_dns)
    started = time.monotonic()

    with pytest.raises(Timeout):
        client.get(server.url("/", host="slow.example"), max_bytes=100, deadline=0.5)

    assert_cut_at(0.5, started)


def test_the_deadline_covers_the_redirects_too(server, client):
    server.route("/hang", blackhole())
    url = server.route("/hop", redirect("/hang"))
    started = time.monotonic()

    with pytest.raises(Timeout):
        client.get(url, max_bytes=100, deadline=0.5)

    assert_cut_at(0.5, started)


def test_a_refused_connection_is_unreachable(client):
    with pytest.raises(Unreachable) as error:
        client.get(f"http://127.0.0.1:{closed_port()}/", max_bytes=100)

    assert "cannot connect" in error.value.reason


def test_an_unknown_name_is_unreachable():
    client = GuardedClient(HttpConfig(), resolver=fake_dns({}))

    with pytest.raises(Unreachable) as error:
        client.get("http://nowhere.example/", max_bytes=100)

    assert "cannot resolve nowhere.example" in error.value.reason


# --- Size caps and encodings ---------------------------------------------------------------------


def test_a_declared_oversized_body_is_refused_without_reading_it(server, client):
    url = server.route("/big", stream(HUGE, declare_length=True))

    with pytest.raises(ResponseTooLarge) as error:
        client.get(url, max_bytes=1_000_000)

    assert "Content-Length" in error.value.reason
    assert server.bytes_sent["/big"] < HUGE


def test_an_undeclared_oversized_body_stops_at_the_cap(server, client):
    url = server.route("/big", stream(HUGE, declare_length=False))

    with pytest.raises(ResponseTooLarge):
        client.get(url, max_bytes=1_000_000)

    assert server.bytes_sent["/big"] < HUGE


@pytest.mark.parametrize("declare_length", [True, False])
def test_a_body_exactly_at_the_cap_passes_and_one_byte_more_does_not(
    server, client, declare_length
):
    url = server.route("/body", stream(1000, declare_length=declare_length))

    assert len(client.get(url, max_bytes=1000).content) == 1000
    with pytest.raises(ResponseTooLarge):
        client.get(url, max_bytes=999)


def test_a_gzip_bomb_is_refused(server, client):
    url = server.route("/bomb", gzip_bomb(50_000_000))

    with pytest.raises(ResponseTooLarge) as error:
        client.get(url, max_bytes=1_000_000)

    assert "decoded" in error.value.reason


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies_are_decoded_within_the_cap(server, client, encoding):
    body = b'{"rooms": []}' * 100
    url = server.route("/rooms", compressed(body, encoding))

    assert client.get(url, max_bytes=len(body)).content == body
    with pytest.raises(ResponseTooLarge):
        client.get(url, max_bytes=len(body) - 1)


@pytest.mark.parametrize(
    "headers", [{"Content-Encoding": "br"}, {"Content-Encoding": "gzip, gzip"}]
)
def test_unsupported_encodings_are_bad_responses(server, client, headers):
    url = server.route("/odd", reply(b"whatever", headers=headers))

    with pytest.raises(BadResponse):
        client.get(url, max_bytes=1000)


def test_a_corrupt_compressed_body_is_a_bad_response(server, client):
    url = server.route("/odd", reply(b"not gzip at all", headers={"Content-Encoding": "gzip"}))

    with pytest.raises(BadResponse):
        client.get(url, max_bytes=1000)


def test_a_truncated_body_is_a_bad_response(server, client):
    def truncated(handler: LoopbackHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        handler.write(b"x" * 10)
        handler.close_connection = True

    url = server.route("/cut", truncated)

    with pytest.raises(BadResponse):
        client.get(url, max_bytes=1000)


def test_a_head_reply_may_declare_a_length_over_the_cap(server, client):
    url = server.route("/icon", reply(b"x" * 5000))

    response = client.request("HEAD", url, max_bytes=100)

    assert (response.status, response.content) == (200, b"")
    assert response.headers["Content-Length"] == "5000"


def test_a_server_hanging_up_without_answering_is_a_bad_response(server, client):
    def hang_up(handler: LoopbackHandler) -> None:
        handler.close_connection = True

    url = server.route("/rude", hang_up)

    with pytest.raises(BadResponse):
        client.get(url, max_bytes=100)


@pytest.mark.parametrize("body", [b"<html>", b"[" * 100_000, b"\xff\xfe"])
def test_invalid_json_is_a_bad_response(server, client, body):
    url = server.route("/rooms", reply(body))

    with pytest.raises(BadResponse) as error:
        client.get(url, max_bytes=1_000_000).json()

    assert error.value.reason.startswith("invalid JSON")


# --- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com:6379/_INFO",
        "javascript:alert(1)",
        "example.com/rooms",
        "//example.com/rooms",
    ],
)
def test_urls_other_than_http_and_https_are_refused(url):
    with pytest.raises(BadScheme):
        guarded_client().get(url, max_bytes=100)


@pytest.mark.parametrize("url", ["http:///rooms", "http://[::1/", "https://"])
def test_urls_without_a_usable_host_are_refused(url):
    with pytest.raises(BadURL):
        guarded_client().get(url, max_bytes=100)


def test_errors_carry_url_and_reason_and_survive_pickling():
    error = BlockedAddress("http://10.0.0.1/", "10.0.0.1 is not a public address")
    status = HTTPStatusError("http://a.example/", 503)

    assert str(error) == "10.0.0.1 is not a public address (http://10.0.0.1/)"
    assert isinstance(error, FetchError) and isinstance(status, FetchError)
    assert pickle.loads(pickle.dumps(error)).reason == error.reason  # noqa: S301 (own data)
    assert pickle.loads(pickle.dumps(status)).status == 503  # noqa: S301


# --- TLS -----------------------------------------------------------------------------------------


def test_https_checks_the_certificate_against_the_hostname(tls_server, certificates):
    url = tls_server.route("/rooms", json_reply(["tls"]))
    client = guarded_client(ca_bundle=str(certificates.ca_file))

    assert client.get(url.replace("127.0.0.1", "sogs.example"), max_bytes=100).json() == ["tls"]
    # Same vetted address, but the certificate is not for this name.
    with pytest.raises(TLSError):
        client.get(url.replace("127.0.0.1", "other.example"), max_bytes=100)


def test_an_untrusted_certificate_is_a_tls_error(tls_server):
    url = tls_server.route("/rooms", json_reply([]))

    with pytest.raises(TLSError) as error:
        guarded_client().get(url.replace("127.0.0.1", "sogs.example"), max_bytes=100)

    assert isinstance(error.value, Unreachable)


# --- Proxy ---------------------------------------------------------------------------------------


@pytest.fixture
def proxy() -> Iterator[LoopbackProxy]:
    with LoopbackProxy(hosts={"sogs.example": "127.0.0.1"}) as proxy:
        yield proxy


def test_requests_go_through_the_proxy_which_resolves_names(server, proxy):
    url = server.route("/rooms", json_reply(["proxied"])).replace("127.0.0.1", "sogs.example")
    # The client's resolver knows no names: the proxy must be the one resolving.
    client = GuardedClient(HttpConfig(proxy=proxy.url), resolver=fake_dns({}))

    assert client.get(url, max_bytes=100).json() == ["proxied"]
    assert proxy.requests == [f"GET {url}"]


def test_https_goes_through_the_proxy_in_a_connect_tunnel(tls_server, proxy, certificates):
    url = tls_server.route("/rooms", json_reply(["tunnelled"]))
    config = HttpConfig(proxy=proxy.url, ca_bundle=str(certificates.ca_file))

    response = GuardedClient(config).get(url.replace("127.0.0.1", "sogs.example"), max_bytes=100)

    assert response.json() == ["tunnelled"]
    assert proxy.requests == [f"CONNECT sogs.example:{tls_server.port}"]


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "2130706433", "169.254.169.254", "localhost"]
)
def test_literal_internal_addresses_are_refused_even_behind_a_proxy(server, proxy, host):
    with pytest.raises(BlockedAddress):
        GuardedClient(HttpConfig(proxy=proxy.url)).get(server.url("/", host=host), max_bytes=100)

    assert proxy.requests == []


def test_proxy_environment_variables_are_ignored(server, client, proxy, monkeypatch):
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"]:
        monkeypatch.setenv(name, proxy.url)
    monkeypatch.setenv("NO_PROXY", "nothing.example")
    url = server.route("/rooms", json_reply([]))

    assert client.get(url, max_bytes=100).status == 200
    assert proxy.requests == []


def test_a_dead_proxy_is_unreachable():
    client = GuardedClient(HttpConfig(proxy=f"http://127.0.0.1:{closed_port()}"))

    with pytest.raises(Unreachable):
        client.get("http://sogs.example/rooms", max_bytes=100)


# --- Sharing one client between threads ----------------------------------------------------------


def test_one_client_serves_32_concurrent_requests_each_with_its_own_deadline(server, client):
    server.route("/hang", blackhole())
    for number in range(32):
        server.route(f"/rooms/{number}", echo())

    def fetch(number: int) -> object:
        if number % 4 == 0:  # some requests hang until their own (short) deadline
            with pytest.raises(Timeout):
                client.get(server.url("/hang"), max_bytes=100, deadline=0.5)
            return "timed out"
        return client.get(server.url(f"/rooms/{number}"), max_bytes=10_000).json()["path"]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(fetch, range(32)))

    expected = ["timed out" if n % 4 == 0 else f"/rooms/{n}" for n in range(32)]
    assert results == expected
    assert time.monotonic() - started < 0.5 + SLACK


def test_threads_sharing_a_proxied_client_leave_no_pool_warnings(server, proxy, caplog):
    """Every plain-http request through a proxy uses the one pool to the proxy; urllib3
    (`connectionpool.py`, `_put_conn`) logs "Connection pool is full, discarding connection"
    for each connection handed back to a full pool, so the pool holds one per thread."""
    for number in range(32):
        server.route(f"/rooms/{number}", echo())
    urls = [server.url(f"/rooms/{n}").replace("127.0.0.1", "sogs.example") for n in range(32)]
    caplog.set_level(logging.WARNING, logger="urllib3")

    client = GuardedClient(HttpConfig(proxy=proxy.url), threads=8)
    with client, ThreadPoolExecutor(max_workers=8) as pool:
        paths = list(pool.map(lambda url: client.get(url, max_bytes=10_000).json(), urls))

    assert [path["path"] for path in paths] == [f"/rooms/{n}" for n in range(32)]
    assert len(proxy.requests) == 32
    assert [
        record.getMessage() for record in caplog.records if record.name.startswith("urllib3")
    ] == []


def test_a_client_for_no_threads_is_refused():
    with pytest.raises(ValueError, match="threads"):
        GuardedClient(threads=0)


# --- Configuration and address policy ------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        {"deadline": 0},
        {"connect_timeout": -1},
        {"max_redirects": -1},
        {"proxy": "https://proxy.example:3128"},
        {"proxy": "socks5://127.0.0.1:1080"},
        {"pinned_hosts": {"sogs.example": "not an address"}},
    ],
)
def test_nonsense_configuration_is_refused(config):
    with pytest.raises(ValueError):
        HttpConfig(**config)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_are_public(address):
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    ["198.51.100.7", "192.0.2.1", "2001:db8::1", "2002:7f00:1::1", "ff02::1", "100::1"],
)
def test_documentation_multicast_and_tunnelled_internal_addresses_are_not_public(address):
    assert not is_public_address(ipaddress.ip_address(address))


@given(st.ip_addresses(v=4))
def test_ipv6_forms_of_an_ipv4_address_are_judged_like_it(address):
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(address))

    assert is_public_address(mapped) == is_public_address(address) == is_public_address(nat64)
