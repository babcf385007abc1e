"""rest_framework.py: UploadField accepts only the request user's complete uploads, like forms'."""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from rest_framework import generics, permissions, serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory, force_authenticate

from presigned_transfers.models import Upload
from presigned_transfers.rest_framework import UploadField
from tests.drf.models import Album, Document
from tests.factories import make_upload

pytestmark = pytest.mark.django_db

UNAVAILABLE = "This upload is not available. Upload the file again."
COMPLETE, PENDING, FAILED = Upload.Status.COMPLETE, Upload.Status.PENDING, Upload.Status.FAILED


class DocumentSerializer(serializers.ModelSerializer):
    attachment = UploadField()

    class Meta:
        model = Document
        fields = ["id", "title", "attachment"]


class AlbumSerializer(serializers.ModelSerializer):
    pictures = UploadField(policy="images", many=True)

    class Meta:
        model = Album
        fields = ["id", "title", "pictures"]


class _Owned:
    permission_classes = [permissions.IsAuthenticated]
    model: type

    def get_queryset(self):
        return self.model.objects.filter(owner=self.request.user)

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)


class DocumentList(_Owned, generics.ListCreateAPIView):
    model = Document
    serializer_class = DocumentSerializer


class DocumentDetail(_Owned, generics.RetrieveUpdateAPIView):
    model = Document
    serializer_class = DocumentSerializer


class AlbumList(_Owned, generics.ListCreateAPIView):
    model = Album
    serializer_class = AlbumSerializer


factory = APIRequestFactory()


@pytest.fixture(autouse=True)
def policies(settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "POLICIES": {
            "default": {"CONTENT_TYPES": ["application/pdf"], "MAX_SIZE": 1000},
            "images": {"CONTENT_TYPES": ["image/png"], "MAX_SIZE": 1000},
        },
    }


def image(owner, **fields) -> Upload:
    values = {"status": COMPLETE, "policy": "images", "content_type": "image/png", **fields}
    return make_upload(owner, **values)


def call(view, method, user, data=None, *, format="json", headers=None, **kwargs):
    request = getattr(factory, method)("/api/", data, format=format, headers=headers)
    if user is not None:
        force_authenticate(request, user=user)
    response = view.as_view()(request, **kwargs)
    response.render()
    return response


def context_for(user) -> dict:
    request = Request(factory.get("/api/"))
    request.user = user
    return {"request": request}


def test_accepts_the_users_complete_upload_and_saves_it(user):
    upload = make_upload(user, status=COMPLETE)
    response = call(DocumentList, "post", user, {"title": "Plan", "attachment": str(upload.pk)})
    assert response.status_code == 201, response.content
    document = Document.objects.get()
    assert (document.owner, document.title, document.attachment) == (user, "Plan", upload)
    assert json.loads(response.content) == {
        "id": document.pk,
        "title": "Plan",
        "attachment": str(upload.pk),
    }


REFUSED = [
    pytest.param(lambda user, other: str(make_upload(other, status=COMPLETE).pk), id="others"),
    pytest.param(lambda user, other: str(make_upload(user).pk), id="pending"),
    pytest.param(lambda user, other: str(make_upload(user, status=FAILED).pk), id="failed"),
    pytest.param(lambda user, other: str(image(user).pk), id="other-policy"),
    pytest.param(lambda user, other: str(uuid.uuid4()), id="unknown"),
    pytest.param(lambda user, other: "not-a-uuid", id="malformed"),
    pytest.param(lambda user, other: str(make_upload(user, status=COMPLETE).pk)[:-1], id="short"),
    pytest.param(lambda user, other: 5, id="number"),
    pytest.param(lambda user, other: True, id="boolean"),
    pytest.param(lambda user, other: [str(make_upload(user, status=COMPLETE).pk)], id="list"),
    pytest.param(lambda user, other: {"id": str(make_upload(user, status=COMPLETE).pk)}, id="obj"),
]


