"""The JSON endpoints: the only routes an onion request can reach (see `lsrpc.py`)."""

from django.urls import path

from listings_api import views

json_urlpatterns = [
    path("listings", views.ListingsView.as_view(), name="lp_listings"),
    path("listing/<str:listing_id>", views.ListingView.as_view(), name="lp_listing"),
]
