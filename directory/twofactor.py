"""Two-factor sign-in for staff (django-otp): TOTP enrolment with a QR code drawn here (segno),
backup codes, and the second step of the admin's sign-in when ``ADMIN_REQUIRE_2FA`` is on.

The password step stays Django's admin login (throttled by django-axes); a staff user who passed
it is signed in but not *verified*, and the admin site (directory/admin_site.py) lets nobody in
until a code from their authenticator app or a backup code verifies the session.
"""

from __future__ import annotations

import functools
import logging
from base64 import b32encode
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import django_otp
import segno
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django import forms
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

if TYPE_CHECKING:
    from django.contrib.admin import AdminSite
    from django.contrib.auth.models import User
    from django.urls import URLPattern
    from django_otp.models import Device

log = logging.getLogger(__name__)

AUTHENTICATOR = "authenticator app"
BACKUP = "backup codes"
BACKUP_CODE_COUNT = 10


# -- what the admin site asks -----------------------------------------------------------------


def passed(request: HttpRequest) -> bool:
    """Whether the second factor lets this request's user into the admin."""
    return not settings.ADMIN_REQUIRE_2FA or request.user.is_verified()


def awaits_second_factor(request: HttpRequest) -> bool:
    """A staff user who gave the password but no second factor yet (and one is required)."""
    user = request.user
    return (
        settings.ADMIN_REQUIRE_2FA and user.is_active and user.is_staff and not user.is_verified()
    )


# -- devices ----------------------------------------------------------------------------------


