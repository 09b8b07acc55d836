"""`manage.py crawl`: the whole pipeline, synchronously, with a summary.

Servers failing is normal and exits 0; only a crawl that cannot run at all exits non-zero.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crawler.conf import CrawlConfig
from crawler.pipeline import run_crawl


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
        run = run_crawl(config, source_urls=options["source"], server_urls=options["server"])
        self.stdout.write(
            f"Crawl {run.pk}: {run.sources} sources, {run.links_found} links; "
            f"{run.servers_polled} addresses polled, {run.servers_ok} servers ok, "
            f"{run.servers_failed} failed; rooms: {run.rooms_new} new, "
            f"{run.rooms_updated} updated, {run.rooms_gone} gone."
        )
        for error in run.errors[:50]:
            self.stdout.write(f"  {error}")
