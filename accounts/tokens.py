"""JWTs that belong to one tenant.

Stock simplejwt tokens carry only a user id, so a token from tenant A would
authenticate on tenant B wherever B has a user with the same id. Every token
here carries the tenant it was issued in and is refused anywhere else, for
authentication, refresh and logout alike.
"""

from __future__ import annotations

from typing import Any, Self

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, AuthUser, RefreshToken, Token

from accounts.models import User
from core.tenancy import tenant_connection

TENANT_CLAIM = "tenant"
# The user's ``token_generation`` when the token was issued. Revoking a user's tokens (a password change,
# deactivation: ``accounts.services.user_logins_end``) moves the user's counter on, which ends every access
# and refresh token issued before, at once and in every process: the user row is read on every use.
GENERATION_CLAIM = "gen"


def current_tenant_slug() -> str | None:
    """The slug of the tenant this connection serves (None on the public schema)."""
    return getattr(tenant_connection().tenant, "slug", None)


class TenantClaimMixin(Token):
    def verify(self) -> None:
        # Checked before the blacklist lookup so a foreign token never touches
        # this tenant's tables.
        tenant = current_tenant_slug()
        if tenant is None or self.payload.get(TENANT_CLAIM) != tenant:
            raise TokenError("Token was not issued for this tenant")
        super().verify()

    @classmethod
    def for_user(cls, user: AuthUser) -> Self:
        if not isinstance(user, User):  # simplejwt's signature admits its stateless TokenUser too
            raise TypeError("Tokens are issued to accounts.User only.")
        token = super().for_user(user)
        token[TENANT_CLAIM] = current_tenant_slug()
        token[GENERATION_CLAIM] = user.token_generation
        return token


class TenantAccessToken(TenantClaimMixin, AccessToken):
    pass


class TenantRefreshToken(TenantClaimMixin, RefreshToken):
    access_token_class = TenantAccessToken


def token_is_current(payload: dict[str, Any], user: User) -> bool:
    """Whether a token of ``user`` was issued after the last revocation of their tokens."""
    return payload.get(GENERATION_CLAIM) == user.token_generation
