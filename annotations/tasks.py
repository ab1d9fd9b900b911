import datetime

from celery import shared_task
from django.db import OperationalError

TRANSIENT = (OperationalError, ConnectionError)


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
)
def refresh_daily_stats(project_id: int, days: int | None = None, full: bool = False) -> int:
    """Rebuild one project's daily rollup: every day (full), the last `days` days, or by
    default the days that changed since the previous run (see
    annotations.services.stats.daily_stats_refresh_touched)."""
    from django.utils import timezone

    from annotations.models import Project
    from annotations.services.stats import (
        daily_stats_refresh,
        daily_stats_refresh_all,
        daily_stats_refresh_touched,
    )

    project = Project.objects.get(pk=project_id)
    if full:
        return daily_stats_refresh_all(project=project)
    if days is None:
        return daily_stats_refresh_touched(project=project)
    since = timezone.localdate() - datetime.timedelta(days=days - 1)
    return daily_stats_refresh(project=project, since=since)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def refresh_all_daily_stats(full: bool = False) -> int:
    """Fan out the rollup refresh, one task per project (run by beat: the changed days
    every few minutes, everything once a night)."""
    from annotations.models import Project

    project_ids = list(Project.objects.values_list("pk", flat=True))
    for project_id in project_ids:
        refresh_daily_stats.delay(project_id, full=full)
    return len(project_ids)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def refresh_queue(queue_id: int) -> int:
    """Add the answers that now match a queue's filter; safe to repeat."""
    from annotations.models import Queue
    from annotations.services.queues import queue_refresh

    queue = Queue.objects.filter(pk=queue_id, is_archived=False).select_related("project").first()
    return 0 if queue is None else queue_refresh(queue=queue)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def refresh_all_queues() -> int:
    """Fan out queue refreshes, one task per open queue (run by beat)."""
    from annotations.models import Queue

    queue_ids = list(Queue.objects.filter(is_archived=False).values_list("pk", flat=True))
    for queue_id in queue_ids:
        refresh_queue.delay(queue_id)
    return len(queue_ids)
