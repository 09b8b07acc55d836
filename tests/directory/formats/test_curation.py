"""The curation file's checks come from the models, and none of them asks the database.

The serializers are built with DRF's public options (``Meta.fields``, ``Meta.validators``,
``extra_kwargs``); these tests fail loudly when a model or a DRF upgrade changes what they give.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rest_framework import serializers

from directory.formats.curation import (
    CurationFile,
    ListingCuration,
    ReportCuration,
    SubmissionCuration,
    TagCuration,
    model_order,
)
from directory.models import Tag


def _walk(field: serializers.Field, path: str = "file") -> Iterator[tuple[str, object]]:
    """Every field of a serializer, nested ones included, and every check on it, by path."""
    for check in (field, *field.validators):
        yield path, check
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        yield from _walk(field.child, f"{path}[]")
    elif isinstance(field, serializers.Serializer):
        for name, child in field.fields.items():
            yield from _walk(child, f"{path}.{name}")


def _database_checks(serializer: serializers.Field) -> list[str]:
    """Where a field or a validator would query the database (DRF gives those a queryset)."""
    return [
        path for path, check in _walk(serializer) if getattr(check, "queryset", None) is not None
    ]


def test_no_check_of_a_curation_file_asks_the_database():
    """Uniqueness is checked within the file: the database may be empty, or already hold the
    very objects being restored. When this fails, a model gained a unique field or a relation
    (or DRF derives a new check): give that field its own validators in the serializer's
    ``extra_kwargs``, or declare it as a natural key like ``RoomRef``."""
    assert _database_checks(CurationFile()) == []


def test_the_database_check_finder_finds_what_drf_derives_by_default():
    """DRF's own choice for a unique model field, so the test above cannot pass by finding
    nothing."""

    class PlainTag(serializers.ModelSerializer):
        class Meta:
            model = Tag
            fields = model_order(Tag)

    assert _database_checks(PlainTag()) == ["file.slug"]


@pytest.mark.parametrize(
    "serializer", [TagCuration, ListingCuration, SubmissionCuration, ReportCuration]
)
def test_a_file_carries_every_field_of_the_model_in_its_order(serializer):
    model = serializer.Meta.model
    fields = (*model._meta.fields, *model._meta.many_to_many)
    assert list(serializer().fields) == [field.name for field in fields if field.serialize]
