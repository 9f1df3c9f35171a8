"""The ``data`` of message events as the API's ``GET /messages/{id}`` shows it.

The events app records message events in SQL with the message's row as the change left it (``Event.row``)
and renders them at the first delivery; it sits below messaging, so messaging registers this renderer
when it loads (``messaging.apps``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import JSONField

from messaging.models import Message
from messaging.serializers import MessageSerializer
from sessions_waha.models import Session


def message_from_row(row: dict[str, Any]) -> Message:
    """A ``Message`` instance from its row as ``to_jsonb`` wrote it (columns the model no longer has are left out)."""
    values = {}
    for field in Message._meta.concrete_fields:
        if field.column not in row:
            continue
        value = row[field.column]
        values[field.attname] = value if value is None or isinstance(field, JSONField) else field.to_python(value)
    return Message(**values)


def message_events_render(events: Sequence[Any]) -> None:
    """Fill ``data`` of message events from their rows (one query for the sessions' numbers)."""
    messages = {event.pk: message_from_row(event.row) for event in events}
    phones = dict(Session.objects.filter(pk__in={m.session_id for m in messages.values()}).values_list("pk", "phone"))
    for event in events:
        message = messages[event.pk]
        message.session_phone = phones.get(message.session_id, "")  # type: ignore[attr-defined]  # as the selectors annotate it
        event.data = MessageSerializer(message).data
