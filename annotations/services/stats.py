import datetime

from django.db import transaction
from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from annotations.models import DailyStats, Feedback, Message, Project


@transaction.atomic
def daily_stats_refresh(*, project: Project, since: datetime.date) -> int:
    """Rebuild the daily rollup of answers and votes from `since` on; returns the row count.

    Days are counted in the site's time zone. Rebuilding is idempotent: the rows of
    the period are replaced, so running it twice gives the same table.
    """
    tz = timezone.get_current_timezone()
    start = datetime.datetime.combine(since, datetime.time.min, tzinfo=tz)
    bucket = ("day", "model", "prompt_name", "prompt_version")
    answers = (
        Message.objects.filter(project=project, role=Message.Role.ASSISTANT, created_at__gte=start)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values(*bucket)
        .annotate(count=Count("id"))
    )
    votes = (
        Feedback.objects.filter(project=project, message__created_at__gte=start)
        .annotate(
            day=TruncDate("message__created_at", tzinfo=tz),
            model=F("message__model"),
            prompt_name=F("message__prompt_name"),
            prompt_version=F("message__prompt_version"),
        )
        .values(*bucket)
        .annotate(
            up=Count("id", filter=Q(rating=Feedback.Rating.UP)),
            down=Count("id", filter=Q(rating=Feedback.Rating.DOWN)),
        )
    )
    now = timezone.now()
    rows: dict[tuple, DailyStats] = {}
    for row in answers:
        key = tuple(row[name] for name in bucket)
        rows[key] = DailyStats(
            project=project,
            answers=row["count"],
            refreshed_at=now,
            **dict(zip(bucket, key, strict=True)),
        )
    for row in votes:
        key = tuple(row[name] for name in bucket)
        stats = rows.get(key)
        if stats is None:
            continue
        stats.thumbs_up = row["up"]
        stats.thumbs_down = row["down"]
    DailyStats.objects.filter(project=project, day__gte=since).delete()
    DailyStats.objects.bulk_create(rows.values())
    return len(rows)
