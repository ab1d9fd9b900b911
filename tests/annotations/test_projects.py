import pytest

from annotations.errors import InvalidInput
from annotations.models import Membership, Project
from annotations.services.projects import (
    membership_remove,
    membership_set,
    origin_normalize,
    project_create,
    project_signing_secret_rotate,
    project_widget_settings_update,
)
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead():
    return UserFactory(username="lead")


@pytest.fixture
def project(lead):
    return project_create(slug="devot", name="Devot", created_by=lead)[0]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("https://Chat.Example.com/", "https://chat.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
        (" https://a.b ", "https://a.b"),
        ("https://chat.example.com:443", "https://chat.example.com"),
        ("http://chat.example.com:80/", "http://chat.example.com"),
        ("https://chat.example.com:8443", "https://chat.example.com:8443"),
        ("http://chat.example.com:443", "http://chat.example.com:443"),
        ("https://한국.kr", "https://xn--3e0b707e.kr"),
        ("https://개발자.커뮤니티.한국", "https://xn--h49al71alti.xn--9i1b01onwqqzd.xn--3e0b707e"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("http://[0:0:0:0:0:0:0:1]:8000", "http://[::1]:8000"),
        ("https://faß.de", "https://xn--fa-hia.de"),
        ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
    ],
)
def test_origins_are_normalized(raw, clean):
    assert origin_normalize(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "chat.example.com",
        "ftp://a.b",
        "https://a.b/path",
        "https://a.b/?q=1",
        "https://u@a.b",
        "https://u:p@a.b",
        "https://a.b:99999",
        "https://a.b:port",
        "https://" + "가" * 70 + ".kr",
    ],
)
def test_non_origins_are_refused(raw):
    with pytest.raises(InvalidInput):
        origin_normalize(raw)


def test_widget_settings_update(project):
    project_widget_settings_update(
        project=project,
        allowed_origins=["https://Chat.example.com", "https://chat.example.com/"],
        feedback_reasons=[{"slug": "slow", "label": {"en": "Slow", "ko": "느림"}}],
        require_signed_feedback=True,
    )

    project.refresh_from_db()
    assert project.allowed_origins == ["https://chat.example.com"]
    assert project.require_signed_feedback is True
    assert project.feedback_signing_secret.startswith("fs_")


def test_signing_secret_rotation_changes_it(project):
    before = project.feedback_signing_secret

    after = project_signing_secret_rotate(project=project)

    assert after != before
    project.refresh_from_db()
    assert project.feedback_signing_secret == after


def test_the_last_admin_can_be_neither_demoted_nor_removed(project, lead):
    with pytest.raises(InvalidInput):
        membership_set(project=project, user=lead, role="reviewer")
    with pytest.raises(InvalidInput):
        membership_remove(project=project, user=lead)

    assert Membership.objects.get(user=lead).role == "admin"


def test_an_admin_can_step_down_once_another_admin_exists(project, lead):
    other = UserFactory(username="other")
    membership_set(project=project, user=other, role="admin")

    membership_set(project=project, user=lead, role="viewer")

    assert Membership.objects.get(user=lead).role == "viewer"


def test_unknown_role_is_refused(project):
    with pytest.raises(InvalidInput):
        membership_set(project=project, user=UserFactory(), role="owner")


def test_origins_saved_before_are_rewritten_as_browsers_send_them():
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "annotations.migrations.0010_allowed_origins_as_browsers_send_them"
    )
    kept = ProjectFactory()
    old = ProjectFactory()
    Project.objects.filter(pk=kept.pk).update(allowed_origins=["https://a.b"])
    Project.objects.filter(pk=old.pk).update(
        allowed_origins=["https://a.b:443", "https://a.b", "https://한국.kr", "not an origin"]
    )

    migration.normalize(apps, None)

    old.refresh_from_db()
    kept.refresh_from_db()
    assert old.allowed_origins == ["https://a.b", "https://xn--3e0b707e.kr", "not an origin"]
    assert kept.allowed_origins == ["https://a.b"]
