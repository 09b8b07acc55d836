"""App configuration of the core app (models, admin, HTML views)."""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = "Directory"
    default_auto_field = "django.db.models.BigAutoField"


class AdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin whose default site is the directory's (two-factor sign-in)."""

    default = False  # named in INSTALLED_APPS; never the "directory" app's own configuration
    default_site = "directory.admin_site.DirectoryAdminSite"
