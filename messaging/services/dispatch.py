"""The per-session dispatcher: claim due messages, hand them to WAHA, record the outcome.

One dispatcher runs per session at a time (a Redis lock), which gives pacing
and per-session order; sessions are dispatched in parallel by different
workers. Messages are claimed with ``FOR UPDATE SKIP LOCKED``, so even a
second dispatcher could never take the same message. With pacing off a
dispatcher claims a batch and sends it over several pooled connections.
"""

from __future__ import annotations

import logging
import mimetypes
import random
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from core.db.ids import RowId
from messaging.models import Conversation, Message, MessageStatus, MessageType
from messaging.services import bulk_sql, pacing, status
from messaging.services.recipients import is_phone_chat
from messaging.services.uploads import BatchFiles, UploadGone, UploadUnreadable, is_upload_reference
from sessions_waha.models import Session
from sessions_waha.services import waha_client
from sessions_waha.waha import (
    WahaClient,
    WahaError,
    WahaLookupUnavailable,
    WahaRejected,
    WahaSessionNotReady,
    WahaTimeout,
    phone_digits,
    wa_id_of,
)

logger = logging.getLogger("messaging.dispatch")

MEDIA_EXPIRED_DETAIL = ("The uploaded file is no longer stored (uploads are kept 24 hours, and past that only "
                        "while a message waits to send them): upload it again and send a new message.")
PREGENERATED_ID_ENGINES = {"NOWEB", "GOWS", ""}  # "" = unknown yet: the sandbox and compose default to NOWEB
NUMBER_CHECK_TTL = 24 * 3600


@dataclass
class DispatchResult:
    """What the task should do next: run again now, after ``wait`` seconds, or rest."""

    sent: int = 0
    again_now: bool = False
    wait: float | None = None


@dataclass
class Outcome:
    message: Message
    attempt: dict[str, Any]
    waha_message_id: str = ""
    wa_id: str = ""
    error: WahaError | None = None
    failure: tuple[str, str] | None = None  # permanent (code, detail) decided before WAHA was asked
    verified_chat: str | None = None
    # The media storage failed before WAHA was asked (an uploaded file could not be read): worth another try.
    storage_error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.failure is None and self.storage_error is None


def _claim(session: Session, limit: int) -> list[Message]:
    """Mark up to ``limit`` due messages ``sending`` (attempt + 1) and return them."""
    ids = status.messages_claim(session_id=session.pk, limit=limit)
    if not ids:
        return []
    return list(Message.objects.filter(pk__in=ids).select_related("conversation").order_by("next_attempt_at"))


def _assign_ids(session: Session, messages: list[Message]) -> None:
    """Pre-generate WhatsApp ids (NOWEB/GOWS) and store them before anything is sent."""
    if session.engine not in PREGENERATED_ID_ENGINES:
        return
    fresh = []
    for message in messages:
        if not message.wa_id:
            message.wa_id = "3EB0" + secrets.token_hex(8).upper()
            message.waha_message_id = f"true_{message.chat_id}_{message.wa_id}"
            fresh.append((message.pk, message.waha_message_id, message.wa_id))
    bulk_sql.wa_ids_assign(fresh)


