import json
import re
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from annotations.keys import key_hash
from annotations.models import Membership, Project, ProjectKey, Rubric
from annotations.rubrics import default_rag_questions
from annotations.services.projects import membership_set, project_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SECRET_PATTERN = re.compile(r"sk_[A-Za-z0-9_-]{43}")


@pytest.fixture
def lead() -> AbstractBaseUser:
    return UserFactory(username="lead")


@pytest.fixture
def created(lead: AbstractBaseUser) -> tuple[Project, str, str]:
    return project_create(slug="devot", name="Devot", created_by=lead)


@pytest.fixture
def devot(created: tuple[Project, str, str]) -> Project:
    return created[0]


@pytest.fixture
def admin_client(client: Client, lead: AbstractBaseUser, devot: Project) -> Client:
    client.force_login(lead)
    return client


def settings_url() -> str:
    return reverse("project-settings", kwargs={"slug": "devot"})


def post(client: Client, action: str, **data: Any) -> Any:
    if action == "key_create":
        # As the form does: each form shown carries its own nonce.
        data.setdefault("nonce", uuid.uuid4().hex)
    return client.post(settings_url(), {"action": action, **data})


def member(project: Project, username: str, role: str) -> AbstractBaseUser:
    user = UserFactory(username=username)
    membership_set(project=project, user=user, role=role)
    return user


def role_of(project: Project, user: AbstractBaseUser) -> str | None:
    return (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )


def active_version(project: Project) -> int:
    return Rubric.objects.get(project=project, is_active=True).version


# Access


def test_admin_sees_every_section(admin_client: Client) -> None:
    response = admin_client.get(settings_url())

    body = response.content.decode()
    assert response.status_code == 200
    for anchor in ('id="members"', 'id="keys"', 'id="widget"', 'id="signing"', 'id="rubric"'):
        assert anchor in body


@pytest.mark.parametrize("role", [Membership.Role.REVIEWER, Membership.Role.VIEWER])
def test_non_admin_member_gets_403(client: Client, devot: Project, role: str) -> None:
    client.force_login(member(devot, "minji", role))

    assert client.get(settings_url()).status_code == 403
    assert post(client, "key_create", kind="secret", name="x").status_code == 403
    assert ProjectKey.objects.filter(project=devot, name="x").count() == 0


def test_unknown_action_is_a_bad_request(admin_client: Client) -> None:
    assert post(admin_client, "drop_tables").status_code == 400


def test_post_without_csrf_token_is_refused(lead: AbstractBaseUser, devot: Project) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)

    response = post(client, "key_create", kind="secret", name="forged")

    assert response.status_code == 403
    assert ProjectKey.objects.filter(project=devot, name="forged").count() == 0


def test_post_with_csrf_token_is_accepted(lead: AbstractBaseUser, devot: Project) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    client.get(settings_url())
    token = client.cookies["csrftoken"].value

    response = post(client, "key_create", kind="secret", name="real", csrfmiddlewaretoken=token)

    assert response.status_code == 200
    assert ProjectKey.objects.filter(project=devot, name="real").count() == 1


# Members


def test_add_member_by_username(admin_client: Client, devot: Project) -> None:
    user = UserFactory(username="jisoo")

    response = post(admin_client, "member_add", username="jisoo", role="reviewer")

    assert response.status_code == 302
    assert role_of(devot, user) == "reviewer"


def test_add_unknown_username_shows_an_error(admin_client: Client, devot: Project) -> None:
    response = post(admin_client, "member_add", username="ghost", role="reviewer")

    assert response.status_code == 200
    assert "There is no user named “ghost”" in response.content.decode()
    assert Membership.objects.filter(project=devot).count() == 1


def test_adding_an_existing_member_changes_nothing(
    admin_client: Client, devot: Project, lead: AbstractBaseUser
) -> None:
    response = post(admin_client, "member_add", username="lead", role="viewer")

    assert "lead is already a member" in response.content.decode()
    assert role_of(devot, lead) == "admin"


def test_change_member_role(admin_client: Client, devot: Project) -> None:
    user = member(devot, "minji", Membership.Role.REVIEWER)

    response = post(admin_client, "member_role", user_id=user.pk, role="viewer")

    assert response.status_code == 302
    assert role_of(devot, user) == "viewer"


def test_role_change_success_message_is_shown(admin_client: Client, devot: Project) -> None:
    user = member(devot, "minji", Membership.Role.REVIEWER)

    response = post(admin_client, "member_role", user_id=user.pk, role="admin")

    page = admin_client.get(response["Location"])
    assert "minji is now Admin in this project." in page.content.decode()


def test_last_admin_cannot_be_removed(
    admin_client: Client, devot: Project, lead: AbstractBaseUser
) -> None:
    response = post(admin_client, "member_remove", user_id=lead.pk)

    assert response.status_code == 200
    assert "A project keeps at least one admin." in response.content.decode()
    assert role_of(devot, lead) == "admin"


