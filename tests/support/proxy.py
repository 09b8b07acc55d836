"""A tiny HTTP proxy on loopback for tests: CONNECT tunnels and absolute-form forwarding.

It records every request it carries (`proxy.requests`, e.g. "CONNECT sogs.example:443") and
resolves names through its own `hosts` map before DNS, so a test can show that behind a proxy
the client leaves name resolution to the proxy. A host it cannot connect to gets a 502 at once,
as real gateways answer; `answers` makes it answer some paths itself (a CDN's 429, a WAF's 403).

    with LoopbackProxy(hosts={"sogs.example": "127.0.0.1"}, answers={"/rooms": 503}) as proxy:
        HttpConfig(proxy=proxy.url)
"""

from __future__ import annotations

import selectors
import socket
import socketserver
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.support.loopback import BackgroundServer

# Hop-by-hop headers a proxy must not pass on.
_HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization"}


class LoopbackProxy(BackgroundServer):
    """An HTTP proxy on a loopback port; `requests` lists what it carried, in order."""

    def __init__(
        self, hosts: Mapping[str, str] | None = None, answers: Mapping[str, int] | None = None
    ) -> None:
        self.hosts = dict(hosts or {})
        self.answers = dict(answers or {})  # path -> the status the proxy answers it with
        self.requests: list[str] = []
        self.stopping = threading.Event()
        self._httpd = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self._httpd.owner = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def connect(self, host: str, port: int) -> socket.socket:
        return socket.create_connection((self.hosts.get(host, host), port), timeout=5)


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    owner: LoopbackProxy

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # without HTTPServer's reverse DNS lookup
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: _ProxyServer

    def do_CONNECT(self) -> None:
        owner = self.server.owner
        owner.requests.append(f"CONNECT {self.path}")
        host, _, port = self.path.rpartition(":")
        try:
            upstream = owner.connect(host.strip("[]"), int(port))
        except OSError:
            self.send_error(502)
            return
        with upstream:
            self.send_response(200, "Connection established")
            self.end_headers()
            _pipe(self.connection, upstream, owner.stopping)
        self.close_connection = True

    def forward(self) -> None:
        """Pass an absolute-form request on in origin form, and the whole reply back."""
        owner = self.server.owner
        owner.requests.append(f"{self.command} {self.path}")
        target = urlsplit(self.path)
        if target.scheme != "http" or not target.hostname:
            self.send_error(400)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if target.path in owner.answers:
            self.send_error(owner.answers[target.path])
            self.close_connection = True
            return
        origin_form = (target.path or "/") + (f"?{target.query}" if target.query else "")
        lines = [f"{self.command} {origin_form} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
        lines.append("Connection: close")  # so the reply ends where the upstream socket does
        try:
            with owner.connect(target.hostname, target.port or 80) as upstream:
                upstream.sendall("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body)
                reply = _read_until_closed(upstream)
        except OSError:
            self.send_error(502)
            return
        # This proxy closes every client connection after one reply, so it says so.
        status_line, _, rest = reply.partition(b"\r\n")
        self.wfile.write(status_line + b"\r\nConnection: close\r\n" + rest)
        self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = forward

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _read_until_closed(sock: socket.socket) -> bytes:
    parts = []
    while chunk := sock.recv(65536):
        parts.append(chunk)
    return b"".join(parts)


def _pipe(one: socket.socket, other: socket.socket, stopping: threading.Event) -> None:
    """Copy bytes both ways until either side closes (a CONNECT tunnel)."""
    peer = {one: other, other: one}
    with selectors.DefaultSelector() as selector:
        for sock in peer:
            selector.register(sock, selectors.EVENT_READ)
        while not stopping.is_set():
            for key, _ in selector.select(timeout=0.1):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peer[sock].sendall(data)
                except OSError:
                    return