def has_authenticator(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def pending_authenticator(user: User) -> TOTPDevice:
    """The not yet confirmed TOTP device being enrolled (one per user, kept across reloads)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=AUTHENTICATOR, confirmed=False)


@transaction.atomic
def confirm_authenticator(device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm an enrolment with a first code; it replaces any older authenticator and comes
    with new backup codes (returned, shown once). None when the code is wrong."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if not device.verify_token(_normalised(code)):
        return None
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return new_backup_codes(device.user)


@transaction.atomic
def new_backup_codes(user: User) -> list[str]:
    """Replace the user's backup codes with new ones; each works once."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def backup_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def verify(user: User, code: str) -> Device | None:
    """The device that accepts this code: six digits are the authenticator's, anything else a
    backup code (used up by this). django-otp throttles each device after wrong codes."""
    code = _normalised(code)
    if not code:
        return None
    model = TOTPDevice if code.isdigit() else StaticDevice
    for device in model.objects.devices_for_user(user, confirmed=True):
        if verified := django_otp.verify_token(user, device.persistent_id, code):
            return verified
    return None


def reset(user: User) -> int:
    """An operator's recovery: forget the user's authenticator and backup codes, so that the
    next sign-in enrols again. Returns the number of devices removed."""
    removed = 0
    for model in (TOTPDevice, StaticDevice):
        removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
    return removed


def _normalised(code: str) -> str:
    return "".join(code.split()).lower()


def qr_data_uri(text: str) -> str:
    """The QR code of ``text`` as an SVG data URI, drawn here: the secret never leaves the site
    (the CSP allows data: images)."""
    return segno.make(text, error="m").svg_data_uri(scale=5, border=2)


# -- pages ------------------------------------------------------------------------------------


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


def _next_url(request: HttpRequest, site: AdminSite) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else reverse("admin:index", current_app=site.name)


def redirect_with_next(name: str, request: HttpRequest, site: AdminSite) -> HttpResponseRedirect:
    """To the admin page ``name``, passing on where to go afterwards."""
    url = reverse(f"admin:{name}", current_app=site.name)
    return HttpResponseRedirect(f"{url}?{urlencode({'next': _next_url(request, site)})}")


def _render(request: HttpRequest, site: AdminSite, template: str, **context) -> TemplateResponse:
    context = {**site.each_context(request), "next": _next_url(request, site), **context}
    return TemplateResponse(request, f"admin/twofactor/{template}", context)


def _signed_in_staff(request: HttpRequest) -> bool:
    user = request.user
    return user.is_authenticated and user.is_active and user.is_staff


def _second_step(view: Callable[[HttpRequest, AdminSite], HttpResponse]):
    """A page of the second sign-in step: never cached, CSRF-checked, and only for a signed-in
    staff member (anyone else is sent to the password form first)."""

    @never_cache
    @csrf_protect
    @functools.wraps(view)
    def step(request: HttpRequest, site: AdminSite) -> HttpResponse:
        if not _signed_in_staff(request):
            return redirect_with_next("login", request, site)
        return view(request, site)

    return step


def _verified(request: HttpRequest, device: Device) -> None:
    """Mark the session verified, under a new session key (as Django's login does for the
    password step): a key seen before the second factor never opens the admin."""
    request.session.cycle_key()
    django_otp.login(request, device)


def _axes_credentials(user: User) -> dict:
    return {"username": user.get_username()}


@_second_step
def verify_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    """The second step of signing in: a code from the authenticator app or a backup code."""
    user = request.user
    if user.is_verified():
        return HttpResponseRedirect(_next_url(request, site))
    if not has_authenticator(user):
        return redirect_with_next("twofactor_setup", request, site)
    credentials = _axes_credentials(user)
    if AxesProxyHandler.is_locked(request, credentials):
        logout(request)
        return get_lockout_response(request, None, credentials)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        device = verify(user, form.cleaned_data["code"])
        if device is not None:
            _verified(request, device)
            return HttpResponseRedirect(_next_url(request, site))
        # Counted with the wrong passwords: axes locks the sign-in out at LOGIN_FAILURE_LIMIT.
        user_login_failed.send(__name__, credentials=credentials, request=request)
        log.warning("wrong second factor", extra={"user": user.get_username()})
        form.add_error("code", "This code is wrong, expired or already used.")
        if getattr(request, "axes_locked_out", False):
            logout(request)
    return _render(request, site, "verify.html", title="Two-factor sign-in", form=form)


@_second_step
def setup_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    """Enrol an authenticator app: its QR code and secret, then a first code to confirm."""
    user = request.user
    if has_authenticator(user) and not user.is_verified():
        # A new authenticator needs the old one (or a backup code) first, or an operator's reset.
        return redirect_with_next("twofactor_verify", request, site)
    device = pending_authenticator(user)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        codes = confirm_authenticator(device, form.cleaned_data["code"])
        if codes is not None:
            device.refresh_from_db()
            _verified(request, device)
            return _render(
                request, site, "backup_codes.html", title="Your backup codes", codes=codes
            )
        form.add_error("code", "This code is wrong or expired; try the newest one.")
    secret = b32encode(device.bin_key).decode()  # for typing in by hand
    return _render(
        request,
        site,
        "setup.html",
        title="Set up two-factor sign-in",
        form=form,
        qr=qr_data_uri(device.config_url),
        secret=secret,
    )


@never_cache
@csrf_protect
def backup_codes_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    """How many backup codes are left; new ones on request (the old ones stop working)."""
    if request.method == "POST":
        codes = new_backup_codes(request.user)
        return _render(request, site, "backup_codes.html", title="Your backup codes", codes=codes)
    left = backup_codes_left(request.user)
    return _render(request, site, "backup_codes.html", title="Backup codes", left=left)


@require_POST
@csrf_protect
def sign_out_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    """Sign out before the second step (the admin's own logout needs a verified session)."""
    logout(request)
    return HttpResponseRedirect(reverse("admin:login", current_app=site.name))


def urls(site: AdminSite) -> list[URLPattern]:
    """The pages under the admin's address; the backup codes need a verified session."""

    def door(view):
        return lambda request: view(request, site)

    return [
        path("2fa/", door(verify_view), name="twofactor_verify"),
        path("2fa/setup/", door(setup_view), name="twofactor_setup"),
        path("2fa/sign-out/", door(sign_out_view), name="twofactor_sign_out"),
        path(
            "2fa/backup-codes/",
            site.admin_view(door(backup_codes_view)),
            name="twofactor_backup_codes",
        ),
    ]
