import datetime

import pytest
from django.utils import timezone

from annotations.errors import Conflict, InvalidInput
from annotations.models import Annotation, Claim, Message, QueueFrontier, QueueItem, Skip
from annotations.payloads import ConversationIn
from annotations.selectors import message_filter
from annotations.services.annotations import annotation_submit, annotation_submit_and_claim_next
from annotations.services.feedback import feedback_submit
from annotations.services.ingest import conversation_ingest
from annotations.services.projects import membership_remove, membership_set, project_create
from annotations.services.queues import (
    annotator_key_for,
    claim_release,
    claim_renew,
    queue_archive,
    queue_claim_next,
    queue_create,
    queue_item_skip,
    queue_refresh,
)
from annotations.services.rubrics import rubric_publish
from tests.conftest import conversation_payload
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GOOD = {"correctness": 5, "groundedness": 5, "helpfulness": 5}


@pytest.fixture
def lead():
    return UserFactory(username="lead")


@pytest.fixture
def project(lead):
    project, _, _ = project_create(slug="devot", name="Devot", created_by=lead)
    return project


def add_answer(
    project,
    conversation_id,
    *,
    content="Use autoretry_for.",
    model="gpt-4o-mini",
    version="3",
    tags=(),
    created_at=None,
    vote=None,
    reasons=(),
):
    payload = conversation_payload(conversation_id, tags=list(tags))
    payload["messages"][1].update(
        content=content, model=model, prompt={"name": "devot-rag", "version": version}
    )
    if created_at:
        payload["created_at"] = created_at.isoformat()
    conversation_ingest(project=project, conversation=ConversationIn.model_validate(payload))
    if vote:
        feedback_submit(
            project=project,
            conversation_id=conversation_id,
            message_id="m2",
            end_user="u-1",
            rating=vote,
            reasons=list(reasons),
            comment="",
            source="api",
        )
    return project.messages.get(conversation__external_id=conversation_id, external_id="m2")


def reviewer(project, name):
    user = UserFactory(username=name)
    membership_set(project=project, user=user, role="reviewer")
    return user


def ids(messages):
    return sorted(m.conversation.external_id for m in messages.select_related("conversation"))


class TestMessageFilter:
    def test_each_filter(self, project, lead):
        now = timezone.now()
        add_answer(project, "down", vote="down", reasons=["incorrect"], tags=["beta"])
        add_answer(project, "up", vote="up", model="gpt-4.1", version="2")
        add_answer(
            project,
            "none",
            content="Celery 워커를 재시작하세요",
            created_at=now - datetime.timedelta(days=10),
        )
        labeled = add_answer(project, "labeled")
        annotation_submit(message=labeled, reviewer=lead, answers=GOOD)

        def match(**filters):
            return ids(message_filter(project=project, filters=filters))

        assert match() == ["down", "labeled", "none", "up"]
        assert match(rating="down") == ["down"]
        assert match(rating="up") == ["up"]
        assert match(rating="none") == ["labeled", "none"]
        assert match(reasons=["incorrect"]) == ["down"]
        assert match(reasons=["harmful"]) == []
        assert match(model="gpt-4.1") == ["up"]
        assert match(prompt_version="2") == ["up"]
        assert match(tags=["beta"]) == ["down"]
        assert match(labeled="yes") == ["labeled"]
        assert match(labeled="no") == ["down", "none", "up"]
        assert match(search="워커") == ["none"]
        assert match(until=(now - datetime.timedelta(days=5)).date().isoformat()) == ["none"]
        assert match(since=(now - datetime.timedelta(days=5)).date().isoformat()) == [
            "down",
            "labeled",
            "up",
        ]

    def test_tags_and_reasons_match_exactly_korean_included(self, project):
        add_answer(project, "ko", vote="down", reasons=["incorrect"], tags=["한국어", "beta"])
        add_answer(project, "en", vote="down", reasons=["outdated"], tags=["betamax"])

        def match(**filters):
            return ids(message_filter(project=project, filters=filters))

        assert match(tags=["한국어"]) == ["ko"]
        assert match(tags=["beta"]) == ["ko"]
        assert match(tags=["BETA"]) == []
        assert match(tags=["bet"]) == []
        assert match(tags=["한국어", "betamax"]) == ["en", "ko"]
        assert match(reasons=["incorrect"]) == ["ko"]
        assert match(reasons=["INCORRECT"]) == []
        assert match(reasons=["correct"]) == []

    def test_sample_is_stable_and_roughly_sized(self, project):
        for i in range(200):
            add_answer(project, f"c{i}")

        first = ids(message_filter(project=project, filters={"sample_percent": 30}))
        again = ids(message_filter(project=project, filters={"sample_percent": 30}))

        assert first == again
        assert 40 <= len(first) <= 80


