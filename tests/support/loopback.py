"""Real HTTP(S) servers on loopback for tests, with per-path handlers for healthy, hostile and
broken replies, and counters of what each path was asked and what it sent.

    with LoopbackServer() as server:
        rooms_url = server.route("/rooms", json_reply([{"token": "lobby"}]))
        hang_url = server.route("/hang", blackhole())
        ...
        assert server.hits["/rooms"] == 1

A handler is any function of the `LoopbackHandler` serving the request (use its `reply()` and
`write()`). The factories below cover what the crawler must survive on the real internet:
`blackhole`, `slow_drip`, `stream` (oversized bodies), `redirect`, `gzip_bomb`. Servers speak
HTTP/1.1 with keep-alive; `make_certificates()` gives them TLS with a throwaway CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import socketserver
import ssl
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Handler = Callable[["LoopbackHandler"], None]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes


class StartsInBlock:
    """Something a test starts and stops, also as `with thing:` (started for the block)."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class BackgroundServer(StartsInBlock):
    """Runs ``self._httpd`` in ``self._thread``; a context manager that starts and stops it.

    ``stopping`` is set on stop, so long-running handlers can give up.
    """

    _httpd: socketserver.BaseServer
    _thread: threading.Thread
    stopping: threading.Event

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()


class LoopbackServer(BackgroundServer):
    """A threaded HTTP server on a loopback port, routing exact paths (query ignored) to handlers.

    `hits[path]` counts requests per path, `bytes_sent[path]` the body bytes handed to the
    kernel (so a test can show a client stopped reading early), `requests` records them all.
    Unrouted paths get a 404. `stopping` is set on stop: long-running handlers should wait on it.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        tls: ssl.SSLContext | None = None,
        latency: float = 0.0,
        poll_interval: float = 0.01,
    ) -> None:
        self.host = host
        self.tls = tls
        self.latency = latency  # seconds every request waits before its handler runs
        self.routes: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.bytes_sent: Counter[str] = Counter()
        self.requests: list[RecordedRequest] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        server_class = _Server6 if ":" in host else _Server
        self._httpd = server_class((host, 0), LoopbackHandler)
        self._httpd.owner = self
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
        )

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        """The URL of `path`, optionally under another name for this server (e.g. a pinned one)."""
        host = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> str:
        """Serve `path` with `handler`; returns its URL."""
        self.routes[path] = handler
        return self.url(path)

    def _record(self, route: str, request: RecordedRequest) -> None:
        with self._lock:
            self.hits[route] += 1
            self.requests.append(request)

    def _count_sent(self, route: str, size: int) -> None:
        with self._lock:
            self.bytes_sent[route] += size


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # handlers parked in a blackhole must not block shutdown
    request_queue_size = 128  # concurrency tests open dozens of connections at once
    owner: LoopbackServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind() would do a reverse DNS lookup (getfqdn); loopback needs none.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-reply is what these tests do; no tracebacks


class _Server6(_Server):
    address_family = socket.AF_INET6


class LoopbackHandler(BaseHTTPRequestHandler):
    """Serves one connection of a `LoopbackServer`, handing each request to its route."""

    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is exercised
    timeout = 30  # an idle keep-alive connection is dropped eventually
    server: _Server

    def setup(self) -> None:
        tls = self.server.owner.tls
        if tls is not None:
            # Handshake in this connection's thread, so a stalled client blocks nobody else.
            self.request = tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def finish(self) -> None:
        super().finish()
        if self.server.owner.tls is not None:
            self.request.close()  # the server only closes the raw socket it accepted

    def dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.route = self.path.split("?", 1)[0]
        headers = dict(self.headers.items())
        self.recorded = RecordedRequest(self.command, self.path, headers, body)
        self.owner._record(self.route, self.recorded)
        if self.owner.latency and self.owner.stopping.wait(self.owner.latency):
            return
        self.owner.routes.get(self.route, not_found)(self)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = dispatch

    @property
    def owner(self) -> LoopbackServer:
        return self.server.owner

    def reply(
        self,
        status: int = 200,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send a complete response; Content-Length is added unless `headers` has one."""
        headers = {"Content-Type": "application/octet-stream", **(headers or {})}
        headers.setdefault("Content-Length", str(len(body)))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.write(body)

    def write(self, data: bytes) -> bool:
        """Send raw bytes, counting them; False (and the connection closes) once the client left."""
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True
            return False
        self.owner._count_sent(self.route, len(data))
        return True

    def log_message(self, format: str, *args: Any) -> None:
        pass


# --- Handlers ------------------------------------------------------------------------------------


def not_found(handler: LoopbackHandler) -> None:
    handler.reply(404, b"not found", {"Content-Type": "text/plain"})


