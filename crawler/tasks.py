"""Celery tasks of the crawler: thin doors into the crawler's service functions, enqueued by name.

Beat runs `crawler.poll_all` (one `crawler.poll_server` per server, fanned out),
`crawler.crawl_sources` and `crawler.prune_activity`; the admin and the website enqueue
`crawler.poll_server`, `crawler.fetch_sources` and `crawler.check_submission` by name.

A worker killed mid-task (SIGKILL, the OOM killer) loses that task: tasks are acknowledged as
they start, not `acks_late` + `reject_on_worker_lost`, on purpose. A poll is safe to repeat (the
claim), but a redelivered poll would find the dead worker's claim still fresh and do nothing
("busy"), Redis would only redeliver after its visibility timeout (an hour, beyond the next
fan-out anyway), and a task that kills its worker (a reply that exhausts memory) would come back
for ever. Recovery is the schedule instead: the claim goes stale after CRAWLER_CLAIM_TIMEOUT and
the next poll takes the server over; a crawl left "running" is marked failed by the next one
(tests/faults/test_worker_killed.py).
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from crawler import maintenance, pipeline, submissions
from directory.models import Server, Submission


@shared_task(bind=True, name="crawler.poll_all")
def poll_all(self) -> int:
    """Fan out: one poll task per server, so servers are polled by many workers at once."""
    pks = list(Server.objects.values_list("pk", flat=True))
    for pk in pks:
        self.app.send_task("crawler.poll_server", args=[pk])
    return len(pks)


@shared_task(name="crawler.poll_server")
def poll_server(pk: int) -> str:
    """Poll one server (claimed first, so never twice at once); icons follow its poll."""
    return pipeline.poll_server(pk)


@shared_task(name="crawler.crawl_sources")
def crawl_sources() -> dict:
    """Every enabled source, then every server the links name and every known one."""
    run = pipeline.run_crawl()
    return {
        "run": run.pk,
        "servers_ok": run.servers_ok,
        "servers_failed": run.servers_failed,
        "failures": run.failures,  # by kind; Celery logs the result with the task's success
    }


@shared_task(name="crawler.fetch_sources")
def fetch_sources(pks: list[int]) -> int:
    """Fetch some sources now (the admin's "fetch now") and poll what they name."""
    return pipeline.fetch_sources_now(pks)


@shared_task(name="crawler.check_submission")
def check_submission(pk: int) -> str:
    """The website's check of a submitted link; the outcome lands on the Submission."""
    return submissions.check_submission(pk)


@shared_task(bind=True, name="crawler.requeue_unchecked_submissions")
def requeue_unchecked_submissions(self, older_than: float = 300) -> int:
    """Queue again the check of pending submissions still waiting for it after `older_than`
    seconds: the website could not queue it while Redis was down. Beat runs this."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    waiting = Submission.objects.filter(
        status=Submission.Status.PENDING,
        check_state=Submission.CheckState.WAITING,
        created_at__lt=cutoff,
    )
    pks = list(waiting.order_by("created_at").values_list("pk", flat=True)[:100])
    for pk in pks:
        self.app.send_task("crawler.check_submission", args=[pk], ignore_result=True)
    return len(pks)


@shared_task(name="crawler.prune_activity")
def prune_activity() -> int:
    return maintenance.prune_activity()