class TestQueueCreate:
    def test_thumbs_down_come_first_then_oldest(self, project, lead):
        now = timezone.now()
        add_answer(project, "old-up", vote="up", created_at=now - datetime.timedelta(days=3))
        add_answer(project, "new-down", vote="down", created_at=now - datetime.timedelta(days=1))
        add_answer(project, "old-none", created_at=now - datetime.timedelta(days=5))
        add_answer(project, "old-down", vote="down", created_at=now - datetime.timedelta(days=4))

        queue = queue_create(project=project, name="Triage", filters={}, created_by=lead)

        order = list(
            queue.items.order_by("sort_key", "id").values_list(
                "message__conversation__external_id", flat=True
            )
        )
        assert order == ["old-down", "new-down", "old-none", "old-up"]

    def test_sort_keys_are_whole_seconds_of_the_answer_and_its_rank(self, project, lead):
        created = datetime.datetime(2026, 11, 20, 8, 30, 15, 987654, tzinfo=datetime.UTC)
        add_answer(project, "down", vote="down", created_at=created)
        add_answer(project, "none", created_at=created)
        add_answer(project, "up", vote="up", created_at=created)
        seconds = int(created.timestamp())

        triage = queue_create(project=project, name="Triage", filters={}, created_by=lead)
        newest = queue_create(
            project=project, name="New", filters={}, order="newest", created_by=lead
        )
        oldest = queue_create(
            project=project, name="Old", filters={}, order="oldest", created_by=lead
        )

        def keys(queue):
            return dict(queue.items.values_list("message__conversation__external_id", "sort_key"))

        assert keys(triage) == {
            "down": seconds,
            "none": 10**11 + seconds,
            "up": 2 * 10**11 + seconds,
        }
        assert set(keys(newest).values()) == {-seconds}
        assert set(keys(oldest).values()) == {seconds}

    def test_newest_first_and_random_orders(self, project, lead):
        now = timezone.now()
        for day in range(6):
            add_answer(project, f"d{day}", created_at=now - datetime.timedelta(days=day))

        newest = queue_create(
            project=project, name="New", filters={}, order="newest", created_by=lead
        )
        shuffled = queue_create(
            project=project, name="Any", filters={}, order="random", created_by=lead
        )

        ordered = newest.items.order_by("sort_key", "id").values_list(
            "message__conversation__external_id", flat=True
        )
        assert list(ordered) == ["d0", "d1", "d2", "d3", "d4", "d5"]
        random_keys = list(shuffled.items.values_list("sort_key", flat=True))
        assert len(set(random_keys)) == 6
        assert all(0 <= key < 10**12 for key in random_keys)

    def test_refresh_adds_new_matches_without_duplicates(self, project, lead):
        add_answer(project, "a", vote="down")
        queue = queue_create(
            project=project, name="Down", filters={"rating": "down"}, created_by=lead
        )
        add_answer(project, "b", vote="down")
        add_answer(project, "c", vote="up")

        assert queue_refresh(queue=queue) == 1
        assert queue_refresh(queue=queue) == 0
        assert sorted(queue.items.values_list("message__conversation__external_id", flat=True)) == [
            "a",
            "b",
        ]

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"name": " "}, "name"),
            ({"annotations_per_item": 0}, "annotations_per_item"),
            ({"annotations_per_item": 11}, "annotations_per_item"),
            ({"order": "alphabetical"}, "order"),
            ({"filters": {"since": "soon"}}, "filters.since"),
            ({"lease_minutes": 0}, "lease_minutes"),
        ],
    )
    def test_invalid_queue_is_refused(self, project, kwargs, field):
        arguments = {"project": project, "name": "Q", "filters": {}, **kwargs}

        with pytest.raises(InvalidInput) as error:
            queue_create(**arguments)

        assert field in error.value.fields

    def test_reviewers_must_be_members(self, project):
        outsider = UserFactory(username="outsider")

        with pytest.raises(InvalidInput) as error:
            queue_create(project=project, name="Q", filters={}, reviewers=[outsider])

        assert "reviewers" in error.value.fields

    def test_reviewers_must_be_members_who_label(self, project):
        viewer = UserFactory(username="viewer")
        membership_set(project=project, user=viewer, role="viewer")

        with pytest.raises(InvalidInput) as error:
            queue_create(project=project, name="Q", filters={}, reviewers=[viewer])

        assert "reviewers" in error.value.fields

    @pytest.mark.parametrize("leaves", ["demoted", "removed"])
    def test_a_reviewer_who_may_no_longer_label_leaves_queues_and_leases(
        self, project, lead, leaves
    ):
        add_answer(project, "only")
        ana, bo = reviewer(project, "ana"), reviewer(project, "bo")
        queue = queue_create(project=project, name="Q", filters={}, reviewers=[ana, bo])
        item = queue_claim_next(queue=queue, reviewer=ana)

        if leaves == "demoted":
            membership_set(project=project, user=ana, role="viewer")
        else:
            membership_remove(project=project, user=ana)

        assert list(queue.reviewers.all()) == [bo]
        assert not Claim.objects.filter(reviewer=ana).exists()
        assert queue_claim_next(queue=queue, reviewer=bo).pk == item.pk


