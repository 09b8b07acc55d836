"""The production web server (granian, as docker-compose starts it) with the process's own
environment: none of it reaches requests as if the client had sent it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.processes import (
    REPO,
    Processes,
    django_env,
    free_port,
    production_env,
    wait_for,
    web_server,
)

pytestmark = pytest.mark.timeout(120)


def _start(processes: Processes, tmp_path: Path, **environment: str) -> str:
    """The web server's base URL, once it answers."""
    var = tmp_path / "var"
    env = production_env(var, **environment)
    port = free_port()
    processes.start("web", web_server(port), env)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _answers(base), 60, "the web server to answer")
    return base


def _answers(base: str) -> bool:
    try:
        return requests.get(base + "/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def test_a_header_set_in_the_environment_is_not_a_header_of_every_request(tmp_path):
    # Were it read as the header, every plain-HTTP request would pass for HTTPS and skip the
    # redirect that SECURE_SSL_REDIRECT asks for.
    with Processes(tmp_path) as processes:
        base = _start(processes, tmp_path, HTTP_X_FORWARDED_PROTO="https")
        plain = requests.get(base + "/robots.txt", allow_redirects=False, timeout=10)
        assert plain.status_code == 301
        assert plain.headers["Location"].startswith("https://")
        # The proxy's real header still counts.
        proxied = requests.get(
            base + "/robots.txt",
            headers={"X-Forwarded-Proto": "https"},
            allow_redirects=False,
            timeout=10,
        )
        assert proxied.status_code == 200


CHILD = """
import json, os
import directory.wsgi as wsgi
seen = {}
wsgi.django_application = lambda environ, start_response: seen.update(environ) or []
scope = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_HOST": "example.org",
         "REMOTE_ADDR": "203.0.113.9", "wsgi.url_scheme": "https"}
wsgi.application(dict(os.environ) | scope, None)  # what granian hands over
print(json.dumps(sorted(key for key in seen if not key.startswith("wsgi."))))
"""


def test_the_process_environment_stays_out_of_request_meta(tmp_path):
    env = django_env(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        tmp_path,
        SECRET_KEY="a-real-secret-key-" + "y" * 40,
        HTTP_X_REAL_IP="10.0.0.1",
    )
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [
        "HTTP_HOST",
        "PATH_INFO",
        "REMOTE_ADDR",
        "REQUEST_METHOD",
    ]
