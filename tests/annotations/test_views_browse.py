import datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotations.models import Membership, Message, Project
from annotations.payloads import ConversationIn
from annotations.services.annotations import annotation_submit
from annotations.services.feedback import feedback_submit
from annotations.services.ingest import conversation_ingest
from annotations.services.projects import membership_set, project_create
from tests.conftest import conversation_payload
from tests.factories import (
    ConversationFactory,
    FeedbackFactory,
    MessageFactory,
    UserFactory,
)

GOOD_ANSWERS = {"correctness": 4, "groundedness": 5, "helpfulness": 4}
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> AbstractBaseUser:
    return UserFactory(username="lead")


@pytest.fixture
def devot(admin: AbstractBaseUser) -> Project:
    project, _, _ = project_create(slug="devot", name="Devot", created_by=admin)
    return project


@pytest.fixture
def reviewer(devot: Project) -> AbstractBaseUser:
    user = UserFactory(username="minji")
    membership_set(project=devot, user=user, role=Membership.Role.REVIEWER)
    return user


@pytest.fixture
def browser(client: Client, reviewer: AbstractBaseUser) -> Client:
    client.force_login(reviewer)
    return client


def ingest(project: Project, conversation_id: str, **overrides: Any) -> Message:
    conversation_ingest(
        project=project,
        conversation=ConversationIn.model_validate(
            conversation_payload(conversation_id, **overrides)
        ),
    )
    return Message.objects.get(conversation__external_id=conversation_id, external_id="m2")


def answer_only(answer: str) -> list[dict[str, Any]]:
    return [
        {"id": "m1", "role": "user", "content": "How do I start a worker?"},
        {"id": "m2", "role": "assistant", "content": answer, "model": "gpt-4o-mini"},
    ]


def vote(
    project: Project,
    conversation_id: str,
    rating: str,
    *,
    user: str = "u-1",
    reasons: list[str] | None = None,
    comment: str = "",
) -> None:
    feedback_submit(
        project=project,
        conversation_id=conversation_id,
        message_id="m2",
        end_user=user,
        rating=rating,
        reasons=reasons or [],
        comment=comment,
        source="widget",
    )


def list_url(**params: str) -> str:
    query = urlencode(params)
    return reverse("conversation-list", kwargs={"slug": "devot"}) + (f"?{query}" if query else "")


def detail_url(conversation_id: str) -> str:
    return reverse("conversation-detail", kwargs={"slug": "devot", "external_id": conversation_id})


def listed(response: Any) -> list[str]:
    return [answer.conversation.external_id for answer in response.context["answers"]]


def test_browser_lists_answers_newest_first_with_votes_and_label_count(
    browser: Client, devot: Project, reviewer: AbstractBaseUser
) -> None:
    message = ingest(devot, "conv-old")
    ingest(devot, "conv-new")
    vote(devot, "conv-old", "up", user="u-1")
    vote(devot, "conv-old", "down", user="u-2")
    vote(devot, "conv-old", "down", user="u-3")
    annotation_submit(message=message, reviewer=reviewer, answers=GOOD_ANSWERS)

    response = browser.get(list_url())

    assert response.status_code == 200
    assert listed(response) == ["conv-new", "conv-old"]
    old = response.context["answers"][1]
    assert (old.thumbs_up, old.thumbs_down, old.annotation_count) == (1, 2, 1)
    assert "👍 1 / 👎 2" in response.content.decode()
    assert "devot-rag@3" in response.content.decode()


def test_rating_down_shows_only_down_voted_answers(browser: Client, devot: Project) -> None:
    for conversation_id in ("conv-down", "conv-up", "conv-silent"):
        ingest(devot, conversation_id)
    vote(devot, "conv-down", "down")
    vote(devot, "conv-up", "up")

    response = browser.get(list_url(rating="down"))

    assert listed(response) == ["conv-down"]


def test_search_finds_korean_text(browser: Client, devot: Project) -> None:
    ingest(devot, "conv-ko", messages=answer_only("워커를 다시 시작하세요."))
    ingest(devot, "conv-en", messages=answer_only("Restart the worker."))

    response = browser.get(list_url(search="다시 시작"))

    assert listed(response) == ["conv-ko"]
    assert "워커를 다시 시작하세요." in response.content.decode()


