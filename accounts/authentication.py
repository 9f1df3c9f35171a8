"""Bearer JWT authentication bound to the request's tenant."""

from __future__ import annotations

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken


class TenantJWTAuthentication(JWTAuthentication):
    """simplejwt with tenant-bound tokens; a missing or inactive user is ``token_invalid``."""

    def get_user(self, validated_token):  # type: ignore[no-untyped-def]
        try:
            return super().get_user(validated_token)
        except (AuthenticationFailed, InvalidToken) as exc:
            raise InvalidToken("The token's user no longer exists or is inactive.") from exc
