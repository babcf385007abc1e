"""The type aliases the package's signatures share (for mypy and readers).

``User`` is what Django puts in ``request.user``: a user of ``AUTH_USER_MODEL`` or the
anonymous user. Functions taking ``User | None`` take ``None`` for "the system" (the cleanup)
or "nobody known yet" (a form field before its user is set).

Safe to import at any time: the aliases naming Django's user classes are strings, so this
module never imports ``django.contrib.auth.models`` (which needs the app registry ready).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.template import Context

__all__ = ["OwnerId", "TemplateContext", "UploadId", "User"]

#: Who makes a request: ``request.user``.
User: TypeAlias = "AbstractBaseUser | AnonymousUser"
#: An :class:`~presigned_transfers.models.Upload`'s primary key (what clients are given).
UploadId: TypeAlias = uuid.UUID
#: The primary key of an upload's owner: whatever ``AUTH_USER_MODEL`` uses (an ``int`` for
#: Django's own user; a custom model may use a string or a UUID).
OwnerId: TypeAlias = int | str | uuid.UUID
#: What the template helpers read from: a template's context, or a plain dict (the widget).
TemplateContext: TypeAlias = "Context | Mapping[str, Any]"
