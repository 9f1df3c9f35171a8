"""Recovery of the queue of record: nothing lost, nothing sent twice when avoidable.

- ``queued`` messages that no task holds (Redis restarted, an enqueue failed,
  a worker died) get their session's dispatcher kicked again;
- ``sending`` messages stuck past ``SENDING_STUCK_SECONDS`` (a worker killed
  mid-send) are looked up in WAHA by their pre-generated id: found means
  sent, missing means queued again with the same id. A session that cannot
  look messages up (NOWEB without its store) also gets the message queued
  again with the same id: the dispatcher's attempt then records that a repeat
  was possible;
- batches with nothing left open get their ``completed_at``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from messaging.models import IdempotencyKey, Message, MessageStatus
from messaging.services import status
from messaging.services.kick import dispatch_kick
from messaging.services.sending import batches_complete
from sessions_waha.services import waha_client
from sessions_waha.waha import WahaError, WahaLookupUnavailable

logger = logging.getLogger("messaging.sweeper")

IDEMPOTENCY_KEEP = timedelta(hours=48)


def sweep() -> dict[str, int]:
    return {
        "settled": settle_stuck_sending(),
        "kicked": kick_due_sessions(),
        "batches_completed": complete_batches(),
        "idempotency_purged": IdempotencyKey.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_KEEP)
        .delete()[0],
    }


def kick_due_sessions() -> int:
    now = timezone.now()
    session_ids = set(Message.objects.filter(status=MessageStatus.QUEUED, next_attempt_at__lte=now)
                      .values_list("session_id", flat=True).distinct())
    for session_id in session_ids:
        dispatch_kick(session_id=session_id)
    return len(session_ids)


def settle_stuck_sending() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.SENDING_STUCK_SECONDS)
    stuck = list(Message.objects.filter(status=MessageStatus.SENDING, sending_started_at__lt=cutoff)
                 .select_related("session__waha_server")[:500])
    for message in stuck:
        _settle(message)
    return len(stuck)


def _settle(message: Message) -> None:
    attempt = {"attempt": message.attempts, "at": timezone.now().isoformat(), "outcome": "settled"}
    if message.wa_id:
        try:
            found = waha_client(message.session.waha_server).message_get(
                session=message.session.waha_name, chat_id=message.chat_id,
                message_id=message.waha_message_id or message.wa_id)
        except WahaLookupUnavailable as exc:
            # Asking again would never answer: resend with the same id rather than leave it stuck.
            logger.warning("sweeper.lookup_unavailable message_id=%s status=%s", message.pk, exc.status_code)
            attempt.update(lookup="store_disabled" if exc.store_disabled else "unsupported", repeat_possible=True)
            found = None
        except WahaError as exc:
            logger.warning("sweeper.lookup_failed message_id=%s error=%s", message.pk, type(exc).__name__)
            return  # try again on the next sweep
        if found is not None:
            status.message_sent(message=message, waha_message_id=message.waha_message_id, wa_id=message.wa_id,
                                attempt={**attempt, "outcome": "found_in_waha"})
            return
    else:
        # Without a pre-generated id nothing can be looked up: resending may duplicate.
        logger.warning("sweeper.resend_without_id message_id=%s", message.pk)
    if message.attempts >= settings.MESSAGE_MAX_ATTEMPTS:
        status.message_failed(message=message, code="send_failed",
                              detail="The worker sending this message stopped and the attempt budget is spent.",
                              attempt=attempt)
        return
    status.message_requeue_stuck(message=message)
    logger.info("sweeper.requeued message_id=%s", message.pk)


def complete_batches() -> int:
    return batches_complete()
