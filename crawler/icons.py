"""Pipeline step 6: room icons, fetched when `image_id` changes and re-encoded to our own WebP.

Never hot-linked: the bytes are size-capped, opened by Pillow under a pixel cap with a short
format list, scaled down and re-encoded, so nothing of the original file reaches visitors.
"""

from __future__ import annotations

import io
import logging
import warnings

from django.core.files.base import ContentFile
from PIL import Image

from crawler.failures import PollError
from crawler.sogs import HostSession
from directory.lib import http
from directory.models import Room

log = logging.getLogger(__name__)

FORMATS = ("PNG", "JPEG", "WEBP", "GIF")


class BadImage(ValueError):
    """The bytes are not an image we accept."""


def fetch_icon(session: HostSession, token: str, image_id: int) -> bytes | None:
    """The raw bytes of a modern room's image, or None (403 for unreadable rooms, 404...)."""
    try:
        response = session.request(
            "GET", f"/room/{token}/file/{image_id}", max_bytes=session.config.max_image_bytes
        )
    except PollError:
        return None
    return response.content if response.status == 200 else None


def reencode_icon(data: bytes, *, size: int, max_pixels: int) -> bytes:
    """A WebP of at most `size`x`size` pixels; BadImage for anything else."""
    with warnings.catch_warnings():
        # Over the pixel cap is an error here, not a warning: a decompression bomb.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                if image.width * image.height > max_pixels:
                    raise BadImage(f"{image.width}x{image.height} is over {max_pixels} pixels")
                image.seek(0)  # the first frame of an animation
                image.thumbnail((size, size))
                image = image.convert("RGBA")
                out = io.BytesIO()
                image.save(out, "WEBP", quality=80)
        except (
            OSError,
            ValueError,
            Image.DecompressionBombWarning,
            Image.DecompressionBombError,
        ) as error:
            raise BadImage(str(error)[:200]) from None
    return out.getvalue()


def store_icon(room: Room, image_id: int, webp: bytes) -> None:
    """Save our copy of the icon and remember which `image_id` it came from."""
    old = room.icon.name if room.icon else ""
    room.icon.save(
        f"{room.server.pubkey[:16]}-{room.token_key}.webp", ContentFile(webp), save=False
    )
    room.icon_image_id = image_id
    room.skip_history_when_saving = True
    room.save(update_fields=["icon", "icon_image_id"])
    if old and old != room.icon.name:
        room.icon.storage.delete(old)


def fetch_icons(
    session: HostSession, wanted: dict[str, tuple[str, int]], *, size: int, max_pixels: int
) -> dict[str, tuple[int, bytes]]:
    """Fetch and re-encode the icons `wanted` (token_key -> (token, image_id)), one at a time."""
    icons = {}
    for token_key, (token, image_id) in wanted.items():
        data = fetch_icon(session, token, image_id)
        if data is None:
            continue
        try:
            icons[token_key] = (image_id, reencode_icon(data, size=size, max_pixels=max_pixels))
        except BadImage as error:
            log.info("icon of %s/%s refused: %s", session.base_url, token, error)
        except http.FetchError:
            continue
    return icons
