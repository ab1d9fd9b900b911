import json
import time
import uuid

import pytest
import redis
from django.test import Client

from annotations.keys import feedback_token
from annotations.models import Feedback
from tests.conftest import conversation_payload, redis_reachable, redis_url, require
from tests.factories import ProjectFactory, ProjectKeyFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/widget/feedback/"
ORIGIN = "https://chat.example.com"
PUBLIC_KEY = "pk_" + "p" * 43


@pytest.fixture
def widget_project(project, api):
    project.allowed_origins = [ORIGIN]
    project.feedback_signing_secret = "fs_signing"
    project.save()
    ProjectKeyFactory(project=project, kind="public", raw_key=PUBLIC_KEY)
    assert api.post("/api/v1/conversations/", conversation_payload()).status_code == 201
    return project


def send(
    method: str = "post",
    body: dict | None = None,
    *,
    origin: str | None = ORIGIN,
    key: str | None = PUBLIC_KEY,
    raw: bytes | None = None,
    path: str = URL,
):
    headers = {}
    if origin is not None:
        headers["Origin"] = origin
    if key is not None:
        headers["X-Project-Key"] = key
    data = raw if raw is not None else json.dumps(body or {}, ensure_ascii=False).encode()
    return getattr(Client(), method)(
        path, data=data, content_type="application/json", headers=headers
    )


def clear_of_window_edge(window_seconds: int = 60) -> None:
    """Rate limits count in fixed windows: keep a test's few requests inside one."""
    remaining = window_seconds - time.time() % window_seconds
    if remaining < 2:
        time.sleep(remaining + 0.05)


def vote(**overrides: object) -> dict:
    body = {"conversation": "conv-123", "message": "m2", "user": "u-42", "rating": "up"}
    body.update(overrides)
    return body


def test_vote_from_allowed_origin_is_recorded_with_cors_headers(widget_project):
    response = send(body=vote(rating="down", reasons=["incorrect"], comment="틀렸어요"))

    assert response.status_code == 201
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Credentials" not in response.headers
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.reasons, feedback.comment, feedback.source) == (
        "down",
        ["incorrect"],
        "틀렸어요",
        "widget",
    )


def test_changed_vote_replaces_the_first(widget_project):
    send(body=vote())
    response = send(body=vote(rating="down", reasons=["outdated"]))

    assert response.status_code == 200
    assert list(Feedback.objects.values_list("rating", "reasons")) == [("down", ["outdated"])]


def test_withdraw_removes_the_vote_and_is_idempotent(widget_project):
    send(body=vote())
    body = {"conversation": "conv-123", "message": "m2", "user": "u-42"}

    first = send("delete", body)
    second = send("delete", body)

    assert (first.status_code, second.status_code) == (204, 204)
    assert Feedback.objects.count() == 0


def test_unlisted_origin_is_refused_without_cors_headers(widget_project):
    response = send(body=vote(), origin="https://evil.example")

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.json()["error"]["fields"] == {
        "origin": ["add it to the project's widget origins"]
    }
    assert Feedback.objects.count() == 0


def test_missing_origin_is_refused(widget_project):
    response = send(body=vote(), origin=None)

    assert response.status_code == 403
    assert Feedback.objects.count() == 0


def test_preflight_from_allowed_origin_allows_the_key_header(widget_project):
    response = Client().options(
        URL,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-project-key",
        },
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "x-project-key" in response.headers["Access-Control-Allow-Headers"]
    assert "DELETE" in response.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_preflight_from_unlisted_origin_gets_no_cors_headers(widget_project):
    response = Client().options(
        URL,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )

    assert "Access-Control-Allow-Origin" not in response.headers


def test_origin_allowed_for_another_project_is_refused_for_this_key(widget_project):
    other = ProjectFactory(slug="other", allowed_origins=["https://other.example"])
    assert other.pk

    response = send(body=vote(), origin="https://other.example")

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    ("key", "status"),
    [(None, 401), ("pk_unknown", 401), ("sk_" + "a" * 43, 401)],
    ids=["missing", "unknown", "secret-key"],
)
def test_widget_needs_a_public_key(widget_project, key, status):
    response = send(body=vote(), key=key)

    assert response.status_code == status
    assert Feedback.objects.count() == 0