def test_bad_date_shows_an_error_and_no_answers(browser: Client, devot: Project) -> None:
    ingest(devot, "conv-1")

    response = browser.get(list_url(since="2026-13-45"))

    assert response.status_code == 200
    assert response.context["answers"] == []
    assert "a date such as 2026-11-25" in response.content.decode()


def test_labeled_no_hides_labeled_answers(
    browser: Client, devot: Project, reviewer: AbstractBaseUser
) -> None:
    labeled = ingest(devot, "conv-labeled")
    ingest(devot, "conv-open")
    annotation_submit(message=labeled, reviewer=reviewer, answers=GOOD_ANSWERS)

    response = browser.get(list_url(labeled="no"))

    assert listed(response) == ["conv-open"]


def test_long_answer_is_cut_to_200_characters(browser: Client, devot: Project) -> None:
    ingest(devot, "conv-long", messages=answer_only("가" * 150 + "나" * 150))

    response = browser.get(list_url())

    assert "가" * 150 + "나" * 49 + "…" in response.content.decode()
    assert "나" * 50 not in response.content.decode()


@pytest.fixture
def many_answers(devot: Project, reviewer: AbstractBaseUser) -> list[Message]:
    """120 answers a minute apart, each with votes and a label."""
    start = timezone.now() - datetime.timedelta(days=1)
    answers = []
    for index in range(120):
        conversation = ConversationFactory(
            project=devot,
            external_id=f"conv-{index:03d}",
            created_at=start + datetime.timedelta(minutes=index),
        )
        answer = MessageFactory(
            conversation=conversation,
            position=1,
            created_at=start + datetime.timedelta(minutes=index),
        )
        FeedbackFactory(message=answer, rating="down")
        FeedbackFactory(message=answer, rating="up")
        answers.append(answer)
    for answer in answers[:10]:
        annotation_submit(message=answer, reviewer=reviewer, answers=GOOD_ANSWERS)
    return answers


def test_first_page_holds_the_50_newest_answers(browser: Client, many_answers: list) -> None:
    response = browser.get(list_url())

    assert listed(response)[0] == "conv-119"
    assert listed(response)[-1] == "conv-070"
    assert len(listed(response)) == 50
    assert response.context["newer_url"] == ""


def test_older_pages_continue_without_gaps(browser: Client, many_answers: list) -> None:
    seen = []
    query = "?"
    while query:
        response = browser.get(list_url() + query)
        seen += listed(response)
        query = response.context["older_url"]

    assert seen == [f"conv-{index:03d}" for index in range(119, -1, -1)]


def test_newer_link_goes_back_to_the_previous_page(browser: Client, many_answers: list) -> None:
    second = browser.get(list_url() + browser.get(list_url()).context["older_url"])

    back = browser.get(list_url() + second.context["newer_url"])

    assert listed(back) == [f"conv-{index:03d}" for index in range(119, 69, -1)]