class TestClaiming:
    @pytest.fixture
    def queue(self, project, lead):
        for i in range(3):
            add_answer(
                project, f"c{i}", created_at=timezone.now() - datetime.timedelta(days=10 - i)
            )
        return queue_create(
            project=project, name="Q", filters={}, annotations_per_item=2, created_by=lead
        )

    def test_next_item_is_leased_and_returned_again_while_held(self, project, queue):
        ana = reviewer(project, "ana")

        first = queue_claim_next(queue=queue, reviewer=ana)
        again = queue_claim_next(queue=queue, reviewer=ana)

        assert first.message.conversation.external_id == "c0"
        assert again.pk == first.pk
        claim = Claim.objects.get(reviewer=ana)
        assert claim.expires_at > timezone.now() + datetime.timedelta(minutes=29)

    def test_two_reviewers_share_an_item_that_wants_two_annotations(self, project, queue):
        ana, bo, cy = (reviewer(project, n) for n in ("ana", "bo", "cy"))

        items = [
            queue_claim_next(queue=queue, reviewer=r).message.conversation.external_id
            for r in (ana, bo, cy)
        ]

        assert items == ["c0", "c0", "c1"]

    def test_submitting_fills_slots_and_completes_the_item(self, project, queue):
        ana, bo, cy = (reviewer(project, n) for n in ("ana", "bo", "cy"))
        for user in (ana, bo):
            item = queue_claim_next(queue=queue, reviewer=user)
            annotation_submit(
                message=item.message, reviewer=user, answers=GOOD, queue_item_id=item.pk
            )

        item.refresh_from_db()
        assert (item.annotation_count, item.is_done) == (2, True)
        assert Claim.objects.count() == 0
        assert queue_claim_next(queue=queue, reviewer=cy).message.conversation.external_id == "c1"

    def test_a_reviewer_never_gets_an_item_they_labeled(self, project, queue):
        ana = reviewer(project, "ana")
        item = queue_claim_next(queue=queue, reviewer=ana)
        annotation_submit(message=item.message, reviewer=ana, answers=GOOD, queue_item_id=item.pk)

        assert queue_claim_next(queue=queue, reviewer=ana).message.conversation.external_id == "c1"

    def test_expired_lease_returns_the_slot(self, project, lead):
        add_answer(project, "only")
        queue = queue_create(project=project, name="One", filters={}, created_by=lead)
        ana, bo = reviewer(project, "ana"), reviewer(project, "bo")
        item = queue_claim_next(queue=queue, reviewer=ana)
        assert queue_claim_next(queue=queue, reviewer=bo) is None

        Claim.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

        assert queue_claim_next(queue=queue, reviewer=bo).pk == item.pk

    def test_late_submit_after_the_item_completed_is_refused(self, project, lead):
        add_answer(project, "only")
        queue = queue_create(project=project, name="One", filters={}, created_by=lead)
        ana, bo = reviewer(project, "ana"), reviewer(project, "bo")
        item = queue_claim_next(queue=queue, reviewer=ana)
        Claim.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
        taken = queue_claim_next(queue=queue, reviewer=bo)
        annotation_submit(message=taken.message, reviewer=bo, answers=GOOD, queue_item_id=taken.pk)

        with pytest.raises(Conflict):
            annotation_submit(
                message=item.message, reviewer=ana, answers=GOOD, queue_item_id=item.pk
            )

        assert Annotation.objects.count() == 1
        item.refresh_from_db()
        assert item.annotation_count == 1

    def test_late_submit_is_accepted_when_a_slot_is_still_free(self, project, lead):
        add_answer(project, "only")
        queue = queue_create(project=project, name="One", filters={}, created_by=lead)
        ana = reviewer(project, "ana")
        item = queue_claim_next(queue=queue, reviewer=ana)
        Claim.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

        annotation_submit(message=item.message, reviewer=ana, answers=GOOD, queue_item_id=item.pk)

        item.refresh_from_db()
        assert (item.annotation_count, item.is_done) == (1, True)

    def test_a_lease_does_not_fill_an_item_that_is_already_complete(self, project, lead):
        add_answer(project, "only")
        queue = queue_create(
            project=project, name="Two", filters={}, annotations_per_item=2, created_by=lead
        )
        ana, bo = reviewer(project, "ana"), reviewer(project, "bo")
        item = queue_claim_next(queue=queue, reviewer=ana)
        assert queue_claim_next(queue=queue, reviewer=bo).pk == item.pk
        # The queue now wants one annotation an item, with two leases out.
        type(queue).objects.filter(pk=queue.pk).update(annotations_per_item=1)

        annotation_submit(message=item.message, reviewer=ana, answers=GOOD, queue_item_id=item.pk)
        with pytest.raises(Conflict):
            annotation_submit(
                message=item.message, reviewer=bo, answers=GOOD, queue_item_id=item.pk
            )

        item.refresh_from_db()
        assert (item.annotation_count, item.is_done) == (1, True)
        assert Annotation.objects.count() == 1

    def test_a_lease_on_an_answer_labeled_elsewhere_is_dropped_not_handed_back(
        self, project, queue, lead
    ):
        other = queue_create(project=project, name="Same answers", filters={}, created_by=lead)
        ana, bo = reviewer(project, "ana"), reviewer(project, "bo")
        here = queue_claim_next(queue=queue, reviewer=ana)
        there = queue_claim_next(queue=other, reviewer=ana)
        assert here.message_id == there.message_id
        annotation_submit(message=there.message, reviewer=ana, answers=GOOD, queue_item_id=there.pk)

        following = queue_claim_next(queue=queue, reviewer=ana)

        assert following.message_id != here.message_id
        assert not Claim.objects.filter(item=here, reviewer=ana).exists()
        # The slot ana held on the answer she labeled elsewhere is free for others.
        assert queue_claim_next(queue=queue, reviewer=bo).pk == here.pk

    def test_renew_extends_and_fails_once_expired(self, project, queue):
        ana = reviewer(project, "ana")
        item = queue_claim_next(queue=queue, reviewer=ana)
        Claim.objects.update(expires_at=timezone.now() + datetime.timedelta(minutes=1))

        expires = claim_renew(item=item, reviewer=ana)

        assert expires > timezone.now() + datetime.timedelta(minutes=29)
        Claim.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
        with pytest.raises(Conflict):
            claim_renew(item=item, reviewer=ana)

    def test_renew_fails_when_a_claim_took_the_slot_while_the_lease_looked_expired(
        self, project, lead
    ):
        add_answer(project, "only")
        queue = queue_create(project=project, name="One", filters={}, created_by=lead)
        ana, bo = reviewer(project, "ana"), reviewer(project, "bo")
        item = queue_claim_next(queue=queue, reviewer=ana)
        # Bo claims at the moment ana's lease looks expired to him (the boundary, or
        # his server's clock); ana's lease then still looks live to her renewal.
        Claim.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
        assert queue_claim_next(queue=queue, reviewer=bo).pk == item.pk
        Claim.objects.filter(reviewer=ana).update(
            expires_at=timezone.now() + datetime.timedelta(seconds=30)
        )

        with pytest.raises(Conflict):
            claim_renew(item=item, reviewer=ana)
        assert claim_renew(item=item, reviewer=bo) > timezone.now()

    def test_release_gives_the_item_back(self, project, lead):
        add_answer(project, "only")
        queue = queue_create(project=project, name="One", filters={}, created_by=lead)
        ana, bo = reviewer(project, "ana"), reviewer(project, "bo")
        item = queue_claim_next(queue=queue, reviewer=ana)

        claim_release(item=item, reviewer=ana)

        assert queue_claim_next(queue=queue, reviewer=bo).pk == item.pk

    def test_skip_is_never_offered_again_to_that_reviewer(self, project, queue):
        ana, bo = reviewer(project, "ana"), reviewer(project, "bo")
        item = queue_claim_next(queue=queue, reviewer=ana)

        queue_item_skip(item=item, reviewer=ana)

        assert Skip.objects.filter(item=item, reviewer=ana).exists()
        assert queue_claim_next(queue=queue, reviewer=ana).pk != item.pk
        assert queue_claim_next(queue=queue, reviewer=bo).pk == item.pk

    def test_empty_queue_gives_none(self, project, lead):
        queue = queue_create(
            project=project, name="Empty", filters={"rating": "down"}, created_by=lead
        )

        assert QueueItem.objects.filter(queue=queue).count() == 0
        assert queue_claim_next(queue=queue, reviewer=reviewer(project, "ana")) is None