def test_revoked_public_key_is_refused(widget_project):
    from annotations.models import ProjectKey
    from annotations.services.projects import project_key_revoke

    project_key_revoke(key=ProjectKey.objects.get(kind="public"))

    assert send(body=vote()).status_code == 401


def test_a_vote_with_a_known_key_costs_one_statement(widget_project, django_assert_num_queries):
    assert send(body=vote(user="first")).status_code == 201

    # With Redis, the key and its project come from the process's memory; with the
    # embedded cache of one process the key is read each time. The vote is one upsert
    # on PostgreSQL; SQLite finds the answer and the first vote in a savepoint.
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache
    from django.db import connection

    key_reads = 0 if isinstance(caches["default"], RedisCache) else 1
    vote_statements = 1 if connection.vendor == "postgresql" else 5
    with django_assert_num_queries(key_reads + vote_statements):
        assert send(body=vote(user="second")).status_code == 201


def test_revoking_a_remembered_key_refuses_it_at_once(
    widget_project, django_capture_on_commit_callbacks
):
    from annotations.models import ProjectKey
    from annotations.services.projects import project_key_revoke

    assert send(body=vote(user="before")).status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        project_key_revoke(key=ProjectKey.objects.get(kind="public"))

    assert send(body=vote(user="after")).status_code == 401
    assert not Feedback.objects.filter(end_user="after").exists()


def test_a_removed_origin_is_refused_at_once(widget_project, django_capture_on_commit_callbacks):
    assert send(body=vote(user="before")).status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        widget_project.allowed_origins = ["https://new.example.com"]
        widget_project.save()

    response = send(body=vote(user="after"))

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert send(body=vote(user="after"), origin="https://new.example.com").status_code == 201


def test_public_key_can_do_nothing_else(widget_project):
    bearer = {"Authorization": f"Bearer {PUBLIC_KEY}", "Origin": ORIGIN}
    client = Client()
    payload = json.dumps(conversation_payload("x"))

    assert (
        client.post(
            "/api/v1/conversations/", payload, content_type="application/json", headers=bearer
        ).status_code
        == 403
    )
    assert client.get("/api/v1/conversations/conv-123/", headers=bearer).status_code == 403
    assert (
        client.post(
            "/api/v1/feedback/", json.dumps(vote()), content_type="application/json", headers=bearer
        ).status_code
        == 403
    )
    assert client.get("/api/v1/project/", headers=bearer).status_code == 403
    header_key = {"X-Project-Key": PUBLIC_KEY, "Origin": ORIGIN}
    assert client.get("/api/v1/conversations/conv-123/", headers=header_key).status_code == 401


def test_unknown_message_is_404(widget_project):
    response = send(body=vote(message="nope"))

    assert response.status_code == 404
    assert Feedback.objects.count() == 0


def test_other_projects_message_is_404(widget_project):
    stranger = ProjectFactory(slug="stranger", allowed_origins=[ORIGIN])
    ProjectKeyFactory(project=stranger, kind="public", raw_key="pk_stranger")

    response = send(body=vote(), key="pk_stranger")

    assert response.status_code == 404


class TestSignedTokens:
    @pytest.fixture(autouse=True)
    def require_tokens(self, widget_project):
        widget_project.require_signed_feedback = True
        widget_project.save()

    def token(self, message: str = "m2", user: str = "u-42") -> str:
        return feedback_token(
            secret="fs_signing", conversation_id="conv-123", message_id=message, user=user
        )

    def test_valid_token_is_accepted(self):
        assert send(body=vote(token=self.token())).status_code == 201

    @pytest.mark.parametrize(
        "token",
        [None, "", "deadbeef", "é" * 64, "토큰"],
        ids=["missing", "empty", "wrong", "non-ascii", "korean"],
    )
    def test_missing_or_wrong_token_is_403(self, token):
        body = vote() if token is None else vote(token=token)

        response = send(body=body)

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "invalid_token"
        assert Feedback.objects.count() == 0

    def test_token_for_another_user_or_message_is_403(self):
        assert send(body=vote(token=self.token(user="u-1"))).status_code == 403
        assert send(body=vote(token=self.token(message="m1"))).status_code == 403

    def test_withdraw_needs_the_token_too(self):
        send(body=vote(token=self.token()))
        body = {"conversation": "conv-123", "message": "m2", "user": "u-42"}

        assert send("delete", body).status_code == 403
        assert send("delete", {**body, "token": self.token()}).status_code == 204


