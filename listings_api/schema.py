"""OpenAPI generation hooks: the schema documents the listing endpoints and nothing else."""

from __future__ import annotations

from typing import Any

LISTING_PATHS = frozenset({"/listings", "/listing/{listing_id}"})


def only_listing_endpoints(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple]:
    """Drop every other DRF view (the site's own, the schema view) from the schema."""
    return [endpoint for endpoint in endpoints if endpoint[0] in LISTING_PATHS]
