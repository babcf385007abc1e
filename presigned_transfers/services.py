"""The upload and download operations, independent of HTTP.

Views, the admin, form fields and management commands all go through these functions, so
ownership, state changes, signals and audit records happen the same way everywhere.

The upload lifecycle is sign -> transfer -> verify -> store:

* **sign** (:func:`create_upload`): a pending row records both keys of the upload — the
  staging key the browser's signed form writes to and the key the verified object will be
  kept at — before the form is signed;
* **transfer**: the browser POSTs to S3 (Django sees no byte);
* **verify** (:func:`confirm_upload`, or :func:`reconcile_upload` when the browser never
  came back): one ranged GET reads the object's first bytes, and with them its size, type,
  ETag and version; size, type, quota and content are checked against what was signed;
* **store**: a server-side copy of exactly that version (``x-amz-copy-source-if-match``) to
  the kept key, which no signed form names; the row becomes complete with the ETag (and
  VersionId) kept. A client POSTing its form again, before or after, changes only the staging
  key, which no download reads; ``presigned_cleanup`` deletes staging objects once the upload
  window has closed (one ``DeleteObjects`` per batch, not one request per confirm).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from presigned_transfers import (
    audit,
    exceptions,
    policy,
    receivers,
    signals,
    signing,
    sniffing,
    storage,
)
from presigned_transfers.conf import app_settings
from presigned_transfers.models import Upload, UploadPart
from presigned_transfers.types import UploadId, User

logger = logging.getLogger("presigned_transfers")

#: How many times confirm reads an upload's object again when it was replaced between being
#: read and being kept (a client POSTing its signed form again), before answering 409.
VERIFY_ATTEMPTS = 3


@dataclass(frozen=True)
class NewUpload:
    """A pending upload and how its browser sends the file: a signed POST form, a signed PUT,
    or (multipart) nothing yet — its parts are signed in batches by :func:`sign_parts`."""

    upload: Upload
    signed: signing.SignedPost | signing.SignedPut | None

    @property
    def post(self) -> signing.SignedPost:
        """The signed POST form (``transport == "post"`` only)."""
        assert isinstance(self.signed, signing.SignedPost)
        return self.signed


def get_owned_upload(user: User, upload_id: UploadId | str, *, lock: bool = False) -> Upload:
    """The upload *upload_id* if *user* owns it; :class:`UploadNotFound` otherwise.

    Someone else's upload and a missing one look exactly alike (404, never 403).
    """
    try:
        pk = uuid.UUID(str(upload_id))
    except ValueError as error:
        raise exceptions.UploadNotFound() from error
    queryset = Upload.objects.owned_by(user)
    if lock:
        queryset = queryset.select_for_update()
    try:
        return queryset.get(pk=pk)
    except Upload.DoesNotExist as error:
        raise exceptions.UploadNotFound() from error


def _check_quota(user: AbstractBaseUser, size: int, *, exclude: UploadId | None = None) -> None:
    """Refuse an upload that would take *user* over ``QUOTA``; call inside a transaction.

    Complete uploads and pending ones whose window is open count (*exclude* names one that
    should not). The owner's user row is locked first, so concurrent requests of one user
    are counted one after another (on databases with row locks: PostgreSQL, MySQL, Oracle;
    at Django's default READ COMMITTED isolation), never read-then-write racing.
    """
    quota = app_settings.quota
    max_bytes, max_files = quota.get("MAX_BYTES"), quota.get("MAX_FILES")
    if max_bytes is None and max_files is None:
        return
    user_model = get_user_model()
    list(user_model._default_manager.select_for_update().filter(pk=user.pk).values_list("pk"))
    now = timezone.now()
    counted = Upload.objects.filter(owner_id=user.pk).filter(
        Q(status=Upload.Status.COMPLETE) | Q(status=Upload.Status.PENDING, expires_at__gt=now)
    )
    if exclude is not None:
        counted = counted.exclude(pk=exclude)
    usage = counted.aggregate(files=Count("pk"), size=Sum("declared_size"))
    files, used = usage["files"] or 0, usage["size"] or 0
    if max_files is not None and files + 1 > max_files:
        raise exceptions.UploadRefused(
            _("You have reached your limit of %(limit)d files. Delete a file to upload another.")
            % {"limit": max_files},
            code="quota_exceeded",
            details={"limit": "max_files", "max_files": max_files, "used_files": files},
        )
    if max_bytes is not None and used + size > max_bytes:
        raise exceptions.UploadRefused(
            _("This file would take you over your storage limit of %(limit)d bytes.")
            % {"limit": max_bytes},
            code="quota_exceeded",
            details={"limit": "max_bytes", "max_bytes": max_bytes, "used_bytes": used},
        )


def create_upload(
    *,
    user: User,
    filename: object,
    content_type: object,
    size: object,
    policy_name: object = None,
    transports: object = None,
    checksum: object = None,
    request: HttpRequest | None = None,
) -> NewUpload:
    """Validate a request to upload one file, record it as pending and sign its transfer.

    The server picks the transport from those the client offers (*transports*, default
    ``["post"]``): see :func:`~presigned_transfers.policy.choose_transport`. *checksum* is the
    file's SHA-256 (base64) for post and put, signed in so S3 verifies it.
    """
    try:
        wanted = policy.validate_upload_request(
            filename=filename, content_type=content_type, size=size, policy=policy_name, user=user
        )
        transport = policy.choose_transport(size=wanted.size, offered=transports)
        sha256 = policy.validate_checksum(checksum)
    except exceptions.TransferError as error:
        audit.record("refuse", user=user, stage="sign", code=error.code)
        raise
    owner = _owner(user)
    use_checksum = app_settings.checksum == "sha256"
    now = timezone.now()
    key = policy.build_key(
        owner_id=owner.pk, filename=wanted.filename, policy=wanted.policy.name, now=now
    )
    fields: dict[str, Any] = {"transport": transport}
    signed: signing.SignedPost | signing.SignedPut | None
    if transport == Upload.Transport.MULTIPART:
        # Written in place: once the server completes it, no part URL can change it.
        multipart_id = storage.create_multipart(
            key, content_type=wanted.content_type, checksum=use_checksum
        )
        signed = None
        fields.update(
            staging_key="",
            multipart_id=multipart_id,
            part_size=policy.part_size_for(wanted.size),
            checksum="sha256" if use_checksum else "",
            expires_at=now + timedelta(seconds=app_settings.multipart_expiry),
        )
    else:
        staging_key = policy.staging_key(key)
        sha256 = sha256 if use_checksum else None
        if transport == Upload.Transport.PUT:
            signed = signing.presign_put(
                key=staging_key, content_type=wanted.content_type, size=wanted.size, checksum=sha256
            )
        else:
            signed = signing.presign_post(
                key=staging_key,
                content_type=wanted.content_type,
                min_size=wanted.policy.min_size,
                # S3 itself refuses a file larger than announced; confirm catches a smaller one.
                max_size=wanted.size,
                checksum=sha256,
            )
        fields.update(
            staging_key=staging_key,
            checksum="sha256" if sha256 else "",
            checksum_sha256=sha256 or "",
            expires_at=signed.expires_at,
        )
    try:
        with transaction.atomic():
            _check_quota(owner, wanted.size)
            upload = Upload.objects.create(
                owner_id=owner.pk,
                key=key,
                original_filename=wanted.filename,
                content_type=wanted.content_type,
                declared_size=wanted.size,
                policy=wanted.policy.name,
                **fields,
            )
    except BaseException as error:
        if transport == Upload.Transport.MULTIPART:
            _abort_quietly(key, fields["multipart_id"])
        if isinstance(error, exceptions.UploadRefused):
            audit.record("refuse", user=user, stage="sign", code=error.code)
        raise
    audit.record(
        "sign",
        user=user,
        upload=upload,
        size=wanted.size,
        type=wanted.content_type,
        transport=transport,
    )
    signals.upload_signed.send(sender=Upload, upload=upload, request=request)
    return NewUpload(upload=upload, signed=signed)


def _owner(user: User) -> AbstractBaseUser:
    """*user* as the owner of a new upload: anonymous users own nothing (the views let none
    this far)."""
    if isinstance(user, AnonymousUser):
        raise exceptions.NotAuthenticated()
    return user


def _abort_quietly(key: str, multipart_id: str) -> None:
    # The row was not written: S3 must not keep parts nothing accounts for. If this fails too,
    # the cleanup's sweep of open multipart uploads (and the bucket's lifecycle rule) ends it.
    try:
        storage.abort_multipart(key, multipart_id)
    except exceptions.StorageUnavailable:
        logger.exception("abort-failed key=%s", key)


#: The most part URLs one request may ask for.
MAX_PARTS_PER_REQUEST = 100


@dataclass(frozen=True)
class SignedPart:
    """One part's presigned UploadPart: its number, exact size, URL and headers."""

    number: int
    size: int
    put: signing.SignedPut


def sign_parts(*, user: User, upload_id: UploadId | str, parts: object) -> list[SignedPart]:
    """Presigned UploadPart URLs for parts of *user*'s pending multipart upload.

    *parts* is ``[{"part_number": n, "checksum_sha256": "..."}, ...]`` (at most 100); each URL
    is signed with the part's exact planned length and, when the upload is pinned to
    checksums (then required), its SHA-256: S3 refuses any other size or content.
    """
    return sign_upload_parts(get_owned_upload(user, upload_id), parts)


def sign_upload_parts(upload: Upload, parts: object) -> list[SignedPart]:
    """:func:`sign_parts` for an upload the caller already got with :func:`get_owned_upload`."""
    _require_open_multipart(upload)
    wanted = _parse_parts(upload, parts)
    if upload.checksum:
        UploadPart.objects.bulk_create(
            [
                UploadPart(upload=upload, number=n, checksum_sha256=c)
                for n, c in wanted.items()
                if c is not None  # all of them: the upload has checksums
            ],
            update_conflicts=True,
            unique_fields=["upload", "number"],
            update_fields=["checksum_sha256"],
        )
    return [
        SignedPart(
            number=number,
            size=upload.part_length(number),
            put=signing.presign_part(
                key=upload.key,
                multipart_id=upload.multipart_id,
                number=number,
                size=upload.part_length(number),
                checksum=checksum,
            ),
        )
        for number, checksum in wanted.items()
    ]


def _require_open_multipart(upload: Upload) -> None:
    if upload.transport != Upload.Transport.MULTIPART:
        raise exceptions.UploadStateConflict(
            _("This upload is not sent in parts."), code="not_multipart"
        )
    if upload.status != Upload.Status.PENDING:
        raise exceptions.UploadStateConflict(
            _("This upload is finished; its parts cannot change."), code="upload_not_pending"
        )
    if upload.expires_at <= timezone.now():
        raise exceptions.UploadStateConflict(
            _("This upload's time is up. Upload the file again."), code="upload_expired"
        )


def _parse_parts(upload: Upload, parts: object) -> dict[int, str | None]:
    """``{part number: checksum}`` from a client's list, or :class:`InvalidRequest`."""
    invalid = exceptions.InvalidRequest(
        _(
            "“parts” must be a list of 1 to %(most)d objects with a “part_number” from 1 to "
            "%(count)d, each once, and a “checksum_sha256” when the upload has checksums."
        )
        % {"most": MAX_PARTS_PER_REQUEST, "count": upload.part_count},
        code="invalid_parts",
    )
    if not isinstance(parts, list) or not 1 <= len(parts) <= MAX_PARTS_PER_REQUEST:
        raise invalid
    wanted: dict[int, str | None] = {}
    for item in parts:
        if not isinstance(item, dict):
            raise invalid
        number = item.get("part_number")
        if (
            isinstance(number, bool)
            or not isinstance(number, int)
            or not 1 <= number <= upload.part_count
            or number in wanted
        ):
            raise invalid
        checksum = policy.validate_checksum(item.get("checksum_sha256"))
        if upload.checksum and checksum is None:
            raise invalid
        wanted[number] = checksum if upload.checksum else None
    return wanted


@dataclass(frozen=True)
class PartsState:
    """A multipart upload's plan and the parts S3 holds now."""

    upload: Upload
    parts: dict[int, storage.Part]


def uploaded_parts(*, user: User, upload_id: UploadId | str) -> PartsState:
    """What S3 holds of *user*'s multipart upload (asked of S3, not of the browser's memory):
    for resuming after a reload. A finished upload holds no parts."""
    upload = get_owned_upload(user, upload_id)
    if upload.transport != Upload.Transport.MULTIPART:
        raise exceptions.UploadStateConflict(
            _("This upload is not sent in parts."), code="not_multipart"
        )
    if upload.status != Upload.Status.PENDING:
        return PartsState(upload=upload, parts={})
    try:
        parts = storage.list_parts(upload.key, upload.multipart_id)
    except storage.UploadGone:
        parts = {}
    return PartsState(upload=upload, parts=parts)


def confirm_upload(
    *, user: User, upload_id: UploadId | str, request: HttpRequest | None = None
) -> Upload:
    """Verify *user*'s uploaded object against what was signed; keep it or refuse it.

    Idempotent: confirming a complete upload returns it again; confirming a refused one
    raises the same refusal. The upload's row stays locked while S3 is asked, so concurrent
    confirms (and the cleanup) see one consistent answer. When S3 or the database fails,
    the upload stays pending (a copy already made stays at its key, served by nothing) and a
    later confirm (or the reconcile in ``presigned_cleanup``) completes it.
    """
    with transaction.atomic():
        upload = get_owned_upload(user, upload_id, lock=True)
        if upload.status == Upload.Status.COMPLETE:
            return upload
        if upload.status == Upload.Status.FAILED:
            raise _refusal(upload.failure_code)
        try:
            refused = _verify_and_store(upload)
        except exceptions.UploadStateConflict as error:
            audit.record("refuse", user=user, upload=upload, stage="confirm", code=error.code)
            raise
    _announce(upload, refused, user=user, request=request)
    return upload


def reconcile_upload(upload_id: UploadId) -> str:
    """Verify and store a pending upload whose browser never confirmed it, as confirm would.

    For ``presigned_cleanup``: an upload whose bytes arrived intact is completed on the
    server's side (``upload_confirmed`` is sent with ``request=None``; the audit record says
    ``by=reconcile``), never deleted as abandoned. Returns ``"complete"``, ``"refused"``
    (now failed, its object deleted), ``"missing"`` (nothing arrived: the caller may remove
    it), ``"changed"`` (its object kept changing; left pending) or ``"skipped"`` (not pending,
    or locked by a confirm in progress). :class:`StorageUnavailable` leaves it pending.
    """
    with transaction.atomic():
        upload = (
            Upload.objects.select_for_update(skip_locked=True)
            .filter(pk=upload_id, status=Upload.Status.PENDING)
            .first()
        )
        if upload is None:
            return "skipped"
        try:
            refused = _verify_and_store(upload)
        except exceptions.UploadStateConflict as error:
            # Nothing (or not every part) arrived within the window: nothing more will.
            return "changed" if error.code == "upload_changed" else "missing"
    try:
        _announce(upload, refused, user=None, request=None, by="reconcile")
    except exceptions.TransferError:
        return "refused"
    return "complete"


def inspect_upload(upload: Upload) -> str:
    """What :func:`reconcile_upload` would do with *upload*, changing nothing (a dry run).

    ``"complete"``, ``"refused"`` or ``"missing"``; reads the object's first bytes only.
    """
    if upload.multipart_id:
        try:
            _planned_parts(upload, storage.list_parts(upload.key, upload.multipart_id))
        except exceptions.UploadStateConflict:
            return "missing"
        except storage.UploadGone:
            pass  # completed earlier: what is at its key is checked below
        else:
            return "complete"  # its content is checked when it is completed
    with transaction.atomic():
        found, refused = _verify(upload)
        transaction.set_rollback(True)
    if found is None:
        return "missing"
    return "complete" if refused is None else "refused"


def _verify(upload: Upload) -> tuple[storage.ObjectStart | None, exceptions.TransferError | None]:
    """Read the start of what the upload's transfer wrote, and check it against what was signed.

    Returns ``(None, None)`` when nothing arrived, else what was read and the refusal, if any.
    Call inside a transaction (the quota recount locks the owner's row).
    """
    found = storage.read_start(upload.upload_key, _read_length(upload))
    if found is None:
        return None, None
    refused = _find_mismatch(upload, found)
    if refused is None and upload.expires_at <= timezone.now():
        # Its window has closed, so it stopped counting against the quota and other
        # uploads may have taken its room since: count it again before accepting it.
        try:
            _check_quota(upload.owner, upload.declared_size, exclude=upload.pk)
        except exceptions.UploadRefused as error:
            refused = error
    if refused is None:
        refused = _sniff(upload, found.head)
    return found, refused


def _verify_and_store(upload: Upload) -> exceptions.TransferError | None:
    """Verify the pending, locked *upload* and keep exactly the version that passed.

    Returns ``None`` when the upload is now complete, or the refusal (its objects deleted,
    the row failed). Raises :class:`UploadStateConflict` (``upload_missing``: nothing
    arrived; ``upload_changed``: the object was replaced every time between being read and
    being kept) or :class:`StorageUnavailable`, with nothing changed.

    If the transaction fails after the copy, the copy stays: the row is still pending and
    names its key, so a later confirm or the cleanup's reconcile completes it (or removes
    it). Deleting it then could delete what a confirm that took the row lock right after the
    rollback has just kept (the same verified bytes, at the same key).
    """
    if upload.multipart_id:
        _complete_parts(upload)  # sealed in place: after this no part URL changes the object
    for _attempt in range(VERIFY_ATTEMPTS):
        found, refused = _verify(upload)
        if found is None:
            raise exceptions.UploadStateConflict(
                _("The file has not arrived in storage. Upload it first, then confirm."),
                code="upload_missing",
            )
        if refused is not None:
            # Its objects first: not marked failed while a refused object is still there.
            storage.remove(upload.object_keys)
            upload.status = Upload.Status.FAILED
            upload.failure_code = refused.code
            upload.verified_size = found.size
            upload.save(
                update_fields=[
                    "status",
                    "failure_code",
                    "verified_size",
                    "checksum_sha256",
                    "updated_at",
                ]
            )
            return refused
        try:
            stored = _store(upload, found)
        except storage.ObjectChanged:
            continue  # replaced after it was read: verify what is there now
        upload.status = Upload.Status.COMPLETE
        upload.verified_size = found.size
        upload.etag, upload.version_id = stored.etag, stored.version_id
        upload.confirmed_at = timezone.now()
        upload.save(
            update_fields=[
                "status",
                "verified_size",
                "etag",
                "version_id",
                "checksum_sha256",
                "confirmed_at",
                "updated_at",
            ]
        )
        return None
    raise exceptions.UploadStateConflict(
        _("The file changed while it was being checked. Confirm again."), code="upload_changed"
    )


def _complete_parts(upload: Upload) -> None:
    """Complete *upload*'s multipart upload from exactly its planned parts.

    Lists what S3 holds; every planned part must be there with its planned size (and, with
    checksums, the SHA-256 its URL was signed with), and nothing else; then completes naming
    each part's ETag, so a part replaced since the listing makes S3 refuse (and the listing
    is done again). S3's composite checksum of the parts is recorded. An upload no longer
    open in S3 was completed by an earlier confirm whose transaction did not commit: what is at
    its key is verified next, as always.
    """
    for _attempt in range(VERIFY_ATTEMPTS):
        try:
            listed = storage.list_parts(upload.key, upload.multipart_id)
        except storage.UploadGone:
            return
        parts = _planned_parts(upload, listed)
        try:
            completed = storage.complete_multipart(upload.key, upload.multipart_id, parts)
        except storage.PartsChanged:
            continue
        except storage.UploadGone:
            return
        composite = _composite_checksum([p.checksum_sha256 for p in parts])
        upload.checksum_sha256 = completed.checksum_sha256 or composite
        return
    raise exceptions.UploadStateConflict(
        _("The file's parts changed while it was being checked. Confirm again."),
        code="upload_changed",
    )


def _planned_parts(upload: Upload, listed: dict[int, storage.Part]) -> list[storage.Part]:
    """The parts to complete with: exactly the plan, or :class:`UploadStateConflict`."""
    count = upload.part_count
    missing = [
        n for n in range(1, count + 1) if n not in listed or listed[n].size != upload.part_length(n)
    ]
    if missing:
        raise exceptions.UploadStateConflict(
            _("%(count)d part(s) of the file have not arrived. Send them, then confirm.")
            % {"count": len(missing)},
            code="parts_missing",
            details={"missing": missing[:1000]},
        )
    extra = sorted(n for n in listed if n > count)
    signed = dict(upload.parts.values_list("number", "checksum_sha256")) if upload.checksum else {}
    mismatched = [
        n
        for n in range(1, count + 1)
        if upload.checksum and (n not in signed or listed[n].checksum_sha256 not in ("", signed[n]))
    ]
    if extra or mismatched:
        # Nothing the app signs makes such parts: do not assemble a file from them.
        raise exceptions.UploadStateConflict(
            _("The parts in storage are not the planned ones. Cancel and upload the file again."),
            code="parts_mismatch",
            details={"unexpected": extra[:1000], "mismatched": mismatched[:1000]},
        )
    return [
        storage.Part(
            number=n,
            size=listed[n].size,
            etag=listed[n].etag,
            checksum_sha256=signed.get(n, ""),
        )
        for n in range(1, count + 1)
    ]


def _composite_checksum(checksums: list[str]) -> str:
    """S3's COMPOSITE SHA-256 of a multipart object: of the parts' digests, then ``-N``."""
    if not checksums or not all(checksums):
        return ""
    digest = hashlib.sha256(b"".join(base64.b64decode(c) for c in checksums)).digest()
    return f"{base64.b64encode(digest).decode()}-{len(checksums)}"


def _store(upload: Upload, found: storage.ObjectStart) -> storage.StoredObject:
    """Make the verified version *found* the upload's kept object."""
    if not upload.staging_key:
        return storage.StoredObject(etag=found.etag, version_id=found.version_id)
    return storage.copy_object(upload.staging_key, upload.key, if_match=found.etag)


def _announce(
    upload: Upload,
    refused: exceptions.TransferError | None,
    *,
    user: User | None,
    request: HttpRequest | None,
    by: str | None = None,
) -> None:
    """Audit and signal what verifying *upload* decided; raise the refusal, if any."""
    extra: dict[str, Any] = {"by": by} if by else {}
    if refused is not None:
        audit.record(
            "refuse", user=user, upload=upload, stage="confirm", code=refused.code, **extra
        )
        signals.upload_refused.send(
            sender=Upload, upload=upload, code=refused.code, request=request
        )
        raise refused
    audit.record("confirm", user=user, upload=upload, size=upload.verified_size, **extra)
    signals.upload_confirmed.send(sender=Upload, upload=upload, request=request)


def _read_length(upload: Upload) -> int:
    """How many of the object's first bytes verifying it needs (at least one: the range
    GET's answer carries the size and version; 0 only for an empty file)."""
    wanted = sniffing.HEAD_BYTES if _sniffer(upload) is not None else 1
    return min(wanted, upload.declared_size)


def _sniffer(upload: Upload) -> sniffing.Sniffer | None:
    if not app_settings.sniff_content:
        return None
    rules = app_settings.get_policy(upload.policy)
    return sniffing.get_sniffer(rules.sniff if rules is not None else True)


def _find_mismatch(upload: Upload, found: storage.ObjectStart) -> exceptions.TransferError | None:
    rules = app_settings.get_policy(upload.policy)
    if found.size != upload.declared_size:
        return exceptions.UploadRefused(
            _("The uploaded file is %(actual)d bytes, not the %(declared)d bytes announced.")
            % {"actual": found.size, "declared": upload.declared_size},
            code="size_mismatch",
        )
    if rules is not None and not rules.min_size <= found.size <= rules.max_size:
        return exceptions.UploadRefused(
            _("The uploaded file's size is outside what the policy allows."),
            code="size_not_allowed",
        )
    if policy.normalize_content_type(found.content_type) != upload.content_type:
        return exceptions.UploadRefused(
            _("The uploaded file's type does not match the type it was signed for."),
            code="content_type_mismatch",
        )
    return None


def _refusal(code: str) -> exceptions.UploadRefused:
    """The answer for an upload that was refused before (confirm is idempotent)."""
    return exceptions.UploadRefused(
        _("This upload was refused and its file deleted. Upload the file again."),
        code=code or "upload_refused",
    )


def _sniff(upload: Upload, head: bytes) -> exceptions.TransferError | None:
    """Ask the policy's sniffer whether the object's first bytes fit its declared type.

    ``None`` means the content is acceptable (or sniffing is off); see
    :mod:`presigned_transfers.sniffing`.
    """
    sniffer = _sniffer(upload)
    if sniffer is None:
        return None
    try:
        accepted = sniffer(head, upload.content_type)
    except exceptions.TransferError as error:
        return error
    if accepted:
        return None
    return exceptions.UploadRefused(
        _("The file's content does not look like %(type)s, the type it was uploaded as.")
        % {"type": upload.content_type},
        code="content_mismatch",
        details={"declared_type": upload.content_type, "detected_type": sniffing.describe(head)},
    )


def download_url(*, user: User, upload_id: UploadId | str) -> signing.SignedUrl:
    """A presigned GET for *user*'s complete upload, forcing a download with its name."""
    upload = get_owned_upload(user, upload_id)
    return sign_download(upload, user=user)


def sign_download(upload: Upload, *, user: User) -> signing.SignedUrl:
    """A presigned GET of *upload*'s kept object (the caller has checked who may have it).

    Only ever the key confirm stored, pinned to the version it stored in a versioned bucket:
    the bytes served are the bytes that were verified.
    """
    if not upload.is_complete:
        raise exceptions.UploadStateConflict()
    signed = signing.presign_get(
        key=upload.key,
        content_disposition=policy.content_disposition(upload.original_filename),
        version_id=upload.version_id or None,
    )
    audit.record("download", user=user, upload=upload)
    return signed


def delete_upload(*, user: User, upload_id: UploadId | str) -> None:
    """Delete *user*'s upload: its objects (and an open multipart upload) first, then its row."""
    with transaction.atomic():
        upload = get_owned_upload(user, upload_id, lock=True)
        if upload.multipart_id and upload.status == Upload.Status.PENDING:
            storage.abort_multipart(upload.key, upload.multipart_id)
        storage.remove(upload.object_keys)
        receivers.mark_objects_deleted(upload)
        pk = upload.pk
        upload.delete()
    audit.record("delete", user=user, upload_id=pk)
