"""Message statistics that stay fast with millions of messages.

Whole past days (UTC) are read from ``DailyCount``, a rollup the beat task
``messaging.stats_refresh`` rebuilds for every closed day whose messages
changed since its last run (``Message.updated_at`` says which); today and the
partial days at the edges of a range are counted live. A late status change
on a past day (an ack, a retry) shows in the stats at the next refresh.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from messaging.models import DailyCount, Direction, Message, MessageStatus, StatsState

UTC = dt.UTC


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=UTC)


def _today() -> dt.date:
    return timezone.now().astimezone(UTC).date()


def stats_refresh() -> int:
    """Rebuild the rollup for closed days that changed; return how many days were rebuilt."""
    started = timezone.now()
    today = _today()
    state = StatsState.objects.first()
    with connection.cursor() as cursor:
        if state is None:
            cursor.execute("SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date FROM messaging_message "
                           "WHERE created_at < %s", [_day_start(today)])
        else:
            cursor.execute(
                "SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date FROM messaging_message "
                "WHERE updated_at >= %s AND created_at < %s "
                "UNION SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date FROM messaging_message "
                "WHERE created_at >= %s AND created_at < %s",
                [state.refreshed_at, _day_start(today), _day_start(state.rolled_until), _day_start(today)])
        days = sorted(row[0] for row in cursor.fetchall())
    for day in days:
        _rebuild_day(day)
    with transaction.atomic():
        StatsState.objects.all().delete()
        StatsState.objects.create(rolled_until=today, refreshed_at=started)
    return len(days)


def _rebuild_day(day: dt.date) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        DailyCount.objects.filter(day=day).delete()
        cursor.execute(
            f"""INSERT INTO {DailyCount._meta.db_table} (day, session_id, direction, status, count)
                SELECT %s, session_id, direction, status, count(*) FROM {Message._meta.db_table}
                 WHERE created_at >= %s AND created_at < %s GROUP BY session_id, direction, status""",  # noqa: S608  # nosec B608
            [day, _day_start(day), _day_start(day + dt.timedelta(days=1))])


def _live(since: dt.datetime | None, until: dt.datetime | None, session: object | None) -> QuerySet:
    messages = Message.objects.all()
    if since:
        messages = messages.filter(created_at__gte=since)
    if until:
        messages = messages.filter(created_at__lt=until)
    if session:
        messages = messages.filter(session_id=session)
    return (messages.annotate(date=TruncDate("created_at", tzinfo=UTC)).values("date", "direction", "status")
            .annotate(n=Count("id")).order_by())


def _rolled(first_day: dt.date, end_day: dt.date, session: object | None) -> QuerySet:
    rows = DailyCount.objects.filter(day__gte=first_day, day__lt=end_day)
    if session:
        rows = rows.filter(session_id=session)
    return rows.values("day", "direction", "status").annotate(n=Sum("count")).order_by()


def _ceil_day(moment: dt.datetime) -> dt.date:
    moment = moment.astimezone(UTC)
    return moment.date() if moment == _day_start(moment.date()) else moment.date() + dt.timedelta(days=1)


def message_stats(*, since: dt.datetime | None, until: dt.datetime | None, session: object | None) -> dict[str, Any]:
    """Totals by status, by direction and per day (outbound, inbound, failed) for [since, until)."""
    rows: list[tuple[dt.date, str, str, int]] = []
    state = StatsState.objects.first()
    first_full = _ceil_day(since) if since else dt.date.min
    end_full = state.rolled_until if state else dt.date.min
    if until:
        end_full = min(end_full, until.astimezone(UTC).date())
    if state and first_full < end_full:
        rows += [(r["day"], r["direction"], r["status"], r["n"]) for r in _rolled(first_full, end_full, session)]
        edges = [(since, _day_start(first_full)) if since else None, (_day_start(end_full), until)]
    else:
        edges = [(since, until)]
    for edge in filter(None, edges):
        start, end = edge
        if start is None or end is None or start < end:
            rows += [(r["date"], r["direction"], r["status"], r["n"]) for r in _live(start, end, session)]
    return _summarise(rows)


def _summarise(rows: list[tuple[dt.date, str, str, int]]) -> dict[str, Any]:
    by_status: dict[str, int] = dict.fromkeys(MessageStatus.values, 0)
    by_direction: dict[str, int] = dict.fromkeys(Direction.values, 0)
    days: dict[dt.date, dict[str, int]] = defaultdict(lambda: {"outbound": 0, "inbound": 0, "failed": 0})
    for day, direction, status, count in rows:
        by_status[status] += count
        by_direction[direction] += count
        days[day][direction] += count
        if status == MessageStatus.FAILED:
            days[day]["failed"] += count
    return {
        "total": sum(by_direction.values()),
        "by_status": by_status,
        "by_direction": by_direction,
        "by_day": [{"date": day.isoformat(), **counts} for day, counts in sorted(days.items())],
    }
