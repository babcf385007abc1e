"""Concurrency on PostgreSQL: quotas, confirms and cleanup under many real threads.

Each thread has its own database connection (Django's are per thread) and its own HTTP
client; S3 is the real SeaweedFS server. SQLite serializes every writer and ignores
SELECT FOR UPDATE, so these tests only mean something on PostgreSQL: run them with
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/test``.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.db.models import Count, Q, Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from presigned_transfers import cleanup, exceptions, services, signals, storage
from presigned_transfers.models import Upload
from tests import flows, samples

ON_POSTGRES = django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.s3,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="needs PostgreSQL row locks: set DATABASE_URL=postgres://... (SQLite "
        "serializes writers and has no SELECT FOR UPDATE)",
    ),
]

THREADS = 12
TIMEOUT = 120


def run_threads(count: int, target: Callable[[int], Any]) -> list[Any]:
    """Run *target(i)* in *count* threads started together; re-raise the first error."""
    barrier = threading.Barrier(count, timeout=TIMEOUT)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def main(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=main, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


class UsageWatcher(threading.Thread):
    """Reads the user's counted usage over and over while the threads run."""

    def __init__(self, user: Any) -> None:
        super().__init__(daemon=True)
        self.user = user
        self.stop = threading.Event()
        self.max_files = 0
        self.max_bytes = 0
        self.samples = 0

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                usage = (
                    Upload.objects.filter(owner=self.user)
                    .filter(
                        Q(status="complete") | Q(status="pending", expires_at__gt=timezone.now())
                    )
                    .aggregate(files=Count("pk"), size=Sum("declared_size"))
                )
                self.max_files = max(self.max_files, usage["files"])
                self.max_bytes = max(self.max_bytes, usage["size"] or 0)
                self.samples += 1
        finally:
            connection.close()

    def __enter__(self) -> UsageWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join(TIMEOUT)


@pytest.fixture
def signal_counts():
    counts: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()

    def receiver(name):
        def receive(upload, **kwargs):
            with lock:
                counts[(name, str(upload.pk))] += 1

        return receive

    receivers = {
        signal: receiver(name)
        for signal, name in (
            (signals.upload_signed, "signed"),
            (signals.upload_confirmed, "confirmed"),
            (signals.upload_refused, "refused"),
        )
    }
    for signal, receive in receivers.items():
        signal.connect(receive, weak=False)
    yield counts
    for signal, receive in receivers.items():
        signal.disconnect(receive)


@pytest.fixture
def configure(settings, presigned_bucket):
    def configure(**quota):
        settings.PRESIGNED_TRANSFERS = {
            **settings.PRESIGNED_TRANSFERS,
            "QUOTA": quota,
            # High enough never to refuse here, so the rate-limit cache (Redis in the
            # production-like run) is hammered concurrently too.
            "RATE_LIMITS": {"upload-url": "100000/m", "confirm-upload": "100000/m"},
        }

    return configure


def body_of(size: int) -> bytes:
    return (samples.PDF + b"x" * size)[:size]


def sign_upload_and_post(user: Any, presigned_bucket: Any, size: int, *, sent: int | None = None):
    """Sign over HTTP, then POST the file to S3 like a browser; (status, json, 204?)."""
    client = Client()
    client.force_login(user)
    response = client.post(
        reverse("presigned_transfers:upload-url"),
        {"filename": "doc.pdf", "content_type": "application/pdf", "size": size},
        content_type="application/json",
    )
    data = response.json()
    if response.status_code != 201:
        return response.status_code, data, None
    posted = presigned_bucket.post(
        data["url"], data["fields"], body_of(size if sent is None else sent)
    )
    return response.status_code, data, posted.status_code


def confirm_over_http(user: Any, upload_id: str) -> tuple[int, str]:
    client = Client()
    client.force_login(user)
    response = client.post(
        reverse("presigned_transfers:confirm-upload"),
        {"upload_id": upload_id},
        content_type="application/json",
    )
    data = response.json()
    outcome = data["upload"]["status"] if response.status_code == 200 else data["error"]["code"]
    return response.status_code, outcome


