"""Django REST framework support: a serializer field for "one of this user's uploads".

Optional: install it with ``pip install "presigned-transfers[drf]"``. The rest of the app
never imports this module and works without Django REST framework.

The client uploads the file straight to the bucket (``upload-url``, then ``complete``) and
sends the API only the upload's id. :class:`UploadField` checks that id with the same rule as
:class:`presigned_transfers.forms.UploadField`
(:meth:`~presigned_transfers.models.UploadQuerySet.choosable_by`): the upload must exist,
belong to the request's user, be complete and have been made under the field's policy.

::

    class DocumentSerializer(serializers.ModelSerializer):
        attachment = UploadField(policy="documents")

        class Meta:
            model = Document            # attachment = ForeignKey(Upload, ...)
            fields = ["id", "title", "attachment"]

    serializer = DocumentSerializer(data=request.data, context={"request": request})

Generic views and viewsets pass ``context={"request": request}`` themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, NoReturn

from django.core.exceptions import ImproperlyConfigured

try:
    from rest_framework import fields, relations
except ImportError as error:
    raise ImportError(
        "presigned_transfers.rest_framework needs Django REST framework; install it with "
        'pip install "presigned-transfers[drf]"'
    ) from error

from presigned_transfers.forms import _UNAVAILABLE
from presigned_transfers.models import Upload, UploadQuerySet
from presigned_transfers.types import UploadId

__all__ = ["UploadField"]


def _fail(field: fields.Field, key: str, **params: object) -> NoReturn:
    """``field.fail(key, **params)``: raise its ValidationError (mypy cannot see it raises)."""
    field.fail(key, **params)
    raise AssertionError("unreachable")  # pragma: no cover


# Django REST framework ships no type information, so its classes are Any to mypy (the
# ignore[misc] on each subclass: "cannot subclass Any").
class UploadField(relations.PrimaryKeyRelatedField):  # type: ignore[misc]
    """One of the request user's *complete* uploads made under ``policy``, given by its id.

    ``policy`` names the upload policy (the default one if omitted). The user is
    ``self.context["request"].user``. Anything else — an unknown or malformed id, someone
    else's upload, a pending or failed one, one made under another policy — is refused with
    one message and the code ``does_not_exist``, so a client cannot tell them apart. An
    upload is represented by its id, a string. ``many=True`` accepts a list of ids and
    checks them in one query.
    """

    default_error_messages = {"does_not_exist": _UNAVAILABLE}

    def __init__(self, *, policy: str | None = None, **kwargs: Any) -> None:
        self.policy = policy
        super().__init__(**kwargs)

    @classmethod
    def many_init(cls, *args: Any, **kwargs: Any) -> _UploadListField:
        list_kwargs: dict[str, Any] = {"child_relation": cls(*args, **kwargs)}
        for key in kwargs:
            if key in relations.MANY_RELATION_KWARGS:
                list_kwargs[key] = kwargs[key]
        return _UploadListField(**list_kwargs)

    def get_queryset(self) -> UploadQuerySet:
        request = self.context.get("request")
        if request is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__} needs to know whose uploads it accepts: create the "
                'serializer with context={"request": request} (generic views and viewsets '
                "do it for you)."
            )
        return Upload.objects.choosable_by(request.user, policy=self.policy)

    def _to_id(self, data: object) -> UploadId:
        """*data* as an upload id; refused like an unknown id if it is not one."""
        try:
            if not isinstance(data, (str, uuid.UUID)):
                raise ValueError(data)
            return uuid.UUID(str(data))
        except ValueError:
            _fail(self, "does_not_exist", pk_value=data)

    def to_internal_value(self, data: object) -> Upload:
        pk = self._to_id(data)
        try:
            return self.get_queryset().get(pk=pk)
        except Upload.DoesNotExist:
            _fail(self, "does_not_exist", pk_value=data)

    def to_representation(self, value: Upload) -> str:
        return str(value.pk)


class _UploadListField(relations.ManyRelatedField):  # type: ignore[misc]  # DRF: see above
    """``UploadField(many=True)``: a list of ids, all checked in one query."""

    child_relation: UploadField

    def to_internal_value(self, data: object) -> list[Upload]:
        if isinstance(data, str) or not isinstance(data, Iterable) or isinstance(data, dict):
            _fail(self, "not_a_list", input_type=type(data).__name__)
        items = list(data)
        if not self.allow_empty and not items:
            _fail(self, "empty")
        child = self.child_relation
        # Order kept, duplicates dropped: the same id twice is the same upload once.
        ids = list(dict.fromkeys(child._to_id(item) for item in items))
        found = {upload.pk: upload for upload in child.get_queryset().filter(pk__in=ids)}
        for pk in ids:
            if pk not in found:
                _fail(child, "does_not_exist", pk_value=str(pk))
        return [found[pk] for pk in ids]
