"""Helpers shared by test modules (import from here, not from conftest)."""

from __future__ import annotations

from django.core import signals
from django.core.handlers.wsgi import WSGIRequest
from django.db import close_old_connections
from django.http import HttpResponse
from django_tenants.utils import tenant_context
from rest_framework.test import APIClient, ForceAuthClientHandler

from accounts.models import User
from accounts.tokens import TenantRefreshToken
from config import fast_paths

TEST_TENANTS = {"acme": "acme.localhost", "globex": "globex.localhost", "e2e": "e2e.localhost"}
TEST_PASSWORD = "Correct-Horse-Battery-9"


def tokens_for(tenant, user: User) -> TenantRefreshToken:
    with tenant_context(tenant):
        return TenantRefreshToken.for_user(user)


class FastPathClientHandler(ForceAuthClientHandler):
    """Requests take ``config.fast_paths`` first, as under gunicorn (``config.wsgi``), then Django.

    Like Django's own handler, it keeps the request signals from closing the
    test's database connection.
    """

    def __call__(self, environ):
        route = fast_paths.route_for(environ)
        if route is None:
            return super().__call__(environ)
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            answered = fast_paths.respond(route, environ)
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
        if answered is None:
            return super().__call__(environ)
        response = HttpResponse(answered.body, status=int(answered.status.split()[0]), headers=answered.headers)
        response.wsgi_request = WSGIRequest(environ)
        response.fast_path = True
        return response


class TenantClient(APIClient):
    """An API client addressed to one tenant's host (or the public host).

    Requests go through the WSGI fast paths like in production; ``fast_paths=False`` sends them
    straight to Django (to test a DRF view the fast path would answer).
    """

    def __init__(self, host: str = "localhost", *, fast_paths: bool = True, **defaults) -> None:
        super().__init__(HTTP_HOST=host, **defaults)
        if fast_paths:
            self.handler = FastPathClientHandler(enforce_csrf_checks=False)

    def bearer(self, token: str) -> TenantClient:
        self.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return self