@pytest.mark.django_db(transaction=True)
def test_signing_and_confirming_at_once_never_exceeds_the_file_quota(
    configure, presigned_bucket, user, signal_counts
):
    max_files, attempts_each = 8, 3
    configure(MAX_FILES=max_files)

    # Phase 1: every thread signs and uploads at once; some upload the wrong size.
    def phase_one(i):
        outcomes = []
        for n in range(attempts_each):
            wrong = (i + n) % 4 == 0
            outcomes.append(
                sign_upload_and_post(user, presigned_bucket, 1000, sent=900 if wrong else None)
            )
        return outcomes

    with UsageWatcher(user) as watcher:
        outcomes = [o for thread in run_threads(THREADS, phase_one) for o in thread]
        signed = [data["upload_id"] for status, data, _ in outcomes if status == 201]
        refused = [data for status, data, _ in outcomes if status != 201]
        assert len(signed) == max_files
        assert len(refused) == THREADS * attempts_each - max_files
        assert {d["error"]["code"] for d in refused} == {"quota_exceeded"}
        assert all(posted == 204 for status, _, posted in outcomes if status == 201)

        # Phase 2: every thread confirms every upload (in its own order) and tries to sign
        # one more; wrong-size uploads fail at confirm, which frees room for new ones.
        def phase_two(i):
            order = random.Random(i).sample(signed, len(signed))
            answers = [(upload_id, confirm_over_http(user, upload_id)) for upload_id in order]
            extra = sign_upload_and_post(user, presigned_bucket, 1000)
            return answers, extra

        results = run_threads(THREADS, phase_two)
    assert watcher.samples > 0
    assert watcher.max_files <= max_files

    answers = defaultdict(set)
    for thread_answers, _ in results:
        for upload_id, answer in thread_answers:
            answers[upload_id].add(answer)
    # Every confirm of one upload got the same answer, whoever asked first.
    assert all(len(seen) == 1 for seen in answers.values()), dict(answers)
    completes = {u for u, seen in answers.items() if seen == {(200, "complete")}}
    failures = {u for u, seen in answers.items() if seen == {(422, "size_mismatch")}}
    assert completes | failures == set(signed)
    assert failures  # the wrong sizes were caught

    extra = [data["upload_id"] for _, (status, data, _) in results if status == 201]
    assert len(extra) <= len(failures)  # only the room the failures freed
    rows = Upload.objects.filter(owner=user)
    # No lost and no duplicate rows: exactly the signed ones.
    assert sorted(str(pk) for pk in rows.values_list("pk", flat=True)) == sorted(signed + extra)
    assert rows.values("key").distinct().count() == rows.count()
    counted = rows.filter(status__in=["complete", "pending"]).count()
    assert counted <= max_files
    assert set(map(str, rows.filter(status="complete").values_list("pk", flat=True))) == completes
    # Signals: each upload confirmed or refused exactly once, however often it was asked.
    assert {k for k, n in signal_counts.items() if k[0] == "confirmed" and n == 1} == {
        ("confirmed", u) for u in completes
    }
    assert {k for k, n in signal_counts.items() if k[0] == "refused" and n == 1} == {
        ("refused", u) for u in failures
    }
    assert max(signal_counts.values()) == 1
    # Refused objects are gone from the bucket; confirmed ones are kept; pending ones (the
    # extra uploads, never confirmed) are still at their staging keys.
    keys = set(presigned_bucket.keys())
    for upload in rows:
        assert (upload.key in keys) == (upload.status == "complete")
        # Staging objects wait for the cleanup's sweep, except refused ones (deleted at once).
        assert (upload.staging_key in keys) == (upload.status != "failed")


@pytest.mark.django_db(transaction=True)
def test_concurrent_signing_never_exceeds_the_byte_quota(configure, presigned_bucket, user):
    max_bytes = 20_000
    configure(MAX_BYTES=max_bytes)
    sizes = [random.Random(i).randint(500, 3000) for i in range(THREADS * 3)]

    def sign_some(i):
        client = Client()
        client.force_login(user)
        answers = []
        for size in sizes[i * 3 : i * 3 + 3]:
            response = client.post(
                reverse("presigned_transfers:upload-url"),
                {"filename": "a.pdf", "content_type": "application/pdf", "size": size},
                content_type="application/json",
            )
            answers.append((size, response.status_code, response.json()))
        return answers

    with UsageWatcher(user) as watcher:
        answers = [a for thread in run_threads(THREADS, sign_some) for a in thread]
    assert watcher.max_bytes <= max_bytes
    accepted = [(size, data["upload_id"]) for size, status, data in answers if status == 201]
    refused = [data for _, status, data in answers if status != 201]
    assert accepted and refused
    assert {d["error"]["code"] for d in refused} == {"quota_exceeded"}
    assert {d["error"]["details"]["limit"] for d in refused} == {"max_bytes"}
    total = sum(size for size, _ in accepted)
    assert total <= max_bytes
    # Every refusal was right when it was made: the file did not fit beside what was used.
    assert all(
        d["error"]["details"]["used_bytes"] + size > max_bytes
        for size, status, d in answers
        if status != 201
    )
    rows = dict(Upload.objects.filter(owner=user).values_list("pk", "declared_size"))
    assert {str(pk): size for pk, size in rows.items()} == {u: s for s, u in accepted}


# --- cleanup beside live confirms -----------------------------------------------------------