class _NumberChecks:
    """``check-exists`` answers for one claimed batch (WAHA.md §9.6: check a new number before its first message).

    The cached answers of the whole batch are read in one Redis call before the
    sends start, and new answers written in one call after: two round trips per
    batch instead of two per message. A number not on WhatsApp is cached as "".
    """

    def __init__(self, session: Session, messages: list[Message]) -> None:
        self.session = session
        keys = [self._key(message) for message in messages if self._needed(message)]
        self.known: dict[str, str] = cache.get_many(keys) if keys else {}
        self.learned: dict[str, str] = {}

    def _needed(self, message: Message) -> bool:
        return bool(settings.CHECK_NEW_NUMBERS and not message.conversation.verified_at
                    and is_phone_chat(message.chat_id))

    def _key(self, message: Message) -> str:
        return f"wa-exists:{self.session.pk}:{phone_digits(message.chat_id)}"

    def chat_for(self, message: Message, client: WahaClient) -> str | None:
        """The chat to send to (WAHA's canonical id for a phone), or None when the number is not on WhatsApp."""
        if not self._needed(message):
            return message.chat_id
        key = self._key(message)
        answer = self.known.get(key, self.learned.get(key))
        if answer is None:
            check = client.check_exists(session=self.session.waha_name, phone=phone_digits(message.chat_id))
            answer = (check.chat_id or message.chat_id) if check.exists else ""
            self.learned[key] = answer  # one key per thread: dict writes need no lock under the GIL
        return answer or None

    def save(self) -> None:
        if self.learned:
            cache.set_many(self.learned, NUMBER_CHECK_TTL)


def _send(client: WahaClient, session: Session, message: Message, chat_id: str, files: BatchFiles) -> Any:
    common: dict[str, Any] = {"session": session.waha_name, "chat_id": chat_id, "reply_to": message.reply_to or None}
    if message.type == MessageType.TEXT:
        return client.send_text(text=message.text, message_id=message.wa_id or None, **common)
    if message.type == MessageType.LOCATION:
        location = message.location or {}
        return client.send_location(latitude=location["latitude"], longitude=location["longitude"],
                                    title=location.get("title"), message_id=message.wa_id or None, **common)
    if is_upload_reference(message.media):
        # An uploaded file goes inside the body as base64 (messaging.services.uploads says why not as a URL).
        media = files.file_for(message.media)
    else:
        media = {key: value for key, value in (message.media or {}).items() if key in {"url", "mimetype", "filename"}}
    if not media.get("mimetype"):
        # WAHA needs a mimetype (WAHA.md §4); the API lets clients omit it.
        media["mimetype"] = mimetypes.guess_type(media.get("filename") or media.get("url", ""))[0] or (
            "application/octet-stream")
    if message.type == MessageType.VOICE:
        return client.send_voice(file=media, message_id=message.wa_id or None, **common)
    senders: dict[str, Callable[..., Any]] = {MessageType.IMAGE: client.send_image, MessageType.FILE: client.send_file,
                                              MessageType.VIDEO: client.send_video}
    return senders[message.type](file=media, caption=message.text or None, message_id=message.wa_id or None, **common)


def _typing_first(client: WahaClient, session: Session, message: Message, chat_id: str) -> None:
    """Seen → typing → pause → send, for replies to a chat that wrote to us (WAHA.md §8)."""
    if not (session.pacing_enabled and session.typing_before_reply and message.type == MessageType.TEXT):
        return
    if not Message.objects.filter(conversation_id=message.conversation_id, direction="inbound").exists():
        return
    try:
        client.send_seen(session=session.waha_name, chat_id=chat_id)
        client.start_typing(session=session.waha_name, chat_id=chat_id)
        time.sleep(pacing.typing_seconds(message.text))
        client.stop_typing(session=session.waha_name, chat_id=chat_id)
    except WahaError:
        logger.info("dispatch.typing_skipped message_id=%s", message.pk)


