"""Who may use an upload policy: ``PERMISSION`` and ``ALLOW``, on every surface.

A policy a user may not use looks exactly like one that does not exist to the JSON API (no
hint that it exists), the picker tag shows a notice instead of a picker, and form fields
accept none of that policy's uploads.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django import forms
from django.contrib.auth.models import Permission
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from presigned_transfers import policy
from presigned_transfers.forms import UploadField, UploadFormMixin
from presigned_transfers.models import Upload
from tests.factories import assert_json_error

pytestmark = pytest.mark.django_db

VIDEO = {"CONTENT_TYPES": ["video/mp4"], "MAX_SIZE": 5 * 1024**3 // 2}


def allow_staff(user):
    return user.is_staff


@pytest.fixture
def policies(settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "POLICIES": {
            "default": {"CONTENT_TYPES": ["application/pdf"], "MAX_SIZE": 1000},
            "videos": {**VIDEO, "PERMISSION": "auth.add_permission"},
            "staff": {**VIDEO, "ALLOW": "tests.system.test_permissions.allow_staff"},
            "both": {**VIDEO, "PERMISSION": "auth.add_permission", "ALLOW": allow_staff},
        },
    }


def grant(user):
    user.user_permissions.add(Permission.objects.get(codename="add_permission"))
    return type(user).objects.get(pk=user.pk)  # a fresh object: no cached permissions


def sign(client, policy_name, *, content_type="video/mp4"):
    return client.post(
        reverse("presigned_transfers:upload-url"),
        json.dumps(
            {"filename": "v.mp4", "content_type": content_type, "size": 10, "policy": policy_name}
        ),
        content_type="application/json",
    )


@pytest.mark.parametrize("name", ["videos", "staff", "both"])
def test_a_user_who_may_not_gets_the_unknown_policy_answer(policies, user_client, name, moto_s3):
    refused = sign(user_client, name)
    unknown = sign(user_client, "no-such-policy")
    error = assert_json_error(refused, 422, "unknown_policy")
    # Word for word what a policy that does not exist gets, but for the name itself.
    assert error == {
        **unknown.json()["error"],
        "message": unknown.json()["error"]["message"].replace("no-such-policy", name),
    }
    assert not Upload.objects.exists()


def test_the_permission_opens_the_policy(policies, client, user, moto_s3):
    client.force_login(grant(user))
    assert sign(client, "videos").status_code == 201
    assert sign(client, "staff").status_code == 422  # ALLOW still says no
    assert Upload.objects.get().policy == "videos"


def test_allow_and_permission_together(policies, client, user, moto_s3):
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert sign(client, "staff").status_code == 201
    assert sign(client, "both").status_code == 422
    client.force_login(grant(user))
    assert sign(client, "both").status_code == 201


def test_anonymous_may_use_no_restricted_policy(policies):
    from django.contrib.auth.models import AnonymousUser

    rules = policy.app_settings.get_policy("videos")
    assert not policy.may_use(rules, AnonymousUser())
    assert not policy.may_use(rules, None)
    assert policy.may_use(policy.app_settings.get_policy("default"), None)


def test_a_user_without_has_perm_has_no_permission(policies):
    class Member:
        """A custom AUTH_USER_MODEL's user without PermissionsMixin: no has_perm at all."""

        is_authenticated = True
        is_staff = True

    assert not policy.may_use(policy.app_settings.get_policy("videos"), Member())
    assert policy.may_use(policy.app_settings.get_policy("staff"), Member())


def render_picker(user, name):
    request = RequestFactory().get("/")
    request.user = user
    return Template("{% load presigned_transfers %}{% upload_picker policy=name %}").render(
        Context({"request": request, "name": name})
    )


def test_the_picker_shows_a_notice_instead(policies, user):
    html = render_picker(user, "videos")
    assert "not available to you" in html
    assert "<input" not in html and "data-config" not in html and "video/mp4" not in html
    html = render_picker(grant(user), "videos")
    assert 'type="file"' in html and "video/mp4" in html


class VideoForm(UploadFormMixin, forms.Form):
    video = UploadField(policy="videos")


def make_video(owner):
    return Upload.objects.create(
        owner=owner,
        key=f"uploads/{owner.pk}/{uuid.uuid4().hex}_v.mp4",
        original_filename="v.mp4",
        content_type="video/mp4",
        declared_size=10,
        policy="videos",
        status=Upload.Status.COMPLETE,
        expires_at=timezone.now() + timedelta(minutes=20),
    )


def test_the_form_field_refuses_uploads_of_a_policy_the_user_may_no_longer_use(policies, user):
    granted = grant(user)
    video = make_video(granted)
    assert VideoForm({"video": str(video.pk)}, user=granted).is_valid()
    # The permission is taken away: the upload is no longer choosable, and no picker shows.
    granted.user_permissions.clear()
    revoked = type(user).objects.get(pk=user.pk)
    form = VideoForm({"video": str(video.pk)}, user=revoked)
    assert not form.is_valid()
    assert form.errors["video"] == ["This upload is not available. Upload the file again."]
    assert "not available to you" in str(form["video"])
