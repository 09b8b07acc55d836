"""Prometheus metrics at `/metrics`, and one log line per request.

`MetricsMiddleware` counts and times every request; `listings_api.lsrpc` counts onion requests
by outcome; `DatabaseCollector` reads the directory's state (crawls, servers, rooms) from the
database at each scrape, so those numbers are right whichever process answers. With
`PROMETHEUS_MULTIPROC_DIR` set (several web workers), prometheus_client keeps each
process's counters in files there and `/metrics` adds them up.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from directory.models import CrawlRun, Room, Server

log = logging.getLogger("directory.requests")

METRICS_PATH = "/metrics"
# Successful requests to these are logged at DEBUG only: probes and scrapers call them all day.
QUIET_PATHS = frozenset({"/healthz", "/readyz", METRICS_PATH})
# Any other method is counted as "other", so a client cannot invent label values.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Headers a reverse proxy adds: a request carrying one was relayed, whatever REMOTE_ADDR says.
FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")

HTTP_REQUESTS = Counter(
    "directory_http_requests",
    "HTTP requests answered, by view (URL name), method and status.",
    ["view", "method", "status"],
)
HTTP_DURATION = Histogram(
    "directory_http_request_duration_seconds",
    "Seconds from a request's arrival to its response (before streaming), by view and method.",
    ["view", "method"],
)
HTTP_SERVER_ERRORS = Counter(
    "directory_http_server_errors",
    "HTTP responses with a 5xx status, by view.",
    ["view"],
)
ONION_REQUESTS = Counter(
    "directory_onion_requests",
    "POST /oxen/v4/lsrpc by outcome: ok (an encrypted reply), throttled (an encrypted 429), "
    "and the outer 400s: bad_envelope, too_large, bad_method, error.",
    ["outcome"],
)


# --- Requests -------------------------------------------------------------------------------


class MetricsMiddleware:
    """Outermost middleware: counts, times and logs every request, and serves /metrics to an
    allowed scraper before the host check (Prometheus scrapes by IP address)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == METRICS_PATH and metrics_allowed(request):
            return metrics_view(request)
        started = time.perf_counter()
        response = self.get_response(request)
        record_request(request, response.status_code, time.perf_counter() - started)
        return response


def view_label(request: HttpRequest) -> str:
    """The URL name (e.g. "room_detail", "admin:index"), never the path: bounded label values."""
    match = getattr(request, "resolver_match", None)
    return match.view_name if match is not None else "unresolved"


def record_request(request: HttpRequest, status: int, seconds: float) -> None:
    view = view_label(request)
    method = request.method if request.method in KNOWN_METHODS else "other"
    HTTP_REQUESTS.labels(view, method, str(status)).inc()
    HTTP_DURATION.labels(view, method).observe(seconds)
    if status >= 500:
        HTTP_SERVER_ERRORS.labels(view).inc()
    quiet = request.path_info in QUIET_PATHS and status < 400
    duration_ms = round(seconds * 1000, 1)
    log.log(
        logging.DEBUG if quiet else logging.INFO,
        "%s %s %s %.1fms",
        method,
        request.path[:200],
        status,
        duration_ms,
        extra={
            "method": method,
            "path": request.path[:200],
            "view": view,
            "status": status,
            "duration_ms": duration_ms,
        },
    )


# --- The directory's state, read at scrape time ---------------------------------------------


class DatabaseCollector:
    """Gauges computed from the database at each scrape (the same for every process)."""

    def collect(self) -> Iterator[Metric]:
        try:
            families = [*crawl_metrics(), *server_metrics(), *room_metrics()]
        except DatabaseError as error:
            log.warning("metrics: database unreachable (%s)", type(error).__name__)
            families, up = [], 0
        else:
            up = 1
        yield GaugeMetricFamily(
            "directory_database_up", "1 when the gauges below could be read.", value=up
        )
        yield from families


