"""What the file formats share: reading JSON, naming where a check failed, one-line errors."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from directory.formats.common import FormatError, first_error, parse_json, read_json


class RoomShape(serializers.Serializer):
    token = serializers.RegexField(r"^[a-z]+\Z")


class ServerShape(serializers.Serializer):
    rooms = RoomShape(many=True)
    admins = serializers.ListField(child=serializers.IntegerField(), required=False)

    def validate(self, data: dict) -> dict:
        if not data["rooms"]:
            raise serializers.ValidationError("A server lists at least one room.")
        return data


def _errors(data: object) -> object:
    checked = ServerShape(data=data, many=True)
    assert not checked.is_valid()
    return checked.errors


def test_a_bad_value_deep_in_a_list_is_named_by_its_path():
    servers = [{"rooms": [{"token": "fine"}]} for _ in range(3)]
    servers.append({"rooms": [{"token": "Not-OK"}, {"token": "Also bad"}]})
    assert first_error(_errors(servers), "servers") == (
        "servers[3].rooms[0].token: This value does not match the required pattern."
    )


def test_a_bad_item_of_a_list_of_values_is_named_by_its_index():
    servers = [{"rooms": [{"token": "fine"}], "admins": [1, "two"]}]
    assert first_error(_errors(servers), "servers") == (
        "servers[0].admins[1]: A valid integer is required."
    )


def test_an_error_about_a_whole_object_is_named_by_the_object():
    servers = [{"rooms": [{"token": "fine"}]}, {"rooms": []}]
    assert first_error(_errors(servers), "servers") == (
        "servers[1]: A server lists at least one room."
    )


def test_an_error_at_the_top_of_a_document_is_about_the_file():
    checked = ServerShape(data="not an object")
    assert not checked.is_valid()
    assert first_error(checked.errors).startswith("file: Invalid data.")
    assert first_error({"rooms": ["This field is required."]}) == ("rooms: This field is required.")


def test_a_json_file_is_read_and_parsed(tmp_path):
    path = tmp_path / "data.json"
    path.write_text('{"servers": ["ünïcode"]}', encoding="utf-8")
    assert read_json(path) == {"servers": ["ünïcode"]}
    assert read_json(path, max_bytes=100) == {"servers": ["ünïcode"]}


@pytest.mark.parametrize(
    "content", [b'[{"base_url": "https://example.org", "pubkey": "', b"\xff\xfe not even text"]
)
def test_a_truncated_or_binary_file_is_not_valid_json(tmp_path, content):
    path = tmp_path / "data.json"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=r"^not valid JSON \(truncated or corrupt\?\): "):
        read_json(path)
    with pytest.raises(FormatError, match=r"^not valid JSON \(truncated or corrupt\?\): "):
        parse_json(content)


def test_a_missing_file_cannot_be_read(tmp_path):
    with pytest.raises(FormatError, match=r"^cannot read: No such file or directory$"):
        read_json(tmp_path / "nowhere.json")


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "data.json"
    path.write_text("[" + "1," * 50 + "1]", encoding="utf-8")
    with pytest.raises(FormatError, match=r"^larger than 100 bytes\.$"):
        read_json(path, max_bytes=100)


def test_a_command_reports_the_error_on_one_line_after_the_file_name():
    error = FormatError("rooms[0].name: Ensure this field\nhas no more   than 200 characters.")
    assert error.in_file("var/curation.json") == (
        "var/curation.json: rooms[0].name: Ensure this field has no more than 200 characters."
    )
