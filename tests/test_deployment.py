"""Deployment files and settings: docker-compose, the production secret-key guard."""

from __future__ import annotations

import os
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
    assert _command(services["web"])[:2] == ["gunicorn", "directory.wsgi"]
    assert _command(services["worker"])[:4] == ["celery", "-A", "directory", "worker"]
    assert _command(services["beat"])[:4] == ["celery", "-A", "directory", "beat"]
    migrate = _command(services["migrate"])
    assert migrate[:2] == ["python", "manage.py"] and migrate[2] in get_commands()
    assert (REPO / services["web"]["build"]["dockerfile"]).exists()
    import directory.wsgi  # the module gunicorn loads

    assert callable(directory.wsgi.application)


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
