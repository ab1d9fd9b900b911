"""The labeling page in a real browser: keyboard-only labeling, Korean UI, escaping."""

import datetime

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotations.models import Annotation, Claim, Membership, Skip
from annotations.payloads import ConversationIn
from annotations.services.ingest import conversation_ingest
from annotations.services.projects import membership_set, project_create
from annotations.services.queues import queue_create
from tests.conftest import conversation_payload
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def labeling_setup(*conversations: dict) -> tuple:
    lead = UserFactory(username="lead")
    project, _, _ = project_create(slug="devot", name="Devot", created_by=lead)
    reviewer = UserFactory(username="mina")
    membership_set(project=project, user=reviewer, role=Membership.Role.REVIEWER)
    for payload in conversations:
        conversation_ingest(project=project, conversation=ConversationIn.model_validate(payload))
    queue = queue_create(project=project, name="Weekly review", filters={}, order="oldest")
    return reviewer, queue


def next_url(live_server, queue) -> str:
    path = reverse("queue-next", kwargs={"slug": queue.project.slug, "queue_id": queue.pk})
    return live_server.url + path


def test_three_items_are_labeled_with_the_keyboard_alone(page, live_server):
    reviewer, queue = labeling_setup(*(conversation_payload(f"conv-{n}") for n in range(3)))
    login(page, live_server, reviewer)
    page.goto(next_url(live_server, queue))
    keystrokes = [("4", "5", "3", "b"), ("1", "2", "1", "a"), ("5", "5", "5", "h")]

    for keys in keystrokes:
        page.wait_for_selector(".question.is-active")
        labeling_url = page.url
        for key in keys:
            page.keyboard.press(key)
        page.keyboard.press("Control+Enter")
        page.wait_for_url(lambda url, previous=labeling_url: url != previous)

    page.get_by_text("Nothing left for you in this queue").wait_for()
    answers = [
        annotation.answers
        for annotation in Annotation.objects.filter(annotator=reviewer).order_by(
            "message__conversation__external_id"
        )
    ]
    assert answers == [
        {"correctness": 4, "groundedness": 5, "helpfulness": 3, "errors": ["factually_wrong"]},
        {"correctness": 1, "groundedness": 2, "helpfulness": 1, "errors": ["hallucination"]},
        {"correctness": 5, "groundedness": 5, "helpfulness": 5, "errors": ["tone"]},
    ]
    assert all(annotation.time_spent_ms > 0 for annotation in Annotation.objects.all())


def test_keys_typed_in_a_text_box_stay_there(page, live_server):
    reviewer, queue = labeling_setup(conversation_payload("conv-1"))
    login(page, live_server, reviewer)
    page.goto(next_url(live_server, queue))
    page.wait_for_selector(".question.is-active")
    for key in ("2", "2", "2"):
        page.keyboard.press(key)

    page.locator("textarea[name=answer_note]").click()
    page.keyboard.type("s?4 b")
    page.keyboard.press("Control+Enter")

    page.get_by_text("Nothing left for you in this queue").wait_for()
    annotation = Annotation.objects.get()
    assert annotation.answers == {
        "correctness": 2,
        "groundedness": 2,
        "helpfulness": 2,
        "note": "s?4 b",
    }
    assert not Skip.objects.exists()


def test_question_mark_lists_the_shortcuts_and_s_skips(page, live_server):
    reviewer, queue = labeling_setup(conversation_payload("conv-1"))
    login(page, live_server, reviewer)
    page.goto(next_url(live_server, queue))
    page.wait_for_selector(".question.is-active")

    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
    for key in ("Tab", "Shift+Tab", "Tab"):
        page.keyboard.press(key)
        assert page.evaluate(
            "() => document.getElementById('shortcuts').contains(document.activeElement)"
        )
    page.keyboard.press("Escape")
    assert page.locator("#shortcuts").is_hidden()
    page.keyboard.press("s")

    page.get_by_text("Nothing left for you in this queue").wait_for()
    assert Skip.objects.filter(reviewer=reviewer).count() == 1
    assert not Annotation.objects.exists()