class TestSubmitAndClaimNext:
    @pytest.fixture
    def queue(self, project, lead):
        for i in range(3):
            add_answer(
                project, f"c{i}", created_at=timezone.now() - datetime.timedelta(hours=3 - i)
            )
        return queue_create(project=project, name="Next", filters={}, created_by=lead)

    def test_saves_the_labels_and_leases_the_next_item(self, project, queue):
        ana = reviewer(project, "ana")
        first = queue_claim_next(queue=queue, reviewer=ana)

        annotation, created, following = annotation_submit_and_claim_next(
            item=first, reviewer=ana, answers=GOOD, time_spent_ms=900
        )

        assert created and annotation.pk is not None
        stored = Annotation.objects.get(pk=annotation.pk)
        assert (stored.message_id, stored.queue_item_id, stored.answers) == (
            first.message_id,
            first.pk,
            GOOD,
        )
        assert stored.time_spent_ms == 900
        first.refresh_from_db()
        assert (first.annotation_count, first.is_done) == (1, True)
        assert following.message.conversation.external_id == "c1"
        assert following.message.content == "Use autoretry_for."
        assert list(Claim.objects.values_list("item_id", "reviewer_id")) == [(following.pk, ana.pk)]
        # The lease taken with the submission is the one the next claim renews.
        assert queue_claim_next(queue=queue, reviewer=ana).pk == following.pk

    def test_is_one_statement_on_postgresql(self, project, queue, django_assert_num_queries):
        if not _on_postgresql():
            pytest.skip("the single statement is PostgreSQL's")
        ana = reviewer(project, "ana")
        first = queue_claim_next(queue=queue, reviewer=ana)
        annotation_submit_and_claim_next(item=first, reviewer=ana, answers=GOOD)
        second = queue_claim_next(queue=queue, reviewer=ana)

        with django_assert_num_queries(1):
            _, _, third = annotation_submit_and_claim_next(item=second, reviewer=ana, answers=GOOD)

        assert third.message.conversation.external_id == "c2"

    def test_the_last_item_leaves_nothing_to_claim(self, project, queue):
        ana = reviewer(project, "ana")
        item = queue_claim_next(queue=queue, reviewer=ana)
        labeled = []
        while item is not None:
            labeled.append(item.pk)
            _, created, item = annotation_submit_and_claim_next(
                item=item, reviewer=ana, answers=GOOD
            )
            assert created

        assert len(labeled) == len(set(labeled)) == 3
        assert Annotation.objects.filter(annotator=ana).count() == 3
        assert not Claim.objects.exists()

    def test_a_refused_submission_claims_nothing(self, project, lead):
        add_answer(project, "only")
        add_answer(project, "other")
        queue = queue_create(project=project, name="One", filters={}, created_by=lead)
        ana, bo = reviewer(project, "ana"), reviewer(project, "bo")
        item = queue_claim_next(queue=queue, reviewer=ana)
        Claim.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
        taken = queue_claim_next(queue=queue, reviewer=bo)
        assert taken.pk == item.pk
        annotation_submit(message=taken.message, reviewer=bo, answers=GOOD, queue_item_id=taken.pk)

        with pytest.raises(Conflict):
            annotation_submit_and_claim_next(item=item, reviewer=ana, answers=GOOD)
        # Refused as invalid, or as late first (SQLite checks the slot before the labels).
        with pytest.raises((InvalidInput, Conflict)):
            annotation_submit_and_claim_next(item=item, reviewer=ana, answers={"correctness": 9})

        assert not Annotation.objects.filter(annotator=ana).exists()
        assert not Claim.objects.filter(reviewer=ana, expires_at__gt=timezone.now()).exists()

    def test_an_edit_of_own_labels_keeps_history_and_moves_on(self, project, queue):
        ana = reviewer(project, "ana")
        first = queue_claim_next(queue=queue, reviewer=ana)
        annotation_submit(message=first.message, reviewer=ana, answers=GOOD)

        annotation, created, following = annotation_submit_and_claim_next(
            item=first, reviewer=ana, answers={**GOOD, "correctness": 2}
        )

        assert not created
        assert annotation.answers["correctness"] == 2
        assert annotation.revisions.count() == 1
        assert following is not None and following.pk != first.pk

    def test_a_new_rubric_version_is_read_before_saving(self, project, queue, lead):
        ana = reviewer(project, "ana")
        first = queue_claim_next(queue=queue, reviewer=ana)
        annotation_submit_and_claim_next(item=first, reviewer=ana, answers=GOOD)
        second = queue_claim_next(queue=queue, reviewer=ana)
        rubric_publish(
            project=project,
            questions=[{"key": "ok", "type": "boolean", "label": {"en": "OK?"}, "required": True}],
            created_by=lead,
        )

        with pytest.raises(InvalidInput):
            annotation_submit_and_claim_next(item=second, reviewer=ana, answers=GOOD)
        annotation, _, following = annotation_submit_and_claim_next(
            item=second, reviewer=ana, answers={"ok": True}
        )

        assert annotation.rubric.is_active and annotation.answers == {"ok": True}
        assert following.message.conversation.external_id == "c2"

    def test_an_archived_queue_saves_and_hands_out_nothing(self, project, queue):
        ana = reviewer(project, "ana")
        first = queue_claim_next(queue=queue, reviewer=ana)
        queue_archive(queue=queue)
        first.queue.refresh_from_db()

        _, created, following = annotation_submit_and_claim_next(
            item=first, reviewer=ana, answers=GOOD
        )

        assert created and following is None
        assert not Claim.objects.exists()

    def test_a_queue_assigned_to_others_meanwhile_saves_and_hands_out_nothing(
        self, project, queue, lead
    ):
        ana, bo = reviewer(project, "ana"), reviewer(project, "bo")
        first = queue_claim_next(queue=queue, reviewer=ana)
        queue.reviewers.set([bo])

        _, created, following = annotation_submit_and_claim_next(
            item=first, reviewer=ana, answers=GOOD
        )

        assert created and following is None
        assert Annotation.objects.filter(annotator=ana).count() == 1
        assert not Claim.objects.filter(reviewer=ana).exists()


