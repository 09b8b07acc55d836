"""The one guarded HTTP client that every outbound request of the crawler goes through.

Sources, SOGS servers and icons come from user-submitted URLs, so:
- Only http and https. Every connection is opened by `_open_socket`, which resolves the name once,
  refuses the whole answer if any address is not public, and connects to the vetted address
  itself (TLS still checks the certificate against the hostname): no DNS-rebinding window.
  Redirects (at most `max_redirects`) are followed here, so every hop passes the same checks.
- One deadline for the whole exchange: the sockets re-arm their timeout to the time left before
  every read, write and TLS handshake, and DNS runs in a thread abandoned at the deadline.
- Bodies are streamed under the caller's `max_bytes`, counted raw and decoded (gzip bombs).
- Through an operator-configured proxy, the proxy resolves names; IP literals are still checked.
  The environment (HTTP_PROXY...) is never read.
- A request in flight can be ended from another thread (`Cancellation`): its sockets are shut
  down, so a read blocked on a silent host returns at once.

Configuration comes in as an `HttpConfig`, never from Django settings. Every status is returned;
every failure raises a `FetchError` subclass. Retries are the caller's policy (the crawler's
`HostSession`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from http.client import HTTPException
from types import MappingProxyType
from typing import Any, TypeAlias
from urllib.parse import urljoin

import requests.certs
from urllib3 import (
    HTTPConnectionPool,
    HTTPHeaderDict,
    HTTPSConnectionPool,
    PoolManager,
    ProxyManager,
)
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError, LocationParseError, ProxyError, ReadTimeoutError, SSLError
from urllib3.response import BaseHTTPResponse
from urllib3.util import Timeout as PoolTimeout
from urllib3.util import parse_url

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
#: `resolver(host, port)` returns the IP addresses (as strings) to connect to.
Resolver: TypeAlias = Callable[[str, int], Sequence[str]]

DEFAULT_USER_AGENT = "session-directory/0.1 (Session Communities crawler)"
_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Idle keep-alive connections are kept for this many hosts; beyond that, pools are dropped and
# opened again as needed.
_HOSTS_KEPT = 128


class FetchError(Exception):
    """A request failed. `url` is the URL being fetched at the time, `reason` says why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, reason)
        self.url = url
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.reason} ({self.url})"


class BadURL(FetchError):
    """The URL cannot be fetched at all: unparseable, or without a host."""


class BadScheme(BadURL):
    """The scheme is not http or https."""


class BlockedAddress(FetchError):
    """The host is, or resolves to, an address that is not public (the SSRF guard)."""


class Unreachable(FetchError):
    """The name did not resolve, no connection could be made (refused, connect timeout), or the
    proxy failed."""


class TLSError(Unreachable):
    """The TLS handshake or the certificate check failed."""


class Timeout(FetchError):
    """The exchange (DNS, connect, TLS, request and whole body) missed its deadline."""


class ResponseTooLarge(FetchError):
    """The body, declared or received, raw or decoded, is over the caller's `max_bytes`."""


class TooManyRedirects(FetchError):
    """The server redirected more than `max_redirects` times."""


class BadResponse(FetchError):
    """Broken HTTP, a truncated body, a corrupt or unsupported Content-Encoding, or bad JSON."""


class Cancelled(FetchError):
    """The request was ended by its `Cancellation` (e.g. another attempt answered first)."""


class HTTPStatusError(FetchError):
    """Raised by `Response.raise_for_status()`; the client itself returns every status."""

    def __init__(self, url: str, status: int) -> None:
        super().__init__(url, f"HTTP status {status}")
        self.args = (url, status)  # so that pickling (e.g. in a Celery result) round-trips
        self.status = status


@dataclass(frozen=True)
class HttpConfig:
    """How the client behaves; built from settings by the caller.

    `allow_private_addresses` lifts the address guard (for tests on loopback only). `proxy` is
    an `http://host:port` proxy that carries all traffic (https through CONNECT) and then
    resolves names itself. `ca_bundle` is a PEM file of CAs trusted in addition to certifi's.
    `pinned_hosts` maps hostnames to the IP to connect to, without DNS and without the address
    guard, like curl's `--resolve`: the operator vouches for them (ignored with a proxy).
    """

    connect_timeout: float = 5.0
    deadline: float = 10.0
    max_redirects: int = 3
    allow_private_addresses: bool = False
    proxy: str | None = None
    ca_bundle: str | None = None
    user_agent: str = DEFAULT_USER_AGENT
    pinned_hosts: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.connect_timeout <= 0 or self.deadline <= 0:
            raise ValueError("connect_timeout and deadline must be positive")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must not be negative")
        if self.proxy is not None:
            proxy = parse_url(self.proxy)
            if proxy.scheme != "http" or not proxy.host:
                raise ValueError(f"proxy must look like http://host:port, not {self.proxy!r}")
        pins = {
            host.lower(): str(ipaddress.ip_address(ip)) for host, ip in self.pinned_hosts.items()
        }
        object.__setattr__(self, "pinned_hosts", MappingProxyType(pins))


