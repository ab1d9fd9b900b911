"""Queue pages and the labeling page, through Django's test client."""

import datetime

import pytest
from django.db import connection
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from annotations.models import Annotation, Claim, Membership, Queue, QueueItem, Skip
from annotations.payloads import ConversationIn
from annotations.rubrics import default_rag_questions
from annotations.services.annotations import annotation_submit
from annotations.services.feedback import feedback_submit
from annotations.services.ingest import conversation_ingest
from annotations.services.projects import membership_set, project_create
from annotations.services.queues import queue_claim_next, queue_create
from annotations.views.labeling import answers_from_form, time_spent_from
from tests.conftest import conversation_payload
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FULL_ANSWERS = {"correctness": 4, "groundedness": 5, "helpfulness": 3}
FULL_FORM = {
    "answer_correctness": "4",
    "answer_groundedness": "5",
    "answer_helpfulness": "3",
    "answer_errors": ["incomplete", "outdated"],
    "answer_note": "Misses the\r\nworker flag.",
    "time_spent_ms": "12345",
}


@pytest.fixture
def lead():
    return UserFactory(username="lead")


@pytest.fixture
def project(lead):
    project, _, _ = project_create(slug="devot", name="Devot", created_by=lead)
    return project


@pytest.fixture
def reviewer(project):
    user = UserFactory(username="mina")
    membership_set(project=project, user=user, role=Membership.Role.REVIEWER)
    return user


@pytest.fixture
def viewer(project):
    user = UserFactory(username="watcher")
    membership_set(project=project, user=user, role=Membership.Role.VIEWER)
    return user


def add_answer(project, conversation_id, *, vote=None, user_content=None, **answer):
    payload = conversation_payload(conversation_id)
    if user_content is not None:
        payload["messages"][0]["content"] = user_content
    payload["messages"][1].update(answer)
    conversation_ingest(project=project, conversation=ConversationIn.model_validate(payload))
    if vote:
        feedback_submit(
            project=project,
            conversation_id=conversation_id,
            message_id="m2",
            end_user="u-42",
            rating=vote,
            reasons=["incorrect"] if vote == "down" else [],
            comment="틀렸어요" if vote == "down" else "",
            source="api",
        )
    return project.messages.get(conversation__external_id=conversation_id, external_id="m2")


@pytest.fixture
def answers(project):
    return [
        add_answer(project, "conv-a", vote="down"),
        add_answer(project, "conv-b", vote="up"),
    ]


@pytest.fixture
def queue(project, answers, lead):
    return queue_create(project=project, name="Weekly review", filters={}, created_by=lead)


def url(name, project, **kwargs):
    return reverse(name, kwargs={"slug": project.slug, **kwargs})


def item_url(name, queue, item):
    return reverse(
        name, kwargs={"slug": queue.project.slug, "queue_id": queue.pk, "item_id": item.pk}
    )


def claim_item(client, queue):
    response = client.get(url("queue-next", queue.project, queue_id=queue.pk))
    assert response.status_code == 302
    return QueueItem.objects.get(pk=int(response.url.rstrip("/").split("/")[-1]))


# Queue list, detail, create, count


def test_queue_list_shows_each_queue_with_its_progress(client, lead, project, queue):
    client.force_login(lead)

    response = client.get(url("queue-list", project))

    assert response.status_code == 200
    [row] = response.context["queues"]
    assert (row.name, row.item_count, row.done_count) == ("Weekly review", 2, 0)
    assert (row.annotation_total, row.annotations_wanted) == (0, 2)
    assert url("queue-create", project) in response.content.decode()


def test_queue_list_offers_new_queue_only_to_admins(client, reviewer, project, queue):
    client.force_login(reviewer)

    html = client.get(url("queue-list", project)).content.decode()

    assert "Weekly review" in html
    assert url("queue-create", project) not in html
    assert url("queue-next", project, queue_id=queue.pk) in html


