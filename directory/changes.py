"""The public record: what moderators changed that visitors can see (de-listed, re-listed,
re-rated, added to or removed from a listing), when, and the public reason.

Each entry (``PublicChange``) is written right after the save it describes and points at that
save's history row (django-simple-history), whose user is the moderator and whose change reason
carries the same reason. ``/changes/`` and its Atom feed show entries without moderators' names
or private notes; rooms de-listed for illegal content appear by server and token only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.syndication.views import Feed
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from directory.lib.roomtext import clean_text
from directory.models import AgeRating, Listing, PublicChange, Room, Server

Action, Reason = PublicChange.Action, PublicChange.Reason

# The fields whose change the public sees, per model.
PUBLIC_FIELDS: dict[type[Model], tuple[str, ...]] = {
    Room: ("hidden", "age_rating"),
    Server: ("hidden",),
}
RATING_ACTIONS = {
    AgeRating.NSFW: Action.RATED_ADULT,
    AgeRating.SFW: Action.RATED_SAFE,
    AgeRating.UNRATED: Action.UNRATED,
}
PER_PAGE = 50
FEED_SIZE = 50
REASON_TEXT_MAX = 500


@dataclass(frozen=True)
class PublicReason:
    """Why a public change was made: a reason from the short list, optional public text, and an
    optional note that only moderators see."""

    code: str
    text: str = ""
    private_note: str = ""

    def __post_init__(self) -> None:
        if self.code not in Reason.values:
            raise ValidationError(f"{self.code!r} is not a public reason.")
        if len(self.text) > REASON_TEXT_MAX:
            raise ValidationError(f"The public text is at most {REASON_TEXT_MAX} characters.")
        if self.code == Reason.OTHER and not self.text.strip():
            raise ValidationError("'Other' needs a public text that explains it.")

    @property
    def summary(self) -> str:
        """The history row's change reason (at most 100 characters, simple_history's field)."""
        label = str(Reason(self.code).label)  # the history row keeps the admin's English
        return f"{label}: {self.text}"[:100] if self.text else label


# A hidden room listed again because a moderator approved its submission.
SUBMISSION_APPROVED = PublicReason(Reason.OTHER, "Submitted again and approved.")


def public_fields(obj: Model, fields: Iterable[str]) -> list[str]:
    return [field for field in PUBLIC_FIELDS.get(type(obj), ()) if field in set(fields)]


def save_with_reason(
    obj: Room | Server,
    changed: Iterable[str],
    reason: PublicReason | None,
    *,
    update_fields: list[str] | None = None,
) -> list[PublicChange]:
    """Save ``obj`` (one history row, carrying the reason) and record each public change among
    the ``changed`` fields. The admin always asks for a reason; a change made without one (from
    the shell) is still recorded, as given no reason."""
    if reason is not None:
        obj._change_reason = reason.summary  # simple_history stores it on the history row
    obj.save(update_fields=update_fields)
    return record(obj, changed, reason)


def record(obj: Room | Server, changed: Iterable[str], reason: PublicReason | None) -> list:
    """Entries for the public fields among ``changed``, just saved on ``obj``."""
    fields = public_fields(obj, changed)
    if not fields:
        return []
    history = obj.history.order_by("-history_id").first()  # the row of that save
    actions = [_action(obj, field) for field in fields]
    return [_create(obj, action, reason, history) for action in actions]


def record_listing(
    listing: Listing,
    added: Iterable[Room],
    removed: Iterable[Room],
    reason: PublicReason | None,
) -> list[PublicChange]:
    """Entries for rooms just added to or removed from ``listing``'s chosen rooms."""
    history = listing.history.order_by("-history_id").first()
    return [
        _create(room, action, reason, history, listing=listing)
        for action, rooms in ((Action.LISTING_ADDED, added), (Action.LISTING_REMOVED, removed))
        for room in rooms
    ]


def _action(obj: Room | Server, field: str) -> str:
    if field == "hidden":
        return Action.DELISTED if obj.hidden else Action.RELISTED
    return RATING_ACTIONS[obj.age_rating]


def _create(subject, action, reason, history, *, listing: Listing | None = None) -> PublicChange:
    room = subject if isinstance(subject, Room) else None
    server = room.server if room is not None else subject
    return PublicChange.objects.create(
        action=action,
        room=room,
        server=server,
        server_pubkey=server.pubkey,
        server_url=server.base_url,
        room_token=room.token if room is not None else "",
        name=(room.name if room is not None else server.name)[:200],
        listing=listing,
        listing_name=listing.name if listing is not None else "",
        reason=reason.code if reason else "",
        reason_text=reason.text.strip() if reason else "",
        private_note=reason.private_note.strip() if reason else "",
        moderator=history.history_user if history else None,
        history_id=history.history_id if history else None,
    )


