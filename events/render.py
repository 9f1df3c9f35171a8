"""The body of an event as its endpoints receive it: ``{"id", "type", "created_at", "tenant", "data"}``.

``data`` is the resource as the API's GET shows it. Events recorded in SQL
keep the message row as the change left it (``Event.row``); it is rendered here
with the API's own ``MessageSerializer`` at the first delivery attempt and
stored, so the data shows the message as it was at the change (its status and
timestamps then, even when the message has moved on since) and every attempt
and replay sends the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import JSONField

from events.models import Event


def _time(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def message_from_row(row: dict[str, Any]) -> Any:
    """A ``Message`` instance from its row as ``to_jsonb`` wrote it (columns the model no longer has are left out)."""
    from messaging.models import Message

    values = {}
    for field in Message._meta.concrete_fields:
        if field.column not in row:
            continue
        value = row[field.column]
        values[field.attname] = value if value is None or isinstance(field, JSONField) else field.to_python(value)
    return Message(**values)


def _messages_data(events: Sequence[Event]) -> None:
    """Fill ``data`` of message events from their rows (one query for the sessions' numbers)."""
    from messaging.serializers import MessageSerializer
    from sessions_waha.models import Session

    messages = {event.pk: message_from_row(event.row) for event in events}
    phones = dict(Session.objects.filter(pk__in={m.session_id for m in messages.values()}).values_list("pk", "phone"))
    for event in events:
        message = messages[event.pk]
        message.session_phone = phones.get(message.session_id, "")
        event.data = MessageSerializer(message).data


def events_render(events: Sequence[Event]) -> list[Event]:
    """Render ``data`` of the events that have none yet; returns those (the caller stores them)."""
    unrendered = [event for event in events if event.data is None and event.row is not None]
    if unrendered:
        _messages_data(unrendered)
    for event in events:
        if event.data is None:
            event.data = {}
    return unrendered


def event_body(event: Event, *, tenant: str) -> bytes:
    """The exact bytes every attempt of this event sends (and signs)."""
    payload = {
        "id": event.public_id,
        "type": event.type,
        "created_at": _time(event.created_at),
        "tenant": tenant,
        "data": event.data,
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