def _deliver(client: WahaClient, session: Session, message: Message, checks: _NumberChecks,
             files: BatchFiles) -> Outcome:
    """Hand one message to WAHA; never raises for WAHA's failures."""
    started = time.monotonic()
    attempt: dict[str, Any] = {"attempt": message.attempts, "at": timezone.now().isoformat()}
    outcome = Outcome(message=message, attempt=attempt)
    try:
        if message.attempts > 1 and _look_before_resending(client, session, message, attempt):
            outcome.waha_message_id, outcome.wa_id = message.waha_message_id, message.wa_id
            attempt["outcome"] = "found_in_waha"
            return outcome
        chat_id = checks.chat_for(message, client)
        if chat_id is None:
            outcome.failure = ("not_on_whatsapp", f"{message.chat_id} is not a WhatsApp number.")
            attempt["outcome"] = "not_on_whatsapp"
            return outcome
        outcome.verified_chat = chat_id
        _typing_first(client, session, message, chat_id)
        sent = _send(client, session, message, chat_id, files)
        serialized = sent.serialized_id or (sent.message_id if "_" in (sent.message_id or "") else None)
        outcome.waha_message_id = serialized or message.waha_message_id or sent.message_id or ""
        outcome.wa_id = sent.wa_id or (wa_id_of(serialized) if serialized else message.wa_id)
        attempt["outcome"] = "sent"
    except WahaError as exc:
        outcome.error = exc
        attempt.update(outcome="error", error=type(exc).__name__, detail=str(exc)[:300])
    except ValueError as exc:  # InvalidChatId / InvalidSessionName: nothing WAHA could accept
        outcome.failure = ("invalid_request", str(exc)[:300])
        attempt.update(outcome="invalid_request", detail=str(exc)[:300])
    except UploadGone:
        outcome.failure = ("media_expired", MEDIA_EXPIRED_DETAIL)
        attempt["outcome"] = "media_expired"
    except UploadUnreadable as exc:
        outcome.storage_error = str(exc)
        attempt.update(outcome="storage_error", error="storage_error", detail=str(exc)[:300])
    finally:
        attempt["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
    return outcome


def _look_before_resending(client: WahaClient, session: Session, message: Message, attempt: dict[str, Any]) -> bool:
    """Look before resending: a previous attempt may have reached WAHA (WAHA.md §9.7).

    True when WAHA already has the message. When it cannot be asked (no pre-generated id, or
    ``WahaLookupUnavailable``: NOWEB without its store, an engine without lookups) the message
    is resent all the same, with the same id, and ``attempt`` records that it may now exist
    twice: failing it would lose a message that most likely never left.
    """
    if not message.wa_id:
        attempt.update(lookup="no_id", repeat_possible=True)
        return False
    try:
        found = client.message_get(session=session.waha_name, chat_id=message.chat_id,
                                   message_id=message.waha_message_id or message.wa_id)
    except WahaLookupUnavailable as exc:
        attempt.update(lookup="store_disabled" if exc.store_disabled else "unsupported", repeat_possible=True)
        logger.warning("dispatch.resend_unchecked message_id=%s status=%s reason=%s", message.pk, exc.status_code,
                       exc.reason[:200])
        return False
    attempt["lookup"] = "found" if found is not None else "not_found"
    return found is not None


def retry_delay(attempt: int) -> float:
    """Exponential backoff with up to +25 % jitter, capped.

    Jitter only lengthens the wait, so the default budget (2+4+8+16+32 s) keeps
    retrying for at least 62 s, as the API promises, and ends within 5 minutes.
    """
    base = settings.MESSAGE_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1))
    return min(settings.MESSAGE_RETRY_MAX_SECONDS, base) * random.uniform(1.0, 1.25)


def _record(outcome: Outcome) -> None:
    message, error = outcome.message, outcome.error
    if outcome.failure:
        status.message_failed(message=message, code=outcome.failure[0], detail=outcome.failure[1],
                              attempt=outcome.attempt)
        return
    if outcome.storage_error is not None:
        if message.attempts < settings.MESSAGE_MAX_ATTEMPTS:
            status.message_retry_later(message=message, delay_seconds=retry_delay(message.attempts),
                                       attempt=outcome.attempt, reason="storage_error")
        else:
            status.message_failed(message=message, code="media_unavailable",
                                  detail=f"The uploaded file could not be read: {outcome.storage_error}"[:500],
                                  attempt=outcome.attempt)
        return
    if error is None:
        if outcome.verified_chat and not message.conversation.verified_at:
            Conversation.objects.filter(pk=message.conversation_id).update(verified_at=timezone.now())
        status.message_sent(message=message, waha_message_id=outcome.waha_message_id, wa_id=outcome.wa_id,
                            attempt=outcome.attempt)
        return
    # Timeouts, connection errors, 5xx and 429 are worth another try; WAHA's
    # other 4xx answers (session not ready or missing included) are final.
    if error.transient and message.attempts < settings.MESSAGE_MAX_ATTEMPTS:
        reason = "timeout" if isinstance(error, WahaTimeout) else "waha_error"
        status.message_retry_later(message=message, delay_seconds=retry_delay(message.attempts),
                                   attempt=outcome.attempt, reason=reason)
        return
    if isinstance(error, WahaSessionNotReady):
        code, detail = "session_not_ready", f"WAHA refused the message: {error.message}"
    elif isinstance(error, WahaRejected) and not error.transient:
        code, detail = "waha_rejected", f"WAHA refused the message ({error.status_code}): {error.message}"
    else:
        code, detail = "send_failed", f"Gave up after {message.attempts} attempts: {error}"
    status.message_failed(message=message, code=code, detail=detail, attempt=outcome.attempt)


