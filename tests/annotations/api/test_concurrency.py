"""Concurrent requests against the real database (one connection per thread)."""

import threading
from collections import Counter

import pytest
from django.db import connection

from annotations.models import Conversation, Feedback, Message
from tests.conftest import ApiClient, conversation_payload

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def _run_concurrently(target, count: int) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = target(index)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_posts_of_one_conversation_create_it_once(secret_key):
    def post(index: int) -> int:
        payload = conversation_payload("race")
        payload["messages"].append({"id": f"extra-{index}", "role": "user", "content": "more"})
        return ApiClient(secret_key).post("/api/v1/conversations/", payload).status_code

    statuses = _run_concurrently(post, THREADS)

    assert Counter(statuses) == {201: 1, 200: THREADS - 1}
    assert Conversation.objects.filter(external_id="race").count() == 1
    messages = Message.objects.filter(conversation__external_id="race")
    assert messages.count() == 2 + THREADS
    positions = sorted(messages.values_list("position", flat=True))
    assert positions == list(range(2 + THREADS))


def test_concurrent_batches_sharing_ids_never_fail(secret_key):
    def post(index: int) -> int:
        ids = [f"shared-{i}" for i in range(20)]
        if index % 2:
            ids.reverse()
        body = {"conversations": [conversation_payload(i) for i in ids]}
        return ApiClient(secret_key).post("/api/v1/conversations/batch/", body).status_code

    statuses = _run_concurrently(post, 4)

    assert statuses == [200] * 4
    assert Conversation.objects.count() == 20
    assert Message.objects.count() == 40


def test_concurrent_votes_by_one_user_leave_one_row(secret_key):
    ApiClient(secret_key).post("/api/v1/conversations/", conversation_payload())

    def vote(index: int) -> int:
        body = {
            "conversation": "conv-123",
            "message": "m2",
            "user": "u-42",
            "rating": "up" if index % 2 else "down",
        }
        return ApiClient(secret_key).post("/api/v1/feedback/", body).status_code

    statuses = _run_concurrently(vote, THREADS)

    assert set(statuses) <= {200, 201}
    assert statuses.count(201) == 1
    assert Feedback.objects.count() == 1