@pytest.mark.parametrize("make_value", REFUSED)
def test_refuses_anything_else_and_saves_nothing(user, other_user, make_value):
    value = make_value(user, other_user)
    response = call(DocumentList, "post", user, {"title": "Plan", "attachment": value})
    assert response.status_code == 400
    assert json.loads(response.content) == {"attachment": [UNAVAILABLE]}
    assert not Document.objects.exists()
    # One code for all of them, so a client cannot tell someone else's id from an unknown one.
    data = {"title": "Plan", "attachment": value}
    serializer = DocumentSerializer(data=data, context=context_for(user))
    assert not serializer.is_valid()
    assert serializer.errors["attachment"] == [UNAVAILABLE]
    assert serializer.errors["attachment"][0].code == "does_not_exist"


def test_an_anonymous_user_can_choose_nothing(user):
    upload = make_upload(user, status=COMPLETE)
    data = {"title": "Plan", "attachment": str(upload.pk)}
    serializer = DocumentSerializer(data=data, context=context_for(AnonymousUser()))
    assert not serializer.is_valid()
    assert serializer.errors == {"attachment": [UNAVAILABLE]}
    assert serializer.errors["attachment"][0].code == "does_not_exist"


def test_without_the_request_in_the_context_it_says_how_to_fix_it(user):
    upload = make_upload(user, status=COMPLETE)
    serializer = DocumentSerializer(data={"title": "Plan", "attachment": str(upload.pk)})
    with pytest.raises(ImproperlyConfigured, match=r'context=\{"request": request\}'):
        serializer.is_valid()
    many = AlbumSerializer(data={"title": "Trip", "pictures": [str(image(user).pk)]})
    with pytest.raises(ImproperlyConfigured, match=r"UploadField needs to know whose uploads"):
        many.is_valid()


def test_an_unknown_policy_is_a_configuration_error(user):
    class Wrong(serializers.Serializer):
        attachment = UploadField(policy="nope")

    serializer = Wrong(data={"attachment": str(uuid.uuid4())}, context=context_for(user))
    with pytest.raises(ImproperlyConfigured, match=r"no upload policy called 'nope'"):
        serializer.is_valid()


def test_null_and_missing_follow_drf_rules(user):
    class Optional(serializers.Serializer):
        attachment = UploadField(required=False, allow_null=True)

    context = context_for(user)
    assert Optional(data={}, context=context).is_valid()
    for empty in (None, ""):
        serializer = Optional(data={"attachment": empty}, context=context)
        assert serializer.is_valid(), serializer.errors
        assert serializer.validated_data == {"attachment": None}

    required = DocumentSerializer(data={"title": "Plan"}, context=context)
    assert not required.is_valid()
    assert required.errors == {"attachment": ["This field is required."]}
    null = DocumentSerializer(data={"title": "Plan", "attachment": None}, context=context)
    assert not null.is_valid()
    assert null.errors == {"attachment": ["This field may not be null."]}


def test_represents_an_upload_by_its_id_as_a_string(user):
    upload = make_upload(user, status=COMPLETE)
    document = Document.objects.create(owner=user, title="Plan", attachment=upload)
    # Showing an upload needs no request: only choosing one does.
    data = DocumentSerializer(document).data
    assert data["attachment"] == str(upload.pk) and isinstance(data["attachment"], str)

    response = call(DocumentList, "get", user)
    assert response.status_code == 200
    assert json.loads(response.content) == [
        {"id": document.pk, "title": "Plan", "attachment": str(upload.pk)}
    ]


def test_update_accepts_only_choosable_uploads(user, other_user):
    first, second = make_upload(user, status=COMPLETE), make_upload(user, status=COMPLETE)
    document = Document.objects.create(owner=user, title="Plan", attachment=first)
    theirs = make_upload(other_user, status=COMPLETE)

    response = call(DocumentDetail, "patch", user, {"attachment": str(theirs.pk)}, pk=document.pk)
    assert response.status_code == 400
    assert json.loads(response.content) == {"attachment": [UNAVAILABLE]}
    document.refresh_from_db()
    assert document.attachment == first

    response = call(DocumentDetail, "patch", user, {"attachment": str(second.pk)}, pk=document.pk)
    assert response.status_code == 200, response.content
    document.refresh_from_db()
    assert document.attachment == second