def _record_all(outcomes: list[Outcome]) -> None:
    """Record a batch: every success in one UPDATE, the rest one by one."""
    sent = [o for o in outcomes if o.succeeded]
    for outcome in outcomes:
        if not outcome.succeeded:
            _record(outcome)
    if not sent:
        return
    now = timezone.now()
    with transaction.atomic():
        status.messages_sent([(o.message.pk, o.waha_message_id, o.wa_id, o.attempt) for o in sent], now=now)
        newly_verified = [o.message.conversation_id for o in sent if not o.message.conversation.verified_at]
        if newly_verified:
            Conversation.objects.filter(pk__in=newly_verified, verified_at__isnull=True).update(verified_at=now)
    session_id = sent[0].message.session_id
    status.pending_acks_apply(session_id=session_id, wa_ids=[o.wa_id for o in sent if o.wa_id])
    logger.info("dispatch.batch_sent session_id=%s count=%s", session_id, len(sent))


def dispatch_session(*, session_id: RowId) -> DispatchResult:
    """Send the session's due messages for a bounded time slice."""
    lock = pacing.dispatcher_lock(session_id)
    if lock is None:
        return DispatchResult()  # another worker is on it
    result = DispatchResult()
    try:
        session = Session.objects.alive().select_related("waha_server").filter(pk=session_id).first()
        if session is None:
            return result
        client = waha_client(session.waha_server)
        deadline = time.monotonic() + settings.DISPATCH_SLICE_SECONDS
        while time.monotonic() < deadline:
            wait = pacing.wait_seconds(session)
            if wait > 0:
                result.wait = wait
                return result
            messages = _claim(session, 1 if session.pacing_enabled else settings.DISPATCH_BATCH_SIZE)
            if not messages:
                break
            _assign_ids(session, messages)
            _record_all(_deliver_all(client, session, messages))
            result.sent += len(messages)
            pacing.record_send(session)
            pacing.dispatcher_lock_extend(lock)
        else:
            result.again_now = True
    finally:
        pacing.dispatcher_unlock(lock)
    if not result.again_now and result.wait is None:
        result.wait = _seconds_until_next_due(session_id)
        result.again_now = result.wait == 0
    return result


def _deliver_all(client: WahaClient, session: Session, messages: list[Message]) -> list[Outcome]:
    checks = _NumberChecks(session, messages)
    files = BatchFiles(messages)
    try:
        if len(messages) == 1:
            return [_deliver(client, session, messages[0], checks, files)]
        with ThreadPoolExecutor(max_workers=settings.DISPATCH_CONCURRENCY) as pool:
            return list(pool.map(lambda message: _deliver(client, session, message, checks, files), messages))
    finally:
        checks.save()


def _seconds_until_next_due(session_id: RowId) -> float | None:
    """0 when messages are due now, the wait until the next retry, or None when nothing is queued."""
    due = (Message.objects.filter(session_id=session_id, status=MessageStatus.QUEUED)
           .order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first())
    if due is None:
        return None
    return max(0.0, (due - timezone.now()).total_seconds())