# -- what the public sees ---------------------------------------------------------------------


@dataclass(frozen=True)
class PublicEntry:
    """An entry as visitors see it: no moderator, no private note."""

    id: int
    at: object
    what: str
    subject: str
    server: str
    of_server: bool  # the subject is the server itself, not one of its rooms
    url: str
    reason: str
    reason_text: str


def _illegal_rooms(changes: list[PublicChange]) -> set[tuple[str, str]]:
    """(server key, token) of the rooms among these that were ever de-listed for illegal
    content: all their entries name them by server and token only."""
    keys = {(change.server_pubkey, change.room_token.lower()) for change in changes}
    rooms = PublicChange.objects.filter(
        action=Action.DELISTED, reason=Reason.ILLEGAL, server_pubkey__in={k for k, _ in keys}
    ).exclude(room_token="")
    return {(c.server_pubkey, c.room_token.lower()) for c in rooms} & keys


def public_entries(changes: Iterable[PublicChange]) -> list[PublicEntry]:
    changes = list(changes)
    illegal = _illegal_rooms(changes)
    public_rooms = set(
        Room.objects.public()
        .filter(pk__in={c.room_id for c in changes if c.room_id})
        .values_list("pk", flat=True)
    )
    return [_public_entry(change, illegal, public_rooms) for change in changes]


def _public_entry(change: PublicChange, illegal: set, public_rooms: set[int]) -> PublicEntry:
    server = change.server_url or change.server_pubkey[:8]
    what = change.get_action_display()
    if change.action == Action.LISTING_ADDED:
        what = _("Added to the listing “%(listing)s”") % {"listing": change.listing_name}
    elif change.action == Action.LISTING_REMOVED:
        what = _("Removed from the listing “%(listing)s”") % {"listing": change.listing_name}
    url = ""
    if not change.room_token:
        subject = _("Server %(server)s") % {"server": server}
    elif (change.server_pubkey, change.room_token.lower()) in illegal:
        # By server and token only: no name.
        subject = _("Room “%(token)s”") % {"token": change.room_token}
    else:
        subject = clean_text(change.name, 200) or change.room_token
        if change.room_id in public_rooms:
            url = reverse(
                "room_detail", kwargs={"pubkey": change.server_pubkey, "token": change.room_token}
            )
    return PublicEntry(
        id=change.pk,
        at=change.at,
        what=what,
        subject=subject,
        server=server,
        of_server=not change.room_token,
        url=url,
        reason=change.get_reason_display() if change.reason else _("No reason given"),
        reason_text=clean_text(change.reason_text, REASON_TEXT_MAX, multiline=True),
    )


@require_safe
def changes_page(request: HttpRequest) -> HttpResponse:
    """``/changes/``: the public record, newest first."""
    page = Paginator(PublicChange.objects.all(), PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "entries": public_entries(page)}
    return render(request, "directory/changes.html", context)


class ChangesFeed(Feed):
    """The public record as an Atom feed."""

    feed_type = Atom1Feed
    item_guid_is_permalink = False
    title = gettext_lazy("Session Communities: changes by the moderators")
    subtitle = gettext_lazy(
        "Communities and servers de-listed, re-listed, re-rated or moved between listings."
    )

    def link(self) -> str:
        return reverse("changes")

    def items(self) -> list[PublicEntry]:
        return public_entries(PublicChange.objects.all()[:FEED_SIZE])

    def item_title(self, entry: PublicEntry) -> str:
        return _("%(what)s: %(subject)s (%(server)s)") % {
            "what": entry.what,
            "subject": entry.subject,
            "server": entry.server,
        }

    def item_description(self, entry: PublicEntry) -> str:
        # Atom summaries are type="html": escaped as HTML, as the new-communities feed does.
        return escape(f"{entry.reason}. {entry.reason_text}".strip())

    def item_link(self, entry: PublicEntry) -> str:
        return f"{reverse('changes')}#change-{entry.id}"

    def item_guid(self, entry: PublicEntry) -> str:
        return f"change-{entry.id}"

    def item_pubdate(self, entry: PublicEntry):
        return entry.at

    def item_updateddate(self, entry: PublicEntry):
        return entry.at
