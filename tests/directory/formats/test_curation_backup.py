"""`export_curation` / `import_curation`: every moderator decision survives a fresh database."""

from __future__ import annotations

import copy
import importlib
import io
import json
from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.exceptions import FieldDoesNotExist
from django.core.management import CommandError, ManagementUtility, call_command
from django.db import connections, models
from django.db.models import QuerySet

from directory import moderation
from directory.formats.common import FormatError
from directory.formats.curation import export_curation, import_curation
from directory.formats.snapshot import import_snapshot
from directory.models import (
    AgeRating,
    Listing,
    Report,
    Room,
    RoomTag,
    Server,
    Source,
    Submission,
    Tag,
)
from tests.conftest import SNAPSHOT

# Source fields a fetch writes: bookkeeping, not a moderator's decision.
SOURCE_FETCH_STATE = {
    "last_fetched_at",
    "last_status",
    "last_error",
    "last_good_body",
    "last_good_at",
    "links_found",
}
# A server's icon is curated but a file, and files are not in the backup.
SERVER_BACKED_UP = set(Server.CURATED_FIELDS) - {"icon"}
UNKNOWN_KEY = "ab" * 32
PAST = datetime(2024, 5, 17, 8, 30, 12, 345678, tzinfo=UTC)


# --- A generic picture of the curation in the database ---------------------------------------


def _natural(obj: models.Model) -> object:
    if isinstance(obj, Room):
        return (obj.server.pubkey, obj.token_key)
    if isinstance(obj, User):
        return obj.username
    return obj.slug if isinstance(obj, Tag) else obj.pk


def _fields(obj: models.Model, only: tuple[str, ...] | None = None) -> dict:
    """Every field of ``obj`` (or those in ``only``), relations by natural key."""
    skip = SOURCE_FETCH_STATE if isinstance(obj, Source) else set()
    values = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or field.name in skip or (only and field.name not in only):
            continue
        value = getattr(obj, field.name)
        values[field.name] = _natural(value) if field.is_relation and value else value
    if only is None:
        for field in obj._meta.many_to_many:
            values[field.name] = sorted(_natural(item) for item in getattr(obj, field.name).all())
    return values


def _maintainer_tags(room: Room) -> list[tuple]:
    assignments = room.room_tags.filter(origin=Tag.Kind.MAINTAINER)
    return sorted((assignment.tag.slug, assignment.added_at) for assignment in assignments)


def curation_state() -> dict[str, dict]:
    """kind -> natural key -> field -> value: what a backup must bring back."""
    rooms = Room.objects.select_related("server")
    return {
        "servers": {s.pubkey: _fields(s, SERVER_BACKED_UP) for s in Server.objects.all()},
        "rooms": {
            _natural(room): {
                **_fields(room, Room.CURATED_FIELDS),
                "maintainer_tags": _maintainer_tags(room),
            }
            for room in rooms
        },
        "tags": {tag.slug: _fields(tag) for tag in Tag.objects.all()},
        "sources": {source.name: _fields(source) for source in Source.objects.all()},
        "listings": {listing.slug: _fields(listing) for listing in Listing.objects.all()},
        "submissions": {
            (sub.join_url, sub.created_at): _fields(sub) for sub in Submission.objects.all()
        },
        "reports": {
            (_natural(report.room), report.kind, report.created_at): _fields(report)
            for report in Report.objects.select_related("room__server")
        },
    }


MODELS = {
    "servers": Server,
    "rooms": Room,
    "tags": Tag,
    "sources": Source,
    "listings": Listing,
    "submissions": Submission,
    "reports": Report,
}


def _default(kind: str, name: str) -> object:
    try:
        field = MODELS[kind]._meta.get_field(name)
    except FieldDoesNotExist:  # maintainer_tags
        return []
    return [] if field.many_to_many else field.get_default()


def uncovered_fields(before: dict, fresh: dict) -> list[str]:
    """Fields the moderation in this test never set apart from what a fresh crawl gives.

    A backup that dropped such a field would go unnoticed, so the key test demands none.
    """
    uncovered = []
    for kind, objects in before.items():
        names = {name for values in objects.values() for name in values}
        for name in sorted(names):
            if not any(
                values[name] != fresh[kind][key][name]
                if key in fresh[kind]
                else values[name] != _default(kind, name)
                for key, values in objects.items()
            ):
                uncovered.append(f"{kind}.{name}")
    return uncovered


