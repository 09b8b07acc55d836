"""Which Celery broker and result backend to use: Redis when REDIS_URL is set, else files."""

from __future__ import annotations

from pathlib import Path


def broker_settings(redis_url: str, queue_dir: Path) -> dict:
    """Celery settings (lower-case names) for the broker and result backend.

    Without Redis, kombu's filesystem transport is a real broker for one machine with no server
    to run, and results go to files beside it.
    """
    if redis_url:
        return {
            "broker_url": redis_url,
            "result_backend": redis_url,
            # Above the longest task, so an unacknowledged task is not handed out twice.
            "broker_transport_options": {"visibility_timeout": 3600},
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
