"""Talking to one SOGS: the modern HTTP API (pysogs `sogs/routes/`), the legacy API through v3
onion requests (pysogs `sogs/routes/legacy.py`), and proving the server's key.

`HostSession` sends one request at a time to one host under the crawler's retry policy; the
functions below read rooms and prove keys on top of it. No database here: results are values.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import nacl.bindings
import nacl.exceptions

from crawler import failures, proof
from crawler.conf import CrawlConfig
from crawler.failures import (
    BadSogsResponse,
    KeyMismatch,
    NotASogsServer,
    PollError,
    ServerTimedOut,
    ServerUnreachable,
)
from crawler.hedging import AllTimedOut, AttemptFailed, hedged_request
from directory.lib import http, onion
from directory.lib.joinlinks import JoinLink, find_join_links, format_base_url
from directory.lib.roomtext import clean_text
from directory.lib.sogs import TOKEN, ProofKind
from directory.models import Server

_LEGACY_ROOM_LIMIT = 100
_TOKEN_FALLBACK_LIMIT = 20


Address = tuple[str, str, int | None]  # scheme, host, port (None: the scheme's default)


class HostSession:
    """Requests to one base URL. Until the host has answered, a request is up to
    `len(probe_deadlines)` hedged attempts (`crawler/hedging.py`: a host that never answers is
    given up on after about two deadlines); once it has answered, requests get the full
    deadline and one attempt."""

    def __init__(self, client: http.GuardedClient, base_url: str, config: CrawlConfig) -> None:
        self.client = client
        self.base_url = base_url
        self.config = config
        self.answered = False
        self.requests = 0
        self.room_pages: dict[str, list[JoinLink] | None] = {}  # token -> its page's join links

    def request(
        self,
        method: str,
        path: str,
        *,
        max_bytes: int,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> http.Response:
        url = self.base_url + path
        options: dict[str, Any] = {"max_bytes": max_bytes, "data": data, "headers": headers}
        if self.answered:
            self.requests += 1
            try:
                return self.client.request(method, url, deadline=self.config.deadline, **options)
            except http.FetchError as error:
                raise failures.from_fetch_error(error) from error
        deadlines = self.config.probe_deadlines
        try:
            hedged = hedged_request(self.client, method, url, deadlines=deadlines, **options)
        except AllTimedOut as error:  # accepted but silent, or dripping, every time
            self.requests += error.attempts
            reason = f"no answer after {error.attempts} attempts: {error.reason}"
            raise ServerTimedOut(reason) from error
        except AttemptFailed as failed:
            self.requests += failed.attempts
            raise failures.from_fetch_error(failed.error) from failed.error
        self.requests += hedged.attempts
        self.answered = True
        return hedged.response


# --- Results -------------------------------------------------------------------------------------


@dataclass
class AddressPoll:
    """What polling one address found. `pubkey` is the key the server proved (or, with
    `proof` None, the only key claimed for it, unproven); `mismatches` maps refuted keys to why."""

    address: Address
    claimed: frozenset[str]
    api_kind: Server.ApiKind = Server.ApiKind.UNKNOWN
    capabilities: list[str] = field(default_factory=list)
    pubkey: str = ""
    proof: ProofKind | None = None
    rooms: list[dict[str, Any]] = field(default_factory=list)
    complete_listing: bool = False  # rooms came from the server's full list
    mismatches: dict[str, str] = field(default_factory=dict)
    error: PollError | None = None
    requests: int = 0
    icons: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # token_key -> image
    # A legacy server's `member_count` by token_key: not SOGS `active_users` (see rooms.py).
    member_counts: dict[str, int | None] = field(default_factory=dict)
    failed_attempts: list[tuple[Address, str]] = field(default_factory=list)  # e.g. https
    advertised_base_url: str = ""  # the base URL the room page gives with the proven key
    seconds: float = 0.0  # how long polling the address (and fetching its icons) took

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.pubkey)

    @property
    def base_url(self) -> str:
        return format_base_url(*self.address)


# --- Modern SOGS ---------------------------------------------------------------------------------


def _get_json(session: HostSession, path: str, *, max_bytes: int) -> Any:
    """The JSON of a 200 answer to ``GET path``, or None for any other status or bad JSON."""
    response = session.request("GET", path, max_bytes=max_bytes)
    if response.status != 200:
        return None
    try:
        return response.json()
    except http.BadResponse:
        return None


def read_capabilities(session: HostSession) -> tuple[list[str] | None, PollError | None]:
    """The capabilities of a modern SOGS, or None and why the answer is not one: None for a
    404 (a legacy server has no `/capabilities`), else the failure it would explain if the
    legacy API fails too. A failed request raises (the host is not answering at all)."""
    path = "/capabilities"
    response = session.request("GET", path, max_bytes=64_000)
    if response.status in (404, 405):
        return None, None
    if response.status != 200:
        return None, failures.from_status(session.base_url + path, response.status)
    try:
        data = response.json()
    except http.BadResponse as error:
        # pysogs answers JSON (Flask's `jsonify`): broken JSON is a broken SOGS reply, a page
        # of anything else (a web server's "It works!") is no SOGS at all.
        if "json" in response.headers.get("Content-Type", "").lower():
            return None, BadSogsResponse(f"{session.base_url}{path}: {error.reason}")
        return None, NotASogsServer(f"{session.base_url}{path} does not answer JSON")
    caps = data.get("capabilities") if isinstance(data, dict) else None
    if not isinstance(caps, list) or "sogs" not in caps:
        return None, NotASogsServer(f"{session.base_url}{path} is not a SOGS answer")
    return [clean_text(cap, 64) for cap in caps if isinstance(cap, str)][:50], None


def read_rooms(session: HostSession) -> list[dict] | None:
    """The room objects of `GET /rooms`, or None when the list is unusable."""
    try:
        response = session.request("GET", "/rooms", max_bytes=session.config.max_rooms_bytes)
        data = response.json() if response.status == 200 else None
    except (http.BadResponse, BadSogsResponse):
        return None
    return data if isinstance(data, list) else None


def read_room(session: HostSession, token: str) -> dict | None:
    """One room object by token (for rooms `/rooms` did not give), or None."""
    data = _get_json(session, f"/room/{token}", max_bytes=session.config.max_rooms_bytes)
    return data if isinstance(data, dict) else None


def prove_key_v4(session: HostSession, pubkey: str) -> proof.Finding:
    """Send `GET /capabilities` through a v4 onion request encrypted to `pubkey`, and judge the
    reply (`crawler/proof.py`). A request that fails (the host answered the rest of the poll)
    tells nothing about the key."""
    body, channel = onion.build_request(pubkey, onion.build_v4_request("GET", "/capabilities"))
    try:
        response = session.request("POST", "/oxen/v4/lsrpc", max_bytes=1_000_000, data=body)
    except PollError as error:
        return proof.unknown(error.reason)
    return proof.judge_reply(response.status, response.content, channel, v3=False)


def room_page_links(session: HostSession, token: str) -> list[JoinLink] | None:
    """The join links on the server's own `/r/<token>/` page, or None without one; the page is
    read once per session. pysogs shows `room.url` there (`sogs/templates/view_room.html`):
    `<URL_BASE>/<token>?public_key=<key>`, the base URL its operator configured."""
    if token not in session.room_pages:
        response = session.request("GET", f"/r/{token}/", max_bytes=1_000_000)
        page = response.content.decode("utf-8", "replace") if response.status == 200 else None
        session.room_pages[token] = None if page is None else find_join_links(page)
    return session.room_pages[token]


def keys_on_room_page(session: HostSession, token: str) -> set[str] | None:
    """The keys in the join links of the server's own `/r/<token>/` page, or None without one."""
    links = room_page_links(session, token)
    return None if links is None else {link.pubkey for link in links}


