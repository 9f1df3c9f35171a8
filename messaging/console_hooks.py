"""What the apps above messaging add to its console pages: registration instead of an upward import.

The message page lists the stored WAHA events that touched the message; those belong to the webhooks app,
which registers its lister here when it loads (``webhooks.apps``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from messaging.models import Message


@dataclass(frozen=True)
class EventLink:
    url: str
    name: str
    received_at: dt.datetime
    outcome: str


MessageEventsLister = Callable[[Message], list[EventLink]]
_listers: list[MessageEventsLister] = []


def message_events_lister_register(lister: MessageEventsLister) -> None:
    if lister not in _listers:
        _listers.append(lister)


def message_events(message: Message) -> list[EventLink]:
    """Every registered app's events for ``message``, oldest first."""
    return sorted((link for lister in _listers for link in lister(message)), key=lambda link: link.received_at)
