"""JWTs that belong to one tenant.

Stock simplejwt tokens carry only a user id, so a token from tenant A would
authenticate on tenant B wherever B has a user with the same id. Every token
here carries the tenant it was issued in and is refused anywhere else, for
authentication, refresh and logout alike.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.db import connection
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

TENANT_CLAIM = "tenant"


def current_tenant_slug() -> str | None:
    """The slug of the tenant this connection serves (None on the public schema)."""
    return getattr(connection.tenant, "slug", None)


class TenantClaimMixin:
    payload: dict

    def verify(self) -> None:
        # Checked before the blacklist lookup so a foreign token never touches
        # this tenant's tables.
        tenant = current_tenant_slug()
        if tenant is None or self.payload.get(TENANT_CLAIM) != tenant:
            raise TokenError("Token was not issued for this tenant")
        super().verify()  # type: ignore[misc]

    @classmethod
    def for_user(cls, user):  # type: ignore[no-untyped-def]
        token = super().for_user(user)  # type: ignore[misc]
        token[TENANT_CLAIM] = current_tenant_slug()
        return token


class TenantAccessToken(TenantClaimMixin, AccessToken):
    pass


class TenantRefreshToken(TenantClaimMixin, RefreshToken):
    access_token_class = TenantAccessToken


# (tenant, raw token) → (user id, expiry): what verifying that exact string found. A token's claims cannot
# change, so a repeat only needs its expiry checked; the user is still looked up on every request.
_verified: dict[tuple[str | None, str], tuple[str, float]] = {}
VERIFIED_CACHE_SIZE = 10_000


def access_token_user_id(raw: str) -> str | None:
    """The user id of ``raw`` if it is a valid access token of this tenant (None otherwise).

    Verification (signature, type, tenant, expiry) is simplejwt's, remembered per process until the
    token expires: the send fast path (messaging/wsgi.py) would otherwise spend a tenth of its time on it.
    """
    key = (current_tenant_slug(), raw)
    known = _verified.get(key)
    if known is not None and time.time() < known[1] + _leeway_seconds():
        return known[0]
    try:
        token = TenantAccessToken(raw)
        user_id, expires = str(token[api_settings.USER_ID_CLAIM]), float(token["exp"])
    except (TokenError, KeyError, TypeError, ValueError):
        return None
    if len(_verified) >= VERIFIED_CACHE_SIZE:
        _verified.clear()
    _verified[key] = (user_id, expires)
    return user_id


def _leeway_seconds() -> float:
    leeway = api_settings.LEEWAY
    return leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway or 0)
