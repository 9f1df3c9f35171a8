"""OpenAPI generation: the tenant header and the problem responses on every operation."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

_EXAMPLE_CODES = {
    "400": ("validation_error", "Invalid input", "The request body or parameters are invalid."),
    "401": ("token_invalid", "Unauthorized", "Token was not issued for this tenant"),
    "403": ("permission_denied", "Forbidden", "Your role does not allow this action."),
    "404": ("not_found", "Not found", "No user with this id."),
    "405": ("method_not_allowed", "Method Not Allowed", 'Method "DELETE" not allowed.'),
    "413": ("payload_too_large", "Request body too large", "The request body exceeds the size this endpoint accepts."),
    "415": ("unsupported_media_type", "Unsupported Media Type", 'Unsupported media type "text/plain" in request.'),
    "429": ("rate_limited", "Too Many Requests", "Request was throttled. Expected available in 42 seconds."),
}


def problem_example(status: str) -> dict:
    code, title, detail = _EXAMPLE_CODES[status]
    example = {"type": f"https://docs.waha-gateway.dev/problems/{code}", "title": title, "status": int(status),
               "detail": detail, "code": code}
    if status == "400":
        example["errors"] = {"email": ["Enter a valid email address."]}
    return example


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="URI naming the problem type.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable snake_case code to branch on, e.g. `validation_error`.")
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False,
                                   help_text="Field name → messages (validation errors only).")


_ERROR_DESCRIPTIONS = {
    "400": "Invalid input (`validation_error`, `malformed_json`).",
    "401": "Missing, invalid, expired or foreign-tenant token (`not_authenticated`, `token_invalid`).",
    "403": "The role may not do this (`permission_denied`).",
    "404": "Unknown id in this tenant, or unknown tenant (`not_found`, `tenant_not_found`).",
    "405": "Method not allowed (`method_not_allowed`).",
    "413": "Body too large (`payload_too_large`).",
    "415": "Body is not JSON (`unsupported_media_type`).",
    "429": "Rate limited or locked out (`rate_limited`, `account_locked`), with `Retry-After`.",
}

TENANT_HEADER = OpenApiParameter(
    "X-Tenant", location=OpenApiParameter.HEADER, required=False,
    description="Tenant slug, for clients on a shared hostname. Not needed on a tenant's own host "
                "(e.g. `acme.localhost`); a header naming another tenant than the host is a 400.",
)


class ServiceAutoSchema(AutoSchema):
    def get_override_parameters(self):  # type: ignore[no-untyped-def]
        params = super().get_override_parameters()
        if self._is_tenant_endpoint():
            params = [*params, TENANT_HEADER]
        return params

    def _is_tenant_endpoint(self) -> bool:
        return not self.path.startswith(("/health", "/ready", "/metrics", "/api/", "/webhooks/"))

    def _error_codes(self) -> list[str]:
        codes = ["400", "404", "405", "413", "415"] if self.method in ("POST", "PUT", "PATCH") else ["404", "405"]
        public = any(isinstance(p, AllowAny) for p in self.view.get_permissions()) if self.view else False
        if not public:
            codes += ["401", "403"]
        if self.path.startswith("/auth/"):
            codes += ["401", "429"]
        return sorted(set(codes))

    def _get_response_bodies(self, direction="response"):  # type: ignore[no-untyped-def]
        responses = super()._get_response_bodies(direction)
        if direction != "response" or not self._is_tenant_endpoint():
            return responses
        for code in self._error_codes():
            if code not in responses:
                response = OpenApiResponse(
                    ProblemSerializer, description=_ERROR_DESCRIPTIONS[code],
                    examples=[OpenApiExample(_EXAMPLE_CODES[code][0], value=problem_example(code),
                                             status_codes=[code], response_only=True)],
                )
                responses[code] = self._get_response_for_code(response, code, ["application/problem+json"], direction)
        return responses
