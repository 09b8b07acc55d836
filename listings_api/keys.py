"""The provider's X25519 key: a raw 32-byte private key in a file, made on first use.

The format is pysogs's `key_x25519`, so an operator can bring an existing key. Clients need the
public half to build onion requests; `manage.py lp_keys` prints it.
"""

from __future__ import annotations

import logging
import os
import stat
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from directory.lib.onion import KEY_SIZE, generate_privkey, x25519_pubkey

log = logging.getLogger(__name__)


def load_or_create_privkey(path: Path) -> bytes:
    """Read the key file, creating it (mode 0600) when it does not exist yet."""
    if not path.exists():
        _create_key_file(path)
    data = path.read_bytes()
    if len(data) != KEY_SIZE:
        raise ImproperlyConfigured(
            f"LP_KEY_FILE {path} holds {len(data)} bytes; a raw X25519 private key is {KEY_SIZE}."
        )
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("LP_KEY_FILE %s is readable by other users; chmod 600 it.", path)
    return data


def _create_key_file(path: Path) -> None:
    # Write a temporary file, then link it into place: several web workers may start at once,
    # and none of them may ever read a half-written key or overwrite another's.
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(generate_privkey())
        os.link(temporary, path)
        log.info("Created a new listing-provider key in %s", path)
    except FileExistsError:
        pass  # another process won the race; use its key
    finally:
        temporary.unlink(missing_ok=True)


@cache
def _privkey_for(path: str) -> bytes:
    return load_or_create_privkey(Path(path))


def provider_privkey() -> bytes:
    """The configured private key, read once per process."""
    return _privkey_for(str(settings.LP_KEY_FILE))


def provider_pubkey_hex() -> str:
    """The public key clients put in their onion requests (64 hex digits)."""
    return x25519_pubkey(provider_privkey()).hex()


def provider_base_url() -> str:
    """The public address the join-link form of the key points at."""
    return settings.LP_BASE_URL or "http://127.0.0.1:8000"


def provider_address() -> str:
    """`<base URL>/?public_key=<hex>`: the provider in SOGS join-link form."""
    return f"{provider_base_url()}/?public_key={provider_pubkey_hex()}"