def advertised_base_url(session: HostSession, poll: AddressPoll) -> str:
    """The base URL of the join link on the first room's page that carries the key the poll
    proved, or "" (no proof, no room, no page, or a page showing other keys only)."""
    token = str(poll.rooms[0].get("token", "")) if poll.rooms else ""
    if poll.proof is None or not TOKEN.match(token):
        return ""
    try:
        links = room_page_links(session, token) or []
    except PollError:
        return ""  # the server answered everything else: a broken page does not fail the poll
    return next((link.base_url for link in links if link.pubkey == poll.pubkey), "")


def poll_modern(session: HostSession, poll: AddressPoll, tokens: Iterable[str]) -> None:
    rooms = read_rooms(session)
    poll.complete_listing = rooms is not None
    rooms = [room for room in rooms or [] if isinstance(room, dict)]
    listed = {str(room.get("token", "")).lower() for room in rooms}
    for token in [token for token in tokens if token.lower() not in listed][:_TOKEN_FALLBACK_LIMIT]:
        room = read_room(session, token)
        if room is not None:
            rooms.append(room)
    poll.rooms = rooms
    prove_modern_key(session, poll, [str(room.get("token", "")) for room in rooms])
    poll.advertised_base_url = advertised_base_url(session, poll)


def prove_modern_key(session: HostSession, poll: AddressPoll, tokens: list[str]) -> None:
    """Prove one of the claimed keys (v4 first, then the room page); refute the others.

    An address known without a key (`crawl --server URL`) takes the keys its own room page
    shows as claims, which the v4 request then proves.
    """
    page_keys: set[str] | None = None
    if not poll.claimed and tokens and tokens[0]:
        page_keys = keys_on_room_page(session, tokens[0]) or set()
        poll.claimed = frozenset(page_keys)
    for pubkey in sorted(poll.claimed):
        finding, method = prove_key_v4(session, pubkey), ProofKind.V4
        if finding.verdict is proof.Verdict.NO_ENDPOINT and tokens and tokens[0]:
            if page_keys is None:
                page_keys = keys_on_room_page(session, tokens[0]) or set()
            finding, method = _page_finding(pubkey, page_keys), ProofKind.PAGE
        if finding.verdict is proof.Verdict.PROVEN:
            poll.pubkey, poll.proof = pubkey, method
        elif finding.verdict is proof.Verdict.REFUTED:
            poll.mismatches[pubkey] = (
                f"{poll.base_url} did not prove this key ({method}: {finding.why})"
            )
    if not poll.claimed:
        poll.error = KeyMismatch(f"no key is known for {poll.base_url}, and no room page shows one")
        return
    if not poll.pubkey:
        unrefuted = poll.claimed - set(poll.mismatches)
        if len(unrefuted) == 1:
            poll.pubkey = next(iter(unrefuted))  # nothing could prove or refute it: unverified
        elif not unrefuted:
            poll.error = KeyMismatch(f"{poll.base_url} proved none of the keys its links claim")


