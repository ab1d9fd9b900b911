import pytest

from tests.conftest import conversation_payload

pytestmark = pytest.mark.django_db


def test_daily_metrics_reflect_votes_after_refresh(api, project):
    from annotations.tasks import refresh_daily_stats

    api.post("/api/v1/conversations/", conversation_payload())
    api.post(
        "/api/v1/feedback/",
        {"conversation": "conv-123", "message": "m2", "user": "u", "rating": "down"},
    )
    refresh_daily_stats.apply(args=[project.pk, 2])

    response = api.get("/api/v1/metrics/daily/")

    assert response.status_code == 200
    [row] = response.json()
    assert (row["model"], row["prompt_version"], row["answers"], row["thumbs_down"]) == (
        "gpt-4o-mini",
        "3",
        1,
        1,
    )


def test_project_endpoint_describes_the_keys_project(api):
    response = api.get("/api/v1/project/")

    assert response.status_code == 200
    assert response.json()["slug"] == "devot"


def _dated(conversation_id: str, days_ago: int) -> dict:
    import datetime

    from django.utils import timezone

    payload = conversation_payload(conversation_id)
    when = (timezone.now() - datetime.timedelta(days=days_ago)).isoformat()
    for message in payload["messages"]:
        message["created_at"] = when
    return payload


def _answers_and_downs(api) -> list[tuple]:
    return sorted((row["day"], row["answers"], row["thumbs_down"]) for row in api.get(URL).json())


URL = "/api/v1/metrics/daily/"


def test_the_rollup_counts_imported_history_and_new_votes_on_old_answers(api, project):
    from annotations.tasks import refresh_daily_stats

    assert api.post("/api/v1/conversations/", _dated("old", 10)).status_code == 201
    refresh_daily_stats.apply(args=[project.pk])
    [(day, answers, downs)] = _answers_and_downs(api)
    assert (answers, downs) == (1, 0)

    # A vote today on the ten-day-old answer, and history from a month ago.
    vote = {"conversation": "old", "message": "m2", "user": "u", "rating": "down"}
    assert api.post("/api/v1/feedback/", vote).status_code == 201
    assert api.post("/api/v1/conversations/", _dated("older", 30)).status_code == 201
    refresh_daily_stats.apply(args=[project.pk])

    rows = _answers_and_downs(api)
    assert len(rows) == 2
    assert rows[1] == (day, 1, 1)
    assert rows[0][1:] == (1, 0)


def test_the_nightly_rebuild_counts_a_withdrawn_vote_on_an_old_answer(api, project):
    from annotations.models import Feedback
    from annotations.tasks import refresh_daily_stats

    assert api.post("/api/v1/conversations/", _dated("old", 10)).status_code == 201
    vote = {"conversation": "old", "message": "m2", "user": "u", "rating": "down"}
    assert api.post("/api/v1/feedback/", vote).status_code == 201
    refresh_daily_stats.apply(args=[project.pk])
    assert _answers_and_downs(api)[0][2] == 1

    Feedback.objects.all().delete()
    refresh_daily_stats.apply(args=[project.pk], kwargs={"full": True})

    assert _answers_and_downs(api)[0][2] == 0
