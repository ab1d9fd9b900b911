import datetime
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, F, Max, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from annotations.models import DailyStats, Feedback, Message, Project
from annotations.selectors import ANSWERS

# Every refresh rebuilds the last RECENT_DAYS days whatever else it finds.
RECENT_DAYS = 2
# How far back a vote's time is trusted: votes are written with the web server's
# clock, which may lag the worker's by this much.
CLOCK_SLACK = datetime.timedelta(minutes=5)


@transaction.atomic
def daily_stats_refresh(
    *, project: Project, since: datetime.date, until: datetime.date | None = None
) -> int:
    """Rebuild the daily rollup of answers and votes from `since` on (to `until`, that
    day included, when given); returns the row count.

    Days are counted in the site's time zone. Rebuilding is idempotent: the rows of
    the period are replaced, so running it twice gives the same table.
    """
    tz = timezone.get_current_timezone()
    start = datetime.datetime.combine(since, datetime.time.min, tzinfo=tz)
    period = Q(created_at__gte=start)
    vote_period = Q(message__created_at__gte=start)
    if until is not None:
        end = datetime.datetime.combine(
            until + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz
        )
        period &= Q(created_at__lt=end)
        vote_period &= Q(message__created_at__lt=end)
    bucket = ("day", "model", "prompt_name", "prompt_version")
    answers = (
        Message.objects.filter(period, ANSWERS, project=project)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values(*bucket)
        .annotate(count=Count("id"))
    )
    votes = (
        Feedback.objects.filter(vote_period, project=project)
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
    replaced = DailyStats.objects.filter(project=project, day__gte=since)
    if until is not None:
        replaced = replaced.filter(day__lte=until)
    replaced.delete()
    DailyStats.objects.bulk_create(rows.values())
    return len(rows)


def daily_stats_refresh_touched(*, project: Project) -> int:
    """Rebuild the days that changed since the previous run: the recent ones, and any
    older day that newly logged answers (imported history) or new votes belong to.

    What the previous run had seen is kept in the cache (the highest message id, and
    the time it ran); without it, every day of the project is rebuilt. A withdrawn
    vote on an old answer leaves no trace to find: the nightly full rebuild
    (daily_stats_refresh_all) counts it.
    """
    state_key = f"daily-stats:seen:{project.pk}"
    state = cache.get(state_key)
    started = timezone.now()
    newest_id = Message.objects.filter(project=project).aggregate(newest=Max("id"))["newest"] or 0
    today = timezone.localdate()
    days = {today - datetime.timedelta(days=n) for n in range(RECENT_DAYS)}
    if state is None:
        rows = daily_stats_refresh_all(project=project)
    else:
        tz = timezone.get_current_timezone()
        days.update(
            Message.objects.filter(ANSWERS, project=project, id__gt=state["message_id"])
            .annotate(day=TruncDate("created_at", tzinfo=tz))
            .values_list("day", flat=True)
            .distinct()
        )
        days.update(
            Feedback.objects.filter(project=project, updated_at__gte=state["at"] - CLOCK_SLACK)
            .annotate(day=TruncDate("message__created_at", tzinfo=tz))
            .values_list("day", flat=True)
            .distinct()
        )
        rows = daily_stats_refresh_days(project=project, days=days)
    cache.set(state_key, {"message_id": newest_id, "at": started}, timeout=None)
    return rows


def daily_stats_refresh_all(*, project: Project) -> int:
    """Rebuild every day of the project, from its first answer on."""
    first = Message.objects.filter(project=project).aggregate(first=Min("created_at"))["first"]
    since = timezone.localdate(first) if first else timezone.localdate()
    DailyStats.objects.filter(project=project, day__lt=since).delete()
    return daily_stats_refresh(project=project, since=since)


def daily_stats_refresh_days(*, project: Project, days: Iterable[datetime.date]) -> int:
    """Rebuild the given days (runs of consecutive days are rebuilt together)."""
    rows = 0
    for first, last in _runs(sorted(set(days))):
        rows += daily_stats_refresh(project=project, since=first, until=last)
    return rows


def _runs(days: list[datetime.date]) -> list[tuple[datetime.date, datetime.date]]:
    runs: list[tuple[datetime.date, datetime.date]] = []
    for day in days:
        if runs and day - runs[-1][1] == datetime.timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs
