"""Routes of the listing-provider API, at the site root as the protocol places them."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from listings_api import lsrpc, views
from listings_api.api_urls import json_urlpatterns

urlpatterns = [
    *json_urlpatterns,
    path("oxen/v4/lsrpc", lsrpc.onion_request, name="lp_onion"),
    path("api/", views.api_home, name="api_home"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", views.ApiDocsView.as_view(), name="api_docs"),
]
