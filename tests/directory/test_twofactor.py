"""Two-factor sign-in for staff: with ADMIN_REQUIRE_2FA on, the password alone does not open the
admin; an enrolled authenticator app (codes computed here from the secret the page shows) or a
backup code, once, does. Login throttling (django-axes) keeps working."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.urls import reverse

from directory import twofactor
from tests.conftest import REPO
from tests.support.totp import totp

PASSWORD = "correct horse battery"
ROOMS = reverse("admin:directory_room_changelist")


@pytest.fixture(autouse=True)
def required(settings):
    settings.ADMIN_REQUIRE_2FA = True


def sign_in(client, username: str = "mod", password: str = PASSWORD):
    """The admin's login form, as a browser posts it (with the admin's index as `next`)."""
    form = {"username": username, "password": password, "next": reverse("admin:index")}
    return client.post(reverse("admin:login"), form, follow=True)


def enrol(client) -> tuple[str, list[str]]:
    """Enrol an authenticator through the pages: (secret, backup codes)."""
    page = client.get(reverse("admin:twofactor_setup")).content.decode()
    secret = re.search(r'<code id="secret">([A-Z2-7]+)</code>', page).group(1)
    done = client.post(reverse("admin:twofactor_setup"), {"code": totp(secret)})
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
    return secret, codes


def sign_out(client) -> None:
    client.post(reverse("admin:logout"))


def test_a_staff_password_alone_does_not_open_the_admin(client, moderator):
    response = sign_in(client)
    assert response.redirect_chain[-1][0].startswith(reverse("admin:twofactor_setup"))
    assert "_auth_user_id" in client.session  # the password step passed...
    admin = client.get(ROOMS)
    assert admin.status_code == 302 and reverse("admin:login") in admin["Location"]  # ...no more
    assert (
        client.get(reverse("admin:index"), follow=True)
        .redirect_chain[-1][0]
        .startswith(reverse("admin:twofactor_setup"))
    )


def test_operators_need_a_second_factor_too(client, admin_user):
    sign_in(client, "admin", "password")
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 302


def test_enrolment_shows_a_local_qr_code_and_then_opens_the_admin(client, moderator):
    sign_in(client)
    page = client.get(reverse("admin:twofactor_setup")).content.decode()
    assert 'src="data:image/svg+xml' in page  # drawn here: the secret goes to no other service
    assert 'src="http' not in page
    before = client.session.session_key
    _, codes = enrol(client)
    assert len(codes) == twofactor.BACKUP_CODE_COUNT == len(set(codes))
    assert client.get(ROOMS).status_code == 200
    assert client.session.session_key != before  # the half-signed-in key never opens the admin


def test_a_wrong_code_does_not_enrol(client, moderator):
    sign_in(client)
    client.get(reverse("admin:twofactor_setup"))
    page = client.post(reverse("admin:twofactor_setup"), {"code": "000000"})
    assert "This code is wrong" in page.content.decode()
    assert not twofactor.has_authenticator(moderator)
    assert client.get(ROOMS).status_code == 302


def test_the_authenticator_signs_in_next_time(client, moderator):
    sign_in(client)
    secret, _ = enrol(client)
    sign_out(client)
    response = sign_in(client)
    assert response.redirect_chain[-1][0].startswith(reverse("admin:twofactor_verify"))
    assert client.get(ROOMS).status_code == 302
    # The code of the enrolment was used; the app's next one (accepted one step early) is new.
    client.post(reverse("admin:twofactor_verify"), {"code": totp(secret, time.time() + 30)})
    assert client.get(ROOMS).status_code == 200


def test_a_backup_code_works_once(client, moderator):
    sign_in(client)
    _, codes = enrol(client)
    sign_out(client)
    sign_in(client)
    response = client.post(reverse("admin:twofactor_verify"), {"code": codes[0], "next": ROOMS})
    assert response.status_code == 302 and response["Location"] == ROOMS
    assert client.get(ROOMS).status_code == 200
    sign_out(client)
    sign_in(client)
    again = client.post(reverse("admin:twofactor_verify"), {"code": codes[0]})
    assert "already used" in again.content.decode()
    assert client.get(ROOMS).status_code == 302
    assert twofactor.backup_codes_left(moderator) == twofactor.BACKUP_CODE_COUNT - 1


def test_new_backup_codes_replace_the_old_ones(client, moderator):
    sign_in(client)
    _, old = enrol(client)
    page = client.post(reverse("admin:twofactor_backup_codes")).content.decode()
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", page)
    assert len(new) == twofactor.BACKUP_CODE_COUNT and not set(new) & set(old)
    sign_out(client)
    sign_in(client)
    assert client.post(reverse("admin:twofactor_verify"), {"code": old[0]}).status_code == 200
    assert client.get(ROOMS).status_code == 302


def test_a_new_authenticator_needs_the_old_factor_first(client, moderator):
    sign_in(client)
    enrol(client)
    sign_out(client)
    sign_in(client)
    response = client.get(reverse("admin:twofactor_setup"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:twofactor_verify"))


def test_failed_logins_are_still_locked_out_with_2fa_on(client, moderator, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, password="wrong")
    locked = client.post(reverse("admin:login"), {"username": "mod", "password": PASSWORD})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_wrong_codes_lock_the_sign_in_out_like_wrong_passwords(client, moderator, settings):
    sign_in(client)
    enrol(client)
    sign_out(client)
    sign_in(client)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        wrong = client.post(reverse("admin:twofactor_verify"), {"code": "123456"})
        assert wrong.status_code == 200
    locked = client.post(reverse("admin:twofactor_verify"), {"code": "123456"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session  # signed out
    again = client.post(reverse("admin:login"), {"username": "mod", "password": PASSWORD})
    assert again.status_code == 429


def test_an_operator_resets_a_lost_second_factor(client, moderator, capsys):
    sign_in(client)
    enrol(client)
    sign_out(client)
    call_command("reset_2fa", "mod")
    assert "Removed 2 two-factor device(s)" in capsys.readouterr().out
    response = sign_in(client)
    assert response.redirect_chain[-1][0].startswith(reverse("admin:twofactor_setup"))


def test_with_2fa_off_the_password_is_enough(client, moderator, settings):
    settings.ADMIN_REQUIRE_2FA = False
    sign_in(client)
    assert client.get(ROOMS).status_code == 200


@pytest.mark.parametrize(("debug", "expected"), [("false", "True"), ("true", "False")])
def test_2fa_is_required_by_default_without_debug(debug, expected):
    environment = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "ADMIN_REQUIRE_2FA"}}
    environment.update(DEBUG=debug, SECRET_KEY="x" * 50, READ_DOT_ENV_FILE="false")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; print(settings.ADMIN_REQUIRE_2FA)",
        ],
        env={**environment, "DJANGO_SETTINGS_MODULE": "directory.settings"},
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == expected, done.stderr
