"""django-csp's middleware, minus the work on responses that get no policy.

django-csp 4 builds both policy strings from settings for every response before it looks at
the exemption, which was a sixth of the time to serve a cached JSON body. Exempt responses
(the JSON API's: a policy is for documents) skip that work here; every other response goes
through django-csp unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from csp.middleware import CSPMiddleware as _CSPMiddleware
from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase


class CSPMiddleware(_CSPMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        report_only = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        exempt_ro = getattr(response, "_csp_exempt_ro", False) or not report_only
        if getattr(response, "_csp_exempt", False) and exempt_ro:
            return response
        return super().process_response(request, response)