def differences(before: dict, after: dict) -> list[str]:
    found = []
    for kind in before:
        for key in before[kind].keys() | after[kind].keys():
            old, new = before[kind].get(key), after[kind].get(key)
            if old is None or new is None:
                found.append(f"{kind} {key}: {'missing' if new is None else 'unexpected'}")
                continue
            for name in old:
                if old[name] != new.get(name):
                    found.append(f"{kind} {key}.{name}: {old[name]!r} became {new.get(name)!r}")
    return found


# --- Moderation to back up -------------------------------------------------------------------


def _rooms() -> list[Room]:
    return list(Room.objects.select_related("server").order_by("server__pubkey", "token_key"))


def _only(rooms: list[Room]) -> QuerySet[Room]:
    return Room.objects.filter(pk__in=[room.pk for room in rooms])


def moderate(moderator: User) -> None:
    """Moderator decisions across every curated field, through moderation.py and direct edits."""
    rooms = _rooms()
    moderation.set_age_rating(_only(rooms[:5]), AgeRating.SFW)
    moderation.set_age_rating(_only(rooms[5:7]), AgeRating.NSFW)
    moderation.set_flag(_only(rooms[7:9]), "hidden", True)
    moderation.set_flag(_only(rooms[9:11]), "pinned", True)
    for room, language in zip(rooms[11:14], ["de", "mul", "pt"], strict=True):
        room.language = language
        room.maintainer_description = f"Notes on {room.token}: friendly, mostly {language}."
        room.included_at = PAST
        room.save()
    rooms[14].rating_verified_at = PAST
    rooms[14].save()

    servers = list(Server.objects.order_by("pubkey"))
    moderation.set_flag(Server.objects.filter(pk=servers[0].pk), "hidden", True)
    servers[1].notes = "Operator reachable at @someone."
    servers[1].name = "Someone's communities"
    servers[1].default_age_rating = AgeRating.NSFW
    servers[2].official = not servers[2].official
    for server in servers[1:3]:
        server.save()

    mine = Tag.objects.create(
        slug="privacy-tools", label="Privacy tools", description="Chosen by us."
    )
    crawled = Tag.objects.exclude(kind=Tag.Kind.MAINTAINER).order_by("slug").first()
    crawled.description = "A moderator's better description."
    crawled.label = crawled.label.title()
    crawled.kind = Tag.Kind.MAINTAINER  # adopted by the moderators
    crawled.save()
    moderation.add_tag(_only(rooms[15:18]), mine)
    moderation.add_tag(_only(rooms[18:19]), crawled)
    RoomTag.objects.filter(room=rooms[15], tag=mine).update(added_at=PAST)

    Source.objects.create(
        name="MINE",
        url="https://lists.example.org/session.html",
        kind=Source.Kind.HTML,
        enabled=False,
        notes="Our own list.",
        suggested_age_rating=AgeRating.SFW,
    )
    euro = Source.objects.get(name="EURO")
    euro.enabled = False
    euro.notes = "Paused: the page moved."
    euro.save()

    everything = Listing.objects.get(slug=Listing.ALL)
    everything.description = "Everything we list, rated or not."
    everything.rating_filter = Listing.RatingFilter.SAFE
    everything.save()
    tech = Listing.objects.create(
        slug="tech",
        name="Tech",
        description="Computers, privacy, code.",
        rating_filter=Listing.RatingFilter.SFW,
        created=PAST,
    )
    tech.rooms.set(rooms[19:23])
    tech.tags.set([mine, crawled])
    Listing.objects.create(
        slug="safe", name="Safe", include_all=True, rating_filter=Listing.RatingFilter.SFW
    )

    _submissions(moderator, rooms)
    _reports(rooms)


def _submission(token: str, pubkey: str, host: str = "sogs.example.org", **extra) -> Submission:
    return Submission.objects.create(
        join_url=f"https://{host}/{token}?public_key={pubkey}",
        server_url=f"https://{host}",
        pubkey=pubkey,
        token=token,
        **extra,
    )


