"""forms.py: UploadField / MultipleUploadField accept only the user's own complete uploads."""

from __future__ import annotations

import copy
import uuid

import pytest
from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.http import QueryDict
from pytest_django.asserts import assertHTMLEqual, assertInHTML

from presigned_transfers.forms import (
    MultipleUploadField,
    MultipleUploadWidget,
    UploadField,
    UploadFormMixin,
    UploadWidget,
)
from presigned_transfers.models import Upload
from tests import factories
from tests.markup import picker_inside

pytestmark = pytest.mark.django_db

UNAVAILABLE = "This upload is not available. Upload the file again."


def make_upload(owner, status=Upload.Status.COMPLETE, **fields) -> Upload:
    fields = {"original_filename": "report.pdf", "declared_size": 10, **fields}
    return factories.make_upload(owner, status=status, **fields)


class AttachmentForm(UploadFormMixin, forms.Form):
    attachment = UploadField()


class OptionalForm(UploadFormMixin, forms.Form):
    attachment = UploadField(required=False, policy="images")


class GalleryForm(UploadFormMixin, forms.Form):
    pictures = MultipleUploadField()


@pytest.fixture
def image_policy(settings):
    settings.PRESIGNED_TRANSFERS = {
        **settings.PRESIGNED_TRANSFERS,
        "POLICIES": {
            "default": {"CONTENT_TYPES": ["application/pdf"], "MAX_SIZE": 1000},
            "images": {"CONTENT_TYPES": ["image/png"], "MAX_SIZE": 1000},
        },
    }


def test_accepts_the_users_complete_upload(user):
    upload = make_upload(user)
    form = AttachmentForm({"attachment": str(upload.pk)}, user=user)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["attachment"] == upload


@pytest.mark.parametrize(
    "make_value",
    [
        pytest.param(lambda user, other: str(make_upload(other).pk), id="someone-elses"),
        pytest.param(
            lambda user, other: str(make_upload(user, Upload.Status.PENDING).pk), id="pending"
        ),
        pytest.param(
            lambda user, other: str(make_upload(user, Upload.Status.FAILED).pk), id="failed"
        ),
        pytest.param(lambda user, other: str(uuid.uuid4()), id="unknown"),
        pytest.param(lambda user, other: "not-a-uuid", id="malformed"),
        pytest.param(
            lambda user, other: str(make_upload(user, policy="other").pk), id="other-policy"
        ),
    ],
)
def test_refuses_anything_else(user, other_user, make_value):
    form = AttachmentForm({"attachment": make_value(user, other_user)}, user=user)
    assert not form.is_valid()
    assert form.errors == {"attachment": [UNAVAILABLE]}


def test_required_and_optional(user, image_policy):
    form = AttachmentForm({}, user=user)
    assert form.errors == {"attachment": ["This field is required."]}
    form = OptionalForm({"attachment": ""}, user=user)
    assert form.is_valid() and form.cleaned_data["attachment"] is None
    image = make_upload(user, policy="images", content_type="image/png")
    assert OptionalForm({"attachment": str(image.pk)}, user=user).is_valid()
    pdf = make_upload(user)
    assert not OptionalForm({"attachment": str(pdf.pk)}, user=user).is_valid()


def test_anonymous_user_can_choose_nothing(user):
    from django.contrib.auth.models import AnonymousUser

    upload = make_upload(user)
    form = AttachmentForm({"attachment": str(upload.pk)}, user=AnonymousUser())
    assert form.errors == {"attachment": [UNAVAILABLE]}


def test_without_a_user_the_field_says_how_to_fix_it(user):
    form = AttachmentForm({"attachment": str(make_upload(user).pk)})
    with pytest.raises(ImproperlyConfigured, match=r"user=request.user.*UploadFormMixin"):
        form.is_valid()


def test_user_can_be_given_to_the_field_directly(user, other_user):
    upload = make_upload(user)
    field = UploadField(user=user)
    assert field.clean(str(upload.pk)) == upload
    assert field.user == user
    field.user = other_user
    with pytest.raises(forms.ValidationError):
        field.clean(str(upload.pk))


def test_each_form_keeps_its_own_user(user, other_user):
    mine = make_upload(user)
    form_a = AttachmentForm({"attachment": str(mine.pk)}, user=user)
    form_b = AttachmentForm({"attachment": str(mine.pk)}, user=other_user)
    assert form_a.is_valid()
    assert not form_b.is_valid()
    assert AttachmentForm.base_fields["attachment"].user is None
    # A copy of a field (forms deep-copy their fields) keeps its user and choices.
    field = copy.deepcopy(form_a.fields["attachment"])
    assert field.user == user and list(field.widget.queryset) == [mine]


def test_multiple_field(user, other_user):
    a, b = make_upload(user), make_upload(user)
    data = QueryDict(mutable=True)
    data.setlist("pictures", [str(a.pk), str(b.pk)])
    form = GalleryForm(data, user=user)
    assert form.is_valid(), form.errors
    assert set(form.cleaned_data["pictures"]) == {a, b}

    data.setlist("pictures", [str(a.pk), str(make_upload(other_user).pk)])
    assert not GalleryForm(data, user=user).is_valid()
    data.setlist("pictures", ["junk"])
    assert GalleryForm(data, user=user).errors == {"pictures": [UNAVAILABLE]}
    assert not GalleryForm({}, user=user).is_valid()
    with pytest.raises(ImproperlyConfigured):
        GalleryForm(data).is_valid()