def crawl_metrics() -> Iterator[Metric]:
    by_status = dict(CrawlRun.objects.values_list("status").annotate(n=Count("pk")))
    runs = GaugeMetricFamily(
        "directory_crawl_runs", "Crawl runs recorded, by status.", labels=["status"]
    )
    for status in CrawlRun.Status.values:
        runs.add_metric([status], by_status.get(status, 0))
    yield runs
    last = (
        CrawlRun.objects.filter(status=CrawlRun.Status.FINISHED, finished_at__isnull=False)
        .order_by("-finished_at")
        .first()
    )
    if last is None:
        return  # absent, not zero: no crawl has finished yet
    yield GaugeMetricFamily(
        "directory_crawl_last_finished_timestamp_seconds",
        "When the newest finished crawl finished (Unix time).",
        value=last.finished_at.timestamp(),
    )
    yield GaugeMetricFamily(
        "directory_crawl_last_duration_seconds",
        "How long the newest finished crawl took.",
        value=(last.finished_at - last.started_at).total_seconds(),
    )
    servers = GaugeMetricFamily(
        "directory_crawl_last_servers",
        "Servers of the newest finished crawl, by outcome (ok, failed).",
        labels=["outcome"],
    )
    servers.add_metric(["ok"], last.servers_ok)
    servers.add_metric(["failed"], last.servers_failed)
    yield servers


def server_metrics() -> Iterator[Metric]:
    polled_ok = Q(last_poll_status=Server.PollStatus.OK)
    never = Q(last_poll_status=Server.PollStatus.NEVER)
    counts = Server.objects.aggregate(
        up=Count("pk", filter=polled_ok),
        never_polled=Count("pk", filter=never),
        down=Count("pk", filter=~polled_ok & ~never),
        key_proof_failed=Count("pk", filter=Q(key_state=Server.KeyState.FAILED)),
    )
    servers = GaugeMetricFamily(
        "directory_servers",
        "Known servers by their last poll: up (ok), down (any failure), never_polled.",
        labels=["state"],
    )
    for state in ("up", "down", "never_polled"):
        servers.add_metric([state], counts[state])
    yield servers
    yield GaugeMetricFamily(
        "directory_servers_key_proof_failed",
        "Servers that failed to prove their public key (never listed).",
        value=counts["key_proof_failed"],
    )


def room_metrics() -> Iterator[Metric]:
    listed = Room.objects.public()
    yield GaugeMetricFamily(
        "directory_rooms_listed",
        "Rooms the public sees (pages and listings).",
        value=listed.count(),
    )
    yield GaugeMetricFamily(
        "directory_rooms_listed_online",
        "Listed rooms whose server answered its last poll and still lists them.",
        value=listed.online().count(),
    )


# --- /metrics ---------------------------------------------------------------------------------


def multiprocess_mode() -> bool:
    """What prometheus_client chose when imported (from PROMETHEUS_MULTIPROC_DIR)."""
    return values.ValueClass is not values.MutexValue


def render_metrics() -> bytes:
    """The exposition text: this process's metrics, or every worker's in multiprocess mode, and
    the database gauges."""
    registry = CollectorRegistry()
    if multiprocess_mode():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    registry.register(DatabaseCollector())
    return generate_latest(registry)


def metrics_allowed(request: HttpRequest) -> bool:
    """A bearer token equal to METRICS_TOKEN, or a direct request from METRICS_ALLOWED_IPS."""
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if (
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), token.encode())
    ):
        return True
    return from_allowed_address(request)


def from_allowed_address(request: HttpRequest) -> bool:
    """REMOTE_ADDR is in METRICS_ALLOWED_IPS and the request was not relayed: behind a reverse
    proxy on the same host, every visitor's request comes from loopback. Not `client_address`
    (NUM_PROXIES): a scraper talks to the process directly, so a relayed request is refused
    rather than traced back, and a wrong proxy count cannot open /metrics to visitors."""
    if any(header in request.META for header in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in allowed_networks())


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(entry, strict=False) for entry in settings.METRICS_ALLOWED_IPS]
    except ValueError as error:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {error}") from error


@csrf_exempt
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for allowed scrapers only; anyone else gets the site's 404."""
    if not metrics_allowed(request):
        raise Http404
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
