"""pytest fixtures for projects that use presigned_transfers (registered as the pytest plugin
``presigned_transfers``; ``-p no:presigned_transfers`` turns it off).

``seaweedfs``
    (session) A SeaweedFS S3 server on loopback, started once for the test session.
    Skipped, saying how to install it, when the ``weed`` binary is missing; with the
    environment variable ``CI`` set, that is a failure instead.
``presigned_bucket``
    A fresh bucket on it, with the CORS rule ``presigned_doctor --apply-cors`` writes, and
    ``settings.PRESIGNED_TRANSFERS`` (pytest-django's ``settings``) and the AWS credentials
    in the environment pointed at it: a :class:`~presigned_transfers.testing.PresignedBucket`.
``presigned_upload``
    ``presigned_upload(user, filename, data, content_type, **options)``: the file uploaded
    through the real flow with pytest-django's ``client``; see
    :func:`presigned_transfers.testing.upload`.
``presigned_s3_credentials``
    (session) The ``(access key, secret key)`` the server accepts; fake ones by default.
    Override it in a ``conftest.py`` to choose others.

Importing this module imports nothing but pytest (the fixtures import what they use): a
project that has the package but does not use the fixtures is not affected.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from presigned_transfers.testing.bucket import PresignedBucket
    from presigned_transfers.testing.seaweedfs import SeaweedFS

#: The fake credentials the test server's one identity has (never real ones).
ACCESS_KEY = "AKIAPRESIGNEDTESTING"
SECRET_KEY = "presigned-transfers/testing/not-a-secret"  # noqa: S105 - fake, by design

#: The origin of Django's test client, for the bucket's CORS rule when nothing else is known.
TEST_CLIENT_ORIGIN = "http://testserver"

#: Environment variables that would make boto3 sign with something other than the test
#: server's identity (a session token makes SeaweedFS refuse the request).
_AWS_ENV_REMOVED = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


@pytest.fixture(scope="session")
def presigned_s3_credentials() -> tuple[str, str]:
    """The ``(access key id, secret access key)`` of the test server's identity."""
    return ACCESS_KEY, SECRET_KEY


@pytest.fixture(scope="session")
def seaweedfs(
    tmp_path_factory: pytest.TempPathFactory, presigned_s3_credentials: tuple[str, str]
) -> Iterator[SeaweedFS]:
    """A SeaweedFS S3 server on loopback for the whole session, on free ports."""
    from presigned_transfers.testing.seaweedfs import SeaweedFS, SeaweedFSError, weed_binary

    try:
        weed_binary()
    except SeaweedFSError as error:
        message = f"SeaweedFS is needed for this test: {error}"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {message}", pytrace=False)
        pytest.skip(message)
    access_key, secret_key = presigned_s3_credentials
    server = SeaweedFS(
        tmp_path_factory.mktemp("seaweedfs"), access_key=access_key, secret_key=secret_key
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _forget_clients() -> None:
    """Forget the app's boto3 session, signer and clients: they hold the credentials."""
    from presigned_transfers import aws, s3http, signing, storage

    aws.reset()
    signing.reset()
    storage.reset()
    s3http.reset()


def _origins(request: pytest.FixtureRequest) -> list[str]:
    from presigned_transfers.conf import app_settings

    origins = list(app_settings.cors_origins)
    if "live_server" in request.fixturenames:
        origins.append(request.getfixturevalue("live_server").url)
    return origins or [TEST_CLIENT_ORIGIN]


@pytest.fixture
def presigned_bucket(
    seaweedfs: SeaweedFS,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[PresignedBucket]:
    """A fresh bucket on the test SeaweedFS, and the app pointed at it for this test.

    Its CORS rule lets the ``CORS_ORIGINS`` setting's origins and, when the test uses
    pytest-django's ``live_server``, the live server's origin upload (Django's test client's
    ``http://testserver`` when there are none): a bucket without a rule answers every
    origin's preflight on SeaweedFS, where AWS answers none.
    """
    from presigned_transfers.testing.bucket import PresignedBucket

    name = f"test-{uuid.uuid4().hex[:16]}"
    settings.PRESIGNED_TRANSFERS = {
        **getattr(settings, "PRESIGNED_TRANSFERS", {}),
        "BUCKET": name,
        "ENDPOINT_URL": seaweedfs.endpoint_url,
        "ADDRESSING_STYLE": "path",
        "REGION": seaweedfs.region,
    }
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for variable in _AWS_ENV_REMOVED:
        monkeypatch.delenv(variable, raising=False)
    _forget_clients()
    seaweedfs.create_bucket(name, cors_origins=_origins(request))
    client = seaweedfs.client()
    try:
        yield PresignedBucket(
            server=seaweedfs, bucket=name, client=client, endpoint_url=seaweedfs.endpoint_url
        )
    finally:
        client.close()
        _forget_clients()


@pytest.fixture
def presigned_upload(presigned_bucket: PresignedBucket, client: Any) -> Callable[..., Any]:
    """``presigned_upload(user, filename, data, content_type, **options)`` -> the ``Upload``,
    sent through the real flow with pytest-django's ``client`` into ``presigned_bucket``
    (see :func:`presigned_transfers.testing.upload` for the options)."""
    from presigned_transfers.testing.flow import upload

    return functools.partial(upload, client)