def test_client_rate_limit_answers_429_with_retry_after(widget_project, settings):
    settings.WIDGET_RATE_PER_CLIENT = "3/min"
    clear_of_window_edge()

    statuses = [send(body=vote(user=f"u-{i}")).status_code for i in range(4)]

    assert statuses[:3] == [201, 201, 201]
    assert statuses[3] == 429
    response = send(body=vote(user="u-9"))
    assert response.json()["error"]["code"] == "rate_limited"
    assert 0 < int(response.headers["Retry-After"]) <= 61
    # The page's script must be able to read the answer and its Retry-After.
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
    unlisted = send(body=vote(user="u-9"), origin="https://elsewhere.example")
    assert unlisted.status_code == 429
    assert "Access-Control-Allow-Origin" not in unlisted.headers
    assert Feedback.objects.count() == 3


def test_key_rate_limit_applies_across_clients(widget_project, settings):
    settings.WIDGET_RATE_PER_KEY = "2/min"
    clear_of_window_edge()
    client = Client()
    headers = {"Origin": ORIGIN, "X-Project-Key": PUBLIC_KEY}
    statuses = [
        client.post(
            URL,
            json.dumps(vote(user=f"u-{i}")),
            content_type="application/json",
            headers=headers,
            REMOTE_ADDR=f"10.0.0.{i}",
        ).status_code
        for i in range(3)
    ]

    assert statuses == [201, 201, 429]


def test_reading_the_configuration_does_not_spend_the_keys_vote_budget(widget_project, settings):
    settings.WIDGET_RATE_PER_KEY = "2/min"
    clear_of_window_edge()

    configs = [send("get", path="/api/v1/widget/config/", raw=b"").status_code for _ in range(3)]

    assert configs == [200, 200, 200]
    assert [send(body=vote(user=f"u-{i}")).status_code for i in range(3)] == [201, 201, 429]


def test_body_over_widget_limit_is_413(widget_project, settings):
    settings.WIDGET_MAX_BODY_BYTES = 500

    response = send(body=vote(comment="가" * 400))

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"comment": "x" * 10_001}, "comment"),
        ({"rating": "sideways"}, "rating"),
        ({"user": ""}, "user"),
    ],
)
def test_invalid_vote_is_400(widget_project, overrides, field):
    response = send(body=vote(**overrides))

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_html_comment_is_stored_as_plain_text(widget_project):
    comment = "<img src=x onerror=alert(1)>"

    send(body=vote(rating="down", comment=comment))

    assert Feedback.objects.get().comment == comment


def test_config_lists_default_reasons_in_both_languages(widget_project):
    response = send("get", path="/api/v1/widget/config/", raw=b"")

    body = response.json()
    assert response.status_code == 200
    assert [r["slug"] for r in body["reasons"]] == [
        "incorrect",
        "not_helpful",
        "outdated",
        "not_grounded",
        "harmful",
    ]
    assert body["reasons"][0]["label"] == {"en": "Incorrect", "ko": "틀린 정보"}
    assert body["require_token"] is False


def test_config_lists_project_reasons(widget_project):
    widget_project.feedback_reasons = [
        {"slug": "slow", "label": {"en": "Too slow", "ko": "느려요"}}
    ]
    widget_project.save()

    body = send("get", path="/api/v1/widget/config/", raw=b"").json()

    assert body["reasons"] == [{"slug": "slow", "label": {"en": "Too slow", "ko": "느려요"}}]


