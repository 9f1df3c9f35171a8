"""Stats read whole past days from the rollup and count today and range edges live."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from messaging.models import Conversation, Message
from messaging.selectors import message_stats
from messaging.services.stats import stats_refresh

pytestmark = pytest.mark.database

UTC = dt.UTC


@pytest.fixture
def history(acme, working_session):
    """Messages over the last 5 days, created directly with explicit timestamps."""
    with tenant_context(acme):
        conversation = Conversation.objects.create(session=working_session, chat_id="4915100000001@c.us")
        now = timezone.now()
        rows = []
        for days_ago in range(5):
            for index, (direction, status) in enumerate([("outbound", "read"), ("outbound", "failed"),
                                                         ("inbound", "received")]):
                rows.append(Message(session=working_session, conversation=conversation, direction=direction,
                                    chat_id=conversation.chat_id, text="x", status=status))
        Message.objects.bulk_create(rows)
        for position, message in enumerate(Message.objects.order_by("id")):
            created = now - dt.timedelta(days=position // 3, hours=1 + position % 3)
            Message.objects.filter(pk=message.pk).update(created_at=created)
    return working_session


def naive(since=None, until=None, session=None):
    messages = Message.objects.all()
    if since:
        messages = messages.filter(created_at__gte=since)
    if until:
        messages = messages.filter(created_at__lt=until)
    return messages.count()


@pytest.mark.parametrize("since_days, until_days", [(None, None), (3.5, None), (None, 1.5), (4.2, 0.7), (0.5, None)])
def test_rollup_and_live_counts_agree(acme, history, since_days, until_days):
    now = timezone.now()
    since = now - dt.timedelta(days=since_days) if since_days is not None else None
    until = now - dt.timedelta(days=until_days) if until_days is not None else None
    with tenant_context(acme):
        before = message_stats(since=since, until=until, session=None)
        assert stats_refresh() >= 4
        after = message_stats(since=since, until=until, session=None)
        assert after == before
        assert after["total"] == naive(since, until)


def test_a_late_change_on_a_past_day_shows_after_the_next_refresh(acme, history):
    with tenant_context(acme):
        stats_refresh()
        old = Message.objects.filter(status="failed").order_by("created_at").first()
        Message.objects.filter(pk=old.pk).update(status="read", updated_at=timezone.now())
        assert message_stats(since=None, until=None, session=None)["by_status"]["failed"] == 5
        stats_refresh()
        assert message_stats(since=None, until=None, session=None)["by_status"]["failed"] == 4


def test_stats_by_session(acme, history):
    with tenant_context(acme):
        stats_refresh()
        assert message_stats(since=None, until=None, session=history.pk)["total"] == 15
        assert message_stats(since=None, until=None, session="00000000-0000-4000-8000-000000000000")["total"] == 0