def _submissions(moderator: User, rooms: list[Room]) -> None:
    _submission("Pending", UNKNOWN_KEY, suggested_tags="chat", note="Please list us.")
    approved = _submission(
        "NewRoom",
        UNKNOWN_KEY,
        suggested_language="fr",
        suggested_tags="francais",
        check_state=Submission.CheckState.PASSED,
        check_detail="Reachable, key proven.",
        checked_at=PAST,
    )
    moderation.approve_submission(approved, moderator)  # an unknown server and room, listed
    rejected = _submission(rooms[0].token, rooms[0].server.pubkey, host="elsewhere.example")
    moderation.reject_submission(rejected, moderator, "Already listed.")


def _reports(rooms: list[Room]) -> None:
    Report.objects.create(room=rooms[0], kind=Report.Kind.RATING, message="This is adult.")
    Report.objects.create(
        room=rooms[1],
        kind=Report.Kind.DEAD,
        status=Report.Status.RESOLVED,
        moderator_note="Server moved; fixed.",
        created_at=PAST,
    )
    Report.objects.create(
        room=rooms[2], kind=Report.Kind.ABUSE, message="Spam.", status=Report.Status.DISMISSED
    )


def fresh_database() -> None:
    """A new installation: every directory row gone, the migrations' seed, then a crawl."""
    for model in apps.get_app_config("directory").get_models():
        model._base_manager.all().delete()
    seed = importlib.import_module("directory.migrations.0002_seed")
    for step in (seed.seed_listing, seed.seed_sources, seed.seed_known_servers):
        step(apps, None)
    import_snapshot(SNAPSHOT)


def _round_trip(data: dict) -> dict:
    return json.loads(json.dumps(data))


@pytest.fixture
def moderated(imported, moderator) -> dict:
    moderate(moderator)
    return _round_trip(export_curation())


# --- The key test ----------------------------------------------------------------------------


def test_every_curated_field_survives_a_fresh_database(moderated):
    before = curation_state()
    fresh_database()
    fresh = curation_state()
    assert uncovered_fields(before, fresh) == []

    result = import_curation(moderated)

    assert differences(before, curation_state()) == []
    assert result.unknown_users == set()
    assert result.counts["servers"].created == 1  # the approved submission's server
    assert result.counts["rooms"].created == 1
    assert result.counts["submissions"].created == 3
    assert result.counts["reports"].created == 3


def test_the_comparison_notices_a_field_the_import_drops(moderated):
    before = curation_state()
    fresh_database()
    for room in moderated["rooms"]:
        del room["pinned"]
    import_curation(moderated)
    assert any(".pinned:" in line for line in differences(before, curation_state()))


# --- Idempotence and history -----------------------------------------------------------------


def _history_rows() -> int:
    models_with_history = [*MODELS.values(), RoomTag]
    return sum(model.history.count() for model in models_with_history if hasattr(model, "history"))


def test_importing_twice_changes_nothing_the_second_time(moderated):
    fresh_database()
    import_curation(moderated)
    state, rows = curation_state(), _history_rows()

    again = import_curation(moderated)

    assert not again.changed
    assert curation_state() == state
    assert _history_rows() == rows
    assert export_curation()["rooms"] == moderated["rooms"]


def test_a_changed_room_gets_one_history_row_with_the_reason(moderated):
    entry = moderated["rooms"][30]
    entry.update(age_rating=AgeRating.NSFW, language="es", pinned=True)
    room = Room.objects.get(server__pubkey=entry["server"], token_key=entry["token"].lower())
    rows = _history_rows()

    result = import_curation(moderated)

    assert result.counts["rooms"].updated == 1
    assert _history_rows() == rows + 1
    record = room.history.first()
    assert (record.age_rating, record.language, record.pinned) == (AgeRating.NSFW, "es", True)
    assert record.history_change_reason == "import_curation"