def test_last_admin_cannot_be_demoted(
    admin_client: Client, devot: Project, lead: AbstractBaseUser
) -> None:
    response = post(admin_client, "member_role", user_id=lead.pk, role="reviewer")

    assert "A project keeps at least one admin." in response.content.decode()
    assert role_of(devot, lead) == "admin"


def test_admin_can_be_removed_when_another_remains(admin_client: Client, devot: Project) -> None:
    other = member(devot, "second", Membership.Role.ADMIN)

    response = post(admin_client, "member_remove", user_id=other.pk)

    assert response.status_code == 302
    assert role_of(devot, other) is None


def test_admin_who_demotes_themselves_lands_on_the_browser(
    admin_client: Client, devot: Project, lead: AbstractBaseUser
) -> None:
    member(devot, "second", Membership.Role.ADMIN)

    response = post(admin_client, "member_role", user_id=lead.pk, role="reviewer")

    assert response["Location"] == reverse("conversation-list", kwargs={"slug": "devot"})
    assert role_of(devot, lead) == "reviewer"


def test_member_of_another_project_cannot_be_changed(
    admin_client: Client, lead: AbstractBaseUser
) -> None:
    other, _, _ = project_create(slug="other", name="Other", created_by=UserFactory())
    outsider = member(other, "outsider", Membership.Role.REVIEWER)

    response = post(admin_client, "member_role", user_id=outsider.pk, role="admin")

    assert response.status_code == 404
    assert role_of(other, outsider) == "reviewer"


# Keys


def test_secret_keys_are_listed_by_prefix_only(
    admin_client: Client, created: tuple[Project, str, str]
) -> None:
    _, secret_key, _ = created

    body = admin_client.get(settings_url()).content.decode()

    assert secret_key not in body
    assert secret_key[:10] + "…" in body


def test_public_key_is_shown_with_the_embed_snippet(
    admin_client: Client, created: tuple[Project, str, str]
) -> None:
    _, _, public_key = created

    body = admin_client.get(settings_url()).content.decode()

    assert (
        "&lt;script src=&quot;http://testserver/static/annotations/feedback-widget.js&quot; "
        f"data-project-key=&quot;{public_key}&quot; "
        "data-api-origin=&quot;http://testserver&quot; defer&gt;&lt;/script&gt;"
    ) in body


def test_created_secret_is_shown_once(admin_client: Client, devot: Project) -> None:
    response = post(admin_client, "key_create", kind="secret", name="ci")
    [raw_key] = SECRET_PATTERN.findall(response.content.decode())

    second = admin_client.get(settings_url()).content.decode()

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert raw_key not in second


def test_resending_the_create_form_makes_no_second_key(
    admin_client: Client, devot: Project
) -> None:
    form = admin_client.get(settings_url()).content.decode()
    nonce = re.search(r'name="nonce" value="([^"]+)"', form).group(1)

    first = post(admin_client, "key_create", kind="secret", name="prod", nonce=nonce)
    reloaded = post(admin_client, "key_create", kind="secret", name="prod", nonce=nonce)

    assert SECRET_PATTERN.findall(first.content.decode())
    assert not SECRET_PATTERN.findall(reloaded.content.decode())
    assert "Reloading the page does not create another key." in reloaded.content.decode()
    assert ProjectKey.objects.filter(project=devot, name="prod").count() == 1


def test_created_secret_is_stored_only_as_its_hash(admin_client: Client, devot: Project) -> None:
    response = post(admin_client, "key_create", kind="secret", name="ci")
    [raw_key] = SECRET_PATTERN.findall(response.content.decode())

    key = ProjectKey.objects.get(project=devot, name="ci")
    assert key.key_hash == key_hash(raw_key)
    assert key.display == raw_key[:10] + "…"
    assert raw_key not in json.dumps(list(ProjectKey.objects.values()), default=str)
    # Nor in the session store, which keeps its data in clear in the database.
    assert raw_key not in json.dumps(
        [session.get_decoded() for session in Session.objects.all()], default=str
    )


def test_revoke_asks_for_confirmation_first(admin_client: Client, devot: Project) -> None:
    key = ProjectKey.objects.get(project=devot, kind="secret")

    response = admin_client.get(settings_url(), {"revoke": key.pk})

    assert "Revoke this key?" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None


def test_revoke_key(admin_client: Client, devot: Project) -> None:
    key = ProjectKey.objects.get(project=devot, kind="secret")

    response = post(admin_client, "key_revoke", key_id=key.pk)

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_key_of_another_project_cannot_be_revoked(admin_client: Client) -> None:
    other, _, _ = project_create(slug="other", name="Other", created_by=UserFactory())
    key = ProjectKey.objects.get(project=other, kind="secret")

    response = post(admin_client, "key_revoke", key_id=key.pk)

    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


# Widget


