"""The Session Communities directory: Django project package and core app."""

from .celery import app as celery_app

__all__ = ["celery_app"]
