"""The JSON endpoints of the listing provider (`GET /listings`, `GET /listing/<id>`), the
human API page and the OpenAPI docs.

Bodies come from `caching.py`: built once per data version, then served as stored bytes. The
onion endpoint (`lsrpc.py`) calls these same views, so both paths give the same bytes.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from directory.models import Listing
from listings_api import serializers
from listings_api.caching import cached_body, json_response
from listings_api.data import RoomFilters, listing_detail, listings_summary
from listings_api.keys import provider_address, provider_pubkey_hex

NOT_MODIFIED = OpenApiResponse(description="Not modified: the client's copy (ETag) is current.")
THROTTLED = OpenApiResponse(serializers.ErrorSerializer, description="Too many requests.")


class ListingThrottle(AnonRateThrottle):
    """Per-address limit for direct requests; onion requests are limited at `/oxen/v4/lsrpc`."""

    scope = "listings"

    def get_rate(self) -> str | None:
        return settings.LP_THROTTLE_RATE

    def allow_request(self, request: Request, view: APIView) -> bool:
        if getattr(request, "lp_internal", False):
            return True
        return super().allow_request(request, view)


class JsonOnly(BaseContentNegotiation):
    """Every answer is JSON whatever the Accept header says (DRF's "ignore the client" recipe):
    there is nothing to choose between, so no time is spent parsing Accept."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ListingApiView(APIView):
    renderer_classes = [JSONRenderer]
    throttle_classes = [ListingThrottle]
    content_negotiation_class = JsonOnly


def base_url(request: HttpRequest) -> str:
    """The public address absolute URLs start with."""
    return settings.LP_BASE_URL or f"{request.scheme}://{request.get_host()}"


class ListingsView(ListingApiView):
    @extend_schema(
        operation_id="listings",
        summary="Every listing",
        description="The listings this provider offers, with their number of rooms.",
        responses={200: serializers.ListingsSerializer, 304: NOT_MODIFIED, 429: THROTTLED},
    )
    def get(self, request: Request) -> HttpResponse:
        return json_response(request, cached_body("listings", listings_summary))


class ListingView(ListingApiView):
    @extend_schema(
        operation_id="listing",
        summary="One listing with its rooms",
        description=(
            "Each room is `{room, room_extra}`: `room` is the SOGS room object exactly as the "
            "server sent it, `room_extra` what the directory adds. Hidden rooms, rooms of "
            "hidden servers, rooms whose server failed its key proof and rooms offline past "
            "the grace period never appear; rooms of legacy servers, which current Session "
            "clients cannot join, only with `include=legacy`."
        ),
        parameters=[serializers.ListingQuerySerializer],
        responses={
            200: serializers.ListingSerializer,
            304: NOT_MODIFIED,
            400: OpenApiResponse(serializers.ValidationErrorSerializer, "Bad query parameters."),
            404: OpenApiResponse(serializers.ErrorSerializer, "No listing with this id."),
            429: THROTTLED,
        },
    )
    def get(self, request: Request, listing_id: str) -> HttpResponse:
        filters = RoomFilters()
        if request.query_params:  # the common case, no filters, skips validation
            query = serializers.ListingQuerySerializer(data=request.query_params)
            if not query.is_valid():
                errors = {"detail": "Invalid query parameters.", "errors": query.errors}
                return Response(errors, status=400)
            filters = RoomFilters(**query.validated_data)
        base = base_url(request)

        def build() -> dict:
            # Only on a cache miss: a cached listing costs no lookup. A deleted or renamed
            # listing changes the data version, so its old body is never served.
            listing = Listing.objects.filter(slug=listing_id).first()
            if listing is None:
                raise NotFound(f"No listing with id {listing_id!r}.")
            return listing_detail(listing, filters, base.__add__)

        key = f"listing\x1f{listing_id}\x1f{base}\x1f{filters.cache_key()}"
        return json_response(request, cached_body(key, build))


@require_safe
def api_home(request: HttpRequest) -> HttpResponse:
    """The human page: endpoints, the provider's key and address, examples."""
    base = base_url(request)
    context = {
        "base": base,
        "pubkey": provider_pubkey_hex(),
        "address": provider_address()
        if settings.LP_BASE_URL
        else f"{base}/?public_key={provider_pubkey_hex()}",
        "listings_url": base + reverse("lp_listings"),
        "listing_all_url": base + reverse("lp_listing", kwargs={"listing_id": Listing.ALL}),
        "onion_url": base + reverse("lp_onion"),
        "listings": Listing.objects.order_by("slug").only("slug", "name"),
    }
    return render(request, "listings_api/api_home.html", context)


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI from our own static files (drf-spectacular-sidecar), no inline script."""

    template_name = "listings_api/swagger_ui.html"
    url_name = "api_schema"
    title = "Listing provider API"
