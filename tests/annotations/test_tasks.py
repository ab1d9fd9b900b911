"""The Celery path end to end: a real worker process consuming from Redis."""

import datetime
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from annotations.models import DailyStats
from annotations.services.stats import daily_stats_refresh
from annotations.tasks import refresh_daily_stats
from feedback_site.celery import app as celery_app
from tests.conftest import redis_url
from tests.factories import FeedbackFactory, MessageFactory, ProjectFactory
from tests.workers import celery_worker_process

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[str]:
    queue = f"test-{os.getpid()}-{time.time_ns()}"
    with celery_worker_process(queue=queue):
        yield queue


def _labeled_project():
    project = ProjectFactory()
    today = timezone.now()
    yesterday = today - datetime.timedelta(days=1)
    up = MessageFactory(conversation__project=project, model="gpt-4o-mini", created_at=today)
    down = MessageFactory(conversation__project=project, model="gpt-4o-mini", created_at=today)
    MessageFactory(
        conversation__project=project, model="gpt-4.1", prompt_version="2", created_at=yesterday
    )
    MessageFactory(conversation__project=project, role="user", created_at=today)
    FeedbackFactory(message=up, rating="up")
    FeedbackFactory(message=down, rating="down")
    FeedbackFactory(message=down, rating="down")
    return project


@pytest.mark.django_db
def test_daily_stats_count_answers_and_votes_per_bucket():
    project = _labeled_project()

    rows = daily_stats_refresh(
        project=project, since=timezone.localdate() - datetime.timedelta(days=3)
    )

    assert rows == 2
    today = DailyStats.objects.get(project=project, model="gpt-4o-mini")
    assert (today.day, today.answers, today.thumbs_up, today.thumbs_down) == (
        timezone.localdate(),
        2,
        1,
        2,
    )
    older = DailyStats.objects.get(project=project, model="gpt-4.1")
    assert (older.answers, older.thumbs_up, older.thumbs_down, older.prompt_version) == (
        1,
        0,
        0,
        "2",
    )


@pytest.mark.django_db
def test_daily_stats_refresh_is_idempotent():
    project = _labeled_project()
    since = timezone.localdate() - datetime.timedelta(days=3)

    daily_stats_refresh(project=project, since=since)
    daily_stats_refresh(project=project, since=since)

    assert DailyStats.objects.filter(project=project).count() == 2


@pytest.mark.worker
def test_real_worker_runs_the_stats_task_from_redis(celery_worker):
    project = _labeled_project()
    broker = redis_url()
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        with celery_app.connection_for_write(broker) as conn:
            refresh_daily_stats.apply_async(
                args=[project.pk, 3], queue=celery_worker, connection=conn
            )
    finally:
        celery_app.conf.task_always_eager = eager

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not DailyStats.objects.filter(project=project).exists():
        time.sleep(0.25)

    row = DailyStats.objects.get(project=project, model="gpt-4o-mini")
    assert (row.answers, row.thumbs_up, row.thumbs_down) == (2, 1, 2)
