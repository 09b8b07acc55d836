"""The Celery application; configured from Django settings under the ``CELERY_`` namespace."""

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