# --- Which addresses may be connected to ---------------------------------------------------------

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# inet_aton() also reads the legacy forms resolvers accept: 2130706433, 0x7f.1, 0177.0.0.1, 127.1.
_LEGACY_IPV4 = re.compile(r"[0-9][0-9a-fA-FxX.]*")


def is_public_address(address: IPAddress) -> bool:
    """True for addresses on the public Internet: the only ones the crawler connects to.

    Refuses loopback, private (RFC 1918, ULA), CGNAT, link-local, multicast, unspecified,
    reserved and documentation ranges, and IPv6 forms of IPv4 addresses that are any of those.
    """
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv6 form of an IPv4 address reaches that IPv4 address, so it is judged by it.
        embedded = address.ipv4_mapped
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
        six_to_four = address.sixtofour
        if address.is_site_local or (six_to_four and not is_public_address(six_to_four)):
            return False
    # `is_global` alone lets multicast and (before Python 3.13) some reserved ranges through.
    return address.is_global and not (address.is_multicast or address.is_reserved)


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver: every IPv4 and IPv6 address of `host`."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP literal (in any form a resolver accepts) stands for;
    None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host.rstrip(".")):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    return None


# Names that never leave this machine or its network: localhost (RFC 6761), mDNS's .local
# (RFC 6762) and .internal, which ICANN reserved for private use (2024).
_LOCAL_NAME_SUFFIXES = (".localhost", ".local", ".internal")


def is_public_host(host: str) -> bool:
    """False for a host that is visibly internal without DNS: a non-public IP literal or a local
    name. The one rule for both the submission form and the client's first check (the only one
    when a proxy resolves names); what a public-looking name resolves to is checked at connect
    time."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(_LOCAL_NAME_SUFFIXES):
        return False
    address = literal_address(name)
    return address is None or is_public_address(address)


def _resolve_in_time(resolver: Resolver, host: str, port: int, timeout: float) -> list[str]:
    """Resolve in a helper thread: getaddrinfo() has no timeout, and a slow DNS server must not
    outlive the deadline. An abandoned lookup finishes, and is forgotten, on its own."""
    outcome: list[Any] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            outcome.append(list(resolver(host, port)))
        except Exception as error:
            outcome.append(error)
        finally:
            done.set()

    threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"resolving {host}")
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return outcome[0]


# --- One exchange in flight, and the sockets that obey it ----------------------------------------


class Cancellation:
    """Ends one request in flight from another thread. `cancel()` shuts down the sockets the
    request reads and writes (a read blocked on a host that never answers returns at once,
    the connection is closed, never pooled) and the request raises `Cancelled`. Sockets are
    watched only while their request runs: a connection handed back to the pool is left alone.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._running = True
        self.cancelled = False

    def cancel(self) -> None:
        with self._lock:  # under the lock: `finished()` cannot hand a socket back meanwhile
            self.cancelled = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):  # not connected yet, or already closed
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)  # on the fd, TLS or not
            self._sockets.clear()

    def watch(self, sock: socket.socket, url: str) -> None:
        """Called before each blocking call of the request's sockets."""
        with self._lock:
            if self.cancelled:
                raise Cancelled(url, "cancelled")
            if self._running:
                self._sockets.add(sock)

    def finished(self) -> bool:
        """The request is over: stop watching its sockets. Whether it was cancelled first."""
        with self._lock:
            self._running = False
            self._sockets.clear()
            return self.cancelled


