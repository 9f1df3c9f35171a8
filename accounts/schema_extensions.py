"""OpenAPI: document our JWT authentication subclass as the bearer scheme.

drf-spectacular matches authentication classes exactly, so the subclass
needs its own extension or the bearer scheme disappears from the schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema


class TenantJWTScheme(SimpleJWTScheme):
    target_class = "accounts.authentication.TenantJWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        definition = super().get_security_definition(auto_schema)
        definition["description"] = (
            "Access token from `POST /auth/login`, sent as `Authorization: Bearer <token>`. "
            "Tokens are bound to the tenant that issued them."
        )
        return definition
