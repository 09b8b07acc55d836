"""What the file formats share: their one error, reading JSON, and naming where a check failed.

A format's messages say where in the document and why (``servers[3].rooms[0].token: ...``); the
command that opened the file adds which file (``FormatError.in_file``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class FormatError(Exception):
    """The file cannot be imported; the message says where in it and why."""

    def in_file(self, name: object) -> str:
        """The message on one line, after the file's name: what a command reports."""
        return " ".join(f"{name}: {self}".split())


def parse_json(content: bytes) -> object:
    """The parsed JSON document; FormatError when it is not JSON (often: a truncated copy)."""
    try:
        return json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FormatError(f"not valid JSON (truncated or corrupt?): {error}") from error


def read_json(path: Path, *, max_bytes: int | None = None) -> object:
    """The parsed JSON in ``path``; FormatError when it is unreadable, too large or not JSON."""
    try:
        if max_bytes is not None and path.stat().st_size > max_bytes:
            raise FormatError(f"larger than {max_bytes} bytes.")
        content = path.read_bytes()
    except OSError as error:
        raise FormatError(f"cannot read: {error.strerror or error}") from error
    return parse_json(content)


def first_error(errors: Any, path: str = "") -> str:
    """The first of DRF's nested validation errors and where it is, from ``path`` (the document's
    part that was validated, e.g. ``servers``): ``servers[3].rooms[0].token: message``."""
    if isinstance(errors, dict):
        items = errors.items()
    elif isinstance(errors, list) and not all(isinstance(item, str) for item in errors):
        items = enumerate(errors)  # one entry per item of a list, {} for the valid ones
    else:
        message = errors[0] if isinstance(errors, list) and errors else errors
        return f"{path or 'file'}: {message}"
    for name, item in items:
        if not item:
            continue
        if name == "non_field_errors":
            where = path
        elif isinstance(name, int) or str(name).isdigit():
            where = f"{path}[{name}]"
        else:
            where = f"{path}.{name}" if path else str(name)
        return first_error(item, where)
    return f"{path or 'file'}: {errors}"
