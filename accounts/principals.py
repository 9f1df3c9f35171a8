"""Who is calling: a user (JWT) or an API key, as the rest of the code sees it through ``request.user``.

A request authenticated with an API key (``apikeys.authentication``) carries an ``ApiKeyPrincipal``
instead of a ``User``. It has what the permission classes and the selectors read from a user (``role``,
``is_authenticated``) plus what only a key has: its id and the sessions it is bound to. It has no ``pk``
on purpose: code that would record a key as a user fails loudly instead of storing a wrong id.

The API key app depends on this module, never the other way round, so how a key is presented (the
headers) lives here and what a key is (its table, its hash) lives in ``apikeys``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from rest_framework.exceptions import AuthenticationFailed

# The OpenAPI security scheme of API keys (``apikeys.schema_extensions``); operations that refuse keys
# leave it out (``core.rest.schema``).
API_KEY_SECURITY_SCHEME = "apiKeyAuth"
API_KEY_HEADER = "X-Api-Key"
API_KEY_AUTH_SCHEME = "Api-Key"  # Authorization: Api-Key <key>


@dataclass(frozen=True, slots=True)
class ApiKeyPrincipal:
    """The caller of a request made with an API key."""

    api_key_id: uuid.UUID
    role: str
    name: str
    # The sessions the key may send on and read; None: every session of the tenant.
    session_ids: frozenset[uuid.UUID] | None

    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False
    is_active: ClassVar[bool] = True

    def __str__(self) -> str:
        return f"API key {self.name}"


class ApiKeyInvalid(AuthenticationFailed):
    default_detail = "The API key is unknown, revoked or expired, or belongs to another tenant."
    default_code = "api_key_invalid"


class ApiKeyNotAccepted(AuthenticationFailed):
    default_detail = "API keys are not accepted on /auth/*: these endpoints are for users."
    default_code = "api_key_not_accepted"


def presented_api_key(request: Any) -> str | None:
    """The API key the request presents (``X-Api-Key: <key>`` or ``Authorization: Api-Key <key>``), or None.

    A header that names the scheme without exactly one key (``Authorization: Api-Key``) is refused here.
    """
    meta = request.META
    key = meta.get("HTTP_X_API_KEY")
    if key is not None:
        return key.strip()
    parts = meta.get("HTTP_AUTHORIZATION", "").split()
    if not parts or parts[0].lower() != API_KEY_AUTH_SCHEME.lower():
        return None
    if len(parts) != 2:
        raise ApiKeyInvalid("Send the key as 'Authorization: Api-Key <key>'.")
    return parts[1]


def is_api_key(principal: object) -> bool:
    return isinstance(principal, ApiKeyPrincipal)


def session_scope(principal: object) -> frozenset[uuid.UUID] | None:
    """The sessions ``principal`` is limited to, or None when it may use every session (users)."""
    return principal.session_ids if isinstance(principal, ApiKeyPrincipal) else None


def may_use_session(principal: object, session_id: object) -> bool:
    scope = session_scope(principal)
    return scope is None or session_id in scope
