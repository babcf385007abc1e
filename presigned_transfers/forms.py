"""Form fields for "one (or several) of this user's completed uploads".

The file itself never passes through the form: the picker uploads it straight to the bucket
and the form only receives the upload's id, in a hidden input. The field checks that id on the
server: the upload must exist, belong to the form's user and be complete.

::

    class DocumentForm(UploadFormMixin, forms.ModelForm):
        attachment = UploadField(policy="documents")

        class Meta:
            model = Document            # attachment = ForeignKey(Upload, ...)
            fields = ["title", "attachment"]

    form = DocumentForm(request.POST or None, user=request.user)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext_lazy as _

from presigned_transfers import ui
from presigned_transfers.models import Upload, UploadQuerySet
from presigned_transfers.types import User

if TYPE_CHECKING:
    from typing import Self

    # For mypy, the mixins below subclass what they are mixed into; at run time they are
    # plain mixins. The fields are generic in django-stubs only: Django's own cannot be
    # subscripted at run time.
    _UploadsMixinBase = forms.ModelChoiceField[Upload]
    _FormMixinBase = forms.BaseForm
    _UploadChoiceField = forms.ModelChoiceField[Upload]
    _UploadMultipleChoiceField = forms.ModelMultipleChoiceField[Upload]
else:
    _UploadsMixinBase = _FormMixinBase = object
    _UploadChoiceField = forms.ModelChoiceField
    _UploadMultipleChoiceField = forms.ModelMultipleChoiceField


class UploadWidget(forms.Widget):
    """The upload picker as a form widget: hidden input(s) holding upload ids."""

    template_name = "presigned_transfers/widget.html"
    allow_multiple_selected = False

    def __init__(
        self,
        attrs: dict[str, Any] | None = None,
        *,
        policy: str | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__(attrs)
        self.policy = policy
        self.label = label
        #: The uploads the picker may show as already chosen, and whose they are; set by the
        #: field.
        self.queryset: UploadQuerySet = Upload.objects.none()
        self.user: User | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        result = super().__deepcopy__(memo)
        result.queryset = self.queryset
        result.user = self.user
        return result

    def _values(self, value: Any) -> list[str]:
        if value is None or value == "":
            return []
        values = value if isinstance(value, (list, tuple)) else [value]
        return [str(getattr(v, "pk", v)) for v in values if v not in (None, "")]

    def format_value(self, value: Any) -> list[str]:
        return self._values(value)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        values = self._values(value)
        uploads: list[Upload] = []
        if values:
            # Only ever shows uploads the field's user may choose: never someone else's name.
            by_id = {str(u.pk): u for u in self.queryset.filter(pk__in=_valid_ids(values))}
            uploads = [by_id[v] for v in values if v in by_id]
        widget_attrs = context["widget"]["attrs"]
        picker_id = widget_attrs.get("id") or f"id_{name}"
        context.update(
            ui.picker_context(
                {},
                picker_id=f"{picker_id}-picker",
                policy=self.policy,
                multiple=self.allow_multiple_selected,
                label=self.label,
                name=name,
                values=[str(u.pk) for u in uploads],
                uploads=uploads,
                user=self.user,
            )
        )
        return context

    def value_from_datadict(self, data: Mapping[str, Any], files: Any, name: str) -> Any:
        if self.allow_multiple_selected:
            getlist = getattr(data, "getlist", None)
            values = getlist(name) if getlist else data.get(name)
            if values is None:
                return None
            return values if isinstance(values, list) else [values]
        return data.get(name)

    def value_omitted_from_data(self, data: Mapping[str, Any], files: Any, name: str) -> bool:
        return name not in data

    def id_for_label(self, id_: str) -> str:
        # The visible <label> is the picker's own, on its file input.
        return f"{id_}-picker-input" if id_ else id_


class MultipleUploadWidget(UploadWidget):
    """The picker accepting several files; one hidden input per upload id."""

    allow_multiple_selected = True


def _valid_ids(values: Iterable[str]) -> list[str]:
    valid = []
    for value in values:
        try:
            valid.append(str(uuid.UUID(str(value))))
        except ValueError:
            continue
    return valid


class _UserUploadsMixin(_UploadsMixinBase):
    """Restricts the choices to :attr:`user`'s complete uploads made under :attr:`policy`.

    None at all when the user may not use that policy (its ``PERMISSION`` or ``ALLOW``).
    """

    policy: str | None
    _user: User | None = None

    def __init__(
        self,
        *,
        policy: str | None = None,
        picker_label: str | None = None,
        user: User | None = None,
        **kwargs: Any,
    ) -> None:
        self.policy = policy
        widget = kwargs.get("widget", self.widget)
        if isinstance(widget, type):
            widget = widget(policy=policy, label=picker_label)
        kwargs["widget"] = widget
        kwargs.setdefault("queryset", Upload.objects.none())
        super().__init__(**kwargs)
        if user is not None:
            self.user = user

    @property
    def user(self) -> User | None:
        return self._user

    @user.setter
    def user(self, user: User | None) -> None:
        """Setting the user is what makes the field accept anything: their complete uploads."""
        self._user = user
        queryset = Upload.objects.choosable_by(user, policy=self.policy)
        self.queryset = queryset
        self.widget.queryset = queryset
        self.widget.user = user

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        result = super().__deepcopy__(memo)
        result._user = self._user
        result.widget.queryset = result.queryset
        result.widget.user = self._user
        return result

    def clean(self, value: Any) -> Any:
        if self._user is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__} needs to know whose uploads it accepts: pass "
                "user=request.user to a form with UploadFormMixin, or set "
                "form.fields[name].user before validating."
            )
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if item not in self.empty_values and not _valid_ids([item]):
                raise ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": item},
                )
        return super().clean(value)


_UNAVAILABLE = _("This upload is not available. Upload the file again.")


class UploadField(_UserUploadsMixin, _UploadChoiceField):
    """One of the form user's *complete* uploads, chosen with the upload picker.

    ``policy`` names the upload policy the picker uses (the default one if omitted); only
    uploads made under it are accepted. The field accepts nothing until its :attr:`user` is
    set (:class:`UploadFormMixin` does it): an id of someone else's upload, or of a pending or
    failed one, is refused like an unknown id.
    """

    widget = UploadWidget
    default_error_messages = {"invalid_choice": _UNAVAILABLE}


class MultipleUploadField(_UserUploadsMixin, _UploadMultipleChoiceField):
    """Several of the form user's complete uploads, chosen with a ``multiple`` picker."""

    widget = MultipleUploadWidget
    default_error_messages = {"invalid_choice": _UNAVAILABLE, "invalid_pk_value": _UNAVAILABLE}


class UploadFormMixin(_FormMixinBase):
    """Give a form a ``user=`` argument and hand it to every upload field."""

    def __init__(self, *args: Any, user: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user is not None:
            for field in self.fields.values():
                if isinstance(field, _UserUploadsMixin):
                    field.user = user
