import time

import pytest
from django.conf import settings as django_settings
from django.test import Client

from annotations.models import Feedback, Membership
from annotations.payloads import ConversationIn
from annotations.services.ingest import conversation_ingest
from annotations.services.projects import project_create
from tests.conftest import conversation_payload
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed-tokens"])
def test_demo_chat_page_votes_reach_the_project(page, live_server, signed):
    user = UserFactory()
    project, _, _ = project_create(slug="demo", name="Demo", created_by=user)
    project.allowed_origins = [live_server.url]
    project.require_signed_feedback = signed
    project.save()
    conversation_ingest(
        project=project, conversation=ConversationIn.model_validate(conversation_payload())
    )
    assert Membership.objects.filter(user=user, project=project).exists()
    login(page, live_server, user)

    page.goto(f"{live_server.url}/demo/chat/")
    page.get_by_role("button", name="Bad answer").click()
    page.get_by_role("button", name="Outdated").click()
    page.get_by_role("button", name="Send").click()

    deadline = time.monotonic() + 15
    while (
        time.monotonic() < deadline and not Feedback.objects.filter(reasons=["outdated"]).exists()
    ):
        time.sleep(0.1)
    feedback = Feedback.objects.get()
    assert (feedback.end_user, feedback.rating, feedback.reasons) == (
        f"demo:{user.username}",
        "down",
        ["outdated"],
    )
