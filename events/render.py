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
from collections.abc import Callable, Sequence
from datetime import datetime

from events.models import Event


def _time(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# Renders ``data`` of message events from their rows; messaging registers it when it loads
# (``messaging.apps``): events sits below messaging and never imports it.
MessagesDataRenderer = Callable[[Sequence[Event]], None]
_message_renderers: list[MessagesDataRenderer] = []


def message_renderer_register(renderer: MessagesDataRenderer) -> None:
    if renderer not in _message_renderers:
        _message_renderers.append(renderer)


def _messages_data(events: Sequence[Event]) -> None:
    for renderer in _message_renderers:
        renderer(events)


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
