"""The dispatcher against the sandbox over real HTTP (run in-process, without Celery)."""

import pytest
from django.core.cache import cache
from django_tenants.utils import tenant_context

from messaging.models import Message
from messaging.services import dispatch
from messaging.services.sending import MessageContent, message_bulk, message_send
from sessions_waha.models import Session


@pytest.fixture
def queue(acme, admin, working_session):
    def _queue(to="+4915112345678", text="hello", **content):
        with tenant_context(acme):
            message, _ = message_send(sender=admin, session_reference="support", to=to,
                                      content=MessageContent(text=text, **content))
            return message
    return _queue


def run(acme, session):
    with tenant_context(acme):
        return dispatch.dispatch_session(session_id=session.pk)


def reload(acme, message):
    with tenant_context(acme):
        return Message.objects.get(pk=message.pk)


def sandbox_sends(sandbox, **query):
    return sandbox.control("GET", "/sandbox/messages", params=query).json()["messages"]


def test_queued_message_is_sent_with_a_pregenerated_id(acme, working_session, queue, sandbox):
    message = queue()
    result = run(acme, working_session)
    sent = reload(acme, message)
    assert result.sent == 1 and sent.status == "sent" and sent.sent_at and sent.attempts == 1
    assert sent.wa_id.startswith("3EB0") and sent.waha_message_id == f"true_4915112345678@c.us_{sent.wa_id}"
    (waha,) = sandbox_sends(sandbox)
    assert waha["waId"] == sent.wa_id and waha["text"] == "hello" and waha["count"] == 1
    assert sent.attempt_log[-1]["outcome"] == "sent"


def test_media_and_location_reach_waha(acme, working_session, queue, sandbox):
    queue(type="image", text="cap", media={"url": "https://cdn.example.com/a.jpg", "mimetype": "image/jpeg"})
    queue(to="+4915100000002", type="location", location={"latitude": 1.5, "longitude": 2.5, "title": "x"})
    run(acme, working_session)
    kinds = sorted(m["type"] for m in sandbox_sends(sandbox))
    assert kinds == ["image", "location"]
    with tenant_context(acme):
        assert set(Message.objects.values_list("status", flat=True)) == {"sent"}


def test_number_not_on_whatsapp_fails_fast_with_a_clear_error(acme, working_session, queue, sandbox):
    sandbox.control("POST", "/sandbox/numbers", json={"phones": ["4915199999999"], "exists": False})
    message = queue(to="+4915199999999")
    run(acme, working_session)
    failed = reload(acme, message)
    assert failed.status == "failed" and failed.error_code == "not_on_whatsapp"
    assert sandbox_sends(sandbox) == []


def test_number_checks_are_cached(acme, working_session, queue, sandbox):
    cache.clear()
    sandbox.control("POST", "/sandbox/numbers", json={"phones": ["4915188888888"], "exists": False})
    first = queue(to="+4915188888888")
    run(acme, working_session)
    sandbox.control("POST", "/sandbox/numbers", json={"phones": ["4915188888888"], "exists": True})
    second = queue(to="+4915188888888", text="again")
    run(acme, working_session)
    # The second message trusted the cached answer instead of asking WAHA again.
    assert reload(acme, first).error_code == reload(acme, second).error_code == "not_on_whatsapp"


def test_a_verified_chat_is_not_checked_again(acme, working_session, queue, sandbox):
    queue(to="+4915177777777")
    run(acme, working_session)
    cache.clear()
    sandbox.control("POST", "/sandbox/numbers", json={"phones": ["4915177777777"], "exists": False})
    later = queue(to="+4915177777777", text="follow-up")
    run(acme, working_session)
    assert reload(acme, later).status == "sent"


def test_transient_waha_errors_are_retried_later_then_succeed(acme, working_session, queue, sandbox, settings):
    message = queue()
    sandbox.faults(error_rate=1.0)
    run(acme, working_session)
    retried = reload(acme, message)
    assert retried.status == "queued" and retried.attempts == 1 and retried.next_attempt_at > retried.created_at
    assert retried.attempt_log[-1]["outcome"] == "error"
    sandbox.faults()
    with tenant_context(acme):
        Message.objects.filter(pk=message.pk).update(next_attempt_at=retried.created_at)
    run(acme, working_session)
    done = reload(acme, message)
    assert done.status == "sent" and done.attempts == 2 and len(done.attempt_log) == 2


