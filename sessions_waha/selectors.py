"""Reads of sessions: the one gate that turns an id into a session of this tenant."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.principals import session_scope
from core.db.ids import RowId
from core.problems import NotFound
from sessions_waha.models import Session


def session_list(*, user: object = None) -> QuerySet[Session]:
    """Live sessions of the current tenant (every role may read them); only its own for an API key bound to
    sessions."""
    sessions = Session.objects.alive().select_related("waha_server")
    if (scope := session_scope(user)) is not None:
        sessions = sessions.filter(pk__in=scope)
    return sessions


def session_get(*, session_id: RowId, user: object = None) -> Session:
    """A live session of the current tenant (that ``user`` may see); anything else is the one 404."""
    session = session_list(user=user).filter(pk=session_id).first()
    if session is None:
        raise NotFound("No session with this id.")
    return session
