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
