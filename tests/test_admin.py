"""admin.py: the changelist, staff downloads, and deletes that take the object with them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from presigned_transfers import policy, signals
from presigned_transfers.models import Upload
from tests.factories import make_upload, object_exists, put_object

CHANGELIST = reverse("admin:presigned_transfers_upload_changelist")


def _download(upload_id):
    return reverse("admin:presigned_transfers_upload_download", args=[upload_id])


def _ids(response):
    return {str(upload.pk) for upload in response.context["cl"].result_list}


@pytest.fixture
def deleted_log():
    log = []

    def receiver(sender, upload, **kwargs):
        log.append(upload.key)

    signals.upload_deleted.connect(receiver)
    yield log
    signals.upload_deleted.disconnect(receiver)


@pytest.fixture
def staff_client(django_user_model):
    """A staff member with no permissions at all."""
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client = Client()
    client.force_login(staff)
    client.user = staff
    return client


# --- changelist -----------------------------------------------------------------------------


def test_changelist_renders_with_download_links(admin_client, user):
    complete = make_upload(user, status=Upload.Status.COMPLETE, original_filename="done.pdf")
    pending = make_upload(user, original_filename="waiting.pdf")
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert _ids(response) == {str(complete.pk), str(pending.pk)}
    html = response.content.decode()
    assert "done.pdf" in html
    assert "waiting.pdf" in html
    assert f'href="{_download(complete.pk)}"' in html
    assert _download(pending.pk) not in html
    assert "alice" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("invoice", {"invoice"}),
        ("INVOICE", {"invoice"}),
        ("mallory", {"photo"}),
        ("alice", {"invoice", "notes"}),
        ("nothing-matches", set()),
    ],
)
def test_changelist_search(admin_client, user, other_user, query, expected):
    uploads = {
        "invoice": make_upload(user, original_filename="Invoice 2024.pdf"),
        "notes": make_upload(user, original_filename="notes.pdf"),
        "photo": make_upload(other_user, original_filename="photo.png", content_type="image/png"),
    }
    response = admin_client.get(CHANGELIST, {"q": query})
    assert response.status_code == 200
    assert _ids(response) == {str(uploads[name].pk) for name in expected}


def test_changelist_search_by_exact_id(admin_client, user):
    upload = make_upload(user)
    make_upload(user)
    response = admin_client.get(CHANGELIST, {"q": str(upload.pk)})
    assert response.status_code == 200
    assert _ids(response) == {str(upload.pk)}


def test_changelist_search_by_key(admin_client, user):
    upload = make_upload(user)
    make_upload(user)
    response = admin_client.get(CHANGELIST, {"q": upload.key.split("/")[-1][:32]})
    assert _ids(response) == {str(upload.pk)}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status__exact": "complete"}, {"complete"}),
        ({"status__exact": "failed"}, {"failed"}),
        ({"content_type": "image/png"}, {"failed"}),
        ({"policy": "avatars"}, {"complete"}),
        ({"transport__exact": "multipart"}, {"pending"}),
        ({}, {"complete", "pending", "failed"}),
    ],
)
def test_changelist_filters(admin_client, user, params, expected):
    uploads = {
        "complete": make_upload(user, status=Upload.Status.COMPLETE, policy="avatars"),
        "pending": make_upload(user, transport="multipart"),
        "failed": make_upload(user, status=Upload.Status.FAILED, content_type="image/png"),
    }
    response = admin_client.get(CHANGELIST, params)
    assert response.status_code == 200
    assert _ids(response) == {str(uploads[name].pk) for name in expected}
    html = response.content.decode()
    for title in ("By status", "By transport", "By content type", "By policy", "By created"):
        assert title in html


def test_uploads_cannot_be_added_or_changed(admin_client, user):
    checksum = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=-3"
    upload = make_upload(user, original_filename="keep.pdf", checksum_sha256=checksum)
    assert admin_client.get(reverse("admin:presigned_transfers_upload_add")).status_code == 403
    change = reverse("admin:presigned_transfers_upload_change", args=[upload.pk])
    page = admin_client.get(change)
    assert page.status_code == 200
    assert upload.key in page.content.decode()
    assert checksum in page.content.decode()  # the SHA-256 S3 verified, shown to staff
    assert 'name="original_filename"' not in page.content.decode()
    response = admin_client.post(change, {"original_filename": "evil.pdf"})
    assert response.status_code == 403
    upload.refresh_from_db()
    assert upload.original_filename == "keep.pdf"


# --- download -------------------------------------------------------------------------------


def test_staff_download_redirects_to_a_presigned_url(admin_client, user, moto_s3):
    upload = make_upload(user, status=Upload.Status.COMPLETE, original_filename="Résumé.pdf")
    response = admin_client.get(_download(upload.pk))
    assert response.status_code == 302
    location = response["Location"]
    parts = urlsplit(location)
    assert parts.netloc == "test-bucket.s3.amazonaws.com"
    assert parts.path == "/" + upload.key
    query = parse_qs(parts.query)
    assert query["response-content-disposition"] == [policy.content_disposition("Résumé.pdf")]
    assert "X-Amz-Signature" in query


def test_staff_with_view_permission_may_download(staff_client, user, moto_s3):
    upload = make_upload(user, status=Upload.Status.COMPLETE)
    assert staff_client.get(_download(upload.pk)).status_code == 403
    staff_client.user.user_permissions.add(Permission.objects.get(codename="view_upload"))
    response = staff_client.get(_download(upload.pk))
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/" + upload.key


def test_non_staff_cannot_download(user_client, user, moto_s3):
    upload = make_upload(user, status=Upload.Status.COMPLETE)
    response = user_client.get(_download(upload.pk))
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == reverse("admin:login")
    assert upload.key not in response["Location"]


def test_anonymous_cannot_download(client, user, moto_s3):
    upload = make_upload(user, status=Upload.Status.COMPLETE)
    response = client.get(_download(upload.pk))
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == reverse("admin:login")


def test_download_of_an_incomplete_upload_goes_back_with_a_message(admin_client, user):
    upload = make_upload(user)
    response = admin_client.get(_download(upload.pk), follow=True)
    change = reverse("admin:presigned_transfers_upload_change", args=[upload.pk])
    assert response.redirect_chain == [(change, 302)]
    messages = [str(m) for m in response.context["messages"]]
    assert messages == ["This upload is not complete yet."]


def test_download_of_an_unknown_upload_is_404(admin_client):
    missing = "00000000-0000-4000-8000-000000000000"
    assert admin_client.get(_download(missing)).status_code == 404


# --- delete ---------------------------------------------------------------------------------


def test_admin_delete_removes_the_object(
    admin_client, user, moto_s3, deleted_log, django_capture_on_commit_callbacks
):
    upload = make_upload(user, status=Upload.Status.COMPLETE)
    put_object(moto_s3, upload)
    delete = reverse("admin:presigned_transfers_upload_delete", args=[upload.pk])
    assert admin_client.get(delete).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(delete, {"post": "yes"})
    assert response.status_code == 302
    assert not Upload.objects.filter(pk=upload.pk).exists()
    assert not object_exists(moto_s3, upload.key)
    assert deleted_log == [upload.key]


def test_admin_bulk_delete_removes_the_objects(
    admin_client, user, other_user, moto_s3, deleted_log, django_capture_on_commit_callbacks
):
    doomed = [make_upload(user), make_upload(other_user, status=Upload.Status.COMPLETE)]
    kept = make_upload(user)
    for upload in [*doomed, kept]:
        put_object(moto_s3, upload)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST,
            {
                "action": "delete_selected",
                "_selected_action": [str(upload.pk) for upload in doomed],
                "post": "yes",
            },
        )
    assert response.status_code == 302
    assert list(Upload.objects.values_list("pk", flat=True)) == [kept.pk]
    assert sorted(deleted_log) == sorted(upload.key for upload in doomed)
    assert not any(object_exists(moto_s3, upload.key) for upload in doomed)
    assert object_exists(moto_s3, kept.key)


def test_staff_without_delete_permission_cannot_delete(
    staff_client, user, moto_s3, django_capture_on_commit_callbacks
):
    upload = make_upload(user)
    put_object(moto_s3, upload)
    staff_client.user.user_permissions.add(Permission.objects.get(codename="view_upload"))
    delete = reverse("admin:presigned_transfers_upload_delete", args=[upload.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(delete, {"post": "yes"})
    assert response.status_code == 403
    assert Upload.objects.filter(pk=upload.pk).exists()
    assert object_exists(moto_s3, upload.key)