def test_attempt_budget_spent_fails_the_message(acme, working_session, queue, sandbox, settings):
    settings.MESSAGE_MAX_ATTEMPTS = 2
    message = queue()
    sandbox.faults(error_rate=1.0)
    for _ in range(2):
        with tenant_context(acme):
            Message.objects.filter(pk=message.pk).update(next_attempt_at=message.created_at)
        run(acme, working_session)
    failed = reload(acme, message)
    assert failed.status == "failed" and failed.error_code == "send_failed" and failed.attempts == 2


def test_waha_4xx_fails_at_once_with_wahas_reason(acme, working_session, queue, sandbox):
    message = queue()
    with tenant_context(acme):
        Session.objects.filter(pk=working_session.pk).update(waha_name="deleted-in-waha")
    run(acme, working_session)
    failed = reload(acme, message)
    assert failed.status == "failed" and failed.attempts == 1 and failed.error_code == "session_not_ready"
    assert "does not exist" in failed.error_detail


def test_waha_down_keeps_messages_queued_for_later(acme, working_session, queue, sandbox):
    message = queue()
    sandbox.faults(down=True)
    run(acme, working_session)
    assert reload(acme, message).status == "queued"


def test_look_before_resending_finds_a_message_waha_already_has(acme, working_session, queue, sandbox, settings):
    """A send whose answer was lost (timeout) is not sent a second time."""
    settings.WAHA_READ_TIMEOUT = 0.5
    from sessions_waha.waha import clear_client_cache

    clear_client_cache()
    message = queue()
    sandbox.faults(hang=True, hang_mode="after_send")
    run(acme, working_session)
    sandbox.faults()
    pending = reload(acme, message)
    assert pending.status == "queued" and pending.attempt_log[-1]["error"] == "WahaTimeout"
    with tenant_context(acme):
        Message.objects.filter(pk=message.pk).update(next_attempt_at=pending.created_at)
    run(acme, working_session)
    done = reload(acme, message)
    assert done.status == "sent" and done.attempt_log[-1]["outcome"] == "found_in_waha"
    assert [m["count"] for m in sandbox_sends(sandbox)] == [1]
    clear_client_cache()


def test_bulk_is_sent_in_batches_each_exactly_once(acme, admin, working_session, sandbox, settings):
    settings.DISPATCH_BATCH_SIZE = 20
    recipients = [{"to": f"+49151000{index:05d}", "variables": {"name": str(index)}} for index in range(50)]
    with tenant_context(acme):
        result = message_bulk(sender=admin, session=working_session, template="Hi {name}", recipients=recipients,
                              content=MessageContent())
    run(acme, working_session)
    sends = sandbox_sends(sandbox)
    assert len(sends) == 50 and all(m["count"] == 1 for m in sends)
    with tenant_context(acme):
        assert Message.objects.filter(batch=result.batch, status="sent").count() == 50


def test_paced_session_sends_one_message_then_waits(acme, working_session, queue, sandbox):
    with tenant_context(acme):
        Session.objects.filter(pk=working_session.pk).update(pacing_enabled=True, min_gap_seconds=30,
                                                             max_gap_seconds=60)
    queue(to="+4915100000001")
    queue(to="+4915100000002")
    result = run(acme, working_session)
    assert result.sent == 1 and 0 < result.wait <= 60
    assert len(sandbox_sends(sandbox)) == 1
    again = run(acme, working_session)
    assert again.sent == 0 and again.wait > 0  # the gap is shared through Redis


def test_paced_session_gaps_are_random(acme, working_session):
    from messaging.services import pacing

    with tenant_context(acme):
        session = Session.objects.get(pk=working_session.pk)
        session.pacing_enabled = True
        gaps = {round(pacing.record_send(session), 3) for _ in range(5)}
    assert len(gaps) == 5 and all(30 <= gap <= 60 for gap in gaps)


def test_a_session_another_dispatcher_holds_is_left_to_it(acme, working_session, queue, sandbox):
    from messaging.services import pacing

    message = queue()
    with tenant_context(acme):
        held = pacing.dispatcher_lock(working_session.pk)
        assert held is not None and pacing.dispatcher_lock(working_session.pk) is None
    try:
        assert run(acme, working_session).sent == 0
        assert reload(acme, message).status == "queued" and sandbox_sends(sandbox) == []
    finally:
        pacing.dispatcher_unlock(held)
    assert run(acme, working_session).sent == 1
    with tenant_context(acme):  # the slice released its lock: the next dispatcher takes it at once
        again = pacing.dispatcher_lock(working_session.pk)
        assert again is not None
        pacing.dispatcher_unlock(again)


