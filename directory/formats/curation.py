"""Export and import the moderators' decisions (curation) as one versioned JSON document.

Curation is what no crawl can bring back: keep it safe with ``export_curation`` and restore it
into any database (a fresh one included) with ``import_curation``. The file looks like this::

    {
      "format": "session-directory-curation",
      "version": 1,
      "exported_at": "2025-01-31T12:00:00.000000Z",
      "servers": [{"pubkey": "<64 hex>", ...Server.CURATED_FIELDS,
                   "addresses": [{"scheme", "host", "port"}]}],
      "rooms": [{"server": "<pubkey>", "token": "General", ...Room.CURATED_FIELDS,
                 "maintainer_tags": [{"tag": "<slug>", "added_at": "<datetime>"}]}],
      "tags": [{"slug", "label", "kind", "description", "updated"}],
      "sources": [{"name", "url", "kind", "enabled", "notes", "suggested_age_rating"}],
      "listings": [{"slug", "name", "description", "created", "updated", "include_all",
                    "rating_filter", "rooms": [{"server": "<pubkey>", "token": "General"}],
                    "tags": ["<slug>"]}],
      "submissions": [{...every Submission field, "room": {"server", "token"} or null,
                       "decided_by": "<username>" or null}],
      "reports": [{"room": {"server", "token"}, "kind", "message", "created_at", "status",
                   "moderator_note"}]
    }

Natural keys, so that a file outlives the database it came from: a server by ``pubkey``, a room by
(server pubkey, token compared case-insensitively), a tag and a listing by ``slug``, a source by
``name``, a submission by (``join_url``, ``created_at``), a report by (room, ``kind``,
``created_at``). Datetimes are ISO 8601 with microseconds. Crawled fields are never exported.
The serializers follow the models (``CURATED_FIELDS`` for servers and rooms, every field for the
rest), so a field added there is exported, validated and imported without a change here. Files
are not in the backup: a server's icon (curated) is not, any more than rooms' icons (crawled).

Import validates the whole file first (an error names its path, e.g. ``rooms[12].age_rating``),
then writes in one transaction. For every object in the file the file wins: its curated fields,
its maintainer tags, a listing's rooms and tags are set to the file's; objects not in the file are
left alone, and so are crawled fields of existing rows. A server or room the database does not
know is created as a stub (the server with the file's addresses, so the crawler can poll it). A
curated field missing from an entry is left as it is. Only changed objects are saved, each once,
with the history change reason ``import_curation``: running an import twice changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.core.validators import validate_unicode_slug
from django.db import transaction
from django.db.models import Model, Prefetch
from django.utils import timezone
from rest_framework import serializers

from directory.formats.common import FormatError, first_error
from directory.models import (
    Listing,
    Report,
    Room,
    RoomTag,
    Server,
    ServerAddress,
    Source,
    Submission,
    Tag,
    pubkey_validator,
    token_validator,
)
from directory.servers import attach_address

FORMAT = "session-directory-curation"
VERSION = 1
CHANGE_REASON = "import_curation"
KINDS = ("servers", "rooms", "tags", "sources", "listings", "submissions", "reports")
SOURCE_FIELDS = ("name", "url", "kind", "enabled", "notes", "suggested_age_rating")


# --- The file's shape ------------------------------------------------------------------------


class RoomKey(NamedTuple):
    server: str
    token: str

    @property
    def key(self) -> tuple[str, str]:
        return self.server, self.token.lower()


class RoomRef(serializers.Serializer):
    """A room by its natural key: ``{"server": pubkey, "token": token}``."""

    server = serializers.RegexField(
        pubkey_validator.regex, error_messages={"invalid": pubkey_validator.message}
    )
    token = serializers.RegexField(
        token_validator.regex, error_messages={"invalid": token_validator.message}
    )

    def to_representation(self, room: Room) -> dict[str, str]:
        return {"server": room.server.pubkey, "token": room.token}

    def to_internal_value(self, data: object) -> RoomKey:
        return RoomKey(**super().to_internal_value(data))


class TagSlugList(serializers.ListField):
    child = serializers.SlugField(max_length=64, allow_unicode=True)

    def to_representation(self, data: Any) -> list[str]:
        return [tag.slug for tag in (data.all() if hasattr(data, "all") else data)]


class UsernameField(serializers.CharField):
    def to_representation(self, user: Any) -> str:
        return user.get_username()


def model_order(model: type[Model], *names: str) -> tuple[str, ...]:
    """``names`` (by default every field a fixture of the model carries) in the model's field
    order, names of no model field after: so a file reads like the model, and a field added to
    the model is exported, validated and imported without a change here."""
    order = [f.name for f in (*model._meta.fields, *model._meta.many_to_many) if f.serialize]
    return tuple(sorted(names or order, key=lambda n: order.index(n) if n in order else len(order)))


class CurationMeta:
    """What every curation serializer's ``Meta`` shares: the model's fields and checks, without
    database look-ups, since the database may be empty and uniqueness within the file is checked
    by ``_check_references``. DRF takes an explicit ``Meta.validators`` instead of the unique
    together and unique-for-date validators it derives; a unique model field's own validators are
    given in ``extra_kwargs``, which replaces DRF's list (and so drops its ``UniqueValidator``).
    A model field made unique needs such an entry: tests/directory/formats/test_curation.py fails
    until it has one."""

    validators: list = []


class AddressCuration(serializers.ModelSerializer):
    class Meta(CurationMeta):
        model = ServerAddress
        fields = model_order(ServerAddress, "scheme", "host", "port")
        extra_kwargs = {"port": {"min_value": 1, "max_value": 65535}}


class ServerCuration(serializers.ModelSerializer):
    addresses = AddressCuration(many=True, required=False)

    class Meta(CurationMeta):
        model = Server
        # A file is not in the backup (like room icons): only the server's other curated fields.
        curated = (name for name in Server.CURATED_FIELDS if name != "icon")
        fields = model_order(Server, "pubkey", "addresses", *curated)
        extra_kwargs = {"pubkey": {"validators": [pubkey_validator]}}


class MaintainerTagCuration(serializers.Serializer):
    tag = serializers.SlugField(source="tag.slug", max_length=64, allow_unicode=True)
    added_at = serializers.DateTimeField(required=False)


class RoomCuration(serializers.ModelSerializer):
    server = serializers.RegexField(pubkey_validator.regex, source="server.pubkey")
    maintainer_tags = MaintainerTagCuration(many=True, required=False)

    class Meta(CurationMeta):
        model = Room
        fields = model_order(Room, "server", "token", *Room.CURATED_FIELDS, "maintainer_tags")


class TagCuration(serializers.ModelSerializer):
    updated = serializers.DateTimeField(required=False)

    class Meta(CurationMeta):
        model = Tag
        fields = model_order(Tag)
        extra_kwargs = {"slug": {"validators": [validate_unicode_slug]}}


class SourceCuration(serializers.ModelSerializer):
    class Meta(CurationMeta):
        model = Source
        fields = model_order(Source, *SOURCE_FIELDS)
        extra_kwargs = {"name": {"validators": []}, "url": {"validators": []}}


class ListingCuration(serializers.ModelSerializer):
    updated = serializers.DateTimeField(required=False)
    rooms = RoomRef(many=True, required=False)
    tags = TagSlugList(required=False)

    class Meta(CurationMeta):
        model = Listing
        fields = model_order(Listing)
        extra_kwargs = {"slug": {"validators": []}}


class SubmissionCuration(serializers.ModelSerializer):
    room = RoomRef(allow_null=True, required=False)
    decided_by = UsernameField(allow_null=True, required=False)

    class Meta(CurationMeta):
        model = Submission
        fields = model_order(Submission)
        extra_kwargs = {"created_at": {"required": True}}


class ReportCuration(serializers.ModelSerializer):
    room = RoomRef()

    class Meta(CurationMeta):
        model = Report
        fields = model_order(Report)
        extra_kwargs = {"created_at": {"required": True}}


class CurationFile(serializers.Serializer):
    format = serializers.CharField()
    version = serializers.IntegerField()
    exported_at = serializers.DateTimeField(required=False)
    servers = ServerCuration(many=True, required=False, default=list)
    rooms = RoomCuration(many=True, required=False, default=list)
    tags = TagCuration(many=True, required=False, default=list)
    sources = SourceCuration(many=True, required=False, default=list)
    listings = ListingCuration(many=True, required=False, default=list)
    submissions = SubmissionCuration(many=True, required=False, default=list)
    reports = ReportCuration(many=True, required=False, default=list)


# --- Export ----------------------------------------------------------------------------------


def _rooms_in_key_order():
    return Room.objects.select_related("server").order_by("server__pubkey", "token_key")


def export_curation() -> dict:
    """Every moderator decision in the database, as the versioned document described above."""
    maintainer_tags = RoomTag.objects.filter(origin=Tag.Kind.MAINTAINER).select_related("tag")
    servers = Server.objects.order_by("pubkey").prefetch_related(
        Prefetch("addresses", ServerAddress.objects.order_by("scheme", "host", "port"))
    )
    rooms = _rooms_in_key_order().prefetch_related(
        Prefetch("room_tags", maintainer_tags.order_by("tag__slug"), to_attr="maintainer_tags")
    )
    listings = Listing.objects.order_by("slug").prefetch_related(
        Prefetch("rooms", _rooms_in_key_order()), Prefetch("tags", Tag.objects.order_by("slug"))
    )
    submissions = Submission.objects.select_related("room__server", "decided_by")
    reports = Report.objects.select_related("room__server")
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": serializers.DateTimeField().to_representation(timezone.now()),
        "servers": ServerCuration(servers, many=True).data,
        "rooms": RoomCuration(rooms, many=True).data,
        "tags": TagCuration(Tag.objects.order_by("slug"), many=True).data,
        "sources": SourceCuration(Source.objects.order_by("name"), many=True).data,
        "listings": ListingCuration(listings, many=True).data,
        "submissions": SubmissionCuration(
            submissions.order_by("created_at", "join_url", "pk"), many=True
        ).data,
        "reports": ReportCuration(reports.order_by("created_at", "pk"), many=True).data,
    }


# --- Validation ------------------------------------------------------------------------------


def _check_header(data: object) -> None:
    if not isinstance(data, dict):
        raise FormatError(f"expected a JSON object (a curation file), got {type(data).__name__}.")
    if data.get("format") != FORMAT:
        raise FormatError(f"format: expected {FORMAT!r}, got {data.get('format')!r}.")
    version = data.get("version")
    if version != VERSION or isinstance(version, bool):
        raise FormatError(f"version: this directory reads version {VERSION}, not {version!r}.")


def _check_references(data: dict) -> None:
    """Every key unique, every reference to something the file itself carries."""
    servers = _unique(data, "servers", lambda entry: entry["pubkey"])
    rooms = _unique(
        data, "rooms", lambda entry: (entry["server"]["pubkey"], entry["token"].lower())
    )
    tags = _unique(data, "tags", lambda entry: entry["slug"])
    _unique(data, "sources", lambda entry: entry["name"])
    _unique(data, "sources", lambda entry: entry["url"])
    _unique(data, "listings", lambda entry: entry["slug"])
    _unique(data, "submissions", lambda entry: (entry["join_url"], entry["created_at"]))
    _unique(data, "reports", lambda entry: (entry["room"].key, entry["kind"], entry["created_at"]))

    def need(found: bool, where: str, what: str) -> None:
        if not found:
            raise FormatError(f"{where}: {what} is not in the file.")

    for i, entry in enumerate(data["rooms"]):
        need(entry["server"]["pubkey"] in servers, f"rooms[{i}].server", "this server")
        slugs = [tag["tag"]["slug"] for tag in entry.get("maintainer_tags", [])]
        for j, slug in enumerate(slugs):
            need(slug in tags, f"rooms[{i}].maintainer_tags[{j}].tag", f"tag {slug!r}")
            if slug in slugs[:j]:
                raise FormatError(f"rooms[{i}].maintainer_tags[{j}].tag: {slug!r} twice.")
    for i, entry in enumerate(data["listings"]):
        for j, room in enumerate(entry.get("rooms", [])):
            need(room.key in rooms, f"listings[{i}].rooms[{j}]", "this room")
        for j, slug in enumerate(entry.get("tags", [])):
            need(slug in tags, f"listings[{i}].tags[{j}]", f"tag {slug!r}")
    for kind in ("submissions", "reports"):
        for i, entry in enumerate(data[kind]):
            room = entry.get("room")
            need(room is None or room.key in rooms, f"{kind}[{i}].room", "this room")


def _unique(data: dict, kind: str, key) -> set:
    seen = set()
    for i, entry in enumerate(data[kind]):
        value = key(entry)
        if value in seen:
            raise FormatError(f"{kind}[{i}]: appears twice in the file.")
        seen.add(value)
    return seen


def validate_curation(data: object) -> dict:
    """The validated content of a curation document; FormatError naming the first problem."""
    _check_header(data)
    checked = CurationFile(data=data)
    if not checked.is_valid():
        raise FormatError(first_error(checked.errors))
    _check_references(checked.validated_data)
    return checked.validated_data


# --- Import ----------------------------------------------------------------------------------


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class CurationResult:
    """What an import did, kind by kind: objects created, changed, or already as in the file."""

    counts: dict[str, Counts] = field(default_factory=lambda: {kind: Counts() for kind in KINDS})
    unknown_users: set[str] = field(default_factory=set)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return any(counts.created or counts.updated for counts in self.counts.values())

    def count(self, kind: str, outcome: str) -> None:
        counts = self.counts[kind]
        setattr(counts, outcome, getattr(counts, outcome) + 1)

    def __str__(self) -> str:
        return "\n".join(
            f"{kind}: {c.created} created, {c.updated} updated, {c.unchanged} unchanged"
            for kind, c in self.counts.items()
        )


def import_curation(data: object, *, dry_run: bool = False) -> CurationResult:
    """Validate ``data`` (a parsed curation file) and write it in one transaction.

    With ``dry_run`` everything is written and then rolled back: the result says what would change.
    """
    entries = validate_curation(data)
    result = CurationResult(dry_run=dry_run)
    with transaction.atomic():
        tags = _import_tags(entries["tags"], result)
        _import_sources(entries["sources"], result)
        servers = _import_servers(entries["servers"], result)
        rooms = _import_rooms(entries["rooms"], servers, tags, result)
        _import_listings(entries["listings"], rooms, tags, result)
        _import_submissions(entries["submissions"], rooms, result)
        _import_reports(entries["reports"], rooms, result)
        if dry_run:
            transaction.set_rollback(True)
    return result


def _save(obj: Model, update_fields: list[str] | None = None) -> None:
    obj._change_reason = CHANGE_REASON  # recorded in the audit history
    obj.save(update_fields=update_fields)


def _create(model: type[Model], values: dict) -> Model:
    obj = model(**values)
    _save(obj)
    return obj


def _update(obj: Model, values: dict) -> bool:
    """Save the values that differ, in one save; True when there were any."""
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, values[name])
    if changed:
        _save(obj, update_fields=changed)
    return bool(changed)


def _upsert(
    obj: Model | None, model: type[Model], values: dict, kind: str, result: CurationResult
) -> Model:
    if obj is None:
        obj = _create(model, values)
        result.count(kind, "created")
    else:
        result.count(kind, "updated" if _update(obj, values) else "unchanged")
    return obj


def _import_tags(entries: list[dict], result: CurationResult) -> dict[str, Tag]:
    existing = Tag.objects.in_bulk([entry["slug"] for entry in entries], field_name="slug")
    tags = {}
    for entry in entries:
        tag = tags[entry["slug"]] = _upsert(existing.get(entry["slug"]), Tag, entry, "tags", result)
        if "updated" in entry:  # auto_now set it to now; the file's time is the real one
            Tag.objects.filter(pk=tag.pk).update(updated=entry["updated"])
            tag.updated = entry["updated"]
    return tags


def _import_sources(entries: list[dict], result: CurationResult) -> None:
    existing = Source.objects.in_bulk([entry["name"] for entry in entries], field_name="name")
    for i, entry in enumerate(entries):
        taken = Source.objects.filter(url=entry.get("url")).exclude(name=entry["name"]).first()
        if taken is not None:  # url is unique too: say so rather than fail on the constraint
            raise FormatError(f"sources[{i}].url: already the URL of source {taken.name!r}.")
        _upsert(existing.get(entry["name"]), Source, entry, "sources", result)


def _import_servers(entries: list[dict], result: CurationResult) -> dict[str, Server]:
    existing = Server.objects.in_bulk([entry["pubkey"] for entry in entries], field_name="pubkey")
    servers = {}
    for entry in entries:
        values = {name: value for name, value in entry.items() if name != "addresses"}
        server = existing.get(entry["pubkey"])
        if server is None:  # unknown here: a stub with its addresses, for the crawler to poll
            server = _upsert(None, Server, values, "servers", result)
            for address in entry.get("addresses", []):
                attach_address(server, address["scheme"], address["host"], address["port"])
        else:
            _upsert(server, Server, values, "servers", result)
        servers[server.pubkey] = server
    return servers


def _import_rooms(
    entries: list[dict], servers: dict[str, Server], tags: dict[str, Tag], result: CurationResult
) -> dict[tuple[str, str], Room]:
    existing = {(room.server.pubkey, room.token_key): room for room in _rooms_in_key_order()}
    assignments: dict[int, dict[int, RoomTag]] = defaultdict(dict)
    for assignment in RoomTag.objects.filter(origin=Tag.Kind.MAINTAINER):
        assignments[assignment.room_id][assignment.tag_id] = assignment
    rooms = {}
    for entry in entries:
        key = (entry["server"]["pubkey"], entry["token"].lower())
        values = {name: entry[name] for name in Room.CURATED_FIELDS if name in entry}
        room = existing.get(key)
        if room is None:  # a stub the crawler fills in, as when a submission is approved
            token = entry["token"]
            room = _create(
                Room, {**values, "server": servers[key[0]], "token": token, "name": token}
            )
            outcome = "created"
        else:
            outcome = "updated" if _update(room, values) else "unchanged"
        if "maintainer_tags" in entry:
            wanted = {tags[item["tag"]["slug"]].pk: item for item in entry["maintainer_tags"]}
            if _set_maintainer_tags(room, wanted, assignments[room.pk]) and outcome == "unchanged":
                outcome = "updated"
        result.count("rooms", outcome)
        rooms[key] = room
    return rooms


def _set_maintainer_tags(room: Room, wanted: dict[int, dict], current: dict[int, RoomTag]) -> bool:
    """Make the room's maintainer tags exactly ``wanted`` (tag pk -> entry); True if changed."""
    changed = False
    for tag_id, assignment in current.items():
        if tag_id not in wanted:
            assignment._change_reason = CHANGE_REASON
            assignment.delete()
            changed = True
    for tag_id, item in wanted.items():
        added_at = {"added_at": item["added_at"]} if "added_at" in item else {}
        origin = Tag.Kind.MAINTAINER
        if tag_id not in current:
            _create(RoomTag, {"room": room, "tag_id": tag_id, "origin": origin, **added_at})
            changed = True
        elif _update(current[tag_id], added_at):
            changed = True
    return changed


