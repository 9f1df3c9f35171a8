"""Reads of API keys. A revoked key is gone from the API (its row stays for what it created)."""

from __future__ import annotations

from django.db.models import QuerySet

from apikeys.models import ApiKey
from core.db.ids import RowId
from core.problems import NotFound


def api_key_list() -> QuerySet[ApiKey]:
    """The tenant's keys that are not revoked, expired ones included."""
    return ApiKey.objects.alive()


def api_key_get(*, api_key_id: RowId) -> ApiKey:
    api_key = api_key_list().filter(pk=api_key_id).first()
    if api_key is None:
        raise NotFound("No API key with this id.")
    return api_key
