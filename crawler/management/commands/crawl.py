"""`manage.py crawl`: the whole pipeline, synchronously, with a summary.

On a terminal one line shows the progress (servers stored of those expected, failures so far)
while the crawl runs; in a pipe or a file only the summary is written. Servers failing is normal
and exits 0; only a crawl that cannot run at all exits non-zero.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from crawler import failures
from crawler.conf import CrawlConfig
from crawler.pipeline import run_crawl


class TerminalProgress:
    """One line rewritten in place (a carriage return before each state), cleared at the end.

    It is also a logging filter on the console handlers: each log line clears it first, so log
    lines on the same terminal are never glued to it (the next state draws it again below).
    """

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out
        self.width = 0
        self.lock = threading.Lock()  # log records may come from the polling threads

    def __call__(self, stored: int, expected: int, failed: int) -> None:
        text = f"Polling servers: {stored}/{max(stored, expected)}, {failed} failed"
        with self.lock:
            self.out.write("\r" + text.ljust(self.width), ending="")  # spaces cover a longer one
            self.out.flush()
            self.width = len(text)

    def clear(self) -> None:
        with self.lock:
            if self.width:
                self.out.write("\r" + " " * self.width + "\r", ending="")
                self.out.flush()
                self.width = 0

    def filter(self, record: logging.LogRecord) -> bool:
        self.clear()
        return True

    @contextmanager
    def shown(self) -> Iterator[TerminalProgress]:
        """Filter the console's log lines while the crawl runs; clear the line at the end."""
        handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
        for handler in handlers:
            handler.addFilter(self)
        try:
            yield self
        finally:
            for handler in handlers:
                handler.removeFilter(self)
            self.clear()


class Command(BaseCommand):
    help = "Crawl sources and servers now (every enabled source and known server by default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source",
            action="append",
            default=[],
            metavar="URL",
            help="Crawl this source instead of the enabled ones (kind detected from content).",
        )
        parser.add_argument(
            "--server",
            action="append",
            default=[],
            metavar="URL",
            help="Poll just this server (a server URL or a join link); repeatable.",
        )

    def handle(self, *args, **options) -> None:
        try:
            config = CrawlConfig.from_settings()
        except ValueError as error:
            raise CommandError(f"The crawler is misconfigured: {error}") from error
        crawl = partial(
            run_crawl, config, source_urls=options["source"], server_urls=options["server"]
        )
        if self.stdout.isatty():
            with TerminalProgress(self.stdout).shown() as progress:
                run = crawl(progress=progress)
        else:
            run = crawl()
        failed = f" Failed, by kind: {failures.summary(run.failures)}." if run.failures else ""
        self.stdout.write(
            f"Crawl {run.pk}: {run.sources} sources, {run.links_found} links; "
            f"{run.servers_polled} addresses polled, {run.servers_ok} servers ok, "
            f"{run.servers_failed} failed; rooms: {run.rooms_new} new, "
            f"{run.rooms_updated} updated, {run.rooms_gone} gone.{failed}"
        )
        for error in run.errors[:50]:
            self.stdout.write(f"  {error}")