def test_assigned_queue_serves_only_its_reviewers_and_admins(project, lead):
    from annotations.errors import Forbidden

    add_answer(project, "only")
    ana, bo = reviewer(project, "ana"), reviewer(project, "bo")
    queue = queue_create(
        project=project, name="Ana's", filters={}, reviewers=[ana], created_by=lead
    )

    with pytest.raises(Forbidden):
        queue_claim_next(queue=queue, reviewer=bo)
    assert queue_claim_next(queue=queue, reviewer=lead) is not None


def test_editing_own_labels_on_a_completed_item_is_allowed(project, lead):
    add_answer(project, "only")
    queue = queue_create(project=project, name="One", filters={}, created_by=lead)
    ana = reviewer(project, "ana")
    item = queue_claim_next(queue=queue, reviewer=ana)
    annotation_submit(message=item.message, reviewer=ana, answers=GOOD, queue_item_id=item.pk)

    annotation, created = annotation_submit(
        message=item.message,
        reviewer=ana,
        answers={**GOOD, "correctness": 1},
        queue_item_id=item.pk,
    )

    assert created is False
    assert annotation.answers["correctness"] == 1
    assert list(annotation.revisions.values_list("before__answers__correctness", flat=True)) == [5]
    item.refresh_from_db()
    assert item.annotation_count == 1


