"""Auth and users endpoints: validate, call a service or selector, serialize."""

from __future__ import annotations

from django.db import transaction
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services
from accounts.authentication import TenantJWTAuthentication
from accounts.permissions import AnyRole, UsersAccess
from accounts.principals import ApiKeyNotAccepted, presented_api_key
from accounts.serializers import (
    LoginResponseSerializer,
    LoginSerializer,
    LogoutSerializer,
    RefreshRequestSerializer,
    TenantTokenRefreshSerializer,
    TokenPairSerializer,
    UserCreateSerializer,
    UserSerializer,
    UserUpdateSerializer,
)
from accounts.throttles import LoginRateThrottle
from core.rest.pagination import CursorPagination
from core.rest.schema import problem
from core.rest.views import APIView, GenericAPIView, PublicAPIView


class UserCursorPagination(CursorPagination):
    ordering = "-date_joined"


class UsersOnly:
    """``/auth/*`` is for users: a request that presents an API key is a 401 ``api_key_not_accepted``."""

    def perform_authentication(self, request: Request) -> None:
        if presented_api_key(request) is not None:
            raise ApiKeyNotAccepted()
        super().perform_authentication(request)  # type: ignore[misc]  # the stubs type the mixin's super() as object


LOGIN_EXAMPLE = OpenApiExample(
    "Login", value={"email": "admin@acme.test", "password": "correct horse battery"}, request_only=True
)
DUPLICATE_EMAIL = "An email that another user of the tenant has, in any letter case (`conflict`)"
LAST_ADMIN = "a change that would leave the tenant without an active TENANT_ADMIN (`conflict`)"
USER_CREATE_EXAMPLE = OpenApiExample(
    "New agent",
    value={"email": "ana@acme.test", "password": "long-enough-passphrase", "role": "AGENT",
           "first_name": "Ana", "last_name": "Silva"},
    request_only=True,
)


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class LoginView(UsersOnly, PublicAPIView):
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        tags=["auth"], summary="Log in with email and password",
        description=(
            "Returns an access token (15 min) and a refresh token (7 days), both bound to this tenant. "
            "After 5 failed attempts for one (email, client IP) the pair is locked for 15 minutes "
            "(429 `account_locked`); the endpoint is also rate limited per client IP (429 `rate_limited`)."
        ),
        request=LoginSerializer, responses={200: LoginResponseSerializer}, examples=[LOGIN_EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, refresh = services.auth_login(request=request._request, **serializer.validated_data)
        return Response({"access": str(refresh.access_token), "refresh": str(refresh),
                         "user": UserSerializer(user).data})


class RefreshView(UsersOnly, PublicAPIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["auth"], summary="Rotate a refresh token",
        description="Returns a new access and refresh token; the refresh token sent is blacklisted.",
        request=RefreshRequestSerializer, responses={200: TokenPairSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = TenantTokenRefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class LogoutView(UsersOnly, PublicAPIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["auth"], summary="Log out (blacklist a refresh token)",
        request=RefreshRequestSerializer, responses={204: None},
    )
    def post(self, request: Request) -> Response:
        LogoutSerializer(data=request.data).is_valid(raise_exception=True)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProfileView(UsersOnly, APIView):
    authentication_classes = [TenantJWTAuthentication]
    permission_classes = [AnyRole]

    @extend_schema(tags=["auth"], summary="The current user, with role and tenant", responses={200: UserSerializer})
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


class UserListView(GenericAPIView):
    permission_classes = [UsersAccess]
    serializer_class = UserSerializer
    pagination_class = UserCursorPagination

    @extend_schema(tags=["users"], summary="List the tenant's users", responses={200: UserSerializer(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.user_list())
        return self.get_paginated_response(UserSerializer(page, many=True).data)

    @extend_schema(
        tags=["users"], summary="Create a user",
        description="Emails are unique per tenant, case-insensitively (409 `conflict`). "
                    "Passwords go through the password validators (400 with the reasons).",
        request=UserCreateSerializer, examples=[USER_CREATE_EXAMPLE],
        responses={201: UserSerializer,
                   409: problem(409, DUPLICATE_EMAIL + ".", detail="A user with this email already exists.")},
    )
    def post(self, request: Request) -> Response:
        serializer = UserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_create(**serializer.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class UserDetailView(APIView):
    permission_classes = [UsersAccess]

    @extend_schema(tags=["users"], summary="Get a user", responses={200: UserSerializer})
    def get(self, request: Request, user_id: str) -> Response:
        return Response(UserSerializer(selectors.user_get(user_id=user_id)).data)

    @extend_schema(
        tags=["users"], summary="Replace a user's editable fields",
        description="Deactivating a user or changing their password ends their tokens and sessions at once. "
                    "The last active TENANT_ADMIN cannot be demoted or deactivated (409 `conflict`).",
        request=UserUpdateSerializer,
        responses={200: UserSerializer, 409: problem(409, f"{DUPLICATE_EMAIL}, or {LAST_ADMIN}.")},
    )
    def put(self, request: Request, user_id: str) -> Response:
        return self._update(request, user_id)

    @extend_schema(tags=["users"], summary="Change some of a user's fields",
                   description="Fields left out stay unchanged; the rules are those of `PUT`.",
                   request=UserUpdateSerializer,
                   responses={200: UserSerializer, 409: problem(409, f"{DUPLICATE_EMAIL}, or {LAST_ADMIN}.")})
    def patch(self, request: Request, user_id: str) -> Response:
        return self._update(request, user_id)

    @extend_schema(
        tags=["users"], summary="Deactivate a user",
        description="The user can no longer log in and their tokens die at once. The record stays "
                    "(messages keep their author). The last active TENANT_ADMIN cannot be removed (409).",
        responses={204: None,
                   409: problem(409, "The user is the tenant's last active TENANT_ADMIN (`conflict`).",
                                title="Last active admin",
                                detail="The tenant must keep at least one active TENANT_ADMIN.")},
    )
    def delete(self, request: Request, user_id: str) -> Response:
        user = selectors.user_get(user_id=user_id)
        services.user_update(user=user, data={"is_active": False})
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, user_id: str) -> Response:
        user = selectors.user_get(user_id=user_id)
        serializer = UserUpdateSerializer(data=request.data, partial=request.method == "PATCH")
        serializer.is_valid(raise_exception=True)
        user = services.user_update(user=user, data=serializer.validated_data)
        return Response(UserSerializer(user).data)