def _page_finding(pubkey: str, page_keys: set[str]) -> proof.Finding:
    """Without a v4 endpoint, the server's own room page: the keys its join links show."""
    if not page_keys:
        return proof.unknown("no room page shows a key")
    if pubkey in page_keys:
        return proof.Finding(proof.Verdict.PROVEN, "its room page shows this key")
    return proof.Finding(proof.Verdict.REFUTED, "its room page shows another key")


# --- Legacy SOGS (v3 onion requests to /loki/v3/lsrpc) -------------------------------------------


def legacy_call(
    session: HostSession,
    pubkey: str,
    endpoint: str,
    *,
    method: str = "GET",
    body: str = "",
    headers: dict[str, str] | None = None,
) -> dict | None:
    """One legacy endpoint through a v3 request; the decoded JSON, or None on an inner non-200.

    Raises KeyMismatch when the reply refutes the key (`crawler/proof.py`), NotASogsServer
    without the endpoint, and the failure its status explains when it tells nothing of the key.
    """
    path = "/loki/v3/lsrpc"
    payload = onion.build_v3_request(method, endpoint, body=body, headers=headers)
    outer, channel = onion.build_request(pubkey, payload)
    response = session.request("POST", path, max_bytes=15_000_000, data=outer)
    finding = proof.judge_reply(response.status, response.content, channel, v3=True)
    if finding.verdict is proof.Verdict.NO_ENDPOINT:
        raise NotASogsServer(f"{session.base_url} has neither /capabilities nor {path}")
    if finding.verdict is proof.Verdict.REFUTED:
        raise KeyMismatch(f"{session.base_url} did not prove this key (v3: {finding.why})")
    if finding.plaintext is None:
        raise failures.from_status(session.base_url + path, response.status)
    try:
        reply = onion.parse_v3_response(finding.plaintext)
        data = json.loads(reply.body)
    except (onion.OnionError, ValueError, RecursionError) as error:
        raise BadSogsResponse(f"{session.base_url}: bad v3 reply ({error})"[:300]) from None
    if reply.status != 200 or not isinstance(data, dict):
        return None
    return data


def poll_legacy(session: HostSession, poll: AddressPoll, crawler_privkey: bytes) -> None:
    """Read a legacy server's rooms; the reply decrypting proves the claimed key (v3). A key
    whose reply told nothing (a 502 from a gateway...) is neither proven nor refuted: the
    poll fails with the reason, and the key keeps its state."""
    unknown: list[PollError] = []
    for pubkey in sorted(poll.claimed):
        try:
            data = legacy_call(session, pubkey, "rooms")
        except KeyMismatch as error:
            poll.mismatches[pubkey] = error.reason
            continue
        except (ServerUnreachable, ServerTimedOut, failures.HttpErrorReply) as error:
            unknown.append(error)
            continue
        # The reply decrypted: the key is proven whatever the reply says (`crawler/proof.py`).
        poll.pubkey, poll.proof, poll.api_kind = pubkey, ProofKind.V3, Server.ApiKind.LEGACY
        rooms = data.get("rooms") if data else None
        if not isinstance(rooms, list):
            raise BadSogsResponse(f"{session.base_url}: legacy room list is not a list")
        poll.complete_listing = True
        poll.rooms = [_legacy_room(room) for room in rooms[:_LEGACY_ROOM_LIMIT]]
        poll.rooms = [room for room in poll.rooms if room]
        for room in poll.rooms:
            poll.member_counts[room["token"].lower()] = legacy_member_count(
                session, pubkey, room["token"], crawler_privkey
            )
        return
    poll.error = failures.most_informative(unknown) or KeyMismatch(
        f"{session.base_url} proved none of the keys its links claim"
    )