def test_a_submission_after_a_new_rubric_version_is_checked_against_it(project, lead):
    for name in ("a", "b"):
        add_answer(project, name)
    queue = queue_create(project=project, name="Two", filters={}, created_by=lead)
    ana = reviewer(project, "ana")
    first = queue_claim_next(queue=queue, reviewer=ana)
    old, _ = annotation_submit(
        message=first.message, reviewer=ana, answers=GOOD, queue_item_id=first.pk
    )
    new_rubric = rubric_publish(
        project=project,
        questions=[
            {"key": "tone", "label": {"en": "Tone"}, "type": "boolean", "required": True},
        ],
    )
    item = queue_claim_next(queue=queue, reviewer=ana)

    with pytest.raises(InvalidInput):
        annotation_submit(message=item.message, reviewer=ana, answers=GOOD, queue_item_id=item.pk)
    annotation, created = annotation_submit(
        message=item.message, reviewer=ana, answers={"tone": True}, queue_item_id=item.pk
    )

    assert created is True
    assert (old.rubric.version, annotation.rubric.pk) == (1, new_rubric.pk)
    assert Annotation.objects.get(pk=annotation.pk).rubric_id == new_rubric.pk


def test_scheduled_refresh_adds_new_answers_to_open_queues(project, lead):
    from annotations.tasks import refresh_queue

    add_answer(project, "a", vote="down")
    queue = queue_create(project=project, name="Down", filters={"rating": "down"}, created_by=lead)
    add_answer(project, "b", vote="down")

    added = refresh_queue.apply(args=[queue.pk]).get()
    again = refresh_queue.apply(args=[queue.pk]).get()

    assert (added, again) == (1, 0)
    assert queue.items.count() == 2


@pytest.mark.parametrize("size", [3, 40])
def test_claim_and_submit_take_a_fixed_handful_of_statements(
    project, lead, size, django_assert_max_num_queries
):
    for i in range(size):
        add_answer(project, f"c{i}")
    queue = queue_create(project=project, name="Sized", filters={}, created_by=lead)
    ana = reviewer(project, "ana")
    # Labels on the head of the queue make the claim walk past them.
    for _ in range(size // 2):
        item = queue_claim_next(queue=queue, reviewer=ana)
        annotation_submit(message=item.message, reviewer=ana, answers=GOOD, queue_item_id=item.pk)
    bo = reviewer(project, "bo")
    # One statement on PostgreSQL (the claim function, the item and its answer); a few
    # ORM reads on SQLite.
    claim_limit = 1 if _on_postgresql() else 8

    with django_assert_max_num_queries(claim_limit):
        item = queue_claim_next(queue=queue, reviewer=ana)
    message = item.message
    # One statement on PostgreSQL (the active rubric is remembered); nine on SQLite.
    with django_assert_max_num_queries(1 if _on_postgresql() else 9):
        annotation_submit(message=message, reviewer=ana, answers=GOOD, queue_item_id=item.pk)

    assert QueueItem.objects.get(pk=item.pk).is_done
    assert queue_claim_next(queue=queue, reviewer=bo) is not None


def test_a_claimed_item_comes_with_its_answer(project, lead, django_assert_num_queries):
    add_answer(project, "a", content="터미널에서 `celery -A proj worker`를 실행하세요.")
    queue = queue_create(project=project, name="With answers", filters={}, created_by=lead)
    ana = reviewer(project, "ana")
    stored = Message.objects.get(conversation__external_id="a", external_id="m2")

    for _ in range(2):  # a new lease, then the same one renewed
        item = queue_claim_next(queue=queue, reviewer=ana)
        with django_assert_num_queries(0):
            message = item.message
        assert message.pk == stored.pk
        assert {
            field.attname: getattr(message, field.attname)
            for field in Message._meta.concrete_fields
        } == {
            field.attname: getattr(stored, field.attname) for field in Message._meta.concrete_fields
        }
        assert isinstance(message.contexts, list) and message.contexts
        assert not message._state.adding


def _labels_on_new_answers(beside, rubric, annotator, count):
    """`count` answers added to the conversation of `beside`, each labeled by `annotator`."""
    answers = Message.objects.bulk_create(
        Message(
            conversation_id=beside.conversation_id,
            project_id=beside.project_id,
            external_id=f"old-{i}",
            position=10 + i,
            role="assistant",
            content="An answer labeled earlier.",
        )
        for i in range(count)
    )
    Annotation.objects.bulk_create(
        Annotation(
            project_id=beside.project_id,
            message=message,
            rubric=rubric,
            annotator=annotator,
            annotator_key=annotator_key_for(annotator),
            annotator_name=annotator.username,
            answers=GOOD,
        )
        for message in answers
    )


def _annotation_rows_read():
    """Label rows read so far in this transaction (PostgreSQL's statistics)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)
               FROM pg_stat_xact_user_tables WHERE relname = 'annotations_annotation'"""
        )
        return cursor.fetchone()[0]


