"""The dispatch kick: make sure a worker sends a session's due messages soon.

A task is an entry point, like a view: ``messaging/tasks.py`` imports the services, so a service never imports a
task. What a service and a task share is a message on the broker, the task's name and its arguments, and that is
what the kick sends (``send_task``, by name): ``messaging.dispatch_session(schema_name, session_id)``, the name
``messaging.tasks.dispatch_session`` is registered under. This module is the only place a messaging service
enqueues work.
"""

from __future__ import annotations

import logging

from celery import current_app

from core.db.ids import RowId
from core.quiet import QuietWindow
from core.tenancy import current_schema
from messaging import metrics
from messaging.services import pacing

logger = logging.getLogger("messaging")

# The message contract with messaging.tasks.dispatch_session: its name; its arguments are (schema name, session id).
DISPATCH_SESSION = "messaging.dispatch_session"

# After a kick, a process stays quiet about that session for KICK_QUIET_SECONDS: a busy session would
# otherwise cost a Redis round trip per message (bench/RESULTS.md, "Accepted sends"). Every kick therefore
# also schedules a dispatch KICK_LOOK_AGAIN_SECONDS later, which sends what the process stored while quiet
# (a dispatch that finds another running returns, and that one looks at the queue after it). The margin
# covers clock skew between the web and worker hosts: Celery's countdown is a wall-clock ETA.
KICK_QUIET_SECONDS = 0.25
KICK_LOOK_AGAIN_SECONDS = 0.5
_kicked = QuietWindow(KICK_QUIET_SECONDS)


def dispatch_kick(*, session_id: RowId) -> None:
    """Make sure a worker will send this session's due messages soon.

    Never raises: with Redis or the broker down the messages stay queued in
    the database and the sweeper enqueues them once the broker is back.
    """
    args = (current_schema(), str(session_id))
    if _kicked.quiet(args):
        return  # this process enqueued a dispatch moments ago, and the look after it is scheduled
    try:
        if pacing.kick_claim(session_id):
            current_app.send_task(DISPATCH_SESSION, args=args, retry=False)
        current_app.send_task(DISPATCH_SESSION, args=args, countdown=KICK_LOOK_AGAIN_SECONDS, retry=False)
        _kicked.start(args)
    except Exception as exc:  # noqa: BLE001 - any broker failure: the sweeper recovers
        metrics.ENQUEUE_FAILURES.inc()
        logger.warning("dispatch.kick_failed session_id=%s error=%s", session_id, type(exc).__name__)
