"""API key authentication, on the same DRF request path as the JWTs (``REST_FRAMEWORK`` settings).

A presented key is looked up by its prefix in the tenant's schema on every request, by one prepared
statement, and its hash compared in constant time. Nothing about a key is remembered between requests,
so a revoked or expired key is refused by every worker from the next request on, and another tenant's
key is simply unknown here (401 ``api_key_invalid``). The cost is that of the user read on the JWT path.

``last_used_at`` is kept to the minute without a write per request: the row read says when the key was
last used, and only a value older than a minute is moved on (a conditional UPDATE, so that workers
racing on the same minute write once).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.utils import timezone
from django_tenants.utils import get_public_schema_name
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.principals import API_KEY_AUTH_SCHEME, ApiKeyInvalid, ApiKeyPrincipal, presented_api_key
from apikeys.keys import key_matches, key_prefix
from apikeys.models import ApiKey
from core.db import statements as db_statements
from core.tenancy import current_schema

LAST_USED_RESOLUTION = timedelta(minutes=1)

_READ = """SELECT id, key_hash, role, name, session_ids, last_used_at FROM {api_keys}
            WHERE prefix = %(prefix)s AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > %(now)s)"""
_TOUCH = """UPDATE {api_keys} SET last_used_at = %(now)s
             WHERE id = %(id)s AND (last_used_at IS NULL OR last_used_at < %(stale)s) RETURNING id"""
_sql: dict[tuple[str, str], str] = {}


def _statement(schema: str, template: str) -> str:
    sql = _sql.get((schema, template))
    if sql is None:
        sql = _sql[(schema, template)] = template.format(api_keys=db_statements.table(schema, ApiKey))
    return sql


class ApiKeyAuthentication(BaseAuthentication):
    """``X-Api-Key: <key>`` or ``Authorization: Api-Key <key>``; anything wrong with the key is a 401
    ``api_key_invalid``. A request without a key is left to the other authentication classes."""

    def authenticate(self, request: Request) -> tuple[ApiKeyPrincipal, ApiKeyPrincipal] | None:
        key = presented_api_key(request)
        if key is None:
            return None
        principal = key_principal(key)
        if principal is None:
            raise ApiKeyInvalid()
        return principal, principal

    def authenticate_header(self, request: Request) -> str:
        return f'{API_KEY_AUTH_SCHEME} realm="api"'


def key_principal(key: str) -> ApiKeyPrincipal | None:
    """The principal of a live key of the current tenant, or None (malformed, unknown, revoked, expired)."""
    schema = current_schema()
    prefix = key_prefix(key)
    if prefix is None or schema == get_public_schema_name():
        return None
    sql, now = _statement(schema, _READ), timezone.now()
    row = db_statements.read_retrying(lambda: db_statements.fetch_one(sql, {"prefix": prefix, "now": now}))
    if row is None:
        return None
    key_id, stored_hash, role, name, session_ids, last_used_at = row
    if not key_matches(key, stored_hash):
        return None
    _touch(schema, key_id, last_used_at, now)
    return ApiKeyPrincipal(
        api_key_id=key_id, role=role, name=name, session_ids=frozenset(session_ids) if session_ids is not None else None
    )


def _touch(schema: str, key_id: uuid.UUID, last_used_at: datetime | None, now: datetime) -> None:
    """Move ``last_used_at`` on if it is older than a minute (at most one write per key and minute)."""
    stale = now - LAST_USED_RESOLUTION
    if last_used_at is not None and last_used_at >= stale:
        return
    db_statements.fetch_one(_statement(schema, _TOUCH), {"id": key_id, "now": now, "stale": stale})