def _import_listings(
    entries: list[dict], rooms: dict[tuple, Room], tags: dict[str, Tag], result: CurationResult
) -> None:
    existing = Listing.objects.in_bulk([entry["slug"] for entry in entries], field_name="slug")
    for entry in entries:
        values = {name: value for name, value in entry.items() if name not in ("rooms", "tags")}
        related = {}
        if "rooms" in entry:
            related["rooms"] = {rooms[ref.key].pk for ref in entry["rooms"]}
        if "tags" in entry:
            related["tags"] = {tags[slug].pk for slug in entry["tags"]}
        listing = existing.get(entry["slug"])
        if listing is None:
            listing, outcome = Listing(), "created"
        elif any(getattr(listing, name) != value for name, value in values.items()) or any(
            set(getattr(listing, name).values_list("pk", flat=True)) != pks
            for name, pks in related.items()
        ):
            outcome = "updated"
        else:
            result.count("listings", "unchanged")
            continue
        for name, value in values.items():
            setattr(listing, name, value)
        _save(listing)  # one history row, even when only its rooms or tags changed
        for name, pks in related.items():
            getattr(listing, name).set(pks)
        if "updated" in values:  # auto_now set it to now; the file's time is the real one
            Listing.objects.filter(pk=listing.pk).update(updated=values["updated"])
        result.count("listings", outcome)


