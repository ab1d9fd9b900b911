"""Many reviewers claiming and submitting on one queue at once, on the real database.

On PostgreSQL this exercises FOR UPDATE SKIP LOCKED; on SQLite the write lock.
"""

import threading
from collections import Counter

import pytest
from django.db import connection

from annotations.models import Annotation, Claim, QueueItem
from annotations.payloads import ConversationIn
from annotations.services.annotations import annotation_submit, annotation_submit_and_claim_next
from annotations.services.ingest import conversation_batch_ingest
from annotations.services.projects import membership_set, project_create
from annotations.services.queues import queue_claim_next, queue_create
from tests.conftest import database_session
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

REVIEWERS = 8
ITEMS = 24
GOOD = {"correctness": 4, "groundedness": 4, "helpfulness": 4}


def build_queue(annotations_per_item: int):
    lead = UserFactory(username="lead")
    project, _, _ = project_create(slug="race", name="Race", created_by=lead)
    conversations = [
        ConversationIn.model_validate(
            {
                "id": f"c{i}",
                "messages": [
                    {"id": "q", "role": "user", "content": "?"},
                    {"id": "a", "role": "assistant", "content": f"answer {i}"},
                ],
            }
        )
        for i in range(ITEMS)
    ]
    conversation_batch_ingest(project=project, conversations=conversations)
    reviewers = [UserFactory(username=f"r{i}") for i in range(REVIEWERS)]
    for reviewer in reviewers:
        membership_set(project=project, user=reviewer, role="reviewer")
    queue = queue_create(
        project=project,
        name="Race",
        filters={},
        annotations_per_item=annotations_per_item,
        created_by=lead,
    )
    return queue, reviewers


def run_reviewers(queue, reviewers, *, submit_and_next: bool = False):
    """Every reviewer claims and labels until nothing is left for them: with the claim
    and the submission apart, or (`submit_and_next`) the labeling page's submission that
    leases the next item with it."""
    handed_out: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(reviewers))

    def work(reviewer) -> None:
        try:
            barrier.wait()
            item = queue_claim_next(queue=queue, reviewer=reviewer)
            while item is not None:
                with lock:
                    handed_out.append((item.pk, reviewer.pk))
                if submit_and_next:
                    _, _, item = annotation_submit_and_claim_next(
                        item=item, reviewer=reviewer, answers=GOOD
                    )
                    continue
                annotation_submit(
                    message=item.message, reviewer=reviewer, answers=GOOD, queue_item_id=item.pk
                )
                item = queue_claim_next(queue=queue, reviewer=reviewer)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(reviewer,)) for reviewer in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    return handed_out


@pytest.mark.parametrize("submit_and_next", [False, True], ids=["apart", "submit-and-next"])
def test_each_item_is_handed_out_once_when_one_annotation_is_wanted(submit_and_next):
    queue, reviewers = build_queue(annotations_per_item=1)

    handed_out = run_reviewers(queue, reviewers, submit_and_next=submit_and_next)

    per_item = Counter(item for item, _ in handed_out)
    assert len(per_item) == ITEMS
    assert set(per_item.values()) == {1}
    assert Annotation.objects.count() == ITEMS
    assert set(QueueItem.objects.values_list("annotation_count", "is_done")) == {(1, True)}
    assert Claim.objects.count() == 0


@pytest.mark.parametrize("submit_and_next", [False, True], ids=["apart", "submit-and-next"])
def test_no_item_gets_more_annotations_than_wanted(submit_and_next):
    queue, reviewers = build_queue(annotations_per_item=3)

    handed_out = run_reviewers(queue, reviewers, submit_and_next=submit_and_next)

    per_item = Counter(item for item, _ in handed_out)
    assert set(per_item.values()) == {3}
    assert len(set(handed_out)) == len(handed_out)  # never twice to the same reviewer
    counts = Counter(Annotation.objects.values_list("queue_item_id", flat=True))
    assert set(counts.values()) == {3}
    assert set(QueueItem.objects.values_list("annotation_count", "is_done")) == {(3, True)}


