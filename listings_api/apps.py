"""The listing provider: JSON listings for Session clients, directly and through onion requests."""

from django.apps import AppConfig


class ListingsApiConfig(AppConfig):
    name = "listings_api"
    verbose_name = "Listing provider API"