def test_the_file_decides_a_rooms_maintainer_tags(moderated):
    entry = next(room for room in moderated["rooms"] if room["maintainer_tags"])
    room = Room.objects.get(server__pubkey=entry["server"], token_key=entry["token"].lower())
    entry["maintainer_tags"] = []
    extra = Tag.objects.create(slug="extra", label="extra")
    moderated["tags"].append({"slug": "extra", "label": "extra", "kind": "maintainer"})
    entry["maintainer_tags"] = [{"tag": "extra"}]

    import_curation(moderated)

    assert [a.tag for a in room.room_tags.filter(origin=Tag.Kind.MAINTAINER)] == [extra]
    assert room.room_tags.exclude(origin=Tag.Kind.MAINTAINER).exists()  # crawled tags stay


# --- What an import may and may not touch ----------------------------------------------------


def _crawled_state() -> dict:
    rooms = {
        _natural(room): _fields(room, Room.CRAWLED_FIELDS)
        for room in Room.objects.select_related("server")
    }
    servers = {
        server.pubkey: {
            **_fields(server, Server.CRAWLED_FIELDS),
            "addresses": sorted(server.addresses.values_list("scheme", "host", "port")),
        }
        for server in Server.objects.all()
    }
    return {"rooms": rooms, "servers": servers}


def test_import_never_touches_crawled_fields(moderated):
    crawled = _crawled_state()
    for entry in moderated["rooms"]:
        entry.update(age_rating=AgeRating.SFW, hidden=True, language="en")
    for entry in moderated["servers"]:
        entry["notes"] = "Checked."
        entry["addresses"] = [{"scheme": "https", "host": "elsewhere.example", "port": 8443}]

    import_curation(moderated)

    assert _crawled_state() == crawled
    assert set(Room.objects.values_list("age_rating", flat=True)) == {AgeRating.SFW}


def test_export_carries_no_crawled_fields(moderated):
    room_fields = {name for entry in moderated["rooms"] for name in entry}
    server_fields = {name for entry in moderated["servers"] for name in entry}
    assert room_fields & set(Room.CRAWLED_FIELDS) == {"token"}  # the room's identity
    assert server_fields & set(Server.CRAWLED_FIELDS) == set()
    assert room_fields >= set(Room.CURATED_FIELDS)
    assert server_fields >= SERVER_BACKED_UP
    assert "icon" not in server_fields


def test_room_missing_from_the_database_is_created_as_a_stub(imported):
    data = _round_trip(export_curation())
    data["servers"].append(
        {
            "pubkey": UNKNOWN_KEY,
            "addresses": [{"scheme": "https", "host": "new.example.org", "port": 8443}],
            "notes": "Found on a forum.",
        }
    )
    data["tags"].append({"slug": "fresh", "label": "Fresh", "kind": "maintainer"})
    data["rooms"].append(
        {
            "server": UNKNOWN_KEY,
            "token": "Lobby",
            "age_rating": "sfw",
            "language": "fr",
            "included_at": PAST.isoformat(),
            "maintainer_tags": [{"tag": "fresh", "added_at": PAST.isoformat()}],
        }
    )

    result = import_curation(data)

    assert (result.counts["servers"].created, result.counts["rooms"].created) == (1, 1)
    room = Room.objects.get(server__pubkey=UNKNOWN_KEY, token_key="lobby")
    assert (room.token, room.age_rating, room.language, room.included_at) == (
        "Lobby",
        AgeRating.SFW,
        "fr",
        PAST,
    )
    assert _maintainer_tags(room) == [("fresh", PAST)]
    assert room.server.base_url == "https://new.example.org:8443"
    assert room.server.key_state == Server.KeyState.UNVERIFIED
    assert room.server.notes == "Found on a forum."
    assert room.history.first().history_change_reason == "import_curation"


def test_moderators_missing_from_the_database_are_reported(moderated):
    User.objects.filter(username="mod").update(username="someone-else")
    fresh_database()

    result = import_curation(moderated)

    assert result.unknown_users == {"mod"}
    assert not Submission.objects.filter(decided_by__isnull=False).exists()