def test_queue_create_builds_the_queue_from_the_form(
    client, lead, reviewer, project, answers, django_capture_on_commit_callbacks, eager_tasks
):
    client.force_login(lead)
    form = {
        "name": "Thumbs down",
        "instructions": "Check the\r\nsources.",
        "rating": "down",
        "labeled": "any",
        "order": "oldest",
        "annotations_per_item": "2",
        "lease_minutes": "15",
        "reviewers": [str(reviewer.pk)],
    }

    # The filling runs as a task once the queue is committed (eagerly when embedded).
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("queue-create", project), form)

    queue = Queue.objects.get(name="Thumbs down")
    assert response.status_code == 302
    assert response.url == url("queue-detail", project, queue_id=queue.pk)
    assert queue.filters == {"rating": "down"}
    assert (queue.order, queue.annotations_per_item, queue.lease_minutes) == ("oldest", 2, 15)
    assert queue.instructions == "Check the\nsources."
    assert list(queue.reviewers.all()) == [reviewer]
    assert list(queue.items.values_list("message", flat=True)) == [answers[0].pk]


def test_a_queue_being_filled_says_so_and_follows_its_progress(
    client, lead, project, answers, django_capture_on_commit_callbacks, eager_tasks
):
    client.force_login(lead)
    form = {"name": "Big", "order": "oldest", "annotations_per_item": "1", "lease_minutes": "30"}

    # The request returns before the task that fills the queue has run.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url("queue-create", project), form, follow=True)

    queue = Queue.objects.get(name="Big")
    html = response.content.decode()
    assert queue.items.count() == 0 and queue.refreshed_at is None
    assert "the matching answers are being added" in html
    assert 'hx-trigger="every 2s"' in html
    for callback in callbacks:
        callback()
    queue.refresh_from_db()
    assert queue.items.count() == len(answers) and queue.refreshed_at is not None
    assert (
        'hx-trigger="every 2s"'
        not in client.get(url("queue-detail", project, queue_id=queue.pk)).content.decode()
    )


def test_queue_create_shows_errors_next_to_the_fields(client, lead, project):
    client.force_login(lead)
    form = {
        "name": " ",
        "since": "last week",
        "order": "oldest",
        "annotations_per_item": "11",
        "lease_minutes": "30",
    }

    response = client.post(url("queue-create", project), form)

    assert response.status_code == 400
    assert response.context["errors"] == {
        "name": ["give the queue a name"],
        "annotations_per_item": ["from 1 to 10"],
        "since": ["a date such as 2026-11-25"],
    }
    html = response.content.decode()
    assert "a date such as 2026-11-25" in html
    assert 'value="last week"' in html
    assert not Queue.objects.exists()


def test_queue_create_is_for_admins_only(client, reviewer, project):
    client.force_login(reviewer)

    assert client.get(url("queue-create", project)).status_code == 403
    assert client.post(url("queue-create", project), {"name": "Mine"}).status_code == 403


def test_live_count_counts_the_answers_the_filter_matches(client, lead, project, answers):
    client.force_login(lead)

    every = client.get(url("queue-count", project), {"rating": "", "labeled": "any"})
    down = client.get(url("queue-count", project), {"rating": "down", "name": "ignored"})

    assert every.content.decode().strip() == "<strong>2 matching answers</strong>"
    assert down.content.decode().strip() == "<strong>1 matching answer</strong>"


def test_live_count_names_an_invalid_filter(client, lead, project):
    client.force_login(lead)

    response = client.get(url("queue-count", project), {"until": "soon"})

    assert "Until: a date such as 2026-11-25" in response.content.decode()


def test_queue_detail_shows_progress_per_reviewer(client, lead, reviewer, project, queue):
    item = queue_claim_next(queue=queue, reviewer=reviewer)
    annotation_submit(
        message=item.message, reviewer=reviewer, answers=FULL_ANSWERS, queue_item_id=item.pk
    )
    client.force_login(lead)

    response = client.get(url("queue-detail", project, queue_id=queue.pk))

    assert response.status_code == 200
    assert response.context["progress"] == {
        "item_count": 2,
        "done_count": 1,
        "annotation_total": 1,
        "annotations_wanted": 2,
    }
    assert [row["annotator_name"] for row in response.context["reviewer_progress"]] == ["mina"]
    assert [row["count"] for row in response.context["reviewer_progress"]] == [1]