@dataclass
class _Exchange:
    """One request (with its redirects) in flight, and what the sockets it opens must obey."""

    url: str
    method: str
    data: bytes | None
    headers: HTTPHeaderDict
    budget: float  # seconds
    config: HttpConfig
    resolver: Resolver
    cancellation: Cancellation | None = None
    started: float = field(default_factory=time.monotonic)

    def time_left(self) -> float:
        left = self.started + self.budget - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline reached")
        return left

    def expired(self) -> bool:
        return time.monotonic() >= self.started + self.budget

    def cancelled(self) -> bool:
        return self.cancellation is not None and self.cancellation.cancelled

    def addresses_for(self, host: str, port: int) -> list[str]:
        if self.config.proxy is not None:
            return self._resolve(host, port)  # connections only go to the operator's proxy
        pinned = self.config.pinned_hosts.get(host.lower().rstrip("."))
        if pinned is not None:
            return [pinned]
        addresses = self._resolve(host, port)
        if not self.config.allow_private_addresses:
            for address in addresses:  # every one: a mixed answer is refused as a whole
                if not is_public_address(ipaddress.ip_address(address)):
                    raise BlockedAddress(self.url, f"{host} resolves to non-public {address}")
        return addresses

    def _resolve(self, host: str, port: int) -> list[str]:
        literal = literal_address(host)
        if literal is not None:
            return [str(literal)]
        try:
            addresses = _resolve_in_time(self.resolver, host, port, self.time_left())
        except TimeoutError:
            raise Timeout(self.url, f"resolving {host} did not finish in time") from None
        except OSError as error:
            raise Unreachable(self.url, f"cannot resolve {host}: {error}") from error
        if not addresses:
            raise Unreachable(self.url, f"{host} has no address")
        return addresses


# Sockets are opened while a request runs, in its thread, so they find its exchange here.
_EXCHANGE: ContextVar[_Exchange | None] = ContextVar("guarded_http_exchange", default=None)


def _open_socket(host: str, port: int) -> socket.socket:
    """Resolve once, vet every address, and connect to a vetted one (never re-resolving)."""
    exchange = _EXCHANGE.get()
    if exchange is None:  # fail closed: these connections exist only inside GuardedClient
        raise RuntimeError("guarded connection opened outside GuardedClient.request()")
    failures = []
    if exchange.cancelled():
        raise Cancelled(exchange.url, "cancelled")
    for address in exchange.addresses_for(host, port):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = _DeadlineSocket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(min(exchange.config.connect_timeout, exchange.time_left()))
            sock.connect((address, port))
            return sock
        except OSError as error:
            sock.close()
            failures.append(f"{address}: {error}")
    if exchange.expired():
        raise Timeout(exchange.url, f"connecting to {host} did not finish in time")
    raise Unreachable(exchange.url, f"cannot connect to {host} port {port} ({'; '.join(failures)})")


class _DeadlineMixin:
    """Sets the socket timeout to the time the exchange has left before every blocking call.

    A plain socket timeout bounds one call, so a server dripping a byte a second never trips it;
    bounding every call by the time left turns it into a deadline for the whole exchange.
    """

    def _arm(self) -> None:
        exchange = _EXCHANGE.get()
        if exchange is not None:
            if exchange.cancellation is not None:
                exchange.cancellation.watch(self, exchange.url)  # type: ignore[arg-type]
            self.settimeout(exchange.time_left())  # type: ignore[attr-defined]

    # http.client reads through makefile() (recv_into) and writes with sendall().
    def recv_into(self, *args: Any) -> Any:
        self._arm()
        return super().recv_into(*args)  # type: ignore[misc]

    def sendall(self, *args: Any) -> Any:
        self._arm()
        return super().sendall(*args)  # type: ignore[misc]


class _DeadlineSocket(_DeadlineMixin, socket.socket):
    pass


class _DeadlineSSLSocket(_DeadlineMixin, ssl.SSLSocket):
    def do_handshake(self, *args: Any) -> None:
        self._arm()
        super().do_handshake(*args)


class _GuardedConnectionMixin:
    def _new_conn(self) -> socket.socket:
        sock = _open_socket(self._dns_host, self.port)  # type: ignore[attr-defined]
        for option in self.socket_options or ():  # type: ignore[attr-defined]
            sock.setsockopt(*option)
        return sock


class _HTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _HTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