def test_a_claim_does_not_read_through_the_reviewers_earlier_labels(project, lead):
    """Whatever a reviewer labeled before, a claim looks up only the candidates it walks
    past: the cost of claim-next must not grow with the reviewer's own history."""
    if not _on_postgresql():
        pytest.skip("reads PostgreSQL's per-transaction table statistics")
    from django.db import connection

    ana = reviewer(project, "ana")
    elsewhere = add_answer(project, "earlier")
    rubric = project.rubrics.get(is_active=True)
    # Statistics taken before the labels exist, as they are for a new reviewer.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotations_annotation")
    _labels_on_new_answers(elsewhere, rubric, ana, 300)
    for i in range(3):
        add_answer(project, f"new-{i}")
    queue = queue_create(project=project, name="New", filters={"labeled": "no"}, created_by=lead)

    before = _annotation_rows_read()
    item = queue_claim_next(queue=queue, reviewer=ana)
    read = _annotation_rows_read() - before

    assert item is not None and item.message.external_id == "m2"
    assert read <= 3


def test_a_claim_probes_labels_by_index_when_its_plan_was_made_on_an_empty_table(project, lead):
    """The claim function's plans live as long as the connection: plans made while the
    labels table was empty must not read every label once labels arrive."""
    if not _on_postgresql():
        pytest.skip("reads PostgreSQL's per-transaction table statistics")
    from django.db import connection

    for i in range(4):
        add_answer(project, f"c{i}")
    queue = queue_create(project=project, name="Warm", filters={}, created_by=lead)
    ana, bo = reviewer(project, "ana"), reviewer(project, "bo")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotations_annotation")
    # Runs enough for PL/pgSQL to keep its plans whatever the plan cache mode.
    for _ in range(8):
        item = queue_claim_next(queue=queue, reviewer=ana)
        claim_release(item=item, reviewer=ana)
    elsewhere = add_answer(project, "elsewhere")
    rubric = project.rubrics.get(is_active=True)
    _labels_on_new_answers(elsewhere, rubric, bo, 300)
    # Ana's lease on the head of the queue makes the claims below walk past it.
    queue_claim_next(queue=queue, reviewer=ana)

    before = _annotation_rows_read()
    item = queue_claim_next(queue=queue, reviewer=bo)
    annotation_submit(message=item.message, reviewer=bo, answers=GOOD, queue_item_id=item.pk)
    read = _annotation_rows_read() - before

    assert read <= 5


def _label_probes():
    """Index look-ups of labels so far in this transaction (PostgreSQL's statistics)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT coalesce(idx_scan, 0)
               FROM pg_stat_xact_user_tables WHERE relname = 'annotations_annotation'"""
        )
        return cursor.fetchone()[0]


