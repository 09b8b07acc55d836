"""The directory's admin site: Django's, with two-factor sign-in for staff (directory/twofactor.py)
and the moderation log (directory/moderation_log.py). directory.apps.AdminConfig makes it the
default ``admin.site``, so every ``@admin.register`` lands here.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from directory import moderation_log, twofactor


class DirectoryAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        """Staff, and with ADMIN_REQUIRE_2FA, verified by a second factor in this session."""
        return super().has_permission(request) and twofactor.passed(request)

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # The password is given; the second step comes next (Django's login page would say
        # "you are not authorized" instead).
        if request.method == "GET" and twofactor.awaits_second_factor(request):
            return twofactor.redirect_with_next("twofactor_verify", request, self)
        return super().login(request, extra_context)

    def get_urls(self):
        log = self.admin_view(self.moderation_log_view)
        return [
            *twofactor.urls(self),
            path("moderation-log/", log, name="moderation_log"),
            *super().get_urls(),
        ]

    def moderation_log_view(self, request: HttpRequest) -> TemplateResponse:
        """Who changed what and when, with the reason: every model's history in one list."""
        models = moderation_log.visible_models(request.user)
        if not models:
            raise PermissionDenied
        kinds = {model._meta.model_name: model for model in models}
        kind = request.GET.get("kind", "")
        chosen = [kinds[kind]] if kind in kinds else models
        user_id = request.GET.get("user", "")
        user_id = int(user_id) if user_id.isdigit() else None
        page = request.GET.get("page", "")
        page = int(page) if page.isdigit() else 1
        context = {
            **self.each_context(request),
            "title": "Moderation log",
            "entries": moderation_log.entries(chosen, user_id=user_id, page=page),
            "kinds": [(name, model._meta.verbose_name_plural) for name, model in kinds.items()],
            "people": moderation_log.people(models),
            "kind": kind,
            "user_id": user_id,
            "page": page,
            "per_page": moderation_log.PER_PAGE,
        }
        return TemplateResponse(request, "admin/directory/moderation_log.html", context)