def test_choices_offered_are_only_the_users_choosable_uploads(user, other_user):
    mine = make_upload(user, status=COMPLETE, original_filename="mine.pdf")
    make_upload(user, original_filename="pending.pdf")
    make_upload(other_user, status=COMPLETE, original_filename="theirs.pdf")
    serializer = DocumentSerializer(context=context_for(user))
    assert serializer.fields["attachment"].get_choices() == {str(mine.pk): str(mine)}

    # The browsable API's form shows exactly those.
    response = call(DocumentList, "get", user, format=None, headers={"Accept": "text/html"})
    html = response.content.decode()
    assert response.status_code == 200 and "<select" in html
    assert "mine.pdf" in html
    assert "theirs.pdf" not in html and "pending.pdf" not in html


# many=True


def test_many_accepts_a_list_of_the_users_uploads_in_one_query(user, django_assert_num_queries):
    a, b, c = image(user), image(user), image(user)
    data = {"title": "Trip", "pictures": [str(c.pk), str(a.pk), str(b.pk)]}
    serializer = AlbumSerializer(data=data, context=context_for(user))
    with django_assert_num_queries(1):
        assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["pictures"] == [c, a, b]

    response = call(AlbumList, "post", user, data)
    assert response.status_code == 201, response.content
    album = Album.objects.get()
    assert set(album.pictures.all()) == {a, b, c}
    body = json.loads(response.content)
    assert sorted(body["pictures"]) == sorted([str(a.pk), str(b.pk), str(c.pk)])
    assert all(isinstance(pk, str) for pk in body["pictures"])


def test_many_from_a_form_post_and_duplicates(user):
    a, b = image(user), image(user)
    data = {"title": "Trip", "pictures": [str(a.pk), str(b.pk), str(a.pk)]}
    response = call(AlbumList, "post", user, data, format="multipart")
    assert response.status_code == 201, response.content
    assert set(Album.objects.get().pictures.all()) == {a, b}
    serializer = AlbumSerializer(data=data, context=context_for(user))
    assert serializer.is_valid() and serializer.validated_data["pictures"] == [a, b]


@pytest.mark.parametrize(
    "make_bad",
    [
        pytest.param(lambda user, other: str(image(other).pk), id="others"),
        pytest.param(lambda user, other: str(image(user, status=PENDING).pk), id="pending"),
        pytest.param(lambda user, other: str(image(user, status=FAILED).pk), id="failed"),
        pytest.param(lambda user, other: str(make_upload(user, status=COMPLETE).pk), id="pdf"),
        pytest.param(lambda user, other: str(uuid.uuid4()), id="unknown"),
        pytest.param(lambda user, other: "not-a-uuid", id="malformed"),
        pytest.param(lambda user, other: 5, id="number"),
        pytest.param(lambda user, other: None, id="null"),
    ],
)
def test_many_refuses_a_list_with_anything_else_in_it(user, other_user, make_bad):
    good = image(user)
    data = {"title": "Trip", "pictures": [str(good.pk), make_bad(user, other_user)]}
    response = call(AlbumList, "post", user, data)
    assert response.status_code == 400
    assert json.loads(response.content) == {"pictures": [UNAVAILABLE]}
    assert not Album.objects.exists()
    serializer = AlbumSerializer(data=data, context=context_for(user))
    assert not serializer.is_valid()
    assert serializer.errors["pictures"][0].code == "does_not_exist"


def test_many_wants_a_list(user):
    upload = image(user)
    for value in (str(upload.pk), {"id": str(upload.pk)}, 5):
        serializer = AlbumSerializer(
            data={"title": "Trip", "pictures": value}, context=context_for(user)
        )
        assert not serializer.is_valid()
        assert serializer.errors["pictures"][0].code == "not_a_list"
    empty = AlbumSerializer(data={"title": "Trip", "pictures": []}, context=context_for(user))
    assert empty.is_valid() and empty.validated_data["pictures"] == []

    class NotEmpty(serializers.Serializer):
        pictures = UploadField(policy="images", many=True, allow_empty=False)

    serializer = NotEmpty(data={"pictures": []}, context=context_for(user))
    assert not serializer.is_valid()
    assert serializer.errors["pictures"][0].code == "empty"


def test_many_represents_uploads_by_their_ids(user):
    a, b = image(user), image(user)
    album = Album.objects.create(owner=user, title="Trip")
    album.pictures.set([a, b])
    pictures = AlbumSerializer(album).data["pictures"]
    assert sorted(pictures) == sorted([str(a.pk), str(b.pk)])