def test_refresh_adds_new_matching_answers(client, lead, project, queue):
    add_answer(project, "conv-c")
    client.force_login(lead)

    response = client.post(url("queue-refresh", project, queue_id=queue.pk), follow=True)

    assert queue.items.count() == 3
    assert "1 new answer added." in response.content.decode()


def test_archive_takes_the_queue_off_the_list(client, lead, project, queue):
    client.force_login(lead)

    response = client.post(url("queue-archive", project, queue_id=queue.pk))

    queue.refresh_from_db()
    assert response.status_code == 302
    assert queue.is_archived is True
    assert client.get(url("queue-list", project)).context["queues"] == []


def test_refresh_and_archive_are_for_admins_only(client, reviewer, project, queue):
    client.force_login(reviewer)

    assert client.post(url("queue-refresh", project, queue_id=queue.pk)).status_code == 403
    assert client.post(url("queue-archive", project, queue_id=queue.pk)).status_code == 403


# Labeling


def test_next_item_submit_and_next_stores_the_answers(client, reviewer, project, queue):
    client.force_login(reviewer)
    first = claim_item(client, queue)
    page = client.get(item_url("queue-item", queue, first))
    assert page.status_code == 200
    assert [question["label"] for question in page.context["questions"]][:3] == [
        "Correctness",
        "Grounded in the contexts",
        "Helpfulness",
    ]

    response = client.post(item_url("queue-item", queue, first), FULL_FORM)

    # Straight to the next item, leased with the submission.
    second = QueueItem.objects.exclude(pk=first.pk).order_by("sort_key", "pk").first()
    assert response.status_code == 302
    assert response.url == item_url("queue-item", queue, second)
    assert list(Claim.objects.values_list("item_id", "reviewer_id")) == [(second.pk, reviewer.pk)]
    annotation = Annotation.objects.get(annotator=reviewer)
    assert annotation.answers == {
        "correctness": 4,
        "groundedness": 5,
        "helpfulness": 3,
        "errors": ["incomplete", "outdated"],
        "note": "Misses the\nworker flag.",
    }
    assert (annotation.message_id, annotation.queue_item_id) == (first.message_id, first.pk)
    assert annotation.time_spent_ms == 12345
    first.refresh_from_db()
    assert (first.annotation_count, first.is_done) == (1, True)
    # The lease taken with the submission is the one the next-item page hands back.
    assert claim_item(client, queue) == second


def test_submitting_the_last_item_goes_to_the_queue_page_that_says_so(
    client, reviewer, project, queue
):
    client.force_login(reviewer)
    items = list(QueueItem.objects.filter(queue=queue).order_by("sort_key", "pk"))
    response = client.get(url("queue-next", project, queue_id=queue.pk))
    for item in items:
        assert response.url == item_url("queue-item", queue, item)
        response = client.post(response.url, FULL_FORM)
        assert response.status_code == 302

    assert response.url == url("queue-next", project, queue_id=queue.pk)
    assert Annotation.objects.filter(annotator=reviewer).count() == len(items)
    assert not Claim.objects.filter(reviewer=reviewer).exists()
    assert client.get(response.url).status_code == 200


def test_page_shows_the_answer_its_contexts_and_votes(client, reviewer, queue, answers):
    client.force_login(reviewer)
    item = claim_item(client, queue)

    html = client.get(item_url("queue-item", queue, item)).content.decode()

    assert item.message_id == answers[0].pk
    assert "Celery: First steps" in html
    assert (
        'href="https://docs.celeryq.dev/en/stable/getting-started/" '
        'rel="noopener noreferrer" target="_blank"'
    ) in html
    assert "틀렸어요" in html
    assert "devot-rag@3" in html
    assert "1234 ms" in html
    # The end user's reason as the project names it, in the UI's language.
    assert '<span class="tag">Incorrect</span>' in html
    korean = client.get(item_url("queue-item", queue, item), headers={"Accept-Language": "ko"})
    assert '<span class="tag">틀린 정보</span>' in korean.content.decode()


