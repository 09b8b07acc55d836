"""The moderation log: every change that a signed-in person made to the directory's data, newest
first, filterable by person and kind, with the reason given.

It reads the same history rows (django-simple-history) as each object's history page, so an
action shows up in both, whichever door it came through: a bulk action, a change form, a revert.
Crawls and imports, which run without a user, are not in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse

from directory.models import Listing, Report, Room, RoomTag, Server, Source, Submission

# The models whose history is logged, in the order of the "kind" filter.
LOGGED = (Room, Server, RoomTag, Listing, Submission, Report, Source)
PER_PAGE = 50
MAX_PAGES = 100
KINDS = {"+": "created", "~": "changed", "-": "deleted"}


@dataclass
class Entry:
    at: datetime
    user: object
    kind: str
    subject: str
    url: str
    action: str
    changes: list[str] = field(default_factory=list)
    reason: str = ""


def visible_models(user) -> list[type]:
    """The logged models this user may view (a moderator does not see sources' history)."""
    return [
        model
        for model in LOGGED
        if user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}")
        or user.has_perm(f"{model._meta.app_label}.change_{model._meta.model_name}")
    ]


def people(models: list[type]) -> list:
    """Everyone with an entry in these models' history, for the filter."""
    ids: set[int] = set()
    for model in models:
        ids |= set(
            model.history.filter(history_user__isnull=False)
            .order_by()
            .values_list("history_user_id", flat=True)
            .distinct()
        )
    return list(get_user_model().objects.filter(pk__in=ids).order_by("username"))


def entries(models: list[type], *, user_id: int | None = None, page: int = 1) -> list[Entry]:
    """One page of the log: the newest rows of every model's history, merged by date."""
    page = max(1, min(page, MAX_PAGES))
    newest = page * PER_PAGE
    rows = []
    for model in models:
        history = model.history.filter(history_user__isnull=False).select_related("history_user")
        if user_id is not None:
            history = history.filter(history_user_id=user_id)
        rows += [(model, row) for row in history.order_by("-history_date")[:newest]]
    rows.sort(key=lambda pair: pair[1].history_date, reverse=True)
    return [_entry(model, row) for model, row in rows[newest - PER_PAGE : newest]]


def _entry(model: type, row) -> Entry:
    changes = []
    if row.history_type == "~" and (previous := row.prev_record) is not None:
        for change in row.diff_against(previous).changes:
            changes.append(f"{change.field}: {change.old!r} → {change.new!r}")
    try:
        url = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
            args=[getattr(row, model._meta.pk.attname)],
        )
    except NoReverseMatch:  # a model without its own admin page (a room's tag)
        url = ""
    return Entry(
        at=row.history_date,
        user=row.history_user,
        kind=model._meta.verbose_name,
        subject=str(row.instance)[:200],
        url=url if row.history_type != "-" else "",
        action=KINDS.get(row.history_type, row.history_type),
        changes=changes,
        reason=row.history_change_reason or "",
    )