# --- Responses -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """A complete response: final URL (after redirects), status, headers, body, seconds taken."""

    url: str
    status: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes
    elapsed: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed as JSON; `BadResponse` if it is not (including hostile nesting)."""
        try:
            return json.loads(self.content)
        except (ValueError, RecursionError) as error:
            raise BadResponse(self.url, f"invalid JSON: {str(error)[:200]}") from None

    def raise_for_status(self) -> Response:
        if not self.ok:
            raise HTTPStatusError(self.url, self.status)
        return self


def _decoder_for(encoding: str, url: str) -> Any:
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return None
    if name in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # | 32: gzip or zlib framing
    raise BadResponse(url, f"unsupported Content-Encoding {encoding!r}")


def _read_capped(raw: BaseHTTPResponse, exchange: _Exchange, max_bytes: int) -> bytes:
    """Stream the body, never holding more than `max_bytes` (+ one chunk), raw or decoded."""
    url = exchange.url
    declared = raw.headers.get("Content-Length", "")
    # A HEAD reply declares the length of the body it does not send.
    if exchange.method != "HEAD" and declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(url, f"Content-Length {declared} is over {max_bytes} bytes")
    decoder = _decoder_for(raw.headers.get("Content-Encoding", ""), url)
    body = bytearray()
    received = 0
    while chunk := raw.read(_CHUNK, decode_content=False):
        received += len(chunk)
        if received > max_bytes:
            raise ResponseTooLarge(url, f"body is over {max_bytes} bytes")
        if decoder is not None:
            # max_length bounds this call's output, so a zip bomb never inflates past the cap.
            try:
                chunk = decoder.decompress(chunk, max_bytes - len(body) + 1)
            except zlib.error as error:
                raise BadResponse(url, f"corrupt compressed body: {error}") from None
        if len(body) + len(chunk) > max_bytes:
            raise ResponseTooLarge(url, f"decoded body is over {max_bytes} bytes")
        body += chunk
    return bytes(body)


def _read_body(exchange: _Exchange, raw: BaseHTTPResponse, max_bytes: int) -> bytes:
    try:
        content = _read_capped(raw, exchange, max_bytes)
    except FetchError:
        _discard(raw)
        raise
    except (HTTPError, HTTPException, OSError) as error:
        _discard(raw)
        raise _transport_error(exchange, error) from error
    raw.release_conn()
    return content


def _discard(raw: BaseHTTPResponse) -> None:
    """Drop a response without reading the rest (which may be endless): close its connection."""
    raw.close()
    raw.release_conn()


def _transport_error(exchange: _Exchange, error: Exception) -> FetchError:
    """The FetchError for a urllib3 or socket error. Name and connect failures never get here
    (_open_socket raises them), so what is left happened to an established connection."""
    if exchange.cancelled():  # its sockets were shut down under it
        return Cancelled(exchange.url, "cancelled")
    if exchange.expired() or isinstance(error, (ReadTimeoutError, TimeoutError)):
        return Timeout(exchange.url, f"no complete response within {exchange.budget:g} s")
    if isinstance(error, SSLError):
        return TLSError(exchange.url, f"TLS failed: {error}"[:300])
    if isinstance(error, ProxyError):
        return Unreachable(exchange.url, f"proxy failed: {error}"[:300])
    return BadResponse(exchange.url, f"{type(error).__name__}: {error}"[:300])


def _redirect(exchange: _Exchange, status: int, target: str) -> None:
    """Point the exchange at a redirect target; as browsers do, 303 (and 301/302 after a POST)
    become a GET without a body."""
    if status == 303 or (status in (301, 302) and exchange.method == "POST"):
        exchange.method = "HEAD" if exchange.method == "HEAD" else "GET"
        exchange.data = None
    exchange.url = target


# --- The client ----------------------------------------------------------------------------------


class GuardedClient:
    """Fetches URLs under the guards of an `HttpConfig`; safe to share between threads.

    Every status is returned (use `Response.raise_for_status()`); every failure raises a
    `FetchError` subclass. `resolver` is injectable for tests; its answers are vetted.

    `threads` is how many threads use the client at once (the crawler's concurrency, times
    its hedged attempts), `per_host` how many of them may talk to one host at once (default:
    all). Through a proxy, every plain-http request shares the one pool to the proxy, so each
    pool keeps up to `threads` connections: urllib3 discards (and logs a warning for) each
    connection handed back to a full pool. Without one, a pool per host keeps `per_host`, and
    a pool is kept for every host the threads can be talking to at once: urllib3 fills a new
    pool's queue with `maxsize` placeholders, and a pool dropped while its host is still being
    polled loses its idle connections, both paid again on the next request.
    """

    def __init__(
        self,
        config: HttpConfig | None = None,
        *,
        resolver: Resolver = system_resolver,
        threads: int = 1,
        per_host: int | None = None,
    ):
        if threads < 1 or (per_host is not None and per_host < 1):
            raise ValueError("threads and per_host must be at least 1")
        per_host = min(per_host or threads, threads)
        self.config = config or HttpConfig()
        self._resolver = resolver
        context = ssl.create_default_context(cafile=requests.certs.where())
        if self.config.ca_bundle:
            context.load_verify_locations(cafile=self.config.ca_bundle)
        context.sslsocket_class = _DeadlineSSLSocket
        options = {
            "num_pools": max(_HOSTS_KEPT, -(-threads // per_host)),
            "maxsize": threads if self.config.proxy else per_host,
            "ssl_context": context,
        }
        # Our own pool manager: nothing is read from the environment (HTTP_PROXY, NO_PROXY...).
        self._pools = (
            ProxyManager(self.config.proxy, **options)
            if self.config.proxy
            else PoolManager(**options)
        )
        self._pools.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def get(self, url: str, *, max_bytes: int, **options: Any) -> Response:
        return self.request("GET", url, max_bytes=max_bytes, **options)

    def post(self, url: str, data: bytes, *, max_bytes: int, **options: Any) -> Response:
        return self.request("POST", url, data=data, max_bytes=max_bytes, **options)

    def request(
        self,
        method: str,
        url: str,
        *,
        max_bytes: int,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
        allow_redirects: bool = True,
        cancellation: Cancellation | None = None,
    ) -> Response:
        """Fetch `url`, following up to `max_redirects` redirects unless told not to.

        `deadline` (seconds, default from the config) bounds everything, redirects included.
        `cancellation` lets another thread end the request (it then raises `Cancelled`).
        """
        all_headers = HTTPHeaderDict({"User-Agent": self.config.user_agent})
        # Compressed bodies are welcome: they are decoded under the size cap (_read_capped).
        all_headers["Accept-Encoding"] = "gzip, deflate"
        all_headers.update(headers or {})
        budget = self.config.deadline if deadline is None else deadline
        exchange = _Exchange(
            url, method, data, all_headers, budget, self.config, self._resolver, cancellation
        )
        token = _EXCHANGE.set(exchange)
        try:
            raw = self._follow(exchange, allow_redirects)
            content = _read_body(exchange, raw, max_bytes)
        finally:
            _EXCHANGE.reset(token)
            cancelled = cancellation is not None and cancellation.finished()
        if cancelled:  # a body read to a shut-down socket's end may be cut short
            raise Cancelled(exchange.url, "cancelled")
        elapsed = time.monotonic() - exchange.started
        return Response(exchange.url, raw.status, HTTPHeaderDict(raw.headers), content, elapsed)

    def close(self) -> None:
        self._pools.clear()

    def __enter__(self) -> GuardedClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _follow(self, exchange: _Exchange, allow_redirects: bool) -> BaseHTTPResponse:
        """Send, and re-send to each redirect target (each re-checked): the last response."""
        for _hop in range(self.config.max_redirects + 1):
            exchange.url = self._checked(exchange.url)
            raw = self._send(exchange)
            location = raw.headers.get("Location") if raw.status in _REDIRECTS else None
            if not allow_redirects or not location:
                return raw
            _discard(raw)
            _redirect(exchange, raw.status, urljoin(exchange.url, location))
        raise TooManyRedirects(exchange.url, f"more than {self.config.max_redirects} redirects")

    def _checked(self, url: str) -> str:
        """The URL, normalised by the parser urllib3 uses, if it may be fetched at all."""
        try:
            parsed = parse_url(url)
        except LocationParseError as error:
            raise BadURL(url, f"unparseable URL: {error}") from None
        if parsed.scheme not in ("http", "https"):
            raise BadScheme(url, f"scheme {parsed.scheme!r} is not http or https")
        if not parsed.host:
            raise BadURL(url, "no host")
        if not self.config.allow_private_addresses and not is_public_host(parsed.host):
            raise BlockedAddress(url, f"{parsed.host} is not a public address")
        return parsed.url

    def _send(self, exchange: _Exchange) -> BaseHTTPResponse:
        try:
            # The read timeout is re-armed per socket call anyway (_DeadlineMixin).
            timeout = PoolTimeout(connect=self.config.connect_timeout, read=exchange.time_left())
            return self._pools.urlopen(
                exchange.method,
                exchange.url,
                body=exchange.data,
                headers=exchange.headers,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=False,
                timeout=timeout,
            )
        except FetchError:
            raise
        except (HTTPError, HTTPException, OSError) as error:
            raise _transport_error(exchange, error) from error
