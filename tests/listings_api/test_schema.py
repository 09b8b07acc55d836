"""The OpenAPI schema: valid, documents every field, and schemathesis finds neither a 5xx nor a
response that breaks it."""

from __future__ import annotations

import json

import pytest
import schemathesis
import yaml
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, settings

from directory.wsgi import application


def generated_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_schema_validates_against_the_openapi_specification():
    validate_schema(generated_schema())


def test_schema_is_served_as_yaml_and_json(client):
    served = yaml.safe_load(client.get("/api/schema/").content)
    assert set(served["paths"]) == {"/listings", "/listing/{listing_id}"}
    as_json = client.get("/api/schema/?format=json")
    assert json.loads(as_json.content)["info"]["title"] == served["info"]["title"]


def _properties(schema: dict) -> list[tuple[str, str, dict]]:
    return [
        (name, field, spec)
        for name, component in schema["components"]["schemas"].items()
        for field, spec in component.get("properties", {}).items()
    ]


def test_every_field_is_documented():
    undocumented = [
        f"{name}.{field}"
        for name, field, spec in _properties(generated_schema())
        if not spec.get("description") and "$ref" not in spec and "allOf" not in spec
    ]
    assert undocumented == []


def test_room_and_room_extra_never_share_a_field_name():
    components = generated_schema()["components"]["schemas"]
    assert not set(components["SogsRoom"]["properties"]) & set(
        components["RoomExtra"]["properties"]
    )


def test_docs_page_uses_our_own_static_files(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "/static/drf_spectacular_sidecar/" in text
    assert "https://" not in text and "<style>" not in text
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


def test_api_page_shows_the_provider_key_and_endpoints(client, db):
    from tests.listings_api.conftest import PROVIDER_PUBKEY_HEX

    page = client.get("/api/")
    text = page.content.decode()
    assert page.status_code == 200
    assert PROVIDER_PUBKEY_HEX in text
    assert f"http://testserver/?public_key={PROVIDER_PUBKEY_HEX}" in text
    for endpoint in ("/listings", "/listing/", "/oxen/v4/lsrpc", "/api/schema/"):
        assert endpoint in text


schema = schemathesis.openapi.from_dict(generated_schema())
schema.app = application


@pytest.fixture
def open_throttle(settings):
    settings.LP_THROTTLE_RATE = None


@pytest.fixture
def keep_test_connection():
    """Calls through the real WSGI app would close the test's database connection at the end
    of each request; Django's own test client avoids that the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=60,
    derandomize=True,  # the same cases on every run
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_schemathesis_finds_no_5xx_and_no_schema_violation(
    case, imported, open_throttle, keep_test_connection
):
    case.call_and_validate()


def test_schema_says_what_room_is_and_how_to_ask_for_legacy_rooms():
    """What the listing's `room` promises (pysogs `get_room_info`, `sogs/routes/rooms.py`: the
    object as sent) and the one change made to it; `include=legacy` and `server_api`."""
    schema = generated_schema()
    components = schema["components"]["schemas"]
    room = components["SogsRoom"]
    assert "exactly as the room's server sent it" in room["description"]
    assert "NUL characters (U+0000)" in room["description"]
    assert {"pinned_messages", "description", "image_id"} <= set(room["properties"])
    assert room["required"] == ["token"]
    server_api = components["RoomExtra"]["properties"]["server_api"]
    assert server_api["allOf"] == [{"$ref": "#/components/schemas/ServerApiEnum"}]
    assert components["ServerApiEnum"]["enum"] == ["sogs", "legacy"]
    parameters = schema["paths"]["/listing/{listing_id}"]["get"]["parameters"]
    include = next(parameter for parameter in parameters if parameter["name"] == "include")
    assert "legacy" in include["schema"]["enum"]
    assert "cannot join" in include["description"]
