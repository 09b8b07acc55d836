"""Logs: one JSON object a line (with `extra` fields as keys) or plain text, the same for web,
worker and beat; one line per request, quiet for probes and scrapes."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from celery.signals import setup_logging
from django.conf import settings as django_settings

from directory import celery as directory_celery
from tests.conftest import REPO
from tests.support.crawl_runs import finished_crawl

CRAWLER_EVENT = textwrap.dedent(
    """
    import logging
    logging.getLogger("crawler.polling").info(
        "server polled",
        extra={"server": "abcd1234", "room": "lobby", "outcome": "ok", "duration_ms": 12.5},
    )
    """
)
WEB = "import django\ndjango.setup()\n" + CRAWLER_EVENT
# What `celery worker` and `celery beat` do before they log: Django set up by Celery's Django
# fixup, then app.log.setup(), which sends the setup_logging signal.
CELERY = (
    textwrap.dedent(
        """
    import django
    django.setup()
    from celery.utils.log import get_task_logger
    from directory.celery import app
    app.log.setup(loglevel="INFO", redirect_stdouts=False)
    import logging
    assert len(logging.getLogger().handlers) == 1, logging.getLogger().handlers
    get_task_logger("crawler.tasks").info("task ran", extra={"outcome": "ok"})
    """
    )
    + CRAWLER_EVENT
)


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "directory.settings",
        "VAR_DIR": str(tmp_path / "var"),
        "READ_DOT_ENV_FILE": "false",
        "SECRET_KEY": "a-test-key-that-is-not-the-development-default",
        **env,
    }
    for name in ("LOG_FORMAT", "DEBUG", "LOG_LEVEL"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def json_lines(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines()]


def test_a_log_call_with_extra_fields_is_one_json_line(tmp_path):
    done = run_python(WEB, tmp_path, DEBUG="false")  # production: json by default
    assert done.returncode == 0, done.stderr
    [event] = json_lines(done.stderr)
    assert event == {
        "level": "INFO",
        "logger": "crawler.polling",
        "message": "server polled",
        "server": "abcd1234",
        "room": "lobby",
        "outcome": "ok",
        "duration_ms": 12.5,
        "time": event["time"],
    }
    assert event["time"].endswith("+00:00")


def test_plain_text_in_debug_and_on_request(tmp_path):
    for env in ({"DEBUG": "true"}, {"DEBUG": "false", "LOG_FORMAT": "plain"}):
        done = run_python(WEB, tmp_path, **env)
        assert done.returncode == 0, done.stderr
        [line] = done.stderr.splitlines()
        assert line.endswith(" INFO crawler.polling server polled"), env


def test_json_in_debug_on_request(tmp_path):
    done = run_python(WEB, tmp_path, DEBUG="true", LOG_FORMAT="json")
    assert json_lines(done.stderr)[0]["server"] == "abcd1234"


def test_an_unknown_log_format_is_refused(tmp_path):
    done = run_python(WEB, tmp_path, LOG_FORMAT="xml")
    assert done.returncode != 0
    assert "LOG_FORMAT must be json or plain" in done.stderr


def test_worker_and_beat_log_through_django_logging(tmp_path):
    done = run_python(CELERY, tmp_path, DEBUG="false")
    assert done.returncode == 0, done.stderr
    task, polled = json_lines(done.stderr)
    assert (task["logger"], task["message"], task["outcome"]) == ("crawler.tasks", "task ran", "ok")
    assert (polled["server"], polled["duration_ms"]) == ("abcd1234", 12.5)


def test_the_setup_logging_handler_applies_django_logging(monkeypatch):
    applied = []
    monkeypatch.setattr(directory_celery, "dictConfig", applied.append)
    replies = setup_logging.send(
        sender=None, loglevel=logging.INFO, logfile=None, format="", colorize=False
    )
    assert directory_celery.use_django_logging in [receiver for receiver, _ in replies]
    assert applied == [django_settings.LOGGING]


def test_the_json_formatter_renders_any_extra_value():
    """Values json cannot encode (a request, a model) become text rather than an error."""
    config = django_settings.LOGGING["formatters"]["json"]
    formatter = logging.config.DictConfigurator({}).configure_formatter(dict(config))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("tests.ops.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("odd values", extra={"when": object(), "path": Path("/x"), "n": 3})
    finally:
        logger.removeHandler(handler)
    event = json.loads(stream.getvalue())
    assert event["path"] == "/x"
    assert event["n"] == 3
    assert event["when"].startswith("<object object")


# --- The request line -------------------------------------------------------------------------


@pytest.fixture
def request_log(caplog):
    caplog.set_level(logging.DEBUG, logger="directory.requests")
    return caplog


def test_one_info_line_per_request(client, db, request_log):
    client.get("/robots.txt")
    [record] = [record for record in request_log.records if record.name == "directory.requests"]
    assert record.levelno == logging.INFO
    assert (record.method, record.path, record.view, record.status) == (
        "GET",
        "/robots.txt",
        "robots_txt",
        200,
    )
    assert record.duration_ms >= 0
    assert record.getMessage().startswith("GET /robots.txt 200 ")


def test_probes_are_logged_at_debug_and_scrapes_not_at_all(client, transactional_db, request_log):
    client.get("/healthz")
    client.get("/readyz", HTTP_HOST="10.0.0.1")
    client.get("/metrics")
    records = [record for record in request_log.records if record.name == "directory.requests"]
    assert [record.view for record in records] == ["healthz", "readyz"]
    assert all(record.levelno == logging.DEBUG for record in records)


def test_a_failing_probe_is_logged_at_info(client, transactional_db, request_log, settings):
    settings.READY_MAX_CRAWL_AGE_MINUTES = 5
    finished_crawl(timedelta(minutes=10), took=timedelta(0))
    assert client.get("/readyz").status_code == 503
    [record] = [record for record in request_log.records if record.name == "directory.requests"]
    assert (record.view, record.status, record.levelno) == ("readyz", 503, logging.INFO)
