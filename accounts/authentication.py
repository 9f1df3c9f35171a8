"""Bearer JWT authentication bound to the request's tenant, for every API endpoint.

Verifying a token's signature costs more than the rest of a cheap request, and a client
sends the same access token for up to 15 minutes. So the result of verifying an exact token
string (in this tenant) is remembered per process until the token expires; a token's claims
cannot change, so a repeat needs only its expiry checked. What can change, the user, is read
from the database on every request: deactivation, deletion, a role change and a password
change (``token_generation``) hold at once, on every worker.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from cachetools import TLRUCache
from django.db import DEFAULT_DB_ALIAS, connection
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from accounts.models import User
from accounts.tokens import current_tenant_slug, token_is_current
from core.db import statements as db_statements
from core.tenancy import current_schema

# (tenant slug, raw token) → the verified token, each kept until the token expires (plus the leeway), the
# least recently used dropped when full. Locked: gunicorn may run threads (WEB_THREADS).
VERIFIED_CACHE_SIZE = 10_000


def _leeway_seconds() -> float:
    leeway = api_settings.LEEWAY
    return leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway or 0)


def _until_expiry(_key: object, token: Token, _now: float) -> float:
    return float(token["exp"]) + _leeway_seconds()


def verified_token_cache(timer: Callable[[], float] = time.time) -> TLRUCache[tuple[str | None, bytes], Token]:
    """A cache of verified tokens on ``timer``'s clock (epoch seconds, as ``exp`` is)."""
    return TLRUCache(maxsize=VERIFIED_CACHE_SIZE, ttu=_until_expiry, timer=timer)


_verified = verified_token_cache()
_verified_lock = threading.Lock()


class TenantJWTAuthentication(JWTAuthentication):
    """simplejwt with tenant-bound, revocable tokens; every refusal is a 401 ``token_invalid``."""

    def get_validated_token(self, raw_token: bytes) -> Token:
        key = (current_tenant_slug(), raw_token)
        try:
            with _verified_lock:
                return _verified[key]
        except KeyError:
            pass
        token = super().get_validated_token(raw_token)  # signature, expiry, type and tenant (accounts.tokens)
        with _verified_lock:
            _verified[key] = token
        return token

    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]  # simplejwt returns an unbound TypeVar
        user = user_by_id(validated_token.get(api_settings.USER_ID_CLAIM))
        if user is None or not user.is_active:
            raise InvalidToken("The token's user no longer exists or is inactive.")
        if not token_is_current(validated_token.payload, user):
            raise InvalidToken("The token was revoked (password change or deactivation); log in again.")
        return user


_USER_COLUMNS = [field.attname for field in User._meta.concrete_fields]
_user_sql: dict[str, str] = {}


def user_by_id(user_id: object) -> User | None:
    """The user row of this tenant, read on every authenticated request by one prepared statement
    (the ORM built the same query anew each time: a third of a cheap request's CPU)."""
    try:
        user_id = uuid.UUID(str(user_id))
    except ValueError:
        return None
    schema = current_schema()
    sql = _user_sql.get(schema)
    if sql is None:
        columns = ", ".join(connection.ops.quote_name(column) for column in _USER_COLUMNS)
        table = db_statements.table(schema, User)
        sql = _user_sql[schema] = f"SELECT {columns} FROM {table} WHERE id = %(id)s"  # noqa: S608 - identifiers  # nosec B608
    row = db_statements.read_retrying(lambda: db_statements.fetch_one(sql, {"id": user_id}))
    return User.from_db(DEFAULT_DB_ALIAS, _USER_COLUMNS, row) if row is not None else None