def test_vote_response_is_what_the_documented_serializer_renders(widget_project):
    from annotations.api.serializers import FeedbackOutputSerializer

    body = send(body=vote(rating="down", reasons=["incorrect"], comment="<b>틀렸어요</b>")).json()

    feedback = Feedback.objects.select_related("message__conversation").get()
    assert body == FeedbackOutputSerializer(feedback).data
    assert body["comment"] == "<b>틀렸어요</b>"


def test_rate_limits_count_in_redis_with_windows_that_expire(widget_project, settings):
    url = redis_url()
    require(redis_reachable(url), f"Redis is not reachable at {url}")
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
        }
    }
    settings.WIDGET_RATE_PER_KEY = "2/min"
    settings.WIDGET_RATE_PER_CLIENT = "100/hour"
    clear_of_window_edge()  # an hour ends on a minute's end

    statuses = [send(body=vote(user=f"u-{i}")).status_code for i in range(3)]

    assert statuses == [201, 201, 429]
    counters = redis.Redis.from_url(url)
    keys = {key.decode(): counters.ttl(key) for key in counters.scan_iter(f"{prefix}:*throttle*")}
    kind = {key: "key" if ":widget:key:" in key else "client" for key in keys}
    counts = {kind[key]: int(counters.get(key)) for key in keys}
    assert counts == {"key": 3, "client": 3}
    ttls = {kind[key]: ttl for key, ttl in keys.items()}
    assert 0 < ttls["key"] <= 61
    assert 60 < ttls["client"] <= 3601
    counters.delete(*keys)


def test_made_up_keys_from_one_address_are_rate_limited_before_the_key_lookup(
    widget_project, settings
):
    settings.WIDGET_RATE_PER_CLIENT = "2/min"
    clear_of_window_edge()

    statuses = [send(body=vote(), key=f"pk_made_up_{i}").status_code for i in range(3)]

    assert statuses == [401, 401, 429]
    # The real key from the same address is over the address's budget as well.
    response = send(body=vote())
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert Feedback.objects.count() == 0


def test_the_address_limit_counts_requests_with_any_key(widget_project, settings):
    settings.WIDGET_RATE_PER_CLIENT = "2/min"
    clear_of_window_edge()

    first = send(body=vote(user="u-1"), key="pk_unknown").status_code
    second = send(body=vote(user="u-2")).status_code
    third = send(body=vote(user="u-3")).status_code

    assert (first, second, third) == (401, 201, 429)


