"""Reads of users."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User
from core.db.ids import RowId
from core.problems import NotFound


def user_list() -> QuerySet[User]:
    """Users of the current tenant, for listing."""
    return User.objects.all()


def user_get(*, user_id: RowId) -> User:
    """One user of the current tenant; an unknown id is the one 404."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("No user with this id.")
    return user