def reply(
    body: bytes = b"", status: int = 200, headers: Mapping[str, str] | None = None
) -> Handler:
    """A fixed response."""
    return lambda handler: handler.reply(status, body, headers)


def json_reply(value: object, status: int = 200) -> Handler:
    """A fixed JSON response."""
    return reply(json.dumps(value).encode(), status, {"Content-Type": "application/json"})


def echo() -> Handler:
    """Replies with the request as JSON: method, path, headers and body (as latin-1 text)."""

    def handle(handler: LoopbackHandler) -> None:
        request = handler.recorded
        value = {**request.__dict__, "body": request.body.decode("latin-1")}
        handler.reply(200, json.dumps(value).encode(), {"Content-Type": "application/json"})

    return handle


def redirect(location: str, status: int = 302) -> Handler:
    """A redirect to `location` (absolute or relative)."""
    return reply(b"", status, {"Location": location})


def blackhole() -> Handler:
    """Accepts the request and never answers (the "bad routing to Chinese servers" that other
    directories' crawlers report)."""

    def handle(handler: LoopbackHandler) -> None:
        handler.owner.stopping.wait()
        handler.close_connection = True

    return handle


def flaky(handler: Handler, failures: int = 1) -> Handler:
    """The first `failures` requests never get an answer (like `blackhole`); later ones are
    served by `handler`: a route that only answers a retry."""
    lock = threading.Lock()
    seen = [0]

    def handle(request: LoopbackHandler) -> None:
        with lock:
            seen[0] += 1
            hang = seen[0] <= failures
        if hang:
            blackhole()(request)
        else:
            handler(request)

    return handle


def slow_drip(body: bytes, interval: float = 1.0, *, whole_response: bool = False) -> Handler:
    """Headers at once, then the body one byte per `interval` seconds (slow-loris); with
    `whole_response`, even the status line and headers are dripped."""

    def handle(handler: LoopbackHandler) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        if not whole_response:
            handler.write(head)
        for byte in (head + body) if whole_response else body:
            if handler.owner.stopping.wait(interval) or not handler.write(bytes([byte])):
                break
        handler.close_connection = True

    return handle


def stream(total: int, *, declare_length: bool = True, chunk_size: int = 64 * 1024) -> Handler:
    """`total` bytes of body, written as fast as the client takes them. Without
    `declare_length` the body has no Content-Length and ends when the connection closes."""

    def handle(handler: LoopbackHandler) -> None:
        handler.send_response(200)
        if declare_length:
            handler.send_header("Content-Length", str(total))
        handler.send_header("Connection", "close")
        handler.end_headers()
        chunk = b"x" * chunk_size
        left = total
        while left > 0 and handler.write(chunk[:left]):
            left -= chunk_size
        handler.close_connection = True

    return handle


def compressed(body: bytes, encoding: str = "gzip") -> Handler:
    """`body` with Content-Encoding gzip or deflate (zlib framing, as RFC 9110 says)."""
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    data = packer.compress(body) + packer.flush()
    return reply(data, headers={"Content-Encoding": encoding})


def gzip_bomb(decoded_size: int) -> Handler:
    """A small gzip body (about decoded_size / 1000 bytes) that inflates to `decoded_size`."""
    return reply(_gzipped_zeros(decoded_size), headers={"Content-Encoding": "gzip"})


@lru_cache
def _gzipped_zeros(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [
        packer.compress(block[: min(len(block), size - done)])
        for done in range(0, size, len(block))
    ]
    return b"".join(parts) + packer.flush()


# --- TLS -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    """A throwaway CA and a server certificate it signed."""

    ca_file: Path  # PEM, for a client's trust store (e.g. HttpConfig.ca_bundle)
    cert_file: Path  # PEM chain of the server
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificates(
    directory: Path,
    hostnames: Iterable[str] = ("sogs.example",),
    addresses: Iterable[str] = ("127.0.0.1",),
) -> Certificates:
    """Write a CA and a server certificate for `hostnames` and `addresses` into `directory`."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("Loopback test CA", ca_key.public_key(), ca_key, issuer=None)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in hostnames]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]
    cert = _certificate("loopback server", key.public_key(), ca_key, issuer=ca_cert, names=names)
    pem = serialization.Encoding.PEM
    files = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_file.write_bytes(ca_cert.public_bytes(pem))
    files.cert_file.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    files.key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files


def _certificate(
    common_name: str,
    public_key: ec.EllipticCurvePublicKey,
    signing_key: ec.EllipticCurvePrivateKey,
    *,
    issuer: x509.Certificate | None,
    names: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    is_ca = issuer is None
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    # The extensions strict X.509 checking (default from Python 3.13) insists on.
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(_key_usage(is_ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256())


def _key_usage(is_ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=is_ca,
        encipher_only=False,
        decipher_only=False,
    )
