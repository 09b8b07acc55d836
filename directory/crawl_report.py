"""The crawl report: what an operator reads in the admin to learn what went wrong and when.

Each finished crawl keeps a small picture of every server it polled (`CrawlRun.server_states`:
poll status, key state and rooms seen, which `CrawlRun.record_server_states` takes). The report
compares the last two pictures: servers that went down or came back, servers whose key proof
changed, and sudden drops in rooms found (e.g. "rooms found fell by 40%"), next to the servers
failing right now, the last crawl's failures by kind (`CrawlRun.failures`) and the recent runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from directory.models import CrawlRun, Server


@dataclass(frozen=True)
class Change:
    """One server whose state moved between the last two crawls."""

    server: Server | None
    pubkey: str
    before: str
    after: str


@dataclass(frozen=True)
class Drop:
    """Rooms found fell by `percent` between the last two crawls (a server, or all of them)."""

    label: str
    before: int
    after: int

    @property
    def percent(self) -> int:
        return round(100 * (self.before - self.after) / self.before)


@dataclass
class CrawlReport:
    runs: list[CrawlRun]
    latest: CrawlRun | None
    previous: CrawlRun | None
    stale: bool
    failing: list[Server]
    went_down: list[Change] = field(default_factory=list)
    came_back: list[Change] = field(default_factory=list)
    key_changes: list[Change] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)

    @property
    def failures(self) -> list[tuple[str, int]]:
        """Why the last crawl's failed servers failed: (kind, servers), most servers first."""
        counts = (self.latest.failures or {}) if self.latest is not None else {}
        labels = dict(Server.PollStatus.choices)
        pairs = [(labels.get(kind, kind), count) for kind, count in counts.items() if count]
        return sorted(pairs, key=lambda pair: (-pair[1], pair[0]))

    @property
    def healthy(self) -> bool:
        return not (self.stale or self.went_down or self.key_changes or self.drops)


def build_report(now: datetime | None = None, runs: int = 10) -> CrawlReport:
    now = now or timezone.now()
    recent = list(CrawlRun.objects.order_by("-started_at")[:runs])
    finished = list(
        CrawlRun.objects.filter(status=CrawlRun.Status.FINISHED).order_by("-finished_at")[:2]
    )
    latest = finished[0] if finished else None
    previous = finished[1] if len(finished) > 1 else None
    max_age = timedelta(minutes=settings.CRAWL_REPORT_STALE_MINUTES)
    failing = list(
        Server.objects.exclude(last_poll_status__in=[Server.PollStatus.OK, Server.PollStatus.NEVER])
        .select_related("preferred_address")
        .order_by("-consecutive_failures", "pubkey")[:200]
    )
    report = CrawlReport(
        runs=recent,
        latest=latest,
        previous=previous,
        stale=latest is None or latest.finished_at < now - max_age,
        failing=failing,
    )
    if latest is not None and previous is not None:
        _compare(report, previous, latest)
    return report


def _compare(report: CrawlReport, previous: CrawlRun, latest: CrawlRun) -> None:
    before, after = previous.server_states or {}, latest.server_states or {}
    servers = Server.objects.select_related("preferred_address").in_bulk(
        set(before) | set(after), field_name="pubkey"
    )
    ok = Server.PollStatus.OK
    for pubkey in sorted(set(before) & set(after)):
        old, new = before[pubkey], after[pubkey]
        server = servers.get(pubkey)
        if old.get("status") == ok and new.get("status") != ok:
            report.went_down.append(Change(server, pubkey, old.get("status"), new.get("status")))
        elif old.get("status") != ok and new.get("status") == ok:
            report.came_back.append(Change(server, pubkey, old.get("status"), new.get("status")))
        if old.get("key") != new.get("key"):
            report.key_changes.append(Change(server, pubkey, old.get("key"), new.get("key")))
        drop = _drop(str(server or pubkey[:8]), old.get("rooms", 0), new.get("rooms", 0))
        if drop is not None and new.get("status") == ok:
            report.drops.append(drop)  # a server that is down is listed as down, not as a drop
    total = _drop("All servers", previous.rooms_found, latest.rooms_found)
    if total is not None:
        report.drops.insert(0, total)


def _drop(label: str, before: int, after: int) -> Drop | None:
    """A drop worth an operator's attention: at least the threshold, and at least a few rooms."""
    if before < settings.CRAWL_REPORT_MIN_ROOMS or after >= before:
        return None
    drop = Drop(label, before, after)
    return drop if drop.percent >= settings.CRAWL_REPORT_DROP_PERCENT else None