def test_a_lease_committed_while_a_late_submission_waits_is_counted():
    """Ana's lease expired; as she submits, Bo's claim of the item's only slot holds the
    item's lock. Once Bo's claim commits, Ana's submission must see his lease."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks and snapshots of PostgreSQL")
    import datetime
    import time

    from django.utils import timezone

    from annotations.errors import Conflict
    from annotations.services.queues import annotator_key_for

    queue, (ana, bo, *_) = build_queue(annotations_per_item=1)
    item = queue_claim_next(queue=queue, reviewer=ana)
    Claim.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    bo_connection = database_session()
    now = timezone.now()
    # Bo's claim, left uncommitted: it holds the item's lock and its lease is unseen.
    claimed = bo_connection.execute(
        "SELECT * FROM annotations_claim_next(%s, %s, %s, false, %s, 1, %s, %s)",
        [
            queue.pk,
            queue.project_id,
            bo.pk,
            annotator_key_for(bo),
            now,
            now + datetime.timedelta(minutes=30),
        ],
    ).fetchone()
    assert claimed == ("leased", item.pk)
    outcome: list[object] = []

    def ana_submits() -> None:
        try:
            annotation_submit(
                message=item.message, reviewer=ana, answers=GOOD, queue_item_id=item.pk
            )
            outcome.append("saved")
        except Conflict:
            outcome.append("refused")
        except BaseException as error:
            outcome.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=ana_submits)
    thread.start()
    time.sleep(0.5)
    assert outcome == []  # waiting for the item's lock
    bo_connection.commit()
    thread.join(30)
    bo_connection.close()

    assert outcome == ["refused"]
    annotation_submit(message=item.message, reviewer=bo, answers=GOOD, queue_item_id=item.pk)
    assert list(Annotation.objects.values_list("annotator_name", flat=True)) == [bo.username]
    assert QueueItem.objects.get(pk=item.pk).annotation_count == 1


def test_a_reviewers_two_tabs_submitting_at_once_do_not_wait_for_each_other():
    """Ana works in two tabs, each holding a lease. Tab two's submit-and-next is under
    way (its item locked, its lease deleted, not committed) when tab one submits: tab
    one's claim must pass over the lease tab two holds instead of waiting for it, or the
    two statements could wait for each other, a deadlock that rolls back labels."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks of PostgreSQL")
    import time

    queue, (ana, *_) = build_queue(annotations_per_item=1)
    first = queue_claim_next(queue=queue, reviewer=ana)
    Claim.objects.create(
        item=QueueItem.objects.exclude(pk=first.pk).order_by("sort_key", "pk").first(),
        reviewer=ana,
        created_at=first.created_at,
        expires_at=Claim.objects.get(item=first).expires_at,
    )
    second = Claim.objects.exclude(item=first).get().item
    tab_two = database_session()
    tab_two.execute("SELECT id FROM annotations_queueitem WHERE id = %s FOR UPDATE", [second.pk])
    tab_two.execute(
        "DELETE FROM annotations_claim WHERE item_id = %s AND reviewer_id = %s",
        [second.pk, ana.pk],
    )
    outcome: list[object] = []

    def tab_one_submits() -> None:
        try:
            outcome.append(annotation_submit_and_claim_next(item=first, reviewer=ana, answers=GOOD))
        except BaseException as error:
            outcome.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=tab_one_submits)
    started = time.monotonic()
    thread.start()
    thread.join(5)
    waited = time.monotonic() - started
    tab_two.rollback()
    tab_two.close()
    thread.join(30)

    assert waited < 5, "tab one waited for tab two"
    ((annotation, created, following),) = outcome
    assert created and annotation.queue_item_id == first.pk
    assert following is not None and following.pk not in (first.pk, second.pk)
    assert QueueItem.objects.get(pk=first.pk).is_done


def test_submit_and_next_saves_the_labels_when_its_statement_fails(monkeypatch):
    """A statement that fails as a whole (here cancelled by a timeout) saved nothing:
    the labels are saved and the next item claimed apart."""
    if connection.vendor != "postgresql":
        pytest.skip("the single statement is PostgreSQL's")
    from annotations.services import annotations as annotation_services

    queue, (ana, *_) = build_queue(annotations_per_item=1)
    first = queue_claim_next(queue=queue, reviewer=ana)
    # The statement as it was, behind a sleep the timeout cancels.
    statement = annotation_services._SUBMIT_AND_CLAIM_SQL
    slow = f"SELECT * FROM pg_sleep(5), LATERAL ({statement}) AS statement"  # noqa: S608
    monkeypatch.setattr(annotation_services, "_SUBMIT_AND_CLAIM_SQL", slow)
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '200ms'")
    try:
        annotation, created, following = annotation_submit_and_claim_next(
            item=first, reviewer=ana, answers=GOOD
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")

    assert created
    assert Annotation.objects.get(pk=annotation.pk).queue_item_id == first.pk
    assert QueueItem.objects.get(pk=first.pk).annotation_count == 1
    assert following is not None and following.pk != first.pk
    assert list(Claim.objects.values_list("item_id", flat=True)) == [following.pk]
