"""Strict, bounded bencode, the framing of v4 onion-request payloads (pysogs
`sogs/routes/onion_request.py`, `handle_v4_onionreq_plaintext`).

Only the canonical form is accepted (no leading zeros, sorted unique dict keys, no trailing
bytes), and every failure, including hostile nesting or lengths, raises `BencodeError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TypeAlias

BencodeValue: TypeAlias = bytes | int | list["BencodeValue"] | dict[bytes, "BencodeValue"]

# Nesting bound: the decoder recurses once per container, so this keeps hostile input far
# away from Python's recursion limit. v4 payloads need a depth of 1.
MAX_DEPTH = 32
# Matches the 10 MiB onion-request cap plus room for framing.
MAX_LENGTH = 16 * 1024 * 1024
# Longer integers are legal bencode but never needed here; bounding them keeps int() cheap.
MAX_INT_DIGITS = 32
# Enough digits for any string that fits under MAX_LENGTH-sized inputs.
_MAX_LENGTH_DIGITS = 10

# `int()` would also accept "+1", " 1", "1_0" and "01", which canonical bencode forbids.
_INTEGER = re.compile(rb"0|-?[1-9][0-9]*")
_LENGTH = re.compile(rb"0|[1-9][0-9]*")


class BencodeError(ValueError):
    """The data is not canonical bencode, or is outside the configured limits."""


def encode(value: object, *, max_depth: int = MAX_DEPTH) -> bytes:
    """Bencode bytes, str (as UTF-8), int, list/tuple and dicts with bytes or str keys."""
    out: list[bytes] = []
    _encode_into(value, out, max_depth)
    return b"".join(out)


def decode(
    data: bytes, *, max_depth: int = MAX_DEPTH, max_length: int = MAX_LENGTH
) -> BencodeValue:
    """Decode exactly one canonical bencoded value that spans all of `data`."""
    if not isinstance(data, bytes):
        raise BencodeError(f"expected bytes, got {type(data).__name__}")
    if len(data) > max_length:
        raise BencodeError(f"input is {len(data)} bytes, over the {max_length} byte limit")
    decoder = _Decoder(data, max_depth)
    try:
        value = decoder.value(depth=0)
    except RecursionError as exc:  # only reachable if a caller raises max_depth absurdly
        raise BencodeError("nesting too deep") from exc
    if decoder.pos != len(data):
        raise BencodeError(f"trailing data at offset {decoder.pos}")
    return value


def _encode_into(value: object, out: list[bytes], depth_left: int) -> None:
    # bool is an int subclass; encoding True as i1e would silently lose the type.
    if isinstance(value, bool):
        raise BencodeError("cannot bencode a bool")
    if isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, bytes | bytearray | memoryview | str):
        raw = _as_bytes(value)
        out.append(b"%d:%s" % (len(raw), raw))
    elif isinstance(value, Sequence):
        _check_depth(depth_left)
        out.append(b"l")
        for item in value:
            _encode_into(item, out, depth_left - 1)
        out.append(b"e")
    elif isinstance(value, Mapping):
        _check_depth(depth_left)
        _encode_dict(value, out, depth_left - 1)
    else:
        raise BencodeError(f"cannot bencode a {type(value).__name__}")


def _encode_dict(value: Mapping[object, object], out: list[bytes], depth_left: int) -> None:
    items: dict[bytes, object] = {}
    for key, item in value.items():
        if not isinstance(key, bytes | str):
            raise BencodeError(f"dict keys must be bytes or str, not {type(key).__name__}")
        raw_key = _as_bytes(key)
        if raw_key in items:  # "a" and b"a" would collide on the wire
            raise BencodeError(f"duplicate dict key {raw_key!r}")
        items[raw_key] = item
    out.append(b"d")
    for raw_key in sorted(items):
        out.append(b"%d:%s" % (len(raw_key), raw_key))
        _encode_into(items[raw_key], out, depth_left)
    out.append(b"e")


def _as_bytes(value: bytes | bytearray | memoryview | str) -> bytes:
    if not isinstance(value, str):
        return bytes(value)
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise BencodeError("string is not encodable as UTF-8") from exc


def _check_depth(depth_left: int) -> None:
    if depth_left <= 0:
        raise BencodeError("nesting too deep")


class _Decoder:
    """A cursor over the input; each method consumes one item and advances `pos`."""

    def __init__(self, data: bytes, max_depth: int) -> None:
        self.data = data
        self.pos = 0
        self.max_depth = max_depth

    def value(self, depth: int) -> BencodeValue:
        lead = self.data[self.pos : self.pos + 1]
        if lead == b"i":
            return self.integer()
        if lead == b"l":
            return self.list(depth + 1)
        if lead == b"d":
            return self.dict(depth + 1)
        if lead.isdigit():
            return self.string()
        if not lead:
            raise BencodeError("unexpected end of input")
        raise BencodeError(f"unexpected byte {lead!r} at offset {self.pos}")

    def integer(self) -> int:
        digits = self._until(b"e", start=self.pos + 1, limit=MAX_INT_DIGITS + 1)
        if not _INTEGER.fullmatch(digits):
            raise BencodeError(f"invalid integer {digits!r} at offset {self.pos}")
        self.pos += len(digits) + 2
        return int(digits)

    def string(self) -> bytes:
        digits = self._until(b":", start=self.pos, limit=_MAX_LENGTH_DIGITS)
        if not _LENGTH.fullmatch(digits):
            raise BencodeError(f"invalid string length {digits!r} at offset {self.pos}")
        start = self.pos + len(digits) + 1
        end = start + int(digits)
        if end > len(self.data):
            raise BencodeError(f"string at offset {self.pos} runs past the end of input")
        self.pos = end
        return self.data[start:end]

    def list(self, depth: int) -> list[BencodeValue]:
        self._enter(depth)
        items: list[BencodeValue] = []
        while not self._at_end_marker():
            items.append(self.value(depth))
        return items

    def dict(self, depth: int) -> dict[bytes, BencodeValue]:
        self._enter(depth)
        items: dict[bytes, BencodeValue] = {}
        previous: bytes | None = None
        while not self._at_end_marker():
            if not self.data[self.pos : self.pos + 1].isdigit():
                raise BencodeError(f"dict key at offset {self.pos} is not a byte string")
            key = self.string()
            # Canonical form fixes the key order, so one input has one meaning.
            if previous is not None and key <= previous:
                raise BencodeError(f"dict key {key!r} is out of order or repeated")
            items[key] = self.value(depth)
            previous = key
        return items

    def _enter(self, depth: int) -> None:
        if depth > self.max_depth:
            raise BencodeError(f"nesting deeper than {self.max_depth}")
        self.pos += 1

    def _at_end_marker(self) -> bool:
        if self.pos >= len(self.data):
            raise BencodeError("unterminated list or dict")
        if self.data[self.pos : self.pos + 1] == b"e":
            self.pos += 1
            return True
        return False

    def _until(self, marker: bytes, *, start: int, limit: int) -> bytes:
        end = self.data.find(marker, start, start + limit + 1)
        if end < 0:
            raise BencodeError(f"missing {marker!r} after offset {self.pos}")
        return self.data[start:end]