def stale_upload(
    user: Any, presigned_bucket: Any, *, hours_ago: int = 3, arrived: bool = True
) -> Upload:
    """A pending upload whose window ended hours ago; its file *arrived* or never did."""
    upload = flows.sign(user, samples.PDF)
    if arrived:
        flows.put(upload, samples.PDF)
    Upload.objects.filter(pk=upload.pk).update(
        expires_at=timezone.now() - timedelta(hours=hours_ago)
    )
    return Upload.objects.get(pk=upload.pk)


class Gate:
    """Wraps a function so a call announces itself and then waits to be let through."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        assert self.release.wait(TIMEOUT)
        return self.function(*args, **kwargs)


@pytest.mark.django_db(transaction=True)
def test_cleanup_never_touches_an_upload_being_confirmed(presigned_bucket, user, monkeypatch):
    upload = stale_upload(user, presigned_bucket)
    gate = Gate(storage.read_start)
    monkeypatch.setattr(storage, "read_start", gate)
    outcome: dict[str, Any] = {}

    def confirm():
        try:
            outcome["upload"] = services.confirm_upload(user=user, upload_id=upload.pk)
        except exceptions.TransferError as error:  # pragma: no cover - reported below
            outcome["error"] = error
        finally:
            connection.close()

    confirming = threading.Thread(target=confirm, daemon=True)
    confirming.start()
    try:
        assert gate.entered.wait(TIMEOUT)  # the confirm holds the row lock and asks S3
        report = cleanup.cleanup(grace=0)
        assert report.removed == [] and report.reconciled == []
        assert report.skipped_locked == 1
        assert Upload.objects.filter(pk=upload.pk).exists()
        assert upload.staging_key in set(presigned_bucket.keys())
    finally:
        gate.release.set()
        confirming.join(TIMEOUT)
    assert "error" not in outcome
    assert outcome["upload"].status == "complete"
    # Once confirmed it is no longer due at all.
    assert cleanup.cleanup(grace=0).removed == []
    assert upload.key in set(presigned_bucket.keys())


@pytest.mark.django_db(transaction=True)
def test_a_confirm_during_cleanup_waits_and_then_finds_nothing(presigned_bucket, user, monkeypatch):
    upload = stale_upload(user, presigned_bucket, arrived=False)
    gate = Gate(storage.delete_objects)
    monkeypatch.setattr(storage, "delete_objects", gate)
    outcome: dict[str, Any] = {}

    def run_cleanup():
        try:
            outcome["report"] = cleanup.cleanup(grace=0)
        finally:
            connection.close()

    def confirm():
        try:
            services.confirm_upload(user=user, upload_id=upload.pk)
        except exceptions.TransferError as error:
            outcome["confirm"] = error
        finally:
            connection.close()

    cleaning = threading.Thread(target=run_cleanup, daemon=True)
    cleaning.start()
    assert gate.entered.wait(TIMEOUT)  # cleanup holds the row lock
    confirming = threading.Thread(target=confirm, daemon=True)
    confirming.start()
    confirming.join(1.0)
    assert confirming.is_alive(), "the confirm should wait for the cleanup's row lock"
    gate.release.set()
    cleaning.join(TIMEOUT)
    confirming.join(TIMEOUT)
    assert [r.id for r in outcome["report"].removed] == [upload.pk]
    assert isinstance(outcome["confirm"], exceptions.UploadNotFound)
    assert presigned_bucket.keys() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_cleanups_share_the_work_without_overlap(presigned_bucket, user, signal_counts):
    stale = [
        stale_upload(user, presigned_bucket, hours_ago=3 + i % 5, arrived=i % 2) for i in range(24)
    ]
    arrived = {u.pk for u in stale if flows.object_exists(u.staging_key)}
    live = flows.sign(user, samples.PDF)
    flows.put(live, samples.PDF)

    reports = run_threads(4, lambda i: cleanup.cleanup(grace=0, batch_size=3))
    removed = [r.id for report in reports for r in report.removed]
    reconciled = [pk for report in reports for pk in report.reconciled]
    # Each stale upload taken by exactly one run: kept if its file arrived, removed if not.
    assert sorted(reconciled) == sorted(arrived)
    assert sorted(removed) == sorted(u.pk for u in stale if u.pk not in arrived)
    assert len(set(removed + reconciled)) == len(removed + reconciled) == len(stale)
    assert all(report.errors == {} for report in reports)
    assert {k for k, n in signal_counts.items() if k[0] == "confirmed" and n == 1} == {
        ("confirmed", str(pk)) for pk in arrived
    }
    kept = Upload.objects.filter(pk__in=arrived)
    assert set(presigned_bucket.keys()) == {live.staging_key} | {u.key for u in kept}
    assert set(Upload.objects.values_list("pk", flat=True)) == {live.pk, *arrived}
