"""The stats rollup, which keeps message statistics fast with millions of messages.

``DailyCount`` holds whole past days (UTC); the beat task ``messaging.stats_refresh``
rebuilds every closed day whose messages changed since its last run
(``Message.updated_at`` says which). ``messaging.selectors.message_stats`` reads
those days from the rollup and counts today and the partial days at the edges of
a range live. A late status change on a past day (an ack, a retry) shows in the
stats at the next refresh.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from messaging.models import DailyCount, Message, StatsState
from messaging.selectors import UTC
from messaging.selectors import day_start as _day_start


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
