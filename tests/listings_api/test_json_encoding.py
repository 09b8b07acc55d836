"""encode_json gives exactly the bytes of one json.dumps call, however it splits the work."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from listings_api.caching import encode_json

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=140)
        | st.dictionaries(st.text(max_size=8), children, max_size=8)
        | st.dictionaries(st.integers(), children, max_size=3)  # json.dumps turns keys to text
    ),
    max_leaves=400,
)


def one_call(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_same_bytes_as_one_dumps_call(value):
    assert encode_json(value) == one_call(value)


def test_a_listing_sized_document_is_split_and_still_identical():
    rooms = [{"room": {"token": f"r{n}", "name": "Ünïcode ✓"}, "n": [n] * 3} for n in range(500)]
    listing = {"id": "all", "rooms": rooms, "nested": {"rooms": rooms[:100]}, "last": None}
    assert encode_json(listing) == one_call(listing)
