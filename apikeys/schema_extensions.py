"""OpenAPI: the API key security scheme (``X-Api-Key``; ``Authorization: Api-Key`` works too)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from accounts.principals import API_KEY_HEADER, API_KEY_SECURITY_SCHEME


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apikeys.authentication.ApiKeyAuthentication"
    name = API_KEY_SECURITY_SCHEME

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": API_KEY_HEADER,
            "description": (
                "An API key from `POST /api-keys`, for backends: `X-Api-Key: <key>` or "
                "`Authorization: Api-Key <key>`. It acts with its role (MANAGER or AUDITOR), only in the "
                "tenant that created it and, when it is bound to sessions, only on those. Not accepted on "
                "`/auth/*` (401) nor on users and API keys (403)."
            ),
        }

    def get_security_requirement(  # type: ignore[override]  # None leaves the scheme out; spectacular allows it
        self, auto_schema: AutoSchema,
    ) -> dict[str, list[Any]] | list[dict[str, list[Any]]] | None:
        """Operations closed to API keys (``api_keys = False`` on their permission) list only the bearer scheme."""
        permissions = auto_schema.view.get_permissions() if auto_schema.view else []
        if any(getattr(permission, "api_keys", True) is False for permission in permissions):
            return None
        return super().get_security_requirement(auto_schema)
