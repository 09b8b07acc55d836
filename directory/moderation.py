"""Moderators' actions as service functions: admin actions (and later the API) call these.

Each change is saved object by object so the audit history records who changed what.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from directory import changes
from directory.lib.joinlinks import parse_join_link
from directory.models import AgeRating, Room, RoomTag, Server, Submission, Tag
from directory.servers import attach_address

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _locked(objects: QuerySet) -> QuerySet:
    """The rows of ``objects``, locked for the change: by primary key, since an admin's queryset
    may carry annotations (a room count) and PostgreSQL locks no grouped rows."""
    return objects.model.objects.filter(pk__in=objects.values("pk")).select_for_update()


@transaction.atomic
def set_age_rating(
    rooms: QuerySet[Room], rating: str, reason: changes.PublicReason | None = None
) -> int:
    """Rate rooms (a public change, recorded with the reason where the rating changes)."""
    if rating not in AgeRating.values:
        raise ValueError(f"Unknown age rating {rating!r}.")
    now = timezone.now()
    count = 0
    for room in _locked(rooms):
        changed = ["age_rating"] if room.age_rating != rating else []
        room.age_rating = rating
        room.rating_verified_at = now
        fields = ["age_rating", "rating_verified_at"]
        changes.save_with_reason(room, changed, reason, update_fields=fields)
        count += 1
    return count


@transaction.atomic
def set_flag(
    objects: QuerySet[Model], field: str, value: bool, reason: changes.PublicReason | None = None
) -> int:
    """Set a curated boolean (hidden, pinned) on each object, through save() for the history;
    hiding and un-hiding are public changes, recorded with the reason (directory/changes.py)."""
    count = 0
    for obj in _locked(objects):
        if getattr(obj, field) != value:
            setattr(obj, field, value)
            changes.save_with_reason(obj, [field], reason, update_fields=[field])
        count += 1
    return count


@transaction.atomic
def add_tag(rooms: QuerySet[Room], tag: Tag) -> int:
    count = 0
    for room in rooms:
        RoomTag.objects.get_or_create(room=room, tag=tag, origin=Tag.Kind.MAINTAINER)
        count += 1
    return count


@transaction.atomic
def remove_tag(rooms: QuerySet[Room], tag: Tag) -> int:
    """Remove a maintainer's tag; tags that crawls derive come back with the next crawl."""
    assignments = RoomTag.objects.filter(room__in=rooms, tag=tag, origin=Tag.Kind.MAINTAINER)
    removed = {assignment.room_id for assignment in assignments}
    for assignment in assignments:
        assignment.delete()
    return len(removed)


def _list_room(submission: Submission) -> Room:
    """The submitted room, listed: its server becomes known (key not yet proven)."""
    link = parse_join_link(submission.join_url)
    server, _ = Server.objects.get_or_create(
        pubkey=link.pubkey, defaults={"key_state": Server.KeyState.UNVERIFIED}
    )
    attach_address(server, link.scheme, link.host, link.port)
    room = Room.objects.filter(server=server, token_key=link.token_key).first()
    if room is None:
        room = Room(server=server, token=link.token, name=link.token)
    relisted = room.pk is not None and room.hidden
    room.hidden = False
    room.last_seen = max(room.last_seen, timezone.now()) if room.pk else timezone.now()
    if submission.suggested_language and not room.language:
        room.language = submission.suggested_language
    room.save()
    if relisted:  # a de-listed room, submitted again and approved: in the public record
        changes.record(room, ["hidden"], changes.SUBMISSION_APPROVED)
    for word in submission.suggested_tags.split():
        tag, _ = Tag.objects.get_or_create(slug=word[:64], defaults={"label": word[:64]})
        RoomTag.objects.get_or_create(room=room, tag=tag, origin=Tag.Kind.MAINTAINER)
    return room


@transaction.atomic
def approve_submission(submission: Submission, moderator: User | None) -> Room:
    """List the submitted room; the crawler fills in its name and data on its next poll."""
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    if submission.status == Submission.Status.APPROVED and submission.room_id:
        return submission.room
    room = _list_room(submission)
    submission.status = Submission.Status.APPROVED
    submission.decided_at = timezone.now()
    submission.decided_by = moderator
    submission.rejection_reason = ""
    submission.room = room
    submission.save()
    return room


@transaction.atomic
def reject_submission(submission: Submission, moderator: User | None, reason: str) -> None:
    """Reject with a reason the submitter sees on their status page; nothing gets listed."""
    if not reason.strip():
        raise ValueError("A rejection needs a reason; the submitter sees it.")
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    submission.status = Submission.Status.REJECTED
    submission.decided_at = timezone.now()
    submission.decided_by = moderator
    submission.rejection_reason = reason.strip()
    submission.save()
