"""The webhook tasks a service enqueues, sent by name.

A task is an entry point, like a view: ``webhooks/tasks.py`` imports the services, so a service never imports a
task. What they share is the message on the broker, a task's name and its arguments, and that is what these
functions send (``send_task``); ``webhooks/tasks.py`` registers its tasks under the same names.
"""

from __future__ import annotations

from celery import current_app

# The message contracts with webhooks/tasks.py: the names, and the arguments each task takes.
EVENTS_APPLY = "webhooks.events_apply"  # (schema name)
MEDIA_FETCH = "webhooks.media_fetch"  # (schema name, message id)


def events_apply_enqueue(schema_name: str) -> None:
    """Ask a worker to apply this tenant's stored events."""
    current_app.send_task(EVENTS_APPLY, args=(schema_name,), retry=False)


def media_fetch_enqueue(schema_name: str, message_id: str) -> None:
    """Ask a worker to copy this inbound message's media from WAHA."""
    current_app.send_task(MEDIA_FETCH, args=(schema_name, message_id), retry=False)
