"""Liveness and readiness probes: `/healthz` (the process answers) and `/readyz` (what serving
and crawling need: the database, the cache, Celery's broker and a recent crawl).

`/readyz` runs django-health-check's `Database` and `Cache` checks and two of ours (`Broker`,
`CrawlFreshness`) through a thin subclass of its `HealthCheckView`: the library's view answers
500 and picks HTML, text or JSON by the Accept header, while probes want 503 and one JSON shape.
`ProbeMiddleware` answers both paths ahead of the host check, the HTTPS redirect, sessions and
CSRF, so a load balancer probing by IP address gets the real answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import ClassVar

from asgiref.sync import async_to_sync, iscoroutinefunction
from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import Max, Min, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from health_check.base import HealthCheck, HealthCheckResult
from health_check.checks import Cache, Database
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

from directory.celery import app as celery_app
from directory.models import CrawlRun

PROBE_PATHS = frozenset({"/healthz", "/readyz"})


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Nothing else is asked, since a restart would not fix it."""
    response = JsonResponse({"status": "ok"})
    add_never_cache_headers(response)
    return response


@dataclasses.dataclass
class Broker(HealthCheck):
    """Celery's broker (`CELERY_BROKER_URL`, any kombu transport: Redis, or the filesystem
    transport of a server-less install) takes a connection and counts the default queue."""

    name: ClassVar[str] = "broker"
    timeout: datetime.timedelta = dataclasses.field(
        default=datetime.timedelta(seconds=2), repr=False
    )
    detail: str = dataclasses.field(default="", init=False, repr=False)

    def run(self) -> None:
        seconds = self.timeout.total_seconds()
        options = {"socket_timeout": seconds, "socket_connect_timeout": seconds}
        try:
            with celery_app.connection_for_write(
                connect_timeout=seconds, transport_options=options
            ) as connection:
                transport = connection.transport_cls
                connection.ensure_connection(max_retries=0)  # one attempt, no back-off
                channel = connection.channel()
                try:
                    # Read-only on Redis and the filesystem transport: it counts waiting messages.
                    queue = channel.queue_declare(queue=celery_app.conf.task_default_queue)
                finally:
                    channel.close()
        except Exception as error:  # any failure of the broker's client means "not reachable"
            raise ServiceUnavailable(f"broker unreachable ({type(error).__name__})") from error
        self.detail = f"{transport} broker answered, {queue.message_count} tasks waiting"


@dataclasses.dataclass
class CrawlFreshness(HealthCheck):
    """The newest finished crawl is younger than `READY_MAX_CRAWL_AGE_MINUTES`.

    A new install that has never crawled passes ("no crawl yet"): beat's first full crawl comes
    one `CRAWLER_SOURCES_INTERVAL_HOURS` after it starts, and the site serves imported or demo
    data meanwhile. Once any crawl has started, the clock runs from the first start until one
    finishes, so a crawler that starts but never finishes fails as well.
    """

    name: ClassVar[str] = "crawl"
    alias: str = "default"
    detail: str = dataclasses.field(default="", init=False, repr=False)

    def run(self) -> None:
        limit = datetime.timedelta(minutes=settings.READY_MAX_CRAWL_AGE_MINUTES)
        finished, first_started = self._crawl_times()
        if finished is None and first_started is None:
            self.detail = "no crawl yet (new install)"
            return
        age = timezone.now() - (finished or first_started)
        minutes = int(age.total_seconds() // 60)
        if finished is None:
            if age > limit:
                raise ServiceUnavailable(
                    f"no crawl finished in {minutes} min since the first began"
                )
            self.detail = f"first crawl began {minutes} min ago, none finished yet"
        elif age > limit:
            limit_minutes = int(limit.total_seconds() // 60)
            raise ServiceUnavailable(
                f"last crawl finished {minutes} min ago (limit {limit_minutes})"
            )
        else:
            self.detail = f"last crawl finished {minutes} min ago"

    def _crawl_times(self) -> tuple[datetime.datetime | None, datetime.datetime | None]:
        """(newest finish, first start), on a connection of this thread that is closed after,
        as the library's Database check does."""
        connection = connections[self.alias]
        try:
            with connection.temporary_connection():
                times = CrawlRun.objects.using(self.alias).aggregate(
                    finished=Max("finished_at", filter=Q(status=CrawlRun.Status.FINISHED)),
                    first_started=Min("started_at"),
                )
        except DatabaseError as error:
            raise ServiceUnavailable("database unreachable") from error
        return times["finished"], times["first_started"]


OK_REASONS = {"database": "query answered", "cache": "wrote and read back a key"}


def check_name(check: HealthCheck) -> str:
    return getattr(check, "name", type(check).__name__.lower())


def describe(result: HealthCheckResult) -> dict:
    """One check in the /readyz body: name, status ("ok" or "fail"), a short reason, time."""
    name = check_name(result.check)
    if result.error:
        status, reason = "fail", result.error.message
    else:
        status = "ok"
        reason = getattr(result.check, "detail", "") or OK_REASONS.get(name, "ok")
    return {
        "name": name,
        "status": status,
        "reason": reason,
        "duration_ms": round(result.time_taken * 1000, 1),
    }


@contextlib.contextmanager
def detached_executor() -> Iterator[Executor]:
    """Threads for the blocking checks. A check stuck past its timeout is left to finish on its
    own: the library has already reported it, and the response must not wait for it."""
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")
    try:
        yield executor
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


class ReadyView(HealthCheckView):
    """Readiness: 200 when every check passes, else 503; always the same JSON body:
    `{"status": "ok"|"unavailable", "checks": [{"name", "status", "reason", "duration_ms"}]}`."""

    checks = (Database, Cache, Broker, CrawlFreshness)

    def get_executor(self) -> contextlib.AbstractContextManager[Executor]:
        return detached_executor()

    async def get(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        with self.get_executor() as executor:
            self.results = await asyncio.gather(
                *(check.get_result(executor) for check in self.get_checks())
            )
        ready = not any(result.error for result in self.results)
        body = {
            "status": "ok" if ready else "unavailable",
            "checks": [describe(result) for result in self.results],
        }
        return JsonResponse(body, status=200 if ready else 503)


class ProbeMiddleware:
    """Answers /healthz and /readyz itself, right after `MetricsMiddleware` (so probes are still
    counted) and before everything a probe would trip over: ALLOWED_HOSTS (load balancers probe
    by IP address), the HTTPS redirect, sessions, CSRF and axes. The views are in urls.py too,
    for `reverse()` and `manage.py health_check readyz`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info not in PROBE_PATHS:
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        request.resolver_match = match
        view = async_to_sync(match.func) if iscoroutinefunction(match.func) else match.func
        return view(request, *match.args, **match.kwargs)