def test_multiple_widget_reads_plain_dicts_and_querydicts():
    widget = MultipleUploadWidget()
    assert widget.value_from_datadict({"f": "x"}, {}, "f") == ["x"]
    assert widget.value_from_datadict({"f": ["x", "y"]}, {}, "f") == ["x", "y"]
    assert widget.value_from_datadict({}, {}, "f") is None
    assert widget.value_from_datadict(QueryDict("f=1&f=2"), {}, "f") == ["1", "2"]
    assert widget.value_omitted_from_data({}, {}, "f")
    assert not widget.value_omitted_from_data({"f": ""}, {}, "f")
    assert UploadWidget().value_from_datadict({"f": "x"}, {}, "f") == "x"
    assert UploadWidget().id_for_label("id_f") == "id_f-picker-input"
    assert UploadWidget().id_for_label("") == ""


def test_widget_renders_the_picker_exact_html(user):
    form = AttachmentForm(user=user)
    rendered = str(form["attachment"])
    config = rendered.split('data-config="')[1].split('"')[0]
    assertHTMLEqual(
        rendered,
        f"""
        <div class="presigned-picker" id="id_attachment-picker" data-presigned-picker
             data-upload-url="/xfer-9f3/upload-url/"
             data-confirm-url="/xfer-9f3/confirm-upload/"
             data-detail-url="/xfer-9f3/uploads/00000000-0000-0000-0000-000000000000/"
             data-csrf-token="" data-config="{config}" data-name="attachment">
          {picker_inside("id_attachment-picker")}
        </div>
        """,
    )
    assert '<label for="id_attachment-picker-input">' in form.as_div()


def test_widget_shows_the_chosen_upload_with_a_remove_button(user):
    upload = make_upload(user, original_filename="Ünï <x>.pdf")
    form = AttachmentForm({"attachment": str(upload.pk)}, user=user)
    rendered = str(form["attachment"])
    assertInHTML(
        f"""<li class="presigned-file" data-state="done" data-upload-id="{upload.pk}">
            <span class="presigned-file__name">Ünï &lt;x&gt;.pdf</span>
            <progress class="presigned-file__progress" max="100" value="100"
                      aria-label="Ünï &lt;x&gt;.pdf"></progress>
            <span class="presigned-file__text">Uploaded</span>
            <button class="presigned-file__cancel" type="button"
                    aria-label="Cancel the upload of Ünï &lt;x&gt;.pdf" hidden>Cancel</button>
            <a class="presigned-file__download" href="/xfer-9f3/uploads/{upload.pk}/download/"
               aria-label="Download Ünï &lt;x&gt;.pdf">Download</a>
            <button class="presigned-file__remove" type="button"
                    aria-label="Remove Ünï &lt;x&gt;.pdf from the form">Remove</button>
            <p class="presigned-file__error" hidden></p></li>""",
        rendered,
    )
    assertInHTML(
        f'<input type="hidden" name="attachment" value="{upload.pk}" data-presigned-value>',
        rendered,
    )


def test_widget_never_shows_someone_elses_upload(user, other_user):
    theirs = make_upload(other_user, original_filename="their-secret.pdf")
    form = AttachmentForm({"attachment": str(theirs.pk)}, user=user)
    rendered = str(form["attachment"])
    assert "their-secret" not in rendered
    assert str(theirs.pk) not in rendered
    # Nor anything at all when no user was given.
    assert "their-secret" not in str(AttachmentForm(initial={"attachment": theirs})["attachment"])
    # Junk values are ignored.
    assert "data-presigned-value" not in str(
        AttachmentForm({"attachment": "junk"}, user=user)["attachment"]
    )


def test_multiple_widget_renders_every_chosen_upload(user):
    a, b = make_upload(user), make_upload(user)
    form = GalleryForm(initial={"pictures": [a, b]}, user=user)
    rendered = str(form["pictures"])
    assert " data-multiple" in rendered and 'accept="application/pdf' in rendered
    assert rendered.count('data-state="done"') == 2
    assert rendered.count('type="hidden" name="pictures"') == 2
    assert "Choose files" in rendered


def test_picker_label_and_custom_widget_instance(user):
    class Form(UploadFormMixin, forms.Form):
        a = UploadField(picker_label="Pick a PDF")
        b = UploadField(widget=UploadWidget(label="Custom", attrs={"id": "custom"}))

    rendered = Form(user=user).as_div()
    assert ">Pick a PDF</label>" in rendered
    assert 'id="custom-picker"' in rendered and ">Custom</label>" in rendered


def test_mixin_leaves_other_fields_alone_and_multiple_field_takes_user(user):
    class Form(UploadFormMixin, forms.Form):
        title = forms.CharField()
        pictures = MultipleUploadField(required=False)

    a = make_upload(user)
    form = Form({"title": "x", "pictures": [str(a.pk)]}, user=user)
    assert form.is_valid(), form.errors
    assert list(MultipleUploadField(user=user).clean([str(a.pk)])) == [a]
