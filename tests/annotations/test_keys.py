import hashlib
import hmac

import pytest

from annotations.keys import feedback_token, feedback_token_valid, key_hash
from annotations.models import ProjectKey
from annotations.selectors import project_key_resolve
from annotations.services.projects import project_create, project_key_create, project_key_revoke

pytestmark = pytest.mark.django_db


def test_project_create_returns_keys_that_are_stored_hashed_only():
    project, secret_key, public_key = project_create(slug="devot", name="Devot")

    assert secret_key.startswith("sk_") and len(secret_key) > 40
    assert public_key.startswith("pk_")
    stored = ProjectKey.objects.get(project=project, kind="secret")
    assert stored.key_hash == hashlib.sha256(secret_key.encode()).hexdigest()
    every_value = [str(v) for row in ProjectKey.objects.values() for v in row.values()]
    assert secret_key not in every_value
    assert stored.display == secret_key[:10] + "…"


def test_resolve_finds_active_key_and_refuses_revoked():
    project, secret_key, _ = project_create(slug="devot", name="Devot")
    key = project_key_resolve(raw_key=secret_key)
    assert key is not None and key.project == project

    project_key_revoke(key=key)

    assert project_key_resolve(raw_key=secret_key) is None


def test_several_secret_keys_per_project_work_independently():
    project, first, _ = project_create(slug="devot", name="Devot")
    _, second = project_key_create(project=project, kind=ProjectKey.Kind.SECRET, name="ci")

    project_key_revoke(key=project_key_resolve(raw_key=first))

    assert project_key_resolve(raw_key=first) is None
    assert project_key_resolve(raw_key=second).project == project


def test_invalid_slug_is_refused():
    from annotations.errors import InvalidInput

    with pytest.raises(InvalidInput):
        project_create(slug="Not A Slug", name="x")


def test_feedback_token_is_hmac_sha256_of_ids():
    expected = hmac.new(b"s3cret", b"conv-1:m2:u-42", hashlib.sha256).hexdigest()

    token = feedback_token(secret="s3cret", conversation_id="conv-1", message_id="m2", user="u-42")

    assert token == expected
    assert feedback_token_valid(
        secret="s3cret", token=token, conversation_id="conv-1", message_id="m2", user="u-42"
    )
    assert not feedback_token_valid(
        secret="s3cret", token=token, conversation_id="conv-1", message_id="m3", user="u-42"
    )


def test_key_hash_is_stable():
    assert key_hash("sk_x") == hashlib.sha256(b"sk_x").hexdigest()