def test_page_query_count_does_not_grow_with_rows(
    browser: Client, many_answers: list, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(7):
        response = browser.get(list_url())

    assert len(listed(response)) == 50


def test_htmx_request_gets_only_the_results(browser: Client, devot: Project) -> None:
    ingest(devot, "conv-1")

    response = browser.get(list_url(rating=""), headers={"HX-Request": "true"})

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="results"')
    assert "<html" not in body


def test_viewer_may_browse(client: Client, devot: Project) -> None:
    viewer = UserFactory(username="viewer")
    membership_set(project=devot, user=viewer, role=Membership.Role.VIEWER)
    ingest(devot, "conv-1")
    client.force_login(viewer)

    assert client.get(list_url()).status_code == 200
    assert client.get(detail_url("conv-1")).status_code == 200


@pytest.mark.parametrize(
    "url_name, kwargs",
    [
        ("conversation-list", {}),
        ("conversation-detail", {"external_id": "conv-1"}),
        ("project-settings", {}),
    ],
)
def test_outsider_gets_404(
    client: Client, devot: Project, url_name: str, kwargs: dict[str, str]
) -> None:
    ingest(devot, "conv-1")
    client.force_login(UserFactory(username="stranger"))

    response = client.get(reverse(url_name, kwargs={"slug": "devot", **kwargs}))

    assert response.status_code == 404


def test_anonymous_user_is_sent_to_login(client: Client, devot: Project) -> None:
    response = client.get(list_url())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_unknown_conversation_is_404(browser: Client, devot: Project) -> None:
    assert browser.get(detail_url("nope")).status_code == 404


def test_conversation_of_another_project_is_404(
    browser: Client, devot: Project, admin: AbstractBaseUser
) -> None:
    other, _, _ = project_create(slug="other", name="Other", created_by=admin)
    ingest(other, "conv-elsewhere")

    assert browser.get(detail_url("conv-elsewhere")).status_code == 404


def test_conversation_page_shows_messages_in_order_with_answer_details(
    browser: Client, devot: Project
) -> None:
    ingest(devot, "conv-1")

    body = browser.get(detail_url("conv-1")).content.decode()

    assert body.index("Celery 워커가 작업을 안 가져가요.") < body.index("브로커 URL을 확인하세요")
    assert "devot-rag@3" in body
    assert "1234 ms" in body
    assert "completion_tokens 50" in body
    assert "Celery requires a message broker." in body
    assert 'href="https://docs.celeryq.dev/en/stable/getting-started/"' in body


def test_conversation_id_with_slash_opens(browser: Client, devot: Project) -> None:
    ingest(devot, "team/a/conv-1")

    response = browser.get(detail_url("team/a/conv-1"))

    assert response.status_code == 200
    assert response.context["conversation"].external_id == "team/a/conv-1"


def test_conversation_page_shows_end_user_feedback(browser: Client, devot: Project) -> None:
    ingest(devot, "conv-1")
    vote(devot, "conv-1", "down", user="u-77", reasons=["outdated"], comment="버전이 달라요")

    body = browser.get(detail_url("conv-1")).content.decode()

    assert "u-77" in body
    assert "👎 Down" in body
    assert "Outdated" in body
    assert "버전이 달라요" in body
    assert "Widget" in body


def test_conversation_page_shows_each_annotation_with_question_labels(
    browser: Client, devot: Project, reviewer: AbstractBaseUser, admin: AbstractBaseUser
) -> None:
    message = ingest(devot, "conv-1")
    annotation_submit(message=message, reviewer=reviewer, answers=GOOD_ANSWERS)
    annotation_submit(
        message=message,
        reviewer=admin,
        answers={
            "correctness": 2,
            "groundedness": 1,
            "helpfulness": 2,
            "errors": ["hallucination"],
            "corrected_answer": "CELERY_BROKER_URL을 redis://로 설정하세요.",
        },
    )

    response = browser.get(detail_url("conv-1"))

    body = response.content.decode()
    assert [
        label["annotation"].annotator_name for label in response.context["chat_messages"][1].labels
    ] == ["minji", "lead"]
    assert "Correctness" in body
    assert "4 · Mostly right" in body
    assert "Hallucination / not in the contexts" in body
    assert "CELERY_BROKER_URL을 redis://로 설정하세요." in body
    assert "rubric v1" in body


def test_annotation_labels_follow_the_korean_ui(
    browser: Client, devot: Project, reviewer: AbstractBaseUser
) -> None:
    message = ingest(devot, "conv-1")
    annotation_submit(message=message, reviewer=reviewer, answers=GOOD_ANSWERS)

    body = browser.get(detail_url("conv-1"), headers={"Accept-Language": "ko"}).content.decode()

    assert "정확성" in body
    assert "4 · 대부분 맞음" in body


def test_edited_annotation_shows_its_history(
    browser: Client, devot: Project, reviewer: AbstractBaseUser
) -> None:
    message = ingest(devot, "conv-1")
    annotation_submit(message=message, reviewer=reviewer, answers=GOOD_ANSWERS)
    annotation_submit(
        message=message, reviewer=reviewer, answers={**GOOD_ANSWERS, "correctness": 2}
    )
    annotation_submit(
        message=message, reviewer=reviewer, answers={**GOOD_ANSWERS, "correctness": 3}
    )

    body = browser.get(detail_url("conv-1")).content.decode()

    assert "2 edits" in body
    assert (
        '<del class="content">4 · Mostly right</del> → <ins class="content">2 · Mostly wrong</ins>'
        in body
    )
    assert (
        '<del class="content">2 · Mostly wrong</del> → <ins class="content">3 · Partly right</ins>'
        in body
    )


def test_conversation_page_escapes_message_and_comment_markup(
    browser: Client, devot: Project
) -> None:
    ingest(devot, "conv-xss", messages=answer_only(f"{XSS_SCRIPT} {XSS_IMG}"))
    vote(devot, "conv-xss", "down", comment=f"{XSS_IMG}{XSS_SCRIPT}")

    body = browser.get(detail_url("conv-xss")).content.decode()

    assert XSS_SCRIPT not in body
    assert XSS_IMG not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


def test_browser_escapes_answer_markup(browser: Client, devot: Project) -> None:
    ingest(devot, "conv-xss", messages=answer_only(f"{XSS_SCRIPT} {XSS_IMG}"))

    body = browser.get(list_url()).content.decode()

    assert XSS_SCRIPT not in body
    assert XSS_IMG not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_context_with_a_javascript_url_is_not_a_link(browser: Client, devot: Project) -> None:
    messages = answer_only("See the docs.")
    messages[1]["contexts"] = [{"id": "d1", "title": "Docs", "url": "javascript:alert(1)"}]
    ingest(devot, "conv-js", messages=messages)

    body = browser.get(detail_url("conv-js")).content.decode()

    assert 'href="javascript:' not in body
    assert "<code>javascript:alert(1)</code>" in body


def test_demo_chat_is_for_admins_and_votes_as_the_visitor_not_the_end_user(
    devot: Project, admin: AbstractBaseUser, reviewer: AbstractBaseUser
):
    from annotations.keys import feedback_token_valid

    devot.require_signed_feedback = True
    devot.save()
    conversation_ingest(
        project=devot, conversation=ConversationIn.model_validate(conversation_payload())
    )
    client = Client()
    client.force_login(reviewer)
    assert client.get("/demo/chat/", {"project": "devot"}).status_code == 404

    client.force_login(admin)
    page = client.get("/demo/chat/", {"project": "devot"}).content.decode()

    assert 'data-feedback-user="demo:lead"' in page
    assert 'data-feedback-user="u-42"' not in page
    token = page.split('data-feedback-token="')[1].split('"')[0]
    signed = {"secret": devot.feedback_signing_secret, "conversation_id": "conv-123"}
    assert feedback_token_valid(**signed, token=token, message_id="m2", user="demo:lead")
    assert not feedback_token_valid(**signed, token=token, message_id="m2", user="u-42")


def test_others_labels_stay_hidden_while_the_reviewer_holds_the_answer(
    browser: Client, devot: Project, reviewer: AbstractBaseUser, admin: AbstractBaseUser
) -> None:
    from annotations.services.queues import queue_claim_next, queue_create

    message = ingest(devot, "conv-1")
    annotation_submit(message=message, reviewer=admin, answers=GOOD_ANSWERS)
    queue = queue_create(
        project=devot, name="Q", filters={}, annotations_per_item=2, created_by=admin
    )
    assert queue_claim_next(queue=queue, reviewer=reviewer).message_id == message.pk

    held = browser.get(detail_url("conv-1"))

    assert held.context["chat_messages"][1].labels == []
    assert "1 annotation is hidden while you label this answer." in held.content.decode()
    annotation_submit(message=message, reviewer=reviewer, answers=GOOD_ANSWERS)
    labeled = browser.get(detail_url("conv-1"))
    assert len(labeled.context["chat_messages"][1].labels) == 2


def test_not_found_and_forbidden_pages_speak_the_users_language(
    client: Client, devot: Project
) -> None:
    viewer = UserFactory(username="viewer")
    membership_set(project=devot, user=viewer, role=Membership.Role.VIEWER)
    client.force_login(viewer)

    missing = client.get("/p/no-such-project/conversations/", headers={"Accept-Language": "ko"})
    forbidden = client.get(
        reverse("queue-create", kwargs={"slug": "devot"}), headers={"Accept-Language": "ko"}
    )

    assert missing.status_code == 404
    assert "찾을 수 없음" in missing.content.decode()
    assert forbidden.status_code == 403
    assert "권한 없음" in forbidden.content.decode()