def test_the_dispatcher_lock_is_extended_and_released_only_by_its_holder(acme, working_session, settings):
    from django_redis import get_redis_connection

    from messaging.services import pacing

    redis = get_redis_connection("default")
    with tenant_context(acme):
        mine = pacing.dispatcher_lock(working_session.pk)
        assert mine is not None
        redis.pexpire(mine.name, 1000)
        pacing.dispatcher_lock_extend(mine)
        assert redis.pttl(mine.name) > 1000 * (settings.DISPATCH_LOCK_SECONDS - 5)
        redis.delete(mine.name)  # as if it expired while this dispatcher was stalled
        theirs = pacing.dispatcher_lock(working_session.pk)
        assert theirs is not None
        pacing.dispatcher_lock_extend(mine)
        pacing.dispatcher_unlock(mine)
        assert redis.get(theirs.name) == theirs.local.token  # still the other dispatcher's
        pacing.dispatcher_unlock(theirs)
        assert redis.get(theirs.name) is None


def test_media_without_mimetype_gets_one_guessed(acme, working_session, queue, sandbox):
    message = queue(type="file", text="", media={"url": "https://cdn.example.com/report.pdf"})
    run(acme, working_session)
    assert reload(acme, message).status == "sent"


def test_retry_delays_keep_retrying_for_at_least_a_minute(settings):
    from messaging.services.dispatch import retry_delay

    for _ in range(50):
        assert sum(retry_delay(attempt) for attempt in range(1, settings.MESSAGE_MAX_ATTEMPTS)) >= 60


def without_noweb_store(sandbox, session):
    """Make WAHA hold the session as NOWEB without its message store (created before it was in the config)."""
    from waha_sandbox.testing import wait_until

    config = sandbox.session(session.waha_name)["config"]
    del config["noweb"]
    sandbox.http.put(f"{sandbox.base_url}/api/sessions/{session.waha_name}", json={"config": config},
                     timeout=10).raise_for_status()
    wait_until(lambda: sandbox.session(session.waha_name)["status"] == "WORKING", timeout=5,
               message="session WORKING again after the PUT")


def test_resend_without_a_possible_lookup_keeps_the_id_and_says_a_repeat_was_possible(
        acme, working_session, queue, sandbox, settings):
    """NOWEB without its store answers the lookup with 400: the message is resent with the same id, not failed."""
    from sessions_waha.waha import clear_client_cache

    without_noweb_store(sandbox, working_session)
    settings.WAHA_READ_TIMEOUT = 0.5
    clear_client_cache()
    message = queue()
    sandbox.faults(hang=True, hang_mode="after_send")  # WAHA gets the message, its answer is lost
    run(acme, working_session)
    sandbox.faults()
    pending = reload(acme, message)
    assert pending.status == "queued" and pending.attempt_log[-1]["error"] == "WahaTimeout" and pending.wa_id
    with tenant_context(acme):
        Message.objects.filter(pk=message.pk).update(next_attempt_at=pending.created_at)
    run(acme, working_session)
    done = reload(acme, message)
    (waha,) = sandbox_sends(sandbox)
    assert done.status == "sent" and done.attempts == 2 and done.wa_id == pending.wa_id
    assert waha["waId"] == done.wa_id and waha["count"] == 2  # sent again, under the same id
    last = done.attempt_log[-1]
    assert last["outcome"] == "sent" and last["lookup"] == "store_disabled" and last["repeat_possible"] is True
    clear_client_cache()


def test_sweeper_requeues_a_stuck_message_it_cannot_look_up_and_the_resend_keeps_its_id(
        acme, working_session, queue, sandbox, settings):
    """A worker died after WAHA got the message; the lookup is impossible, so it must not stay `sending`."""
    from datetime import timedelta

    from django.utils import timezone

    from messaging.services import sweeper
    from sessions_waha.services import waha_client

    without_noweb_store(sandbox, working_session)
    message = queue()
    with tenant_context(acme):
        (claimed,) = dispatch._claim(working_session, 1)
        dispatch._assign_ids(working_session, [claimed])
        waha_client(working_session.waha_server).send_text(
            session=working_session.waha_name, chat_id=claimed.chat_id, text=claimed.text, message_id=claimed.wa_id)
        Message.objects.filter(pk=message.pk).update(
            sending_started_at=timezone.now() - timedelta(seconds=settings.SENDING_STUCK_SECONDS + 5))
        assert sweeper.settle_stuck_sending() == 1
    requeued = reload(acme, message)
    assert requeued.status == "queued" and requeued.wa_id == claimed.wa_id
    run(acme, working_session)
    done = reload(acme, message)
    (waha,) = sandbox_sends(sandbox)
    assert done.status == "sent" and waha["waId"] == claimed.wa_id and waha["count"] == 2
    assert done.attempt_log[-1]["repeat_possible"] is True
