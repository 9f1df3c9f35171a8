"""Writes for API keys: create (the key is returned once) and revoke."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from apikeys.keys import key_generate, key_hash
from apikeys.models import ApiKey
from core.problems import InvalidInput
from sessions_waha.models import Session

logger = logging.getLogger("apikeys")

# A new prefix is drawn again on the (astronomically rare) collision with an existing one.
PREFIX_ATTEMPTS = 5


def _sessions_checked(session_ids: Sequence[uuid.UUID] | None) -> list[uuid.UUID] | None:
    """The distinct ids, each a live session of this tenant (400 naming the others)."""
    if session_ids is None:
        return None
    wanted = list(dict.fromkeys(session_ids))
    known = set(Session.objects.alive().filter(pk__in=wanted).values_list("pk", flat=True))
    unknown = [str(session_id) for session_id in wanted if session_id not in known]
    if unknown:
        raise InvalidInput(errors={"sessions": [f"No session with id {session_id}." for session_id in unknown]})
    return wanted


def api_key_create(
    *,
    name: str,
    role: str,
    created_by: User,
    session_ids: Sequence[uuid.UUID] | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns it and the key itself, which is stored only as a hash and never shown again."""
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput(errors={"expires_at": ["Give a time in the future, or leave it out for no expiry."]})
    sessions = _sessions_checked(session_ids)
    for _ in range(PREFIX_ATTEMPTS):
        key, prefix = key_generate()
        api_key = ApiKey(
            name=name,
            role=role,
            session_ids=sessions,
            prefix=prefix,
            key_hash=key_hash(key),
            expires_at=expires_at,
            created_by=created_by,
        )
        try:
            with transaction.atomic():
                api_key.save(force_insert=True)
        except IntegrityError:
            continue  # the prefix is taken: draw another key
        logger.info("api_key.created api_key_id=%s prefix=%s role=%s", api_key.pk, prefix, role)
        return api_key, key
    raise RuntimeError("could not draw an unused API key prefix")


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke a key: from the next request on, no worker accepts it (authentication reads the row)."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    logger.info("api_key.revoked api_key_id=%s prefix=%s", api_key.pk, api_key.prefix)