def _legacy_room(room: object) -> dict | None:
    if not isinstance(room, dict) or not isinstance(room.get("id"), str):
        return None
    return {"token": room["id"], "name": room.get("name")}


def legacy_member_count(
    session: HostSession, pubkey: str, token: str, crawler_privkey: bytes
) -> int | None:
    """The legacy auth-token flow (pysogs `sogs/routes/legacy.py`): challenge, claim, then
    `member_count`."""
    user_pubkey = nacl.bindings.crypto_scalarmult_base(crawler_privkey)
    session_id = "05" + user_pubkey.hex()
    try:
        challenge = legacy_call(
            session,
            pubkey,
            f"auth_token_challenge?public_key={session_id}",
            headers={"Room": token},
        )
        auth_token = _solve_challenge(challenge, crawler_privkey, user_pubkey)
        if auth_token is None:
            return None
        headers = {"Room": token, "Authorization": auth_token}
        claim = json.dumps({"public_key": session_id})
        legacy_call(session, pubkey, "claim_auth_token", method="POST", body=claim, headers=headers)
        counted = legacy_call(session, pubkey, "member_count", headers=headers)
    except PollError:
        return None
    count = counted.get("member_count") if counted else None
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None


def _solve_challenge(challenge: dict | None, privkey: bytes, user_pubkey: bytes) -> str | None:
    try:
        inner = challenge["challenge"]  # type: ignore[index]
        ephemeral = base64.b64decode(inner["ephemeral_public_key"])
        ciphertext = base64.b64decode(inner["ciphertext"])
        shared = nacl.bindings.crypto_scalarmult(privkey, ephemeral)
        channel = onion.Channel.derive(onion.EncType.AES_GCM, shared, user_pubkey, ephemeral)
        return channel.decrypt(ciphertext).hex()
    except (TypeError, KeyError, ValueError, onion.OnionError, nacl.exceptions.CryptoError):
        return None


# --- One address ---------------------------------------------------------------------------------


def poll_address(
    client: http.GuardedClient,
    config: CrawlConfig,
    address: Address,
    claimed: Iterable[str],
    tokens: Iterable[str] = (),
    crawler_privkey: bytes = b"",
) -> AddressPoll:
    """Poll one address; an https address that fails is retried over http. Never raises.
    When both fail, the poll keeps the most informative failure of the two."""
    poll = AddressPoll(address, frozenset(claimed))
    scheme, host, port = address
    attempts = [address]
    if scheme == "https":
        attempts.append(("http", host, None if port is None else port))
    requests, failed, errors = 0, [], []
    for attempt in attempts:
        poll = AddressPoll(attempt, frozenset(claimed), failed_attempts=list(failed))
        session = HostSession(client, format_base_url(*attempt), config)
        try:
            _poll(session, poll, list(tokens), crawler_privkey)
        except PollError as error:
            poll.error = error
        requests += session.requests
        if not isinstance(poll.error, ServerUnreachable | ServerTimedOut):
            break
        failed.append((attempt, poll.error.reason))
        errors.append(poll.error)
    if poll.error is not None:
        poll.error = failures.most_informative([*errors, poll.error])
    poll.requests = requests
    return poll


def _poll(session: HostSession, poll: AddressPoll, tokens: list[str], privkey: bytes) -> None:
    capabilities, not_modern = read_capabilities(session)
    if capabilities is not None:
        poll.api_kind, poll.capabilities = Server.ApiKind.MODERN, capabilities
        poll_modern(session, poll, tokens)
    elif poll.claimed:
        try:
            poll_legacy(session, poll, privkey)
        except PollError as error:
            poll.error = error
        if poll.error is not None:  # whichever of the two answers explains more
            poll.error = failures.most_informative([poll.error, not_modern])
    else:
        raise not_modern or NotASogsServer(f"{session.base_url} does not answer /capabilities")
