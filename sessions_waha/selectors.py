"""Reads of sessions: the one gate that turns an id into a session of this tenant."""

from __future__ import annotations

from django.db.models import QuerySet

from core.problems import NotFound
from sessions_waha.models import Session


def session_list() -> QuerySet[Session]:
    """Live sessions of the current tenant (every role may read them)."""
    return Session.objects.alive().select_related("waha_server")


def session_get(*, session_id: object) -> Session:
    """A live session of the current tenant; anything else is the one 404."""
    session = session_list().filter(pk=session_id).first()
    if session is None:
        raise NotFound("No session with this id.")
    return session
