"""Strict bencode: canonical encoding, refusal of anything non-canonical, bounded decoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from directory.lib import bencode
from directory.lib.bencode import BencodeError

bencode_values = st.recursive(
    st.binary(max_size=40) | st.integers(min_value=-(10**20), max_value=10**20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.binary(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (b"spam", b"4:spam"),
        (b"", b"0:"),
        (0, b"i0e"),
        (-3, b"i-3e"),
        (10**20, b"i100000000000000000000e"),
        ([], b"le"),
        ([b"a", 1, [b""]], b"l1:ai1el0:ee"),
        ({b"b": 1, b"a": b"x"}, b"d1:a1:x1:bi1ee"),
    ],
)
def test_encodes_canonical_form(value: bencode.BencodeValue, encoded: bytes) -> None:
    assert bencode.encode(value) == encoded
    assert bencode.decode(encoded) == value


def test_str_is_encoded_as_utf8() -> None:
    assert bencode.encode("été") == b"5:\xc3\xa9t\xc3\xa9"
    assert bencode.encode({"k": ("a", "b")}) == b"d1:kl1:a1:bee"


def test_dict_keys_are_sorted_bytewise_not_by_insertion() -> None:
    assert bencode.encode({b"z": 1, b"Z": 2, b"aa": 3, b"a": 4}) == b"d1:Zi2e1:ai4e2:aai3e1:zi1ee"


@pytest.mark.parametrize(
    "value",
    [True, 1.5, None, {1: b"x"}, {"a": 1, b"a": 2}, "\ud800", object()],
    ids=["bool", "float", "none", "int-key", "colliding-keys", "lone-surrogate", "object"],
)
def test_encode_refuses_what_bencode_cannot_say(value: object) -> None:
    with pytest.raises(BencodeError):
        bencode.encode(value)


def test_encode_refuses_cycles_with_a_bencode_error() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(BencodeError, match="nesting"):
        bencode.encode(cycle)


def test_decodes_pysogs_v4_post_example() -> None:
    meta = b'{"method":"POST","endpoint":"/some/thing","headers":{"Some-Header":"a"}}'
    encoded = b"l72:" + meta + b"14:post body heree"
    assert bencode.decode(encoded) == [meta, b"post body here"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"i01e",
        b"i-0e",
        b"ie",
        b"i-e",
        b"i+1e",
        b"i 1e",
        b"i1_0e",
        b"i1",
        b"i" + b"9" * 40 + b"e",
        b"01:a",
        b"-1:a",
        b"1 :a",
        b"4:spa",
        b"99999999999:x",
        b"4294967296:",
        b"l",
        b"d",
        b"l1:a",
        b"x",
        b"e",
        b"i1ei2e",
        b"le ",
        b"d1:bi1e1:ai2ee",
        b"d1:ai1e1:ai2ee",
        b"di1ei2ee",
        b"d1:ae",
        b"\xff",
    ],
)
def test_rejects_malformed_or_non_canonical_input(data: bytes) -> None:
    with pytest.raises(BencodeError):
        bencode.decode(data)


def test_depth_limit_is_enforced() -> None:
    assert bencode.decode(b"l" * 32 + b"e" * 32) is not None
    with pytest.raises(BencodeError, match="nesting"):
        bencode.decode(b"l" * 33 + b"e" * 33)
    with pytest.raises(BencodeError, match="nesting"):
        bencode.decode(b"ll0:ee", max_depth=1)
    assert bencode.decode(b"l0:e", max_depth=1) == [b""]


def test_very_deep_input_is_a_bencode_error_not_a_recursion_error() -> None:
    depth = 100_000
    with pytest.raises(BencodeError):
        bencode.decode(b"l" * depth + b"e" * depth, max_depth=depth)


def test_length_limit_is_enforced() -> None:
    with pytest.raises(BencodeError, match="limit"):
        bencode.decode(b"5:hello", max_length=6)
    assert bencode.decode(b"5:hello", max_length=7) == b"hello"


def test_decode_refuses_str_input() -> None:
    with pytest.raises(BencodeError, match="bytes"):
        bencode.decode("4:spam")  # type: ignore[arg-type]


@given(bencode_values)
def test_any_value_round_trips(value: bencode.BencodeValue) -> None:
    assert bencode.decode(bencode.encode(value)) == value


@given(st.binary(max_size=200))
def test_random_bytes_only_ever_raise_bencode_error(data: bytes) -> None:
    try:
        value = bencode.decode(data)
    except BencodeError:
        return
    # Strictness means one meaning per input: whatever decodes re-encodes to the same bytes.
    assert bencode.encode(value) == data


@given(bencode_values, st.data())
def test_damaged_encodings_are_rejected_or_still_canonical(
    value: bencode.BencodeValue, data: st.DataObject
) -> None:
    encoded = bencode.encode(value)
    cut = data.draw(st.integers(0, len(encoded)))
    damaged = encoded[:cut] + data.draw(st.binary(max_size=3)) + encoded[cut + 1 :]
    try:
        decoded = bencode.decode(damaged)
    except BencodeError:
        return
    assert bencode.encode(decoded) == damaged


@given(bencode_values)
def test_truncated_encodings_are_rejected(value: bencode.BencodeValue) -> None:
    encoded = bencode.encode(value)
    for cut in range(len(encoded)):
        with pytest.raises(BencodeError):
            bencode.decode(encoded[:cut])