def test_corrected_answer_box_starts_with_the_original_answer(client, reviewer, queue):
    client.force_login(reviewer)
    item = claim_item(client, queue)

    response = client.get(item_url("queue-item", queue, item))

    [corrected] = [q for q in response.context["questions"] if q["type"] == "corrected_answer"]
    assert corrected["text"] == "브로커 URL을 확인하세요: `CELERY_BROKER_URL`."


def test_an_unchanged_corrected_answer_is_not_stored(client, reviewer, queue):
    client.force_login(reviewer)
    item = claim_item(client, queue)
    form = {**FULL_FORM, "answer_corrected_answer": "브로커 URL을 확인하세요: `CELERY_BROKER_URL`."}

    client.post(item_url("queue-item", queue, item), form)

    annotation = Annotation.objects.get(annotator=reviewer)
    assert "corrected_answer" not in annotation.answers
    assert annotation.corrected_answer == ""


def test_a_changed_corrected_answer_is_stored(client, reviewer, queue):
    client.force_login(reviewer)
    item = claim_item(client, queue)
    form = {**FULL_FORM, "answer_corrected_answer": "`CELERY_BROKER_URL`을\r\n확인하세요."}

    client.post(item_url("queue-item", queue, item), form)

    annotation = Annotation.objects.get(annotator=reviewer)
    assert annotation.corrected_answer == "`CELERY_BROKER_URL`을\n확인하세요."


def test_invalid_answers_are_shown_per_question_and_kept(client, reviewer, queue):
    client.force_login(reviewer)
    item = claim_item(client, queue)
    form = {**FULL_FORM, "answer_correctness": "", "answer_helpfulness": "9"}

    response = client.post(item_url("queue-item", queue, item), form)

    assert response.status_code == 400
    questions = {q["key"]: q for q in response.context["questions"]}
    assert questions["correctness"]["errors"] == ["this question is required"]
    assert questions["helpfulness"]["errors"] == ["a whole number from 1 to 5"]
    assert [c["value"] for c in questions["groundedness"]["choices"] if c["checked"]] == ["5"]
    assert questions["note"]["text"] == "Misses the\nworker flag."
    assert "this question is required" in response.content.decode()
    assert not Annotation.objects.exists()


def test_answer_errors_follow_the_korean_ui(client, reviewer, queue):
    client.force_login(reviewer)
    item = claim_item(client, queue)
    form = {**FULL_FORM, "answer_correctness": "", "answer_helpfulness": "9"}

    response = client.post(
        item_url("queue-item", queue, item), form, headers={"Accept-Language": "ko"}
    )

    assert response.status_code == 400
    questions = {q["key"]: q for q in response.context["questions"]}
    assert questions["correctness"]["errors"] == ["필수 질문입니다"]
    assert questions["helpfulness"]["errors"] == ["1부터 5까지의 정수"]


def test_live_count_names_an_invalid_filter_in_korean(client, lead, project):
    client.force_login(lead)

    response = client.get(
        url("queue-count", project), {"until": "soon"}, headers={"Accept-Language": "ko"}
    )

    assert "2026-11-25 같은 날짜" in response.content.decode()


def test_editing_prefills_the_reviewers_own_answers(client, reviewer, queue):
    client.force_login(reviewer)
    item = claim_item(client, queue)
    client.post(item_url("queue-item", queue, item), FULL_FORM)

    response = client.get(item_url("queue-item", queue, item))

    questions = {q["key"]: q for q in response.context["questions"]}
    assert [c["value"] for c in questions["correctness"]["choices"] if c["checked"]] == ["4"]
    assert [c["value"] for c in questions["errors"]["choices"] if c["checked"]] == [
        "incomplete",
        "outdated",
    ]


def test_editing_a_completed_item_saves_the_changes(client, reviewer, queue):
    client.force_login(reviewer)
    item = claim_item(client, queue)
    client.post(item_url("queue-item", queue, item), FULL_FORM)

    response = client.post(
        item_url("queue-item", queue, item), {**FULL_FORM, "answer_correctness": "2"}
    )

    annotation = Annotation.objects.get(annotator=reviewer)
    item.refresh_from_db()
    assert response.status_code == 302
    assert annotation.answers["correctness"] == 2
    assert annotation.revisions.count() == 1
    assert item.annotation_count == 1


