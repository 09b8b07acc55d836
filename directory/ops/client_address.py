"""Which client a request came from, behind the site's trusted reverse proxies (`NUM_PROXIES`).

One answer for the website's rate limits, the API's throttles and the admin's login lock-outs:
DRF's, which the API's throttles use themselves (`rest_framework.throttling.BaseThrottle.get_ident`,
reading `REST_FRAMEWORK["NUM_PROXIES"]`, which settings.py sets from NUM_PROXIES).
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR with no trusted proxy (X-Forwarded-For is then the client's own say);
    behind N, the N-th X-Forwarded-For entry from the right: the address the outermost proxy
    saw, since each proxy appends the one it was reached from."""
    return BaseThrottle().get_ident(request)