def _user_ids(names: set[str], result: CurationResult) -> dict[str, int]:
    """Moderators by user name; names this database lacks are reported, and left unset."""
    users = get_user_model()._default_manager
    field_name = get_user_model().USERNAME_FIELD
    found = dict(users.filter(**{f"{field_name}__in": names}).values_list(field_name, "pk"))
    result.unknown_users |= names - set(found)
    return found


def _import_submissions(
    entries: list[dict], rooms: dict[tuple, Room], result: CurationResult
) -> None:
    existing = {(s.join_url, s.created_at): s for s in Submission.objects.all()}
    user_ids = _user_ids(
        {entry["decided_by"] for entry in entries if entry.get("decided_by")}, result
    )
    for entry in entries:
        values = {
            name: value for name, value in entry.items() if name not in ("room", "decided_by")
        }
        if "room" in entry:
            values["room_id"] = rooms[entry["room"].key].pk if entry["room"] else None
        if "decided_by" in entry:
            values["decided_by_id"] = user_ids.get(entry["decided_by"])
        obj = existing.get((entry["join_url"], entry["created_at"]))
        _upsert(obj, Submission, values, "submissions", result)


def _import_reports(entries: list[dict], rooms: dict[tuple, Room], result: CurationResult) -> None:
    existing = {(r.room_id, r.kind, r.created_at): r for r in Report.objects.all()}
    for entry in entries:
        values = {name: value for name, value in entry.items() if name != "room"}
        values["room_id"] = rooms[entry["room"].key].pk
        obj = existing.get((values["room_id"], entry["kind"], entry["created_at"]))
        _upsert(obj, Report, values, "reports", result)
