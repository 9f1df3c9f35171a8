"""OpenAPI generation: the tenant header and the problem responses on every operation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from core.rest.fields import schema_pattern
from core.rest.serializers import Serializer

_EXAMPLE_CODES = {
    "400": ("validation_error", "Invalid input", "The request body or parameters are invalid."),
    "401": ("token_invalid", "Unauthorized", "Token was not issued for this tenant"),
    "403": ("permission_denied", "Forbidden", "Your role does not allow this action."),
    "404": ("not_found", "Not found", "No user with this id."),
    "405": ("method_not_allowed", "Method Not Allowed", 'Method "DELETE" not allowed.'),
    "406": ("not_acceptable", "Not Acceptable", "Could not satisfy the request Accept header."),
    "409": ("conflict", "Conflict", "A user with this email already exists."),
    "413": ("payload_too_large", "Request body too large", "The request body exceeds the size this endpoint accepts."),
    "415": ("unsupported_media_type", "Unsupported Media Type", 'Unsupported media type "text/plain" in request.'),
    "429": ("rate_limited", "Too Many Requests", "Request was throttled. Expected available in 42 seconds."),
    "503": ("waha_unavailable", "WAHA unavailable", "WAHA could not be reached; nothing was changed."),
}


def problem_example(status: str, code: str | None = None, title: str | None = None,
                    detail: str | None = None) -> dict[str, Any]:
    default_code, default_title, default_detail = _EXAMPLE_CODES.get(status, ("error", "Error", "Error."))
    code = code or default_code
    example: dict[str, Any] = {
        "type": f"https://docs.waha-gateway.dev/problems/{code}", "title": title or default_title,
        "status": int(status), "detail": detail or default_detail, "code": code}
    if status == "400" and code == "validation_error":
        example["errors"] = {"email": ["Enter a valid email address."]}
    return example


def problem(status: int, description: str, *, code: str | None = None, title: str | None = None,
            detail: str | None = None) -> OpenApiResponse:
    """A documented error answer: ``application/problem+json`` with the Problem component and an example."""
    example = problem_example(str(status), code, title, detail)
    return OpenApiResponse(ProblemSerializer, description=description, examples=[
        OpenApiExample(example["code"], value=example, status_codes=[str(status)], response_only=True)])


class ProblemSerializer(Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="URI naming the problem type.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable snake_case code to branch on, e.g. `validation_error`.")
    # A declared field: DRF's metaclass takes it off the class, so Serializer.errors is not shadowed.
    errors = serializers.DictField(  # type: ignore[assignment]  # the stubs see it replace Serializer.errors
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="Field name → messages (validation errors only).")


_ERROR_DESCRIPTIONS = {
    "401": "Missing, invalid, expired or foreign-tenant token or API key (`not_authenticated`, "
           "`authentication_failed`, `token_invalid`, `api_key_invalid`).",
    "403": "The role may not do this (`permission_denied`).",
    "405": "Method not allowed (`method_not_allowed`), answered before authentication.",
    "406": "The `Accept` header rules out JSON (`not_acceptable`).",
    "413": "Body larger than `MAX_REQUEST_BODY_BYTES` (`payload_too_large`).",
    "415": "Body is not `application/json` (`unsupported_media_type`).",
    "429": "Rate limited or locked out (`rate_limited`, `account_locked`), with `Retry-After`.",
}
_PUBLIC_401 = {
    "/auth/login": "Wrong email or password, or a deactivated account (`invalid_credentials`).",
    "/auth/refresh": "The refresh token is invalid, expired, blacklisted or another tenant's (`token_invalid`).",
    "/auth/logout": "The refresh token is invalid, expired, blacklisted or another tenant's (`token_invalid`).",
}
PROBLEM_MEDIA_TYPES = ["application/problem+json"]

TENANT_HEADER = OpenApiParameter(
    "X-Tenant", location=OpenApiParameter.HEADER, required=False,
    description="Tenant slug, for clients on a shared hostname. Not needed on a tenant's own host "
                "(e.g. `acme.localhost`); a header naming another tenant than the host is a 400.",
)


class ServiceAutoSchema(AutoSchema):
    """Documents, on every tenant operation, each error status the service can answer there.

    The codes follow from the operation itself, so no view repeats them: 400 everywhere (`X-Tenant`
    naming another tenant than the host, plus bad query parameters and bodies), 401 when a token or
    credentials are checked, 403 when the permission class refuses some role for this method, 404
    everywhere (unknown tenant; unknown ids on paths with ids; a bad cursor on lists), 405, 406
    unless the endpoint renders anything, 413 and 415 with a JSON body, 429 when throttled. Views
    add what only they know (409, 503). Every error is `application/problem+json` with the Problem
    component. The webhook endpoints are routed too (but take no `X-Tenant` parameter).
    """

    def _map_serializer_field(self, field: serializers.Field, direction: str,
                              bypass_extensions: bool = False) -> dict[str, Any]:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        pattern = schema_pattern(field)
        if pattern and schema.get("type") == "string" and not {"pattern", "format", "enum"} & set(schema):
            schema["pattern"] = pattern  # what DRF enforces beyond the type (core.rest.fields)
        return schema

    def get_override_parameters(self) -> list[Any]:
        params = super().get_override_parameters()
        if self._is_tenant_endpoint():
            params = [*params, TENANT_HEADER]
        return params

    def _is_tenant_endpoint(self) -> bool:
        return self._is_routed() and not self.path.startswith("/webhooks/")

    def _is_routed(self) -> bool:
        """Tenant routing (400 `tenant_conflict`, 404 `tenant_not_found`) runs before the view."""
        return not self.path.startswith(("/health", "/ready", "/metrics", "/api/"))

    def _is_public(self) -> bool:
        return any(isinstance(p, AllowAny) for p in self.view.get_permissions()) if self.view else False

    def _may_forbid(self) -> bool:
        """Whether a permission class of the view refuses some role for this method.

        A role rule says so itself (``refuses_some_role``, ``accounts.permissions.RolePermission``); any other
        permission class may refuse anyone.
        """
        for permission in self.view.get_permissions() if self.view else []:
            if isinstance(permission, AllowAny):
                continue
            refuses_some_role = getattr(permission, "refuses_some_role", None)
            if refuses_some_role is None or refuses_some_role(self.method):
                return True
        return False

    def _error_responses(self, operation: dict[str, Any]) -> dict[str, OpenApiResponse]:
        params = operation.get("parameters", [])
        in_query = [p["name"] for p in params if p["in"] == "query"]
        has_ids = any(p["in"] == "path" for p in params)
        has_body = "requestBody" in operation
        bad_input = ["an `X-Tenant` header naming another tenant than the host (`tenant_conflict`)"]
        if has_body:
            bad_input.insert(0, "an invalid body (`validation_error`, with `errors` per field; `malformed_json`)")
        validated = [name for name in in_query if name != "cursor"]
        if validated:
            bad_input.insert(0, "an invalid query parameter (`validation_error`: " + ", ".join(
                f"`{name}`" for name in validated) + "; an empty value is invalid too)")
        not_found = ["an unknown tenant (`tenant_not_found`)"]
        if has_ids:
            not_found.insert(0, "an id that does not exist in this tenant (`not_found`)")
        if "cursor" in in_query:
            not_found.insert(0, "an invalid `cursor` (`not_found`)")
        found = {
            "400": problem(400, "Bad request: " + "; ".join(bad_input) + "."),
            "404": problem(404, "Not found: " + "; ".join(not_found) + ".",
                           code="not_found" if has_ids or "cursor" in in_query else "tenant_not_found",
                           title="Not found" if has_ids else "Tenant not found",
                           detail="Not found." if has_ids else "No tenant with this slug."),
            "405": problem(405, _ERROR_DESCRIPTIONS["405"]),
        }
        public = self._is_public()
        if not public or self.path in _PUBLIC_401:
            code = "invalid_credentials" if self.path == "/auth/login" else "token_invalid"
            description = _PUBLIC_401.get(self.path, _ERROR_DESCRIPTIONS["401"])
            if self.path.startswith("/auth/"):
                description += " A request that presents an API key is refused (`api_key_not_accepted`)."
            found["401"] = problem(401, description, code=code, title="Unauthorized")
        if not public and self._may_forbid():
            found["403"] = problem(403, _ERROR_DESCRIPTIONS["403"])
        renderers = self.view.get_renderers() if self.view else []
        if not any(renderer.media_type == "*/*" for renderer in renderers):
            found["406"] = problem(406, _ERROR_DESCRIPTIONS["406"])
        if has_body:
            found["413"] = problem(413, _ERROR_DESCRIPTIONS["413"])
            if not getattr(self.view, "accepts_any_content_type", False):
                found["415"] = problem(415, _ERROR_DESCRIPTIONS["415"])
        if self.view and self.view.get_throttles():
            found["429"] = problem(429, _ERROR_DESCRIPTIONS["429"])
        return found

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None or not self._is_routed():
            return operation
        responses = operation["responses"]
        for code, response in self._error_responses(operation).items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, PROBLEM_MEDIA_TYPES)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _get_response_for_code(self, serializer: Any, status_code: int | str, media_types: list[str] | None = None,
                               direction: str = "response") -> dict[str, Any]:
        """An error answer is problem JSON: a bare description or the Problem serializer gets its media type."""
        if direction == "response" and str(status_code)[:1] in "45" and media_types is None:
            inner = serializer.response if isinstance(serializer, OpenApiResponse) else serializer
            if inner is None or inner is ProblemSerializer or isinstance(inner, ProblemSerializer):
                if inner is None:
                    description = serializer.description if isinstance(serializer, OpenApiResponse) else ""
                    serializer = problem(int(status_code), str(description) or "Error.")
                media_types = PROBLEM_MEDIA_TYPES
        return super()._get_response_for_code(serializer, status_code, media_types, direction)
