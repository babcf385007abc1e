"""models.py: Upload's string form, sizes, ordering, querysets and indexes."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection

from presigned_transfers.models import Upload
from tests.factories import make_upload


def test_str_shows_name_size_and_status(user):
    upload = make_upload(user, original_filename="plan.pdf", declared_size=2048)
    assert str(upload) == "plan.pdf (2.0\xa0KB, pending)"
    upload.status = Upload.Status.COMPLETE
    upload.verified_size = 3 * 1024 * 1024
    assert str(upload) == "plan.pdf (3.0\xa0MB, complete)"


def test_size_is_the_verified_size_once_known(user):
    upload = make_upload(user, declared_size=100)
    assert upload.size == 100
    upload.verified_size = 0
    assert upload.size == 0
    assert upload.size_display == "0\xa0bytes"


def test_is_complete(user):
    assert make_upload(user, status=Upload.Status.COMPLETE).is_complete
    assert not make_upload(user).is_complete
    assert not make_upload(user, status=Upload.Status.FAILED).is_complete


def test_ids_are_random_uuids(user):
    first, second = make_upload(user), make_upload(user)
    assert isinstance(first.pk, uuid.UUID)
    assert first.pk.version == 4
    assert first.pk != second.pk


def test_defaults(user):
    upload = make_upload(user)
    assert upload.status == Upload.Status.PENDING
    assert upload.failure_code == ""
    assert upload.verified_size is None
    assert upload.confirmed_at is None
    assert upload.created_at is not None
    assert upload.updated_at >= upload.created_at


def test_newest_first(user):
    uploads = [make_upload(user) for _ in range(3)]
    # created_at may tie on a fast machine: make the order unambiguous.
    for offset, upload in enumerate(uploads):
        Upload.objects.filter(pk=upload.pk).update(
            created_at=upload.created_at + timedelta(seconds=offset)
        )
    assert list(Upload.objects.all()) == list(reversed(uploads))
    assert Upload._meta.ordering == ("-created_at",)


def test_keys_are_unique(user):
    upload = make_upload(user)
    with pytest.raises(IntegrityError):
        make_upload(user, key=upload.key)


def test_owned_by_and_complete(user, other_user):
    mine = make_upload(user, status=Upload.Status.COMPLETE)
    pending = make_upload(user)
    make_upload(other_user, status=Upload.Status.COMPLETE)
    assert set(Upload.objects.owned_by(user)) == {mine, pending}
    assert list(Upload.objects.owned_by(user).complete()) == [mine]
    assert list(Upload.objects.owned_by(AnonymousUser())) == []
    assert list(Upload.objects.owned_by(None)) == []


def test_choosable_by_is_the_users_complete_uploads_under_the_policy(user, other_user, settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "POLICIES": {
            "default": {"CONTENT_TYPES": ["application/pdf"], "MAX_SIZE": 1000},
            "images": {"CONTENT_TYPES": ["image/png"], "MAX_SIZE": 1000},
        },
    }
    complete = Upload.Status.COMPLETE
    mine = make_upload(user, status=complete)
    image = make_upload(user, status=complete, policy="images")
    make_upload(user)  # pending
    make_upload(user, status=Upload.Status.FAILED)
    make_upload(other_user, status=complete)
    assert list(Upload.objects.choosable_by(user)) == [mine]
    assert list(Upload.objects.choosable_by(user, policy="default")) == [mine]
    assert list(Upload.objects.choosable_by(user, policy="images")) == [image]
    assert list(Upload.objects.choosable_by(AnonymousUser())) == []
    assert list(Upload.objects.choosable_by(None, policy="images")) == []
    with pytest.raises(ImproperlyConfigured, match=r"no upload policy called 'nope'"):
        Upload.objects.choosable_by(user, policy="nope")


def test_deleting_the_owner_deletes_the_uploads(user, other_user):
    make_upload(user)
    theirs = make_upload(other_user)
    user.delete()
    assert list(Upload.objects.all()) == [theirs]


def test_indexes_exist_in_the_database(user):
    table = Upload._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    indexes = {
        name: info["columns"]
        for name, info in constraints.items()
        if info["index"] and not info["primary_key"]
    }
    assert indexes["presigned_owner_status"] == ["owner_id", "status"]
    assert indexes["presigned_owner_created"] == ["owner_id", "created_at"]
    assert indexes["presigned_status_expires"] == ["status", "expires_at"]
    assert {tuple(index.fields) for index in Upload._meta.indexes} == {
        ("owner", "status"),
        ("owner", "-created_at"),
        ("status", "expires_at"),
    }
    unique = [info["columns"] for info in constraints.values() if info["unique"]]
    assert ["key"] in unique