def test_widget_settings_update(admin_client: Client, devot: Project) -> None:
    response = post(
        admin_client,
        "widget_update",
        allowed_origins="https://Chat.Example.com/\n\nhttp://localhost:3000\n",
        feedback_reasons="wrong | Wrong answer | 틀린 답변\nslow | Too slow",
        require_signed_feedback="on",
    )

    assert response.status_code == 302
    devot.refresh_from_db()
    assert devot.allowed_origins == ["https://chat.example.com", "http://localhost:3000"]
    assert devot.feedback_reasons == [
        {"slug": "wrong", "label": {"en": "Wrong answer", "ko": "틀린 답변"}},
        {"slug": "slow", "label": {"en": "Too slow", "ko": ""}},
    ]
    assert devot.require_signed_feedback is True


def test_invalid_origin_shows_an_error_and_saves_nothing(
    admin_client: Client, devot: Project
) -> None:
    response = post(
        admin_client,
        "widget_update",
        allowed_origins="https://chat.example.com\nftp://files.example.com",
        feedback_reasons="",
    )

    assert response.status_code == 200
    assert "“ftp://files.example.com” is not an origin" in response.content.decode()
    devot.refresh_from_db()
    assert devot.allowed_origins == []


def test_malformed_reason_line_shows_an_error(admin_client: Client, devot: Project) -> None:
    response = post(
        admin_client, "widget_update", allowed_origins="", feedback_reasons="Bad Slug | Label"
    )

    assert "Line 1: the slug may hold only lowercase letters" in response.content.decode()
    devot.refresh_from_db()
    assert devot.feedback_reasons == []


def test_rotate_signing_secret(admin_client: Client, devot: Project) -> None:
    old_secret = devot.feedback_signing_secret

    response = post(admin_client, "signing_secret_rotate")

    assert response.status_code == 302
    devot.refresh_from_db()
    assert devot.feedback_signing_secret not in ("", old_secret)


# Rubric


def test_rubric_editor_starts_from_the_active_questions(admin_client: Client) -> None:
    response = admin_client.get(settings_url())

    assert json.loads(response.context["rubric"]["questions_text"]) == default_rag_questions()


def test_publish_rubric_creates_version_2(admin_client: Client, devot: Project) -> None:
    questions = default_rag_questions()[:2]

    response = post(admin_client, "rubric_publish", name="Shorter", questions=json.dumps(questions))

    assert response.status_code == 302
    active = Rubric.objects.get(project=devot, is_active=True)
    assert (active.version, active.name, active.questions) == (2, "Shorter", questions)
    assert Rubric.objects.filter(project=devot).count() == 2


def test_invalid_json_keeps_version_1(admin_client: Client, devot: Project) -> None:
    response = post(admin_client, "rubric_publish", name="Broken", questions='[{"key": ')

    assert response.status_code == 200
    assert "This is not valid JSON" in response.content.decode()
    assert active_version(devot) == 1
    assert Rubric.objects.filter(project=devot).count() == 1


def test_invalid_rubric_shows_field_errors_and_keeps_version_1(
    admin_client: Client, devot: Project
) -> None:
    questions = [{"key": "ok", "type": "single_choice", "label": {"en": "Pick"}, "options": []}]

    response = post(admin_client, "rubric_publish", name="Bad", questions=json.dumps(questions))

    body = response.content.decode()
    assert "<code>questions.0.options</code>" in body
    assert "[{&quot;key&quot;: &quot;ok&quot;" in body
    assert active_version(devot) == 1


def test_rubric_preview_saves_nothing(admin_client: Client, devot: Project) -> None:
    questions = [{"key": "tone", "type": "boolean", "label": {"en": "Polite", "ko": "공손함"}}]

    response = admin_client.post(
        settings_url(),
        {"action": "rubric_preview", "questions": json.dumps(questions)},
        headers={"HX-Request": "true"},
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="rubric-preview"')
    assert "공손함" in body
    assert "The draft is valid" in body
    assert Rubric.objects.filter(project=devot).count() == 1


def test_settings_page_escapes_member_and_key_names(admin_client: Client, devot: Project) -> None:
    member(devot, "<b>x</b>", Membership.Role.VIEWER)
    post(admin_client, "key_create", kind="public", name="<script>alert(1)</script>")

    body = admin_client.get(settings_url()).content.decode()

    assert "<script>alert(1)</script>" not in body
    assert "<b>x</b>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_nul_in_a_form_field_is_a_400_and_saves_nothing(
    admin_client: Client, devot: Project
) -> None:
    response = post(
        admin_client, "widget_update", allowed_origins="https://a.example\x00", feedback_reasons=""
    )

    assert response.status_code == 400
    devot.refresh_from_db()
    assert devot.allowed_origins == []


def test_nul_in_an_address_or_a_query_is_a_400(admin_client: Client, devot: Project) -> None:
    page = admin_client.get(f"/p/{devot.slug}/conversations/c%00/")
    query = admin_client.get(f"/p/{devot.slug}/conversations/?tags=%00")

    assert (page.status_code, query.status_code) == (400, 400)
