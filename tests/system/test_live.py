"""tests/live.py: the live server answers every request of LiveClient; none of its request
threads outlives the client."""

from __future__ import annotations

import pytest

from tests.live import LiveClient, request_threads

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_request_is_answered(live_server):
    # With "Connection: close" 2 to 13 of these 40 failed with "Remote end closed connection
    # without response" (Django 5.2 and 6.1).
    with LiveClient(live_server) as client:
        statuses = [
            client.http.get(live_server.url + "/no-such-page/", timeout=10).status_code
            for _ in range(40)
        ]
    assert statuses == [404] * 40


def test_close_waits_for_the_request_threads(live_server, client, user):
    client.force_login(user)
    site = LiveClient(live_server, client.cookies["sessionid"].value)
    assert site.get("upload-list").status_code == 200
    assert site.get("upload-list").status_code == 200
    assert len(request_threads()) == 1  # one kept-alive connection, one thread waiting on it
    site.close()
    assert request_threads() == []
