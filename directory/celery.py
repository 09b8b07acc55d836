"""The Celery application, configured from Django settings under the ``CELERY_`` namespace, and
the broker settings that settings.py gives it (Redis when REDIS_URL is set, else files)."""

from __future__ import annotations

import os
from logging.config import dictConfig
from pathlib import Path

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "directory.settings")

app = Celery("directory")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def use_django_logging(**kwargs: object) -> None:
    """Worker and beat log through Django's LOGGING (LOG_FORMAT, LOG_LEVEL), as web does.

    With a receiver on this signal Celery installs no handlers of its own, so there is one line
    per event in one format; `--loglevel` is then ignored in favour of LOG_LEVEL.
    """
    from django.conf import settings

    dictConfig(settings.LOGGING)


@app.on_after_configure.connect
def _make_filesystem_broker_folders(sender: Celery, **kwargs: object) -> None:
    """kombu's filesystem transport needs its folders to exist before the first message."""
    make_broker_folders(sender.conf)


def make_broker_folders(conf) -> None:
    """Create the filesystem transport's folders and the file result backend's folder."""
    options = conf.broker_transport_options or {}
    folders = [
        options.get(key) for key in ("data_folder_in", "data_folder_out", "processed_folder")
    ]
    backend = str(conf.result_backend or "")
    if backend.startswith("file://"):
        folders.append(backend.removeprefix("file://"))
    for folder in filter(None, folders):
        Path(folder).mkdir(parents=True, exist_ok=True)


# Reconnecting to the result store once, at once: a web process that queues a task subscribes
# to its result there first, and Celery's default (20 tries a second apart) would hold the
# request for 20 seconds while Redis is down. A worker's result writes get the same short policy:
# what our tasks find is in the database, their results are only for tests and probes.
RESULT_STORE_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}


def broker_settings(
    redis_url: str,
    queue_dir: Path,
    *,
    connect_timeout: float | None = None,
    socket_timeout: float | None = None,
) -> dict:
    """Celery settings (lower-case names) for the broker and result backend.

    Without Redis, kombu's filesystem transport is a real broker for one machine with no server
    to run, and results go to files beside it. With Redis, the timeouts (seconds) bound every
    wait on a Redis that is down or stuck.
    """
    if redis_url:
        timeouts = {"socket_connect_timeout": connect_timeout, "socket_timeout": socket_timeout}
        return {
            "broker_url": redis_url,
            "result_backend": redis_url,
            "broker_transport_options": {
                # Above the longest task, so an unacknowledged task is not handed out twice.
                "visibility_timeout": 3600,
                **{name: value for name, value in timeouts.items() if value is not None},
            },
            "result_backend_transport_options": {"retry_policy": RESULT_STORE_RETRY_POLICY},
            "redis_socket_connect_timeout": connect_timeout,
            "redis_socket_timeout": socket_timeout,
        }
    queue = str(queue_dir / "queue")
    return {
        "broker_url": "filesystem://",
        "broker_transport_options": {
            "data_folder_in": queue,
            "data_folder_out": queue,
            "processed_folder": str(queue_dir / "processed"),
            # Otherwise kombu keeps its broadcast exchanges in ./control, wherever it started.
            "control_folder": str(queue_dir / "control"),
            "store_processed": False,
        },
        "result_backend": f"file://{queue_dir / 'results'}",
    }