def test_other_reviewers_labels_are_not_shown(client, lead, reviewer, queue):
    item = QueueItem.objects.filter(queue=queue).order_by("sort_key").first()
    annotation_submit(
        message=item.message, reviewer=lead, answers={**FULL_ANSWERS, "note": "lead's secret"}
    )
    client.force_login(reviewer)

    response = client.get(item_url("queue-item", queue, item))

    assert "lead&#x27;s secret" not in response.content.decode()
    assert response.context["own"] is None


def test_skip_moves_on_and_never_offers_the_item_again(client, reviewer, project, queue):
    client.force_login(reviewer)
    first = claim_item(client, queue)

    response = client.post(item_url("queue-item-skip", queue, first))

    assert response.status_code == 302
    assert response.url == url("queue-next", project, queue_id=queue.pk)
    assert Skip.objects.filter(item=first, reviewer=reviewer).exists()
    assert not Claim.objects.filter(item=first).exists()
    assert claim_item(client, queue).pk != first.pk


def test_release_gives_the_item_back(client, reviewer, project, queue):
    client.force_login(reviewer)
    item = claim_item(client, queue)

    response = client.post(item_url("queue-item-release", queue, item))

    assert response.url == url("queue-detail", project, queue_id=queue.pk)
    assert not Claim.objects.filter(item=item).exists()
    assert not Skip.objects.exists()


def test_nothing_left_page_when_every_item_is_labeled_or_skipped(client, reviewer, queue):
    client.force_login(reviewer)
    for _ in range(2):
        client.post(item_url("queue-item-skip", queue, claim_item(client, queue)))

    response = client.get(url("queue-next", queue.project, queue_id=queue.pk))

    assert response.status_code == 200
    assert "Nothing left for you in this queue" in response.content.decode()


def test_renew_extends_the_lease(client, reviewer, queue):
    client.force_login(reviewer)
    item = claim_item(client, queue)
    Claim.objects.filter(item=item).update(expires_at=timezone.now() + datetime.timedelta(1 / 24))

    response = client.post(item_url("queue-item-renew", queue, item))

    claim = Claim.objects.get(item=item)
    assert response.status_code == 204
    assert response["X-Lease-Expires"] == claim.expires_at.isoformat()
    assert claim.expires_at > timezone.now() + datetime.timedelta(minutes=29)


def test_renew_of_a_lost_lease_is_a_409_fragment(client, reviewer, queue):
    client.force_login(reviewer)
    item = claim_item(client, queue)
    Claim.objects.filter(item=item).update(expires_at=timezone.now() - datetime.timedelta(1))

    response = client.post(item_url("queue-item-renew", queue, item))

    assert response.status_code == 409
    assert "Your lease on this item has expired." in response.content.decode()


def test_submit_after_others_completed_the_item_is_refused(client, lead, reviewer, queue):
    client.force_login(reviewer)
    item = claim_item(client, queue)
    Claim.objects.filter(item=item).update(expires_at=timezone.now() - datetime.timedelta(1))
    taken = queue_claim_next(queue=queue, reviewer=lead)
    annotation_submit(
        message=taken.message, reviewer=lead, answers=FULL_ANSWERS, queue_item_id=taken.pk
    )
    assert taken.pk == item.pk

    response = client.post(item_url("queue-item", queue, item), FULL_FORM, follow=True)

    assert response.redirect_chain[0] == (url("queue-next", queue.project, queue_id=queue.pk), 302)
    assert "others completed this item meanwhile" in response.content.decode()
    assert not Annotation.objects.filter(annotator=reviewer).exists()


def test_submit_stays_within_a_handful_of_queries(
    client, reviewer, queue, django_assert_max_num_queries
):
    client.force_login(reviewer)
    item = claim_item(client, queue)

    # Session, user, project, role, queue, access, item, rubric, own labels; then the
    # labels saved and the next item leased: one statement on PostgreSQL; on SQLite the
    # lock, insert (in a savepoint), count, release, and the claim's reads and lease.
    # None depends on the rubric, the conversation's length or the queue's size.
    with django_assert_max_num_queries(10 if connection.vendor == "postgresql" else 24):
        response = client.post(item_url("queue-item", queue, item), FULL_FORM)

    assert response.status_code == 302


