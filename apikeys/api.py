"""API keys endpoints: validate, call a service or selector, serialize."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.callers import UserRequest
from apikeys import selectors, services
from apikeys.permissions import ApiKeysAccess
from apikeys.serializers import ApiKeyCreatedSerializer, ApiKeyCreateSerializer, ApiKeySerializer
from core.rest.views import APIView, GenericAPIView

CREATE_EXAMPLE = OpenApiExample(
    "Order backend",
    request_only=True,
    value={
        "name": "order backend",
        "role": "MANAGER",
        "sessions": ["6f1c2f7e-2b8e-4c61-9a39-0d9f8a1b2c3d"],
        "expires_at": "2027-06-30T00:00:00Z",
    },
)
KEY_FIELDS = {
    "id": "01938f2e-7c1a-7d3e-9b2f-4a5c6d7e8f90",
    "name": "order backend",
    "role": "MANAGER",
    "sessions": ["6f1c2f7e-2b8e-4c61-9a39-0d9f8a1b2c3d"],
    "prefix": "wgk_Q7vR2mXa",
    "created_at": "2026-11-24T10:15:00Z",
    "expires_at": "2027-06-30T00:00:00Z",
    "last_used_at": None,
    "created_by": "e4c038a0-68dc-42f2-bb15-6494de6f6349",
}
CREATED_EXAMPLE = OpenApiExample(
    "Created",
    response_only=True,
    status_codes=["201"],
    value={**KEY_FIELDS, "key": "wgk_Q7vR2mXa_3kT9wLq0ZbN4cVx8HjR2sDf6GyP1mUe5KoA7tWi3XnB"},
)
KEY_EXAMPLE = OpenApiExample("Key", response_only=True, status_codes=["200"], value=KEY_FIELDS)


class ApiKeyListView(GenericAPIView):
    permission_classes = [ApiKeysAccess]
    serializer_class = ApiKeySerializer

    @extend_schema(
        tags=["api-keys"],
        summary="List the tenant's API keys (never the keys themselves)",
        description="Keys that are not revoked, newest first; expired ones stay listed until revoked.",
        responses={200: ApiKeySerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.api_key_list())
        return self.get_paginated_response(ApiKeySerializer(page, many=True).data)

    @extend_schema(
        tags=["api-keys"],
        summary="Create an API key (the key is shown in this answer only)",
        description="The service stores only a hash of `key`: copy it from this answer, it cannot be shown "
        "again. The key acts with `role` in this tenant only and, with `sessions`, only on those "
        "sessions. Send it as `X-Api-Key: <key>` or `Authorization: Api-Key <key>`.",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer},
        examples=[CREATE_EXAMPLE, CREATED_EXAMPLE],
    )
    def post(self, request: UserRequest) -> Response:
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        api_key, key = services.api_key_create(
            name=data["name"],
            role=data["role"],
            session_ids=data.get("sessions"),
            expires_at=data.get("expires_at"),
            created_by=request.user,
        )
        api_key.key = key  # type: ignore[attr-defined]  # shown once, in this answer; never stored
        # The answer holds a secret: no cache may keep it.
        return Response(
            ApiKeyCreatedSerializer(api_key).data, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"}
        )


class ApiKeyDetailView(APIView):
    permission_classes = [ApiKeysAccess]

    @extend_schema(
        tags=["api-keys"],
        summary="Get an API key (never the key itself)",
        responses={200: ApiKeySerializer},
        examples=[KEY_EXAMPLE],
    )
    def get(self, request: Request, api_key_id: str) -> Response:
        return Response(ApiKeySerializer(selectors.api_key_get(api_key_id=api_key_id)).data)

    @extend_schema(
        tags=["api-keys"],
        summary="Revoke an API key",
        description="From the next request on, no worker accepts the key (401 `api_key_invalid`). "
        "The key is then gone from this API (404); what it created keeps naming it.",
        responses={204: None},
    )
    def delete(self, request: Request, api_key_id: str) -> Response:
        services.api_key_revoke(api_key=selectors.api_key_get(api_key_id=api_key_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