def test_the_page_switches_to_korean(page, live_server):
    reviewer, queue = labeling_setup(conversation_payload("conv-1"))
    login(page, live_server, reviewer)
    page.goto(next_url(live_server, queue))
    page.wait_for_selector(".question.is-active")

    page.select_option("#language-select", "ko")

    page.wait_for_selector("html[lang='ko']")
    assert page.locator("fieldset.question legend").first.inner_text().startswith("1 정확성")


def test_a_script_in_a_message_is_shown_as_text(page, live_server):
    payload = conversation_payload("conv-1")
    payload["messages"][0]["content"] = "<script>window.pwned=1</script>"
    reviewer, queue = labeling_setup(payload)
    login(page, live_server, reviewer)

    page.goto(next_url(live_server, queue))
    page.wait_for_selector(".question.is-active")

    user_turn = page.locator(".turn.role-user .turn-text")
    assert user_turn.inner_text() == "<script>window.pwned=1</script>"
    assert page.evaluate("window.pwned") is None


def test_an_open_page_renews_its_lease_and_says_when_it_is_lost(page, live_server):
    reviewer, queue = labeling_setup(conversation_payload("conv-1"))
    page.clock.install()
    login(page, live_server, reviewer)
    page.goto(next_url(live_server, queue))
    page.wait_for_selector(".question.is-active")
    soon = timezone.now() + datetime.timedelta(minutes=3)
    Claim.objects.update(expires_at=soon)
    page.keyboard.press("4")

    with page.expect_response(lambda response: response.url.endswith("/renew/")) as renewed:
        page.clock.run_for("05:01")

    assert renewed.value.status == 204
    assert Claim.objects.get().expires_at > soon + datetime.timedelta(minutes=20)
    Claim.objects.update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    with page.expect_response(lambda response: response.url.endswith("/renew/")) as lost:
        page.clock.run_for("05:01")
    assert lost.value.status == 409
    page.get_by_text("Your lease on this item has expired.").wait_for()


def test_typing_at_a_text_question_writes_into_it_and_never_skips(page, live_server):
    reviewer, queue = labeling_setup(conversation_payload("conv-1"))
    login(page, live_server, reviewer)
    page.goto(next_url(live_server, queue))
    page.wait_for_selector(".question.is-active")
    for key in ("2", "2", "2", "Enter"):
        page.keyboard.press(key)
    # The corrected answer's question is active, its box not yet focused.
    assert page.evaluate("() => document.activeElement.tagName") != "TEXTAREA"

    page.keyboard.type("see the docs")
    page.keyboard.press("Control+Enter")

    page.get_by_text("Nothing left for you in this queue").wait_for()
    annotation = Annotation.objects.get()
    assert annotation.corrected_answer.endswith("see the docs")
    assert not Skip.objects.exists()


def test_skipping_after_labeling_asks_first(page, live_server):
    reviewer, queue = labeling_setup(conversation_payload("conv-1"))
    login(page, live_server, reviewer)
    page.goto(next_url(live_server, queue))
    page.wait_for_selector(".question.is-active")

    page.keyboard.press("4")
    page.keyboard.press("s")

    page.wait_for_timeout(500)
    assert page.dialogs == ["Skip this item and lose the labels you entered?"]
    assert not Skip.objects.exists()
    assert Claim.objects.filter(reviewer=reviewer).exists()


def test_switching_language_keeps_the_browsers_filters(page, live_server):
    reviewer, _queue = labeling_setup(conversation_payload("conv-1"))
    login(page, live_server, reviewer)
    page.goto(f"{live_server.url}/p/devot/conversations/")

    page.select_option("select[name=rating]", "down")
    page.locator("form.filter-form button[type=submit]").click()
    page.wait_for_function("() => location.search.includes('rating=down')")
    page.select_option("#language-select", "ko")

    page.wait_for_selector("html[lang='ko']")
    assert "rating=down" in page.url
    assert page.locator("select[name=rating]").input_value() == "down"
