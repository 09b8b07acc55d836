"""Deployment files and settings: docker-compose, the production secret-key guard."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import yaml
from django.core.management import get_commands

from tests.conftest import REPO


def _compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _command(service: dict) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else command


def test_compose_defines_the_production_services():
    services = _compose()["services"]
    assert {"web", "worker", "beat", "db", "redis"} <= set(services)
    for name in ["web", "worker", "beat", "db", "redis"]:
        assert "test" in services[name]["healthcheck"], name


def test_compose_runs_the_projects_real_commands():
    services = _compose()["services"]
    web = _command(services["web"])
    assert web[:4] == ["granian", "--interface", "wsgi", "directory.wsgi:application"]
    assert _command(services["worker"])[:4] == ["celery", "-A", "directory", "worker"]
    assert _command(services["beat"])[:4] == ["celery", "-A", "directory", "beat"]
    migrate = _command(services["migrate"])
    assert migrate[:2] == ["python", "manage.py"] and migrate[2] in get_commands()
    assert (REPO / services["web"]["build"]["dockerfile"]).exists()


def test_the_wsgi_module_tunes_the_web_interpreter():
    # In a child process: importing it here would change the test runner's interpreter.
    code = (
        "import gc, sys, directory.wsgi as w;"
        "print(callable(w.application), sys.getswitchinterval(), gc.get_freeze_count() > 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "WEB_SWITCH_INTERVAL_SECONDS": "0.002", "READ_DOT_ENV_FILE": "false"},
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "0.002", "True"]


def test_compose_app_services_use_postgres_redis_and_a_volume():
    services = _compose()["services"]
    for name in ["web", "worker", "beat"]:
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")
        assert env["DEBUG"] == "false"
        assert any(volume.endswith(":/data") for volume in services[name]["volumes"])
    assert set(_compose()["volumes"]) >= {"pgdata", "appdata"}


def _start_django(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    environment.update(env, READ_DOT_ENV_FILE="false")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**environment, "DJANGO_SETTINGS_MODULE": "directory.settings"},
        cwd=REPO,
        capture_output=True,
        text=True,
    )


def test_production_mode_refuses_the_default_secret_key():
    done = _start_django(DEBUG="false")
    assert done.returncode != 0
    assert "SECRET_KEY is the built-in development key" in done.stderr


def test_production_mode_starts_with_a_real_secret_key():
    done = _start_django(DEBUG="false", SECRET_KEY="x" * 50)
    assert done.returncode == 0, done.stderr


def _compose_environment(service: str) -> dict[str, str]:
    """The environment compose gives `service`, with .env's required values filled in."""
    example = {
        "SECRET_KEY": "compose-example-" + "0123456789abcdefghij" * 3,
        "POSTGRES_PASSWORD": "p",
        "ALLOWED_HOSTS": "example.org",
    }

    def resolve(match: re.Match) -> str:
        name, _, default = match.group(1).partition(":")
        return example.get(name, default.removeprefix("-") if default.startswith("-") else "")

    env = _compose()["services"][service]["environment"]
    return {key: re.sub(r"\$\{([^}]*)\}", resolve, str(value)) for key, value in env.items()}


def test_deploy_check_is_clean_with_the_compose_production_settings(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.isupper() or k == "PATH"}
    environment.update(
        _compose_environment("web"), VAR_DIR=str(tmp_path), READ_DOT_ENV_FILE="false"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=environment,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "no issues" in done.stdout


def test_production_settings_secure_cookies_redirects_and_hsts():
    environment = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    environment.update(_compose_environment("web"), READ_DOT_ENV_FILE="false")
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)"
    )
    done = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**environment, "DJANGO_SETTINGS_MODULE": "directory.settings"},
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "True", "True", "True", "31536000", "('HTTP_X_FORWARDED_PROTO',", "'https')"
    ]  # fmt: skip
