"""storage.py: the S3 calls the server makes, against SeaweedFS over HTTP (and moto where a
server that ignores Range has to be imitated)."""

from __future__ import annotations

import hashlib
import http.client

import pytest

from presigned_transfers import exceptions, storage

pytestmark = pytest.mark.s3


def put(presigned_bucket, key, body, content_type="application/pdf"):
    return presigned_bucket.client.put_object(
        Bucket=presigned_bucket.bucket, Key=key, Body=body, ContentType=content_type
    )


def test_read_start_reads_the_first_bytes_and_the_whole_objects_facts(presigned_bucket):
    body = b"%PDF-" + bytes(range(256)) * 40
    put(presigned_bucket, "a/b.pdf", body)
    found = storage.read_start("a/b.pdf", 4096)
    assert found.head == body[:4096]
    assert found.size == len(body)  # from Content-Range, not the length of the range
    assert found.content_type == "application/pdf"
    assert found.etag == hashlib.md5(body).hexdigest()  # noqa: S324 - S3's ETag
    assert found.version_id == ""


def test_read_start_of_an_object_shorter_than_the_range(presigned_bucket):
    put(presigned_bucket, "short.pdf", b"%PDF-1")
    found = storage.read_start("short.pdf", 4096)
    assert (found.head, found.size) == (b"%PDF-1", 6)


def test_read_start_of_an_empty_object_falls_back_to_a_head(presigned_bucket):
    put(presigned_bucket, "empty.txt", b"", "text/plain")
    found = storage.read_start("empty.txt", 4096)
    assert (found.size, found.head, found.content_type) == (0, b"", "text/plain")
    assert found.etag == hashlib.md5(b"").hexdigest()  # noqa: S324
    assert storage.read_start("empty.txt", 0) == found


def test_read_start_of_nothing_is_none(presigned_bucket):
    assert storage.read_start("missing.pdf", 10) is None
    assert storage.read_start("missing.pdf", 0) is None


def test_read_start_in_a_versioned_bucket_names_the_version(presigned_bucket):
    presigned_bucket.client.put_bucket_versioning(
        Bucket=presigned_bucket.bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    version = put(presigned_bucket, "v.pdf", b"%PDF-1")["VersionId"]
    assert storage.read_start("v.pdf", 3).version_id == version


def test_copy_is_conditioned_on_the_etag(presigned_bucket):
    put(presigned_bucket, "incoming/x.pdf", b"%PDF-first")
    first = storage.read_start("incoming/x.pdf", 5)
    put(presigned_bucket, "incoming/x.pdf", b"%PDF-second")
    with pytest.raises(storage.ObjectChanged):
        storage.copy_object("incoming/x.pdf", "kept/x.pdf", if_match=first.etag)
    assert presigned_bucket.keys() == ["incoming/x.pdf"]
    second = storage.read_start("incoming/x.pdf", 5)
    stored = storage.copy_object("incoming/x.pdf", "kept/x.pdf", if_match=second.etag)
    assert presigned_bucket.get("kept/x.pdf") == b"%PDF-second"
    assert stored.etag == second.etag
    head = presigned_bucket.client.head_object(Bucket=presigned_bucket.bucket, Key="kept/x.pdf")
    assert head["ContentType"] == "application/pdf"  # kept from the source


def test_confirms_requests_send_only_the_headers_they_need(presigned_bucket, monkeypatch):
    # What goes on the wire (http.client's own header lines): the GET asks for the object's
    # bytes as they are; the copy sends its signed headers and no Accept-Encoding.
    sent: list[tuple[str, dict[str, str]]] = []
    putrequest, putheader = (
        http.client.HTTPConnection.putrequest,
        http.client.HTTPConnection.putheader,
    )

    def recording_putrequest(self, method, url, *args, **kwargs):
        sent.append((method, {}))
        return putrequest(self, method, url, *args, **kwargs)

    def recording_putheader(self, header, *values):
        sent[-1][1][header.lower()] = " ".join(str(v) for v in values)
        return putheader(self, header, *values)

    monkeypatch.setattr(http.client.HTTPConnection, "putrequest", recording_putrequest)
    monkeypatch.setattr(http.client.HTTPConnection, "putheader", recording_putheader)
    put(presigned_bucket, "incoming/h.pdf", b"%PDF-headers")
    sent.clear()
    found = storage.read_start("incoming/h.pdf", 5)
    storage.copy_object("incoming/h.pdf", "kept/h.pdf", if_match=found.etag)
    (get_method, get_headers), (put_method, put_headers) = sent
    assert presigned_bucket.get("kept/h.pdf") == b"%PDF-headers"
    assert (get_method, put_method) == ("GET", "PUT")
    assert get_headers["accept-encoding"] == "identity"
    assert get_headers["range"] == "bytes=0-4"
    assert "accept-encoding" not in put_headers
    assert put_headers["x-amz-copy-source-if-match"] == f'"{found.etag}"'
    assert {"host", "user-agent", "content-length", "x-amz-copy-source", "x-amz-acl"} <= set(
        put_headers
    )


def test_copy_of_a_vanished_source_is_a_change(presigned_bucket):
    with pytest.raises(storage.ObjectChanged):
        storage.copy_object("incoming/none.pdf", "kept/none.pdf", if_match="0" * 32)


def test_remove_deletes_several_keys_in_one_request_and_missing_ones_are_fine(presigned_bucket):
    put(presigned_bucket, "k1", b"1")
    put(presigned_bucket, "k2", b"2")
    storage.remove(["k1", "k2", "never-there"])
    storage.remove(["k1"])
    assert presigned_bucket.keys() == []


def test_a_server_that_ignores_range_still_gives_the_size(moto_s3, monkeypatch):
    moto_s3.put_object(Bucket="test-bucket", Key="f", Body=b"0123456789")
    client = storage.get_client()
    real = client.get_object

    def no_range(**kwargs):
        kwargs.pop("Range")
        response = real(**kwargs)
        response.pop("ContentRange", None)
        return response

    monkeypatch.setattr(client, "get_object", no_range)
    found = storage.read_start("f", 4)
    assert (found.head, found.size) == (b"0123", 10)


def test_remove_reports_what_it_could_not_delete(moto_s3, monkeypatch):
    monkeypatch.setattr(storage, "delete_objects", lambda keys: {keys[0]: "AccessDenied"})
    with pytest.raises(exceptions.StorageUnavailable) as caught:
        storage.remove(["a", "b"])
    assert caught.value.details == {"reason": "AccessDenied"}


def test_one_client_for_every_thread_built_once(presigned_bucket, monkeypatch):
    # Under ASGI each request's sync view runs in a thread of its own: a client per thread
    # would be built for every request, from one boto3 session in many threads at once
    # (which boto3 does not support). One client per process, built under a lock.
    import threading

    from presigned_transfers import aws

    session = aws.get_session()
    built = []
    make = session.client

    def counting_client(*args, **kwargs):
        built.append(threading.current_thread().name)
        return make(*args, **kwargs)

    monkeypatch.setattr(session, "client", counting_client)
    barrier = threading.Barrier(8)
    clients = []

    def use() -> None:
        barrier.wait()
        clients.append(storage.get_client())

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(built) == 1
    assert len(clients) == 8 and len({id(client) for client in clients}) == 1
    assert (
        clients[0].head_bucket(Bucket=presigned_bucket.bucket)["ResponseMetadata"]["HTTPStatusCode"]
        == 200
    )
    storage.reset()  # a settings change: the next call builds a new one
    assert storage.get_client() is not clients[0]
    assert len(built) == 2
