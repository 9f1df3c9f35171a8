"""Request and response shapes of the auth and users endpoints."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings

from accounts.models import User
from accounts.roles import Role
from accounts.tokens import TenantRefreshToken, current_tenant_slug, token_is_current
from core.rest.fields import StrictBooleanField, StrictCharField, StrictEmailField
from core.rest.serializers import ModelSerializer, Serializer


class UserSerializer(ModelSerializer):
    tenant = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "role", "is_active", "tenant",
                  "last_login", "date_joined", "updated_at"]
        read_only_fields = fields

    def get_tenant(self, user: User) -> str | None:
        return current_tenant_slug()


PASSWORD_HELP = ("At least 10 characters, not too similar to the email or the names, not a common password, "
                 "not entirely numeric (400 with the reasons otherwise).")


class UserCreateSerializer(Serializer):
    email = StrictEmailField(max_length=254)
    password = StrictCharField(write_only=True, max_length=128, style={"input_type": "password"},
                               help_text=PASSWORD_HELP)
    role = serializers.ChoiceField(choices=Role.choices)
    first_name = StrictCharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = StrictCharField(max_length=150, required=False, allow_blank=True, default="")


class UserUpdateSerializer(Serializer):
    email = StrictEmailField(max_length=254, required=False)
    password = StrictCharField(write_only=True, max_length=128, required=False, help_text=PASSWORD_HELP)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    first_name = StrictCharField(max_length=150, required=False, allow_blank=True)
    last_name = StrictCharField(max_length=150, required=False, allow_blank=True)
    is_active = StrictBooleanField(required=False)


class LoginSerializer(Serializer):
    email = StrictCharField(max_length=254)
    password = StrictCharField(write_only=True, max_length=128, trim_whitespace=False)


class TokenPairSerializer(Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class LoginResponseSerializer(TokenPairSerializer):
    user = UserSerializer()


class RefreshRequestSerializer(Serializer):
    refresh = StrictCharField()


def _load_refresh(raw: str) -> TenantRefreshToken:
    try:
        return TenantRefreshToken(raw)  # type: ignore[arg-type]  # simplejwt annotates the encoded JWT as Token
    except TokenError as exc:
        raise InvalidToken(str(exc)) from exc


class TenantTokenRefreshSerializer(RefreshRequestSerializer):
    """Rotate a refresh token of this tenant; a vanished or inactive user is a 401."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = _load_refresh(attrs["refresh"])
        user_id = refresh.payload.get(api_settings.USER_ID_CLAIM)
        user = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
        if user is None or not user.is_active:
            raise InvalidToken("The token's user no longer exists or is inactive.")
        if not token_is_current(refresh.payload, user):
            raise InvalidToken("The token was revoked (password change or deactivation); log in again.")
        access = str(refresh.access_token)
        refresh.blacklist()
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        refresh.outstand()
        return {"access": access, "refresh": str(refresh)}


class LogoutSerializer(RefreshRequestSerializer):
    """Blacklist a refresh token of this tenant."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _load_refresh(attrs["refresh"]).blacklist()
        return {}
