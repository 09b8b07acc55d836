"""A simulated SOGS network on loopback: modern servers (HTTP API and a real v4 onion endpoint)
and legacy ones (v3 onion only, with the auth-token flow), built on `LoopbackServer`.

    with FakeSogs(rooms=[room("lobby")]) as sogs:
        sogs.join_link("lobby")            # http://127.0.0.1:PORT/lobby?public_key=...
        sogs.server.route("/rooms", blackhole())   # make it misbehave

Both decrypt with the server side of `directory.lib.onion`, so a request encrypted to any other
key fails as it would on a real server (plain 400).
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import ssl
from typing import Any, Self

import nacl.bindings

from directory.lib import onion
from tests.support.loopback import (
    LoopbackHandler,
    LoopbackServer,
    StartsInBlock,
    json_reply,
    reply,
)

# A 1x1 PNG, as room images are (any real PNG would do).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def room(token: str, name: str | None = None, **fields: Any) -> dict[str, Any]:
    """A room object shaped exactly like pysogs' `get_room_info` (`sogs/routes/rooms.py`) for an
    anonymous caller: these keys always (the staff lists of visible ids only; `created` the
    database's float, with its fraction), and the ones pysogs adds only when set passed in
    `fields`: `description` (omitted while None), `image_id` (omitted without an image) and
    `pinned_messages` (omitted while none is pinned; `pinned_message` builds one). An anonymous
    caller never gets `hidden_moderators`, `hidden_admins`, `moderator`, `admin` or the
    `default_*` permissions."""
    return {
        "token": token,
        "name": name or token.title(),
        "info_updates": 1,
        "message_sequence": 10,
        "created": 1_700_000_000.4119835,
        "active_users": 7,
        "active_users_cutoff": 604800,
        "admins": ["05" + "a" * 64],
        "moderators": [],
        "read": True,
        "write": True,
        "upload": True,
        **fields,
    }


def pinned_message(message_id: int, pinned_by: str, pinned_at: float) -> dict[str, Any]:
    """One entry of `pinned_messages`, as pysogs' `Room.pinned_messages` (`sogs/model/room.py`)
    builds it."""
    return {"id": message_id, "pinned_at": pinned_at, "pinned_by": pinned_by}


class _OnLoopback(StartsInBlock):
    """Started and stopped with its `server` (a LoopbackServer)."""

    server: LoopbackServer

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()


class FakeSogs(_OnLoopback):
    """A modern SOGS: /capabilities, /rooms, /room/<t>, /r/<t>/, files, and /oxen/v4/lsrpc."""

    def __init__(
        self,
        rooms: list[dict] | None = None,
        *,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
        latency: float = 0.0,
        privkey: bytes | None = None,
        v4: bool = True,
        poll_interval: float = 0.01,
        url_base: str | None = None,
    ) -> None:
        self.privkey = privkey or onion.generate_privkey()
        self.pubkey = onion.x25519_pubkey(self.privkey).hex()
        self.rooms = rooms if rooms is not None else [room("lobby")]
        # pysogs's URL_BASE (`sogs/config.py`), which its room pages show; None: its own URL.
        self.url_base = url_base
        self.images: dict[int, bytes] = {}
        # Inner replies by path that replace the usual ones inside v4 replies (which still
        # decrypt): pysogs answers any inner request it can decrypt this way, an inner 404 or
        # 500 included (`sogs/routes/onion_request.py`, `handle_v4_onionreq_plaintext`).
        self.inner_replies: dict[str, tuple[int, bytes]] = {}
        self.server = LoopbackServer(host, tls=tls, latency=latency, poll_interval=poll_interval)
        self.server.route(
            "/capabilities", json_reply({"capabilities": ["blind", "reactions", "sogs"]})
        )
        self.server.route("/rooms", lambda handler: self._json(handler, self.rooms))
        for data in self.rooms:
            if isinstance(data, dict) and isinstance(data.get("token"), str):
                self.add_room_routes(data)  # hostile lists may hold junk: no routes for it
        if v4:
            self.server.route("/oxen/v4/lsrpc", self._v4)

    # -- set-up --

    def add_room_routes(self, data: dict) -> None:
        token = data["token"]
        self.server.route(f"/room/{token}", lambda handler: self._json(handler, data))
        self.server.route(f"/r/{token}/", lambda handler: self._room_page(handler, token))
        if data.get("image_id") is not None:
            image = self.images.setdefault(data["image_id"], PNG)
            self.server.route(f"/room/{token}/file/{data['image_id']}", reply(image))

    @property
    def base_url(self) -> str:
        return self.server.url("").rstrip("/")

    def join_link(self, token: str, *, host: str | None = None, pubkey: str | None = None) -> str:
        base = self.server.url("", host=host).rstrip("/")
        return f"{base}/{token}?public_key={pubkey or self.pubkey}"

    # -- handlers --

    def _json(self, handler: LoopbackHandler, value: object) -> None:
        body = json.dumps(value).encode()
        handler.reply(200, body, {"Content-Type": "application/json"})

    def _room_page(self, handler: LoopbackHandler, token: str) -> None:
        # As pysogs `view_room.html` shows `room.url`: `<URL_BASE>/<token>?public_key=<key>`.
        base = self.url_base or self.base_url
        link = f"{base}/{token}?public_key={self.pubkey}"
        page = f"<html><body><h1>{token}</h1><pre>{link}</pre></body></html>"
        handler.reply(200, page.encode(), {"Content-Type": "text/html"})

    def _v4(self, handler: LoopbackHandler) -> None:
        try:
            opened = onion.open_request(handler.recorded.body, self.privkey)
            request = onion.parse_v4_request(opened.payload)
        except onion.OnionError:
            handler.reply(400, b"Invalid onion request", {"Content-Type": "text/plain"})
            return
        status, body = self._inner(request.path)
        inner = onion.build_v4_response(status, {"content-type": "application/json"}, body)
        handler.reply(200, opened.channel.encrypt(inner))

    def _inner(self, path: str) -> tuple[int, bytes]:
        if path in self.inner_replies:
            return self.inner_replies[path]
        if path == "/capabilities":
            return 200, json.dumps({"capabilities": ["blind", "reactions", "sogs"]}).encode()
        if path == "/rooms":
            return 200, json.dumps(self.rooms).encode()
        for data in self.rooms:
            if isinstance(data, dict) and path.lower() == f"/room/{data.get('token')}".lower():
                return 200, json.dumps(data).encode()
        return 404, b"not found"


class FakeLegacySogs(_OnLoopback):
    """A rust-sogs style legacy server: `GET /` and `POST /loki/v3/lsrpc` only; its endpoints
    answer as pysogs' emulation of them does (`sogs/routes/legacy.py`)."""

    def __init__(
        self,
        rooms: list[dict] | None = None,
        *,
        host: str = "127.0.0.1",
        member_counts: dict[str, int] | None = None,
        latency: float = 0.0,
        privkey: bytes | None = None,
        poll_interval: float = 0.01,
    ) -> None:
        self.privkey = privkey or onion.generate_privkey()
        self.pubkey = onion.x25519_pubkey(self.privkey).hex()
        self.rooms = rooms if rooms is not None else [{"id": "main", "name": "Main"}]
        self.member_counts = member_counts or {}
        # Legacy endpoints answering only `{"status_code": N}` inside a reply that decrypts, as
        # pysogs' v3 handler does for a failed sub-request (`handle_v3_onionreq_plaintext`).
        self.inner_status: dict[str, int] = {}
        self.issued: dict[str, str] = {}  # hex auth token -> session id
        self.claimed: set[str] = set()
        self.server = LoopbackServer(host, latency=latency, poll_interval=poll_interval)
        self.server.route(
            "/",
            reply(b"This is a Session open group server.", headers={"Content-Type": "text/plain"}),
        )
        self.server.route("/loki/v3/lsrpc", self._v3)

    def join_link(self, token: str) -> str:
        return f"{self.server.url('').rstrip('/')}/{token}?public_key={self.pubkey}"

    def _v3(self, handler: LoopbackHandler) -> None:
        try:
            opened = onion.open_request(handler.recorded.body, self.privkey)
            request = json.loads(opened.payload)
        except (onion.OnionError, ValueError):
            handler.reply(400, b"", {"Content-Type": "text/plain"})
            return
        answer = self._call(request)
        # A v3 reply is base64 text of the encrypted bytes (pysogs `handle_v3_onion_request`).
        handler.reply(200, base64.b64encode(opened.channel.encrypt(json.dumps(answer).encode())))

    def _call(self, request: dict) -> dict:
        endpoint, headers = request["endpoint"], request.get("headers") or {}
        path, _, query = endpoint.partition("?")
        if path in self.inner_status:
            return {"status_code": self.inner_status[path]}
        if path == "rooms":
            return {"status_code": 200, "rooms": self.rooms}
        if path == "auth_token_challenge":
            return self._challenge(query.removeprefix("public_key="))
        token = headers.get("Authorization", "")
        if path == "claim_auth_token" and token in self.issued:
            self.claimed.add(token)
            return {"status_code": 200}
        if path == "member_count" and token in self.claimed:
            return {
                "status_code": 200,
                "member_count": self.member_counts.get(headers.get("Room"), 0),
            }
        return {"status_code": 401 if path == "member_count" else 404}

    def _challenge(self, session_id: str) -> dict:
        user_key = bytes.fromhex(session_id[2:])
        ephemeral_priv = onion.generate_privkey()
        ephemeral_pub = onion.x25519_pubkey(ephemeral_priv)
        shared = nacl.bindings.crypto_scalarmult(ephemeral_priv, user_key)
        key = hmac.digest(b"LOKI", shared, "sha256")
        token = os.urandom(48)
        channel = onion.Channel(onion.EncType.AES_GCM, key)
        self.issued[token.hex()] = session_id
        return {
            "status_code": 200,
            "challenge": {
                "ciphertext": base64.b64encode(channel.encrypt(token)).decode(),
                "ephemeral_public_key": base64.b64encode(ephemeral_pub).decode(),
            },
        }


def lobby_targets(*servers: FakeSogs):
    """What the crawler polls for `servers` on loopback: each one's room "lobby", over http."""
    # Imported here: this module also serves simulated networks in processes without Django.
    from crawler.polling import Targets

    targets = Targets()
    for server in servers:
        targets.add(("http", "127.0.0.1", server.server.port), server.pubkey, ["lobby"])
    return targets
