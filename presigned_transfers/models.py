"""The record of every upload: who, what, where in the bucket, and whether it arrived."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from presigned_transfers.policy import may_use, named_policy
from presigned_transfers.types import User


class UploadQuerySet(models.QuerySet["Upload"]):
    def owned_by(self, user: User | None) -> UploadQuerySet:
        """Uploads of *user*; none at all for an anonymous user."""
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(owner_id=user.pk)

    def complete(self) -> UploadQuerySet:
        return self.filter(status=Upload.Status.COMPLETE)

    def choosable_by(self, user: User | None, *, policy: str | None = None) -> UploadQuerySet:
        """The uploads *user* may choose for *policy* (the default policy for ``None``).

        The one home of that rule, used by :mod:`presigned_transfers.forms` and
        :mod:`presigned_transfers.rest_framework`: the user's own *complete* uploads made under
        that policy; none at all for an anonymous user, or for a user who may not use the
        policy (its ``PERMISSION`` or ``ALLOW``). An unknown policy name raises
        :class:`~django.core.exceptions.ImproperlyConfigured`.
        """
        named = named_policy(policy)
        if not may_use(named, user):
            return self.none()
        return self.owned_by(user).complete().filter(policy=named.name)


class Upload(models.Model):
    """One file a user uploaded (or was allowed to upload) straight to the bucket.

    ``id`` is a random UUID: it is what clients use, and it cannot be enumerated. Clients
    never send an object key: S3 needs it in the signed form and URL, but the server only
    ever takes it from this row.

    Two keys: the browser's signed upload writes to ``staging_key``; confirm verifies what
    arrived there and copies exactly that version (conditioned on its ETag) to ``key``, which
    no signed form or URL names, so nothing a client does afterwards changes what downloads
    serve. ``staging_key`` is blank for uploads written in place (rows from before staging
    existed). Both keys are recorded before anything is signed, so the cleanup can always
    find every object an upload may have left.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        COMPLETE = "complete", _("complete")
        FAILED = "failed", _("failed")

    class Transport(models.TextChoices):
        """How the browser sends the file: one signed POST, one signed PUT, or in parts."""

        POST = "post", _("POST")
        PUT = "put", _("PUT")
        MULTIPART = "multipart", _("multipart")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="presigned_uploads",
        verbose_name=_("owner"),
    )
    key = models.CharField(_("object key"), max_length=1024, unique=True, editable=False)
    staging_key = models.CharField(_("staging key"), max_length=1024, blank=True, editable=False)
    original_filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=255)
    declared_size = models.PositiveBigIntegerField(_("declared size"))
    verified_size = models.PositiveBigIntegerField(_("verified size"), null=True, blank=True)
    #: The ETag (and, in a versioned bucket, the VersionId) of the object confirm verified.
    etag = models.CharField(_("verified ETag"), max_length=255, blank=True, editable=False)
    version_id = models.CharField(_("version"), max_length=1024, blank=True, editable=False)
    policy = models.CharField(_("policy"), max_length=64)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    failure_code = models.CharField(_("failure"), max_length=64, blank=True)
    transport = models.CharField(
        _("transport"), max_length=16, choices=Transport.choices, default=Transport.POST
    )
    #: The S3 multipart upload's id (``UploadId``) and its part size, for multipart uploads.
    multipart_id = models.CharField(_("multipart upload"), max_length=1024, blank=True)
    part_size = models.PositiveBigIntegerField(_("part size"), null=True, blank=True)
    #: ``"sha256"`` when the upload is pinned to SHA-256 checksums (the file's, or each
    #: part's), S3 verifying them on arrival; blank when it is not.
    checksum = models.CharField(_("checksum"), max_length=16, blank=True)
    #: The file's SHA-256 (base64) the upload is pinned to; once complete, as S3 verified
    #: it — for multipart S3's composite of the parts' SHA-256s, ``"<base64>-<parts>"``.
    checksum_sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    expires_at = models.DateTimeField(_("upload window ends"))
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)

    objects = UploadQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("upload")
        verbose_name_plural = _("uploads")
        indexes = [
            models.Index(fields=["owner", "status"], name="presigned_owner_status"),
            models.Index(fields=["owner", "-created_at"], name="presigned_owner_created"),
            models.Index(fields=["status", "expires_at"], name="presigned_status_expires"),
        ]

    def __str__(self) -> str:
        return f"{self.original_filename} ({self.size_display}, {self.get_status_display()})"

    @property
    def size(self) -> int:
        """The verified size once confirmed, the declared size before."""
        return self.verified_size if self.verified_size is not None else self.declared_size

    @property
    def size_display(self) -> str:
        return filesizeformat(self.size)

    @property
    def is_complete(self) -> bool:
        return self.status == self.Status.COMPLETE

    @property
    def part_count(self) -> int:
        """How many parts a multipart upload is planned in (0 for other transports)."""
        if not self.part_size:
            return 0
        return max(1, -(-self.declared_size // self.part_size))

    def part_length(self, number: int) -> int:
        """The planned size of part *number* (1-based): ``part_size``, the last one the rest."""
        if not 1 <= number <= self.part_count:
            raise ValueError(f"part {number} is not in this upload's plan")
        assert self.part_size is not None
        if number < self.part_count:
            return self.part_size
        return self.declared_size - self.part_size * (self.part_count - 1)

    @property
    def upload_key(self) -> str:
        """The key the browser's signed upload writes to."""
        return self.staging_key or self.key

    @property
    def object_keys(self) -> list[str]:
        """Every key this upload may have an object at (what deleting it must delete)."""
        return [self.key, self.staging_key] if self.staging_key else [self.key]


class UploadPart(models.Model):
    """The SHA-256 a part of a multipart upload was signed with (S3 verified it on arrival).

    Completing the upload names each part's checksum; S3 answers with the composite checksum
    of the whole file, which is recorded on the :class:`Upload`.
    """

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="parts")
    number = models.PositiveIntegerField(_("part number"))
    checksum_sha256 = models.CharField(_("SHA-256"), max_length=64)

    class Meta:
        verbose_name = _("upload part")
        verbose_name_plural = _("upload parts")
        constraints = [
            models.UniqueConstraint(fields=["upload", "number"], name="presigned_part_unique")
        ]

    def __str__(self) -> str:
        return f"part {self.number} of {self.upload_id}"
