"""What WAHA's inbound events do to messages and conversations (WAHA.md §5.5).

Called by the webhook receiver inside the tenant's schema and inside its
transaction (the event row, these writes and the ``message.received`` event
for the tenant's endpoints commit together). Every function
is idempotent on its own, so applying an event twice changes nothing, and
tolerant of WAHA's loose payloads: a field that is missing or of the wrong
type makes the event ``ignored``, never an exception.

``message.edited`` keeps the text it replaced: the message's ``attempt_log``
(never shown by the API) gets ``{"event": "edited", "previous_text", "at"}``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import DateTimeField, F, JSONField, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from core.db.ids import RowId
from events import outbox
from messaging.models import Conversation, Direction, Message, MessageType
from messaging.services import media as media_service
from messaging.services.status import JsonbAppend, initial_status
from sessions_waha.waha import wa_id_of

logger = logging.getLogger("messaging.inbound")

APPLIED, IGNORED = "applied", "ignored"
CHAT_ID_MAX = 100
# Contacts' "status" stories arrive as messages from this pseudo-chat; they are not conversations.
STATUS_BROADCAST = "status@broadcast"
# A WhatsApp timestamp further from now than this is not believed (clock skew, garbage).
_CLOCK_TOLERANCE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class InboundResult:
    """What an event did: ``applied`` or ``ignored`` (with why), and the message it touched."""

    outcome: str
    reason: str = ""
    message: Message | None = None
    fetch_media: bool = False


def _ignored(reason: str) -> InboundResult:
    return InboundResult(IGNORED, reason)


def _text(value: Any, limit: int | None = None) -> str:
    if not isinstance(value, str):
        return ""
    return value[:limit] if limit else value


def _seconds_to_datetime(value: Any, *, now: dt.datetime) -> dt.datetime:
    """``payload.timestamp`` (seconds) as an aware datetime, or ``now`` when absent or unbelievable."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return now
    try:
        moment = dt.datetime.fromtimestamp(value, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return now
    if moment > now + _CLOCK_TOLERANCE or moment.year < 2009:  # WhatsApp did not exist before 2009
        return now
    return min(moment, now)


def _message_type(payload: Mapping[str, Any], media: Mapping[str, Any] | None) -> str:
    if isinstance(payload.get("location"), Mapping):
        return MessageType.LOCATION
    if media is None:
        return MessageType.TEXT
    mimetype = str(media.get("mimetype") or "").lower()
    if mimetype.startswith("image/"):
        return MessageType.IMAGE
    if mimetype.startswith("video/"):
        return MessageType.VIDEO
    if mimetype.startswith("audio/"):
        return MessageType.VOICE
    return MessageType.FILE


def _location(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    location = payload.get("location")
    if not isinstance(location, Mapping):
        return None
    latitude, longitude = location.get("latitude"), location.get("longitude")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (latitude, longitude)):
        return None
    title = location.get("description") or location.get("title") or location.get("name")
    return {"latitude": latitude, "longitude": longitude, **({"title": str(title)[:255]} if title else {})}


def _contact_name(payload: Mapping[str, Any]) -> str:
    """Best effort (WAHA.md §9.18: ``_data`` is engine-specific and not stable)."""
    data = payload.get("_data")
    candidates = [payload.get("notifyName"), payload.get("pushName")]
    if isinstance(data, Mapping):
        candidates = [data.get("pushName"), data.get("notifyName"), *candidates]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()[:200]
    return ""


def inbound_message_record(*, session_id: RowId, payload: Any, now: dt.datetime | None = None) -> InboundResult:
    """A ``message`` event: the inbound message, and its conversation's name, unread count and time.

    Idempotent on the WhatsApp id: WAHA can announce one message in several
    events; the second finds the first and changes nothing. Concurrent
    deliveries of one chat are serialised by a row lock on the conversation.
    """
    now = now or timezone.now()
    if not isinstance(payload, Mapping):
        return _ignored("payload is not an object")
    waha_id = payload.get("id")
    chat_id = payload.get("from")
    if not isinstance(waha_id, str) or not waha_id or not isinstance(chat_id, str) or not chat_id:
        return _ignored("payload has no id or from")
    if payload.get("fromMe") is True:
        return _ignored("own message (arrives through message.any)")
    if len(chat_id) > CHAT_ID_MAX:
        return _ignored("chat id too long")
    if chat_id == STATUS_BROADCAST:
        return _ignored("a contact's status (story), not a chat")
    wa_id = wa_id_of(waha_id)[:100]
    is_group = chat_id.endswith("@g.us")
    sender = payload.get("participant") or payload.get("author") if is_group else None
    media = media_service.media_spec_from_payload(payload)
    at = _seconds_to_datetime(payload.get("timestamp"), now=now)
    name = "" if is_group else _contact_name(payload)

    conversation, _ = Conversation.objects.get_or_create(
        session_id=session_id, chat_id=chat_id, defaults={"contact_name": name, "verified_at": now},
    )
    # Lock the chat: two deliveries of one message cannot both pass the check below.
    Conversation.objects.select_for_update().filter(pk=conversation.pk).values_list("pk").first()
    existing = Message.objects.filter(session_id=session_id, wa_id=wa_id, direction=Direction.INBOUND).first()
    if existing is not None:
        return InboundResult(IGNORED, "message already recorded", existing)
    reply_to = payload.get("replyTo")
    message = Message.objects.create(
        session_id=session_id, conversation=conversation, direction=Direction.INBOUND,
        type=_message_type(payload, media), chat_id=chat_id, sender_id=_text(sender, 100),
        text=_text(payload.get("body")), media=media, location=_location(payload),
        reply_to=_text(reply_to.get("id"), 200) if isinstance(reply_to, Mapping) else "",
        status=initial_status(Direction.INBOUND), waha_message_id=waha_id[:200], wa_id=wa_id,
    )
    at_value = Value(at, output_field=DateTimeField())
    changes: dict[str, Any] = {
        "unread_count": F("unread_count") + 1,
        "last_message_at": Greatest(Coalesce(F("last_message_at"), at_value), at_value),
        "verified_at": Coalesce(F("verified_at"), Value(now, output_field=DateTimeField())),
    }
    if name:
        changes["contact_name"] = name
    Conversation.objects.filter(pk=conversation.pk).update(**changes)
    outbox.messages_record(table=Message._meta.db_table, message_ids=[message.pk], status=message.status)
    return InboundResult(APPLIED, message=message,
                         fetch_media=bool(media and media.get("state") == media_service.PENDING))


def _target(session_id: RowId, message_id: Any) -> Message | None:
    """The message (either direction) with this full or bare WhatsApp id, locked for update."""
    if not isinstance(message_id, str) or not message_id:
        return None
    return (Message.objects.select_for_update().filter(session_id=session_id, wa_id=wa_id_of(message_id)[:100])
            .order_by("created_at").first())


def message_revoked_apply(*, session_id: RowId, payload: Any, at: dt.datetime) -> InboundResult:
    """``message.revoked``: the message was deleted for everyone; its text is kept, ``revoked_at`` set."""
    if not isinstance(payload, Mapping):
        return _ignored("payload is not an object")
    before, after = payload.get("before"), payload.get("after")
    target = (payload.get("revokedMessageId")
              or (before.get("id") if isinstance(before, Mapping) else None)
              or (after.get("id") if isinstance(after, Mapping) else None))
    message = _target(session_id, target)
    if message is None:
        return _ignored("revoked message unknown")
    if message.revoked_at is None:
        Message.objects.filter(pk=message.pk).update(revoked_at=at, updated_at=timezone.now())
    return InboundResult(APPLIED, message=message)


def message_edited_apply(*, session_id: RowId, payload: Any, at: dt.datetime) -> InboundResult:
    """``message.edited``: new text and ``edited_at``; the replaced text goes to the message's log.

    Edits are unordered like every event: one older than the edit already
    applied is ignored, so the newest text wins.
    """
    if not isinstance(payload, Mapping):
        return _ignored("payload is not an object")
    text = payload.get("body")
    if not isinstance(text, str):
        return _ignored("edit has no text")
    message = _target(session_id, payload.get("editedMessageId") or payload.get("id"))
    if message is None:
        return _ignored("edited message unknown")
    if message.edited_at is not None and message.edited_at >= at:
        return InboundResult(IGNORED, "older than the edit already applied", message)
    entry = [{"event": "edited", "previous_text": message.text, "at": at.isoformat()}]
    appended = JsonbAppend(F("attempt_log"), Value(entry, output_field=JSONField()))
    Message.objects.filter(pk=message.pk).update(text=text, edited_at=at, attempt_log=appended,
                                                 updated_at=timezone.now())
    return InboundResult(APPLIED, message=message)


def message_reaction_apply(*, session_id: RowId, payload: Any) -> InboundResult:
    """``message.reaction``: ``reactions[who] = emoji``; an empty emoji removes that person's reaction."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("reaction"), Mapping):
        return _ignored("payload has no reaction")
    reaction = payload["reaction"]
    emoji = reaction.get("text")
    if not isinstance(emoji, str):
        return _ignored("reaction has no text")
    who = payload.get("participant") or ("me" if payload.get("fromMe") is True else payload.get("from"))
    if not isinstance(who, str) or not who:
        return _ignored("reaction has no sender")
    message = _target(session_id, reaction.get("messageId"))
    if message is None:
        return _ignored("reacted message unknown")
    reactions = dict(message.reactions) if isinstance(message.reactions, dict) else {}
    if emoji:
        reactions[who[:100]] = emoji[:32]
    else:
        reactions.pop(who[:100], None)
    Message.objects.filter(pk=message.pk).update(reactions=reactions, updated_at=timezone.now())
    return InboundResult(APPLIED, message=message)
