"""The crawler: sources to join links to verified servers to rooms."""

from django.apps import AppConfig


class CrawlerConfig(AppConfig):
    name = "crawler"
    verbose_name = "Crawler"
