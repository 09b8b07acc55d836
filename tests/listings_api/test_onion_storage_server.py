"""The onion endpoint as the storage server relaying to it sees it: whatever it sends, the outer
status is 200 or 400, with the production settings (HTTPS redirect on) and over plain HTTP.

The hop is shaped from oxen-storage-server: it reads host, port (443), protocol ("https") and
target from the envelope's outer JSON, relays only targets under /loki/ or /oxen/ ending in
/lsrpc (`oxenss/rpc/onion_processing.cpp`), POSTs the whole envelope with its own User-Agent and
`Content-Type: application/octet-stream`, follows no redirect, and hands our status and body
back to the client as they are (`oxenss/rpc/request_handler.cpp`, `process_onion_req` to a
server). The client then takes any status but 200, 400 and 404 for a fault of its own path
(Desktop `ts/session/apis/snode_api/onions.ts` `processAnyOtherErrorOnPath`, Android
`OnionRequestAPI.kt` `sendOnionRequest`).
"""

from __future__ import annotations

import json
import struct
from typing import NamedTuple

import pytest
import requests
from django.test import Client

from listings_api import keys
from tests.listings_api.conftest import PROVIDER_PRIVKEY, PROVIDER_PUBKEY_HEX
from tests.listings_api.test_onion_corpus import CASES, HOST, desktop, prepare, send
from tests.support.onion_client import OnionClient
from tests.support.processes import (
    Processes,
    free_port,
    manage,
    production_env,
    wait_for,
    web_server,
)

HOP_HEADERS = {
    "User-Agent": "Oxen Storage Server/2.10.0",
    "Content-Type": "application/octet-stream",
}


class Route(NamedTuple):
    protocol: str
    host: str
    port: int
    target: str


def route_of(envelope: bytes) -> Route:
    """Where the hop sends an envelope, read as oxenss reads the last hop's JSON."""
    (size,) = struct.unpack_from("<I", envelope)
    outer = json.loads(envelope[4 + size :])
    protocol = outer.get("protocol", "https")
    port = outer.get("port", 443 if protocol == "https" else 80)
    target = outer["target"]
    assert target.startswith(("/loki/", "/oxen/")) and target.endswith("/lsrpc")
    assert "?" not in target
    return Route(protocol, outer["host"], port, target)


@pytest.fixture
def production(settings):
    """The security settings of DEBUG=false (directory/settings.py), the exemptions as they are."""
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.ALLOWED_HOSTS = [HOST]
    return settings


@pytest.fixture
def hop(production, db):
    """The storage server's relay: (status, body) of our answer, no redirect followed."""
    client = Client(enforce_csrf_checks=True)  # a hop has no CSRF token, cookie or session

    def relay(envelope: bytes):
        route = route_of(envelope)
        default_port = 443 if route.protocol == "https" else 80
        host = route.host if route.port == default_port else f"{route.host}:{route.port}"
        response = client.post(
            route.target,
            data=envelope,
            content_type=HOP_HEADERS["Content-Type"],
            secure=route.protocol == "https",
            HTTP_HOST=host,
            HTTP_USER_AGENT=HOP_HEADERS["User-Agent"],
        )
        body = b"".join(response) if response.streaming else response.content
        return response.status_code, body

    return relay


@pytest.mark.parametrize("case", [case for case in CASES if case.relayed], ids=lambda case: case.id)
def test_every_status_a_storage_server_relays_back_is_200_or_400(case, request, hop, settings):
    prepare(case, request, settings)
    onion, (status, body) = send(case, hop)
    assert status == (400 if case.refused else 200)
    if case.refused is None:
        assert onion.read_reply(body)[0] == case.status


@pytest.mark.parametrize("method", ["get", "head", "options", "put", "delete"])
def test_plain_http_is_not_redirected_and_other_methods_are_a_400(production, db, method):
    """pysogs serves `/oxen/v4/lsrpc` over plain HTTP too, and Desktop asks a hop for plain HTTP
    when the server's URL is http:// (`ts/session/onions/onionSend.ts`, `forcedHttp`); with the
    HTTPS redirect on, a page is redirected but the onion endpoint never is."""
    client = Client(HTTP_HOST=HOST)
    assert client.get("/robots.txt").status_code == 301
    onion = OnionClient(PROVIDER_PUBKEY_HEX, None)
    response = client.post(
        "/oxen/v4/lsrpc",
        data=desktop("GET", "/listings", {}, http=True)(onion),
        content_type="application/octet-stream",
    )
    assert response.status_code == 200
    assert onion.read_reply(b"".join(response))[0] == 200
    assert getattr(client, method)("/oxen/v4/lsrpc").status_code == 400


def test_a_failure_of_ours_before_decryption_is_still_an_outer_400(hop, settings, tmp_path):
    """A key file of the wrong size is our configuration error, not the client's path: it is
    logged, and the hop still gets a 400 (see the module docstring)."""
    settings.LP_KEY_FILE = tmp_path / "short"
    settings.LP_KEY_FILE.write_bytes(b"x" * 31)
    keys._privkey_for.cache_clear()
    status, body = hop(desktop("GET", "/listings", {})(OnionClient(PROVIDER_PUBKEY_HEX, None)))
    assert (status, body) == (400, b"Onion request failed.")


@pytest.mark.timeout(180)
def test_the_production_web_server_answers_onion_requests_over_plain_http(tmp_path):
    """granian with DEBUG=false and the HTTPS redirect on, as docker-compose runs it, relayed to
    as the storage server does (plain HTTP on the client's demand, no redirect followed)."""
    var = tmp_path / "var"
    var.mkdir()
    key_file = var / "lp_key_x25519"
    key_file.write_bytes(PROVIDER_PRIVKEY)
    key_file.chmod(0o600)
    env = production_env(var, LP_KEY_FILE=str(key_file))
    migrated = manage(env, "migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def relay(envelope: bytes) -> requests.Response:
        route = route_of(envelope)
        assert (route.protocol, route.host, route.port) == ("http", "127.0.0.1", port)
        url = f"http://{route.host}:{route.port}{route.target}"
        return requests.post(
            url, data=envelope, headers=HOP_HEADERS, allow_redirects=False, timeout=30
        )

    with Processes(tmp_path) as processes:
        processes.start("web", web_server(port), env)
        wait_for(lambda: _answers(base), 60, "the web server to answer")
        assert (
            requests.get(base + "/robots.txt", allow_redirects=False, timeout=10).status_code == 301
        )
        for enc_type, endpoint, code in [(None, "/listings", 200), (None, "/rooms", 404)]:
            onion = OnionClient(PROVIDER_PUBKEY_HEX, enc_type)
            build = desktop("GET", endpoint, {}, http=True, host="127.0.0.1", port=port)
            reply = relay(build(onion))
            assert reply.status_code == 200, reply.text
            assert onion.read_reply(reply.content)[0] == code
        garbage = struct.pack("<I", 4) + b"junk" + b'{"host":"127.0.0.1","target":"/oxen/v4/lsrpc",'
        garbage += b'"method":"POST","protocol":"http","port":%d}' % port
        refused = relay(garbage)
        assert (refused.status_code, refused.text) == (
            400,
            "Invalid onion request: MalformedEnvelope.",
        )
        assert (
            requests.get(base + "/oxen/v4/lsrpc", allow_redirects=False, timeout=10).status_code
            == 400
        )


def _answers(base: str) -> bool:
    try:
        return requests.get(base + "/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False