# Access


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("queue-item", "get"),
        ("queue-item", "post"),
        ("queue-item-skip", "post"),
        ("queue-item-release", "post"),
        ("queue-item-renew", "post"),
    ],
)
def test_viewers_may_not_label(client, viewer, queue, name, method):
    item = queue.items.first()
    client.force_login(viewer)

    response = getattr(client, method)(item_url(name, queue, item))

    assert response.status_code == 403


def test_viewers_may_browse_queues_but_not_take_items(client, viewer, project, queue):
    client.force_login(viewer)

    assert client.get(url("queue-list", project)).status_code == 200
    assert client.get(url("queue-detail", project, queue_id=queue.pk)).status_code == 200
    assert client.get(url("queue-next", project, queue_id=queue.pk)).status_code == 403


def test_members_of_another_project_get_404(client, project, queue):
    outsider = UserFactory(username="outsider")
    project_create(slug="other", name="Other", created_by=outsider)
    client.force_login(outsider)
    item = queue.items.first()

    assert client.get(url("queue-list", project)).status_code == 404
    assert client.get(url("queue-detail", project, queue_id=queue.pk)).status_code == 404
    assert client.get(item_url("queue-item", queue, item)).status_code == 404


def test_a_queue_of_another_project_is_404(client, lead, queue):
    other, _, _ = project_create(slug="other", name="Other", created_by=lead)
    client.force_login(lead)

    response = client.get(url("queue-detail", other, queue_id=queue.pk))

    assert response.status_code == 404


def test_reviewers_not_assigned_to_a_queue_may_not_label_it(client, lead, reviewer, project):
    add_answer(project, "conv-a")
    someone = UserFactory(username="someone")
    membership_set(project=project, user=someone, role=Membership.Role.REVIEWER)
    queue = queue_create(project=project, name="Only someone", filters={}, reviewers=[someone])
    client.force_login(reviewer)

    response = client.get(url("queue-next", project, queue_id=queue.pk))

    assert response.status_code == 403


def test_login_is_required(client, project, queue):
    response = client.get(url("queue-list", project))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# Escaping


def test_message_text_is_escaped(client, reviewer, project):
    add_answer(project, "conv-x", vote="down", user_content="<script>alert(1)</script>")
    queue = queue_create(project=project, name="XSS", filters={})
    client.force_login(reviewer)
    item = claim_item(client, queue)

    html = client.get(item_url("queue-item", queue, item)).content.decode()

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html


def test_context_links_are_only_web_links(client, reviewer, project):
    contexts = [{"id": "d", "title": "Trap", "url": "javascript:alert(1)", "text": "t"}]
    add_answer(project, "conv-x", contexts=contexts)
    queue = queue_create(project=project, name="Links", filters={})
    client.force_login(reviewer)
    item = claim_item(client, queue)

    html = client.get(item_url("queue-item", queue, item)).content.decode()

    assert "Trap" in html
    assert "javascript:alert" not in html


# Form parsing


def test_answers_from_form_converts_each_question_type():
    questions = [
        *default_rag_questions(),
        {"key": "safe", "type": "boolean", "label": {"en": "Safe"}},
        {"key": "better", "type": "pairwise", "label": {"en": "Better"}},
    ]
    data = QueryDict(mutable=True)
    data.update({"answer_correctness": "4", "answer_safe": "no", "answer_better": "tie"})
    data.setlist("answer_errors", ["tone"])
    data.update({"answer_note": "  ", "answer_corrected_answer": "Original.\r\n"})

    answers = answers_from_form(questions, data, original_answer="Original.")

    assert answers == {"correctness": 4, "errors": ["tone"], "safe": False, "better": "tie"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1500", 1500), ("0", 0), ("-1", None), ("86400000", None), ("abc", None), (None, None)],
)
def test_time_spent_must_be_a_plausible_whole_number(raw, expected):
    assert time_spent_from(raw) == expected
