"""Property tests of POST /oxen/v4/lsrpc: random, truncated and mutated envelopes, wrong keys,
bad bencode and huge length prefixes get an outer 200 or 400 only (never a 5xx, nor any
status a storage server would hand back as a path failure), and the server keeps answering.

Four tests of `FUZZ_EXAMPLES` each (2,500 by default: 10,000 envelopes per run) go through the
real view stack with Django's test client. `API_FUZZ_EXAMPLES=100` makes a quick run.
"""

from __future__ import annotations

import json
import os
import struct

import nacl.bindings
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.listings_api.conftest import PROVIDER_PUBKEY_HEX, buffered
from tests.support.onion_client import OnionClient, bencode_strings

FUZZ_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "2500"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,  # no example database: the run is the same on every machine
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ENC_TYPES = st.sampled_from(["aes-gcm", "xchacha20", "gcm", "xchacha20-poly1305", None])
ENDPOINTS = st.one_of(
    st.sampled_from(["/listings", "/listing/all", "/listing/nope", "/admin/", "/", "/api/"]),
    st.text(min_size=0, max_size=60).map(lambda text: "/" + text),
    st.text(max_size=40).map(lambda text: "/listing/all?q=" + text),
    st.text(max_size=40),
)
HEADER_VALUES = st.one_of(st.text(max_size=30), st.integers(), st.none(), st.booleans())
METAS = st.fixed_dictionaries(
    {},
    optional={
        "method": st.one_of(st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD"]), st.text()),
        "endpoint": ENDPOINTS,
        "headers": st.one_of(
            st.dictionaries(st.text(max_size=20), HEADER_VALUES, max_size=4),
            st.lists(st.text(max_size=5), max_size=2),
        ),
    },
)


@pytest.fixture(autouse=True)
def no_throttle(settings):
    # The limit is tested elsewhere; here it would only add a cache write per example.
    settings.LP_ONION_THROTTLE_RATE = None


def post(client, body: bytes):
    response = client.post("/oxen/v4/lsrpc", data=body, content_type="application/octet-stream")
    return buffered(response)


def assert_still_answering(client) -> None:
    onion = OnionClient(PROVIDER_PUBKEY_HEX, "xchacha20")
    response = post(client, onion.request("GET", "/listings"))
    assert response.status_code == 200
    assert onion.read_reply(response.content)[0] == 200


def test_random_bodies_never_give_a_5xx(client, db):
    prefix = st.integers(0, 2**32 - 1).map(lambda n: struct.pack("<I", n))

    @FUZZ
    @given(st.one_of(st.binary(max_size=300), st.tuples(prefix, st.binary(max_size=300))))
    def check(body):
        raw = b"".join(body) if isinstance(body, tuple) else body
        assert post(client, raw).status_code == 400

    check()
    assert_still_answering(client)


def test_truncated_and_mutated_envelopes_never_give_a_5xx(client, db):
    good = {
        enc: OnionClient(PROVIDER_PUBKEY_HEX, enc).request("GET", "/listing/all")
        for enc in ("aes-gcm", "xchacha20")
    }

    @FUZZ
    @given(
        st.sampled_from(sorted(good)),
        st.integers(0, 10_000),
        st.sampled_from(["truncate", "flip", "insert", "delete"]),
        st.binary(min_size=1, max_size=8),
    )
    def check(enc, position, mutation, junk):
        body = good[enc]
        position %= len(body)
        if mutation == "truncate":
            body = body[:position]
        elif mutation == "flip":
            body = body[:position] + bytes([body[position] ^ junk[0] or 1]) + body[position + 1 :]
        elif mutation == "insert":
            body = body[:position] + junk + body[position:]
        else:
            body = body[:position] + body[position + len(junk) :]
        assert post(client, body).status_code in (200, 400)

    check()
    assert_still_answering(client)


def test_well_encrypted_garbage_payloads_get_an_inner_4xx(client, db):
    payloads = st.one_of(
        st.binary(max_size=200),  # bad bencode
        METAS.map(lambda meta: bencode_strings([json.dumps(meta).encode()])),
        st.tuples(METAS, st.binary(max_size=50)).map(
            lambda pair: bencode_strings([json.dumps(pair[0]).encode(), pair[1]])
        ),
        st.integers(10, 10**12).map(lambda n: b"l" + str(n).encode() + b":{}e"),  # huge prefix
        st.lists(st.binary(max_size=20), max_size=4).map(bencode_strings),
    )

    @FUZZ
    @given(ENC_TYPES, payloads)
    def check(enc_type, payload):
        onion = OnionClient(PROVIDER_PUBKEY_HEX, enc_type)
        response = post(client, onion.envelope(payload))
        assert response.status_code == 200
        code, _, _ = onion.read_reply(response.content)
        assert code < 500

    check()
    assert_still_answering(client)


def test_wrong_keys_and_bad_outer_json_never_give_a_5xx(client, db):
    metadata = st.dictionaries(
        st.sampled_from(["ephemeral_key", "enc_type", "host", "target", "port"]),
        st.one_of(
            st.text(max_size=70),
            st.binary(min_size=32, max_size=32).map(bytes.hex),
            st.integers(),
            st.none(),
            st.lists(st.integers(), max_size=3),
        ),
    )

    @FUZZ
    @given(
        st.binary(min_size=0, max_size=120),
        st.one_of(metadata.map(lambda m: json.dumps(m).encode()), st.binary(max_size=80)),
        # Another server's key (a real public key, so the client side can use it).
        st.one_of(
            st.none(), st.binary(min_size=32, max_size=32).map(nacl.bindings.crypto_scalarmult_base)
        ),
        ENC_TYPES,
    )
    def check(blob, outer_json, stranger_key, enc_type):
        if stranger_key is None:
            body = struct.pack("<I", len(blob)) + blob + outer_json
        else:
            body = OnionClient(stranger_key.hex(), enc_type).request("GET", "/listings")
        assert post(client, body).status_code == 400

    check()
    assert_still_answering(client)
