"""The embeddable widget in a real Chromium, against the live app and its database."""

import json
import time

import pytest

from annotations.models import Feedback, Message
from annotations.payloads import ConversationIn
from annotations.services.ingest import conversation_ingest
from tests.conftest import conversation_payload
from tests.factories import ProjectFactory, ProjectKeyFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PUBLIC_KEY = "pk_" + "w" * 43


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def host_page(live_server_url: str, body: str, lang: str = "en") -> str:
    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<style>button {{ all: unset; display: none !important; }}</style></head><body>
{body}
<script src="{live_server_url}/static/annotations/feedback-widget.js"
        data-project-key="{PUBLIC_KEY}" data-api-origin="{live_server_url}"></script>
</body></html>"""


ANSWER = (
    '<div class="answer" data-feedback-conversation="conv-123" '
    'data-feedback-message="m2" data-feedback-user="u-42">브로커 URL을 확인하세요.</div>'
)


@pytest.fixture
def site(live_server, host_pages):
    """A project whose widget may run on one host origin, and a second, unlisted origin."""
    allowed = host_pages()
    unlisted = host_pages()
    project = ProjectFactory(slug="widget-demo", allowed_origins=[allowed.origin])
    ProjectKeyFactory(project=project, kind="public", raw_key=PUBLIC_KEY)
    conversation_ingest(
        project=project, conversation=ConversationIn.model_validate(conversation_payload())
    )
    return {"project": project, "allowed": allowed, "unlisted": unlisted, "url": live_server.url}


def widget_button(page, name: str):
    return page.get_by_role("button", name=name)


def test_vote_up_then_down_with_reason_and_comment_leaves_one_row(page, site):
    url = site["allowed"].add("/chat", host_page(site["url"], ANSWER))
    page.goto(url)

    widget_button(page, "Good answer").click()
    wait_for(lambda: Feedback.objects.filter(rating="up").exists())
    widget_button(page, "Bad answer").click()
    page.get_by_role("button", name="Incorrect").click()
    page.get_by_role("textbox").fill("Celery 5에서는 이 옵션이 없어졌어요")
    page.get_by_role("button", name="Send").click()

    wait_for(lambda: Feedback.objects.filter(comment__startswith="Celery 5").exists())
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.reasons, feedback.source) == ("down", ["incorrect"], "widget")
    assert feedback.comment == "Celery 5에서는 이 옵션이 없어졌어요"
    assert widget_button(page, "Bad answer").get_attribute("aria-pressed") == "true"
    assert widget_button(page, "Good answer").get_attribute("aria-pressed") == "false"


def test_clicking_the_pressed_thumb_withdraws_the_vote(page, site):
    page.goto(site["allowed"].add("/chat", host_page(site["url"], ANSWER)))

    widget_button(page, "Good answer").click()
    wait_for(lambda: Feedback.objects.exists())
    widget_button(page, "Good answer").click()

    wait_for(lambda: not Feedback.objects.exists())
    assert widget_button(page, "Good answer").get_attribute("aria-pressed") == "false"


def test_answers_inserted_after_load_get_a_widget(page, site):
    page.goto(site["allowed"].add("/chat", host_page(site["url"], "<main id='chat'></main>")))

    page.evaluate(
        """() => {
        const answer = document.createElement('div');
        answer.dataset.feedbackConversation = 'conv-123';
        answer.dataset.feedbackMessage = 'm2';
        answer.dataset.feedbackUser = 'late-user';
        answer.textContent = 'streamed answer';
        document.getElementById('chat').appendChild(answer);
    }"""
    )
    widget_button(page, "Good answer").click()

    wait_for(lambda: Feedback.objects.filter(end_user="late-user", rating="up").exists())


def test_unlisted_origin_is_refused(page, site):
    page.goto(site["unlisted"].add("/chat", host_page(site["url"], ANSWER)))
    page.evaluate(
        "() => { window.errors = []; document.addEventListener('feedback:error', e => window.errors.push(e.detail)); }"
    )

    widget_button(page, "Good answer").click()

    page.wait_for_function("() => window.errors.length > 0")
    assert Feedback.objects.count() == 0


def test_offline_vote_arrives_once_when_back_online(page, site):
    page.goto(site["allowed"].add("/chat", host_page(site["url"], ANSWER)))
    page.context.set_offline(True)

    widget_button(page, "Bad answer").click()
    page.wait_for_timeout(500)
    assert Feedback.objects.count() == 0
    page.context.set_offline(False)

    wait_for(lambda: Feedback.objects.filter(rating="down").exists())
    page.wait_for_timeout(3000)
    assert Feedback.objects.count() == 1
    queue = page.evaluate(f"() => localStorage.getItem('feedback-widget:queue:{PUBLIC_KEY}')")
    assert json.loads(queue or "[]") == []


def test_vote_queued_before_a_reload_is_sent_after_it(page, site):
    url = site["allowed"].add("/chat", host_page(site["url"], ANSWER))
    page.goto(url)
    page.route("**/api/v1/widget/feedback/", lambda route: route.fulfill(status=503, body="{}"))

    widget_button(page, "Good answer").click()
    page.wait_for_function(
        f"() => (JSON.parse(localStorage.getItem('feedback-widget:queue:{PUBLIC_KEY}') || '[]')).length === 1"
    )
    assert Feedback.objects.count() == 0
    page.unroute("**/api/v1/widget/feedback/")
    page.reload()

    wait_for(lambda: Feedback.objects.filter(rating="up").exists())
    assert Feedback.objects.count() == 1


def queued(page):
    return page.evaluate(
        f"() => JSON.parse(localStorage.getItem('feedback-widget:queue:{PUBLIC_KEY}') || '[]')"
    )


def seed_queue(page, items):
    page.evaluate(
        "([key, items]) => localStorage.setItem(key, JSON.stringify(items))",
        [f"feedback-widget:queue:{PUBLIC_KEY}", items],
    )


def queued_vote(user, rating, age_days=0.0):
    body = {"conversation": "conv-123", "message": "m2", "user": user, "rating": rating}
    at = int((time.time() - age_days * 86400) * 1000)
    return {"id": user, "method": "POST", "body": body, "attempts": 3, "nextAt": 0, "at": at}


def test_a_queued_vote_older_than_a_week_is_dropped_not_sent(page, site):
    url = site["allowed"].add("/chat", host_page(site["url"], "<p>no answers here</p>"))
    page.goto(url)
    seed_queue(page, [queued_vote("u-old", "down", age_days=8), queued_vote("u-new", "up", 1)])

    page.reload()

    wait_for(lambda: Feedback.objects.filter(end_user="u-new").exists())
    page.wait_for_timeout(1500)
    assert list(Feedback.objects.values_list("end_user", flat=True)) == ["u-new"]
    assert queued(page) == []


def test_the_queue_keeps_the_latest_fifty_votes(page, site):
    page.goto(site["allowed"].add("/chat", host_page(site["url"], ANSWER)))
    page.context.set_offline(True)
    seed_queue(page, [queued_vote(f"s-{i}", "up") for i in range(60)])

    widget_button(page, "Bad answer").click()

    queue = queued(page)
    assert len(queue) == 50
    assert queue[-1]["body"]["user"] == "u-42"
    assert [item["body"]["user"] for item in queue[:2]] == ["s-11", "s-12"]


def test_html_in_a_comment_is_stored_as_text_and_never_runs(page, site):
    hostile = "<img src=x onerror=alert(1)>"
    page.goto(site["allowed"].add("/chat", host_page(site["url"], ANSWER)))

    widget_button(page, "Bad answer").click()
    page.get_by_role("textbox").fill(hostile)
    page.get_by_role("button", name="Send").click()
    wait_for(lambda: Feedback.objects.filter(comment=hostile).exists())

    # The conversation as the API returns it and the admin page both show it as text.
    message = Message.objects.get(external_id="m2")
    assert message.feedback.get().comment == hostile
    assert page.dialogs == []


def test_korean_page_gets_korean_labels(page, site):
    page.goto(site["allowed"].add("/chat-ko", host_page(site["url"], ANSWER, lang="ko")))

    widget_button(page, "아쉬운 답변").click()

    page.get_by_role("button", name="틀린 정보").click()
    wait_for(lambda: Feedback.objects.filter(rating="down").exists())


def test_keyboard_alone_can_vote(page, site):
    page.goto(site["allowed"].add("/chat", host_page(site["url"], ANSWER)))

    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    wait_for(lambda: Feedback.objects.filter(rating="up").exists())


def test_a_vote_on_an_answer_not_logged_yet_is_retried_until_it_is(page, site):
    late = (
        '<div data-feedback-conversation="conv-late" data-feedback-message="m2" '
        'data-feedback-user="u-7">an answer the chatbot logs after showing it</div>'
    )
    page.goto(site["allowed"].add("/chat", host_page(site["url"], late)))
    page.evaluate(
        "() => { window.errors = []; document.addEventListener('feedback:error', e => window.errors.push(e.detail)); }"
    )

    widget_button(page, "Good answer").click()
    page.wait_for_function("() => window.errors.length > 0")
    assert page.evaluate("() => [window.errors[0].status, window.errors[0].willRetry]") == [
        404,
        True,
    ]
    conversation_ingest(
        project=site["project"],
        conversation=ConversationIn.model_validate(conversation_payload("conv-late")),
    )

    wait_for(lambda: Feedback.objects.filter(end_user="u-7", rating="up").exists())
    # Sent once, then taken off the queue when the answer arrives.
    page.wait_for_function(f"() => !localStorage.getItem('feedback-widget:queue:{PUBLIC_KEY}')")
    assert Feedback.objects.count() == 1


def test_a_token_and_user_given_after_the_widget_attached_are_used(page, site):
    from annotations.keys import feedback_token

    project = site["project"]
    project.require_signed_feedback = True
    project.save()
    token = feedback_token(
        secret=project.feedback_signing_secret,
        conversation_id="conv-123",
        message_id="m2",
        user="signed-user",
    )
    page.goto(site["allowed"].add("/chat", host_page(site["url"], "<main id='chat'></main>")))
    # As a framework does: the element is rendered (and picked up), then attach()
    # runs with what the chatbot backend signed.
    page.evaluate(
        """([token]) => new Promise((done) => {
        const answer = document.createElement('div');
        answer.dataset.feedbackConversation = 'conv-123';
        answer.dataset.feedbackMessage = 'm2';
        document.getElementById('chat').appendChild(answer);
        setTimeout(() => {
            FeedbackWidget.attach(answer, {conversationId: 'conv-123', messageId: 'm2', user: 'signed-user', token});
            done();
        }, 50);
    })""",
        [token],
    )

    widget_button(page, "Good answer").click()

    wait_for(lambda: Feedback.objects.filter(end_user="signed-user", rating="up").exists())


def test_tabs_sharing_the_queue_send_a_queued_vote_once(page, site):
    url = site["allowed"].add("/chat", host_page(site["url"], "<p>no answers here</p>"))
    page.goto(url)
    second = page.context.new_page()
    second.goto(url)
    # Each vote the server accepted, by voter: a tab that drained what the other tab
    # had already sent would show as a second acceptance. (A send that failed on the
    # way, as a connection the test server drops under load, may be retried: that is
    # the queue doing its job, not a double send.)
    accepted = []
    for tab in (page, second):
        tab.on(
            "response",
            lambda response: (
                accepted.append(response.request.post_data_json["user"])
                if response.request.method == "POST"
                and "/widget/feedback/" in response.url
                and response.ok
                else None
            ),
        )
    seed_queue(page, [queued_vote(f"q-{i}", "up") for i in range(5)])

    # Both tabs drain the shared queue at once.
    for tab in (page, second):
        tab.evaluate("() => { FeedbackWidget.flush(); }")

    wait_for(lambda: Feedback.objects.count() == 5)
    page.wait_for_timeout(1500)
    assert sorted(accepted) == [f"q-{i}" for i in range(5)]
    assert queued(page) == []


def test_an_accepted_vote_is_shown_after_a_reload_and_a_withdrawal_too(page, site):
    url = site["allowed"].add("/chat", host_page(site["url"], ANSWER))
    other = ANSWER.replace('data-feedback-user="u-42"', 'data-feedback-user="u-43"')
    other_url = site["allowed"].add("/chat2", host_page(site["url"], other))
    page.goto(url)

    widget_button(page, "Bad answer").click()
    wait_for(lambda: Feedback.objects.filter(rating="down").exists())
    page.wait_for_function(f"() => !localStorage.getItem('feedback-widget:queue:{PUBLIC_KEY}')")
    page.reload()
    assert widget_button(page, "Bad answer").get_attribute("aria-pressed") == "true"
    # Another user of the same browser on the same answer has no vote yet.
    page.goto(other_url)
    assert widget_button(page, "Bad answer").get_attribute("aria-pressed") == "false"

    page.goto(url)
    widget_button(page, "Bad answer").click()
    wait_for(lambda: not Feedback.objects.exists())
    page.reload()

    assert widget_button(page, "Bad answer").get_attribute("aria-pressed") == "false"
