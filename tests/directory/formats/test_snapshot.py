"""`import_snapshot`: the demo data and the migration path from the existing directories."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from directory.formats.snapshot import import_snapshot
from directory.lib.languages import language_from_flag
from directory.models import AgeRating, Room, RoomTag, Server, Tag
from tests.conftest import REPO, SNAPSHOT


def _state() -> list[tuple]:
    rooms = Room.objects.order_by("pk").values_list("pk", "name", "active_users", "language")
    return [*Server.objects.order_by("pk").values_list("pk", "pubkey"), *rooms]


def test_snapshot_imports_every_server_and_room(imported, snapshot_data):
    pubkeys = {server["pubkey"] for server in snapshot_data}
    room_count = sum(len(server["rooms"]) for server in snapshot_data)
    assert set(Server.objects.values_list("pubkey", flat=True)) == pubkeys
    assert Room.objects.count() == room_count
    assert Room.objects.public().count() == room_count


def test_known_official_server_is_merged_by_key(imported):
    official = Server.objects.get(pubkey__startswith="a03c383c")
    assert official.official
    assert official.base_url == "https://open.getsession.org"
    assert official.addresses.count() == 1


def test_room_fields_match_the_snapshot(imported, snapshot_data):
    server_data = snapshot_data[0]
    room_data = server_data["rooms"][0]
    room = Room.objects.get(server__pubkey=server_data["pubkey"], token=room_data["token"])
    assert room.name == room_data["name"].strip()
    assert room.active_users == room_data["active_users"]
    assert room.message_sequence == room_data["message_sequence"]
    assert room.admins == room_data["admins"]
    assert room.created.timestamp() == pytest.approx(room_data["created"])
    assert room.join_url == (
        f"{server_data['base_url']}/{room_data['token']}?public_key={server_data['pubkey']}"
    )


def test_language_and_tags_come_from_the_snapshot(imported, snapshot_data):
    for server_data in snapshot_data:
        for room_data in server_data["rooms"]:
            room = Room.objects.get(server__pubkey=server_data["pubkey"], token=room_data["token"])
            # The old directories stored flags; we store the language and derive the flag.
            # Flags they made up from language codes (like HI for Hindi) name no language.
            language = language_from_flag(room_data.get("language_flag", ""))
            assert room.language == (language or "")
            assert bool(room.language_flag) == bool(language)
            labels = set(room.tags.values_list("label", flat=True))
            assert labels == {tag["text"].lower() for tag in room_data["tags"]}


def test_nsfw_warning_tag_suggests_a_rating_but_does_not_rate(imported):
    nsfw = Room.objects.filter(room_tags__tag__slug="nsfw")
    assert nsfw.exists()
    assert set(nsfw.values_list("suggested_age_rating", flat=True)) == {AgeRating.NSFW}
    assert set(nsfw.values_list("age_rating", flat=True)) == {AgeRating.UNRATED}


def test_curated_fields_survive_a_reimport_with_changed_crawled_values(
    imported, snapshot_data, write_snapshot
):
    room = Room.objects.get(server__pubkey=snapshot_data[0]["pubkey"], token="ai")
    mine = Tag.objects.create(slug="robots", label="robots")
    RoomTag.objects.create(room=room, tag=mine, origin=Tag.Kind.MAINTAINER)
    curated = {
        "age_rating": AgeRating.SFW,
        "language": "de",
        "maintainer_description": "Checked by a moderator.",
        "hidden": True,
        "pinned": True,
    }
    Room.objects.filter(pk=room.pk).update(**curated)
    Server.objects.filter(pk=room.server_id).update(notes="kind operator", hidden=True)

    changed = copy.deepcopy(snapshot_data)
    changed[0]["rooms"][0].update(
        name="Renamed", active_users=5, language_flag="\U0001f1eb\U0001f1f7", tags=[]
    )
    import_snapshot(write_snapshot(changed))

    room.refresh_from_db()
    assert (room.name, room.active_users) == ("Renamed", 5)
    for field, value in curated.items():
        assert getattr(room, field) == value
    assert list(room.tags.all()) == [mine]
    assert room.server.notes == "kind operator" and room.server.hidden


def test_room_missing_from_a_later_snapshot_is_marked_gone_not_deleted(
    imported, snapshot_data, write_snapshot
):
    changed = copy.deepcopy(snapshot_data)
    dropped = changed[0]["rooms"].pop(0)
    result = import_snapshot(write_snapshot(changed))
    room = Room.objects.get(server__pubkey=changed[0]["pubkey"], token=dropped["token"])
    assert result.rooms_gone == 1
    assert not room.listed_by_server


def test_hostile_room_text_is_stored_as_clean_text(db, snapshot_data, write_snapshot):
    hostile = copy.deepcopy(snapshot_data[:1])
    hostile[0]["rooms"][0]["name"] = "<script>alert(1)</script>\u202egnp.exe\x00" + "x" * 150
    import_snapshot(write_snapshot(hostile))
    room = Room.objects.get(token=hostile[0]["rooms"][0]["token"])
    name = room.name
    assert "\u202e" not in name and "\x00" not in name
    assert name.startswith("<script>alert(1)</script>")  # text, escaped when rendered
    assert len(name) <= 200
    # The object keeps the name as sent; only the NUL, which no database stores, is gone.
    assert room.sogs_room["name"] == "<script>alert(1)</script>\u202egnp.exe" + "x" * 150


def test_a_room_over_an_ingestion_cap_refuses_the_file(imported, snapshot_data, write_snapshot):
    """pysogs (`sogs/routes/rooms.py` `update_room`) sets names of any length; one over our cap
    is refused whole, never cut, and the import names the place and the cap."""
    changed = copy.deepcopy(snapshot_data)
    changed[0]["rooms"][0]["name"] = "x" * 201
    before = _state()
    with pytest.raises(CommandError, match=r"servers\[0\]\.rooms\[0\]\.name: over 200 characters"):
        call_command("import_snapshot", str(write_snapshot(changed)))
    assert _state() == before


def test_room_objects_are_stored_as_the_servers_sent_them(imported, snapshot_data):
    """What the sessioncommunities crawler wrote (`php/servers/servers-rooms.php`) less what it
    added: its `tags`, `string_tags` and `language_flag`, the nulls it put for keys the server
    left out, and "" for a description pysogs never sends (`update_room`: empty is None)."""
    for server_data in snapshot_data:
        for data in server_data["rooms"]:
            room = Room.objects.get(server__pubkey=server_data["pubkey"], token=data["token"])
            sent = {key: value for key, value in data.items() if value is not None}
            for key in ("tags", "string_tags", "language_flag"):
                del sent[key]
            if sent["description"] == "":
                del sent["description"]
            assert room.sogs_room == sent
            assert room.sogs_room["created"] == data["created"]  # every digit


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[{"base_url": "https://example.org", "pubkey": "', "not valid JSON"),
        (b"\xff\xfe not even text", "not valid JSON"),
        (b'{"servers": []}', "expected a JSON list"),
        (b'[{"base_url": "https://example.org", "pubkey": "zz", "rooms": []}]', "pubkey"),
        (
            b'[{"base_url": "ftp://example.org", "pubkey": "' + b"a" * 64 + b'", "rooms": []}]',
            "base_url",
        ),
    ],
)
def test_malformed_snapshot_is_refused_and_changes_nothing(
    imported, write_snapshot, content, message
):
    before = _state()
    with pytest.raises(CommandError, match=message):
        call_command("import_snapshot", str(write_snapshot(content)))
    assert _state() == before


def test_one_bad_room_deep_in_the_file_rejects_the_whole_file(
    imported, snapshot_data, write_snapshot
):
    changed = copy.deepcopy(snapshot_data)
    for server in changed:
        for room in server["rooms"]:
            room["active_users"] += 1
    changed[-1]["rooms"][-1]["active_users"] = "many"
    before = _state()
    with pytest.raises(CommandError, match=r"servers\[13\]\.rooms\[\d+\]\.active_users"):
        call_command("import_snapshot", str(write_snapshot(changed)))
    assert _state() == before


def test_command_line_exits_non_zero_on_a_truncated_file(tmp_path):
    broken = tmp_path / "servers.json"
    broken.write_bytes(SNAPSHOT.read_bytes()[:5000])
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["VAR_DIR"] = str(tmp_path / "var")
    manage = [sys.executable, str(REPO / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=REPO)
    done = subprocess.run(
        [*manage, "import_snapshot", str(broken)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "not valid JSON (truncated or corrupt?)" in done.stderr