class TestFrontier:
    """A reviewer ahead of the others in a queue that wants several labels an item."""

    @pytest.fixture
    def queue(self, project, lead):
        if not _on_postgresql():
            pytest.skip("the frontier is the PostgreSQL claim's")
        for i in range(40):
            add_answer(
                project, f"c{i:02}", created_at=timezone.now() - datetime.timedelta(hours=99 - i)
            )
        return queue_create(
            project=project, name="Three", filters={}, annotations_per_item=3, created_by=lead
        )

    def test_claims_start_after_the_items_the_reviewer_labeled(self, project, queue):
        ana, bo = reviewer(project, "ana"), reviewer(project, "bo")
        item = queue_claim_next(queue=queue, reviewer=ana)
        for _ in range(30):
            _, _, item = annotation_submit_and_claim_next(item=item, reviewer=ana, answers=GOOD)
        claim_release(item=item, reviewer=ana)

        before = _label_probes()
        again = queue_claim_next(queue=queue, reviewer=ana)
        probes = _label_probes() - before

        assert again.message.conversation.external_id == "c30"
        # The 30 items ana labeled still wait for two more labels: she steps over none of
        # them, where each used to cost a look-up of her labels.
        assert probes <= 4
        # Bo starts at the head.
        assert queue_claim_next(queue=queue, reviewer=bo).message.conversation.external_id == "c00"

    def test_the_frontier_passes_skipped_and_labeled_items(self, project, queue):
        ana = reviewer(project, "ana")
        first = queue_claim_next(queue=queue, reviewer=ana)
        queue_item_skip(item=first, reviewer=ana)
        second = queue_claim_next(queue=queue, reviewer=ana)
        annotation_submit(
            message=second.message, reviewer=ana, answers=GOOD, queue_item_id=second.pk
        )

        third = queue_claim_next(queue=queue, reviewer=ana)

        assert [i.message.conversation.external_id for i in (first, second, third)] == [
            "c00",
            "c01",
            "c02",
        ]
        assert QueueFrontier.objects.get(reviewer=ana).item_id == third.pk

    def test_an_item_a_refresh_adds_before_the_frontier_is_offered(self, project, queue):
        ana = reviewer(project, "ana")
        item = queue_claim_next(queue=queue, reviewer=ana)
        for _ in range(5):
            _, _, item = annotation_submit_and_claim_next(item=item, reviewer=ana, answers=GOOD)
        claim_release(item=item, reviewer=ana)
        assert QueueFrontier.objects.filter(reviewer=ana).exists()
        add_answer(project, "older", created_at=timezone.now() - datetime.timedelta(days=30))

        assert queue_refresh(queue=queue) == 1
        following = queue_claim_next(queue=queue, reviewer=ana)

        assert following.message.conversation.external_id == "older"

    def test_a_queue_that_wants_one_label_keeps_no_frontier(self, project, lead):
        if not _on_postgresql():
            pytest.skip("the frontier is the PostgreSQL claim's")
        for i in range(3):
            add_answer(project, f"one-{i}")
        queue = queue_create(project=project, name="Once", filters={}, created_by=lead)
        ana = reviewer(project, "ana")
        item = queue_claim_next(queue=queue, reviewer=ana)
        while item is not None:
            _, _, item = annotation_submit_and_claim_next(item=item, reviewer=ana, answers=GOOD)

        assert Annotation.objects.filter(annotator=ana).count() == 3
        assert not QueueFrontier.objects.exists()

    def test_a_reviewer_who_labeled_everything_open_gets_nothing(self, project, lead):
        if not _on_postgresql():
            pytest.skip("the frontier is the PostgreSQL claim's")
        add_answer(project, "only")
        queue = queue_create(
            project=project, name="One", filters={}, annotations_per_item=2, created_by=lead
        )
        ana, bo = reviewer(project, "ana"), reviewer(project, "bo")
        item = queue_claim_next(queue=queue, reviewer=ana)
        _, _, following = annotation_submit_and_claim_next(item=item, reviewer=ana, answers=GOOD)

        assert following is None
        assert queue_claim_next(queue=queue, reviewer=ana) is None
        assert queue_claim_next(queue=queue, reviewer=bo).pk == item.pk


def test_the_queue_functions_keep_one_plan_per_statement():
    # Planning the claim's statements on every call took a quarter of its database time.
    if not _on_postgresql():
        pytest.skip("PostgreSQL function settings")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT proname, proconfig FROM pg_proc
               WHERE proname IN ('annotations_claim_next', 'annotations_submit_to_queue')"""
        )
        settings = dict(cursor.fetchall())

    assert set(settings) == {"annotations_claim_next", "annotations_submit_to_queue"}
    for config in settings.values():
        assert {"plan_cache_mode=force_generic_plan", "enable_seqscan=off"} <= set(config)


def _on_postgresql():
    from django.db import connection

    return connection.vendor == "postgresql"


def test_the_leases_table_is_vacuumed_after_a_fixed_number_of_changes():
    if not _on_postgresql():
        pytest.skip("PostgreSQL storage parameters")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'annotations_claim'")
        options = set(cursor.fetchone()[0])

    assert {"autovacuum_vacuum_scale_factor=0", "autovacuum_vacuum_threshold=1000"} <= options


def test_queue_items_are_vacuumed_with_their_indexes_after_a_fixed_number_of_changes():
    # The claim walks the open-items index from the head of the queue: entries of items
    # finished since the last vacuum are stepped over by every claim.
    if not _on_postgresql():
        pytest.skip("PostgreSQL storage parameters")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'annotations_queueitem'")
        options = set(cursor.fetchone()[0])

    assert {
        "autovacuum_vacuum_scale_factor=0",
        "autovacuum_vacuum_threshold=5000",
        "vacuum_index_cleanup=on",
    } <= options