# --- Bad files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: data.update(format="servers.json"), "format: expected"),
        (lambda data: data.update(version=2), "version: this directory reads version 1"),
        (lambda data: data["rooms"][12].update(language={"code": "en"}), "rooms[12].language:"),
        (lambda data: data["rooms"][12].update(age_rating="teen"), "rooms[12].age_rating:"),
        (lambda data: data["rooms"][12].update(language="xx-nope"), "rooms[12].language:"),
        (lambda data: data["servers"][2].update(pubkey="AB" * 32), "servers[2].pubkey:"),
        (lambda data: data["tags"][0].update(slug="not a slug"), "tags[0].slug:"),
        (
            lambda data: data["listings"][0]["rooms"].append({"server": "00", "token": "a"}),
            "listings[0].rooms[0].server:",
        ),
        (
            lambda data: data["servers"][3]["addresses"][0].update(port="https"),
            "servers[3].addresses[0].port:",
        ),
        (
            lambda data: data["rooms"][5]["maintainer_tags"].append({"tag": "nowhere"}),
            "rooms[5].maintainer_tags[0].tag: tag 'nowhere' is not in the file",
        ),
        (
            lambda data: data["reports"].append(copy.deepcopy(data["reports"][0])),
            "reports[3]: appears twice",
        ),
    ],
)
def test_a_bad_file_names_the_problem_and_changes_nothing(moderated, change, message):
    data = moderated
    for entry in data["rooms"][:12]:
        entry["age_rating"] = AgeRating.NSFW  # would be written, if anything were
    data["listings"][0]["rooms"] = []
    data["rooms"][5]["maintainer_tags"] = []
    change(data)
    state = curation_state()

    with pytest.raises(FormatError) as error:
        import_curation(data)

    assert message in str(error.value)
    assert curation_state() == state


def test_a_conflict_while_writing_rolls_everything_back(imported):
    data = _round_trip(export_curation())
    for entry in data["tags"]:
        entry["description"] = "Written before the conflict."  # tags are written first
    data["sources"][0]["name"] = "RENAMED"  # its URL still belongs to the source in the database
    state = curation_state()

    with pytest.raises(FormatError, match=r"sources\[\d+\].url: already the URL"):
        import_curation(data)

    assert curation_state() == state


# --- The commands ----------------------------------------------------------------------------


@pytest.fixture
def manage(capsys, monkeypatch):
    """Run manage.py in this process and test database: (exit code, stdout, stderr)."""
    # manage.py closes the connections when it ends, which would end the test's transaction.
    monkeypatch.setattr(connections, "close_all", lambda: None)

    def run(*argv: str) -> tuple[int, str, str]:
        return _run(argv, capsys)

    return run


def _run(argv: tuple[str, ...], capsys) -> tuple[int, str, str]:
    try:
        ManagementUtility(["manage.py", *argv]).execute()
        code = 0
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_export_command_writes_a_file_or_stdout(moderated, tmp_path, manage):
    path = tmp_path / "curation.json"
    code, out, _ = manage("export_curation", str(path), "--indent", "2")
    assert code == 0
    assert f"to {path}" in out
    written = path.read_text(encoding="utf-8")
    assert written.startswith('{\n  "format": "session-directory-curation"')
    assert json.loads(written)["rooms"] == moderated["rooms"]

    stdout = io.StringIO()
    call_command("export_curation", stdout=stdout)
    assert json.loads(stdout.getvalue())["listings"] == moderated["listings"]


def test_import_command_restores_and_dry_run_rolls_back(moderated, tmp_path, manage):
    path = tmp_path / "curation.json"
    path.write_text(json.dumps(moderated), encoding="utf-8")
    before = curation_state()
    fresh_database()
    fresh = curation_state()

    code, out, _ = manage("import_curation", str(path), "--dry-run")
    assert code == 0
    assert "Dry run" in out
    assert "submissions: 3 created, 0 updated, 0 unchanged" in out
    assert curation_state() == fresh

    code, out, _ = manage("import_curation", str(path))
    assert code == 0
    assert differences(before, curation_state()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"format": "session-directory-curation", "version": 1, "rooms": [{"ser',
            "not valid JSON",
        ),
        ('{"format": "session-directory-curation", "version": 7}', "version:"),
        ("[]", "expected a JSON object"),
    ],
)
def test_import_command_refuses_a_bad_file_in_one_line(
    imported, tmp_path, manage, content, message
):
    path = tmp_path / "curation.json"
    path.write_text(content, encoding="utf-8")
    state = curation_state()

    code, _, err = manage("import_curation", str(path))

    assert code != 0
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert curation_state() == state


def test_import_command_names_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_curation", str(tmp_path / "nowhere.json"))
