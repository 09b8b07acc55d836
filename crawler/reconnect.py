"""A database lost mid-crawl (restarted since the connection opened) is reconnected once.

A crawl runs for minutes; the servers that could not be stored while the database was away are
counted failed, and the next poll stores them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)

T = TypeVar("T")


def reconnecting(operation: Callable[[], T]) -> T:
    """Run a database operation; when the connection turns out to be lost (the database was
    restarted since it was opened), open a new one and try once more. Only for operations that
    are whole transactions (or single statements), so a retry never repeats half of one."""
    try:
        return operation()
    except (OperationalError, InterfaceError) as error:
        if connection.in_atomic_block:
            raise  # the caller's transaction is lost with the connection: it decides
        log.warning("database connection lost (%s); reconnecting", error)
        connection.close()
        return operation()