def test_a_content_length_that_is_not_a_number_is_a_400(widget_project):
    response = Client().post(
        URL,
        data=json.dumps(vote()),
        content_type="application/json",
        headers={"Origin": ORIGIN, "X-Project-Key": PUBLIC_KEY},
        CONTENT_LENGTH="12abc",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_reasons_are_kept_only_on_a_thumbs_down(widget_project):
    response = send(body=vote(rating="up", reasons=["incorrect"], comment="좋아요"))

    assert response.status_code == 201
    assert list(Feedback.objects.values_list("rating", "reasons", "comment")) == [
        ("up", [], "좋아요")
    ]


def test_reasons_not_among_the_projects_are_dropped_and_the_vote_kept(widget_project):
    # A vote queued in a browser may carry a reason the project has since removed.
    widget_project.feedback_reasons = [{"slug": "slow", "label": {"en": "Slow", "ko": "느려요"}}]
    widget_project.save()

    response = send(
        body=vote(rating="down", reasons=["slow", "incorrect", "<b>x</b>"], comment="느림")
    )

    assert response.status_code == 201
    assert list(Feedback.objects.values_list("reasons", "comment")) == [(["slow"], "느림")]


def test_a_throttled_request_with_a_made_up_key_costs_no_key_lookup(widget_project, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.WIDGET_RATE_PER_CLIENT = "1/min"
    clear_of_window_edge()
    send(body=vote(), key="pk_made_up_0")

    with CaptureQueriesContext(connection) as queries:
        response = send(body=vote(), key="pk_made_up_1")

    assert response.status_code == 429
    assert not [q for q in queries if "annotations_projectkey" in q["sql"]]


def test_the_widget_script_is_at_most_8_kb_gzipped():
    import gzip
    from pathlib import Path

    import annotations

    script = Path(annotations.__file__).parent / "static" / "annotations" / "feedback-widget.js"

    assert len(gzip.compress(script.read_bytes(), compresslevel=9)) <= 8000


def _without_fast_votes(settings) -> None:
    settings.MIDDLEWARE = [
        name
        for name in settings.MIDDLEWARE
        if name != "annotations.middleware.WidgetVoteMiddleware"
    ]


@pytest.mark.parametrize(
    "body",
    [
        vote(user="first"),
        vote(
            user="second", rating="down", reasons=["incorrect", "not-a-reason"], comment="<i>x</i>"
        ),
    ],
)
def test_a_vote_served_ahead_of_drf_answers_as_the_drf_view_does(widget_project, settings, body):
    fast = send(body=body)
    replaced_fast = send(body=body)
    Feedback.objects.all().delete()
    _without_fast_votes(settings)
    slow = send(body=body)
    replaced_slow = send(body=body)

    for one, other in ((fast, slow), (replaced_fast, replaced_slow)):
        assert one.status_code == other.status_code
        assert dict(one.headers) == dict(other.headers)
        times = ("created_at", "updated_at")
        left, right = one.json(), other.json()
        assert {k: v for k, v in left.items() if k not in times} == {
            k: v for k, v in right.items() if k not in times
        }
        assert all(left[name].endswith("Z") and right[name].endswith("Z") for name in times)
    assert (fast.status_code, replaced_fast.status_code) == (201, 200)
    assert fast.json()["reasons"] == body.get("reasons", [])[:1]


def test_the_fast_path_serves_a_vote_in_order_and_declines_the_rest_unwritten(widget_project):
    from django.test import RequestFactory

    from annotations.api.widget import vote_fast_response

    def request(body: dict, **headers: str):
        headers = {"HTTP_ORIGIN": ORIGIN, "HTTP_X_PROJECT_KEY": PUBLIC_KEY, **headers}
        return RequestFactory().post(
            URL, data=json.dumps(body), content_type="application/json", **headers
        )

    declined = [
        request(vote(), HTTP_ORIGIN="https://evil.example"),
        request(vote(), HTTP_X_PROJECT_KEY="pk_" + "z" * 43),
        request(vote(rating="meh")),
        request(vote(message="no-such-message")),
        request(vote(message="m1")),  # the user's turn, not an answer
        request(vote(comment="\x00")),
    ]
    for declined_request in declined:
        assert vote_fast_response(declined_request) is None
    assert not Feedback.objects.exists()

    served = vote_fast_response(request(vote()))
    assert served.status_code == 201
    assert json.loads(served.content)["rating"] == "up"
    assert Feedback.objects.get().rating == "up"


def test_a_keys_use_is_recorded_at_most_once_an_interval(widget_project, api):
    from annotations.models import ProjectKey

    public = ProjectKey.objects.get(project=widget_project, kind="public")
    assert public.last_used_at is None

    assert send(body=vote(user="first")).status_code == 201
    public.refresh_from_db()
    first_use = public.last_used_at
    assert first_use is not None
    assert send(body=vote(user="second")).status_code == 201
    public.refresh_from_db()
    assert public.last_used_at == first_use

    # The secret key the fixture logged the conversation with was recorded too.
    secret = ProjectKey.objects.get(project=widget_project, kind="secret")
    assert secret.last_used_at is not None


def test_the_fast_path_leaves_redirects_and_query_strings_to_the_whole_stack(
    widget_project, settings
):
    with_query = send(body=vote(user="q"), path=URL + "?x=%00")
    assert with_query.status_code == 400
    settings.SECURE_SSL_REDIRECT = True
    insecure = send(body=vote(user="plain-http"))

    assert insecure.status_code == 301
    assert insecure.headers["Location"].startswith("https://")
    assert not Feedback.objects.exists()
