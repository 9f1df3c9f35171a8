"""Base API views shared by every app."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, generics, views
from rest_framework.request import Request


class MethodCheckedFirst(views.APIView):
    """Answer 405 for a method the endpoint lacks before authenticating.

    DRF authenticates and checks permissions before it looks for a handler,
    so an unsupported method would otherwise be a 401 or 403 depending on
    who asks. A missing method is a property of the URL, not of the caller.
    """

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        method = request.method or ""
        if method.lower() not in self.http_method_names or not hasattr(self, method.lower()):
            raise exceptions.MethodNotAllowed(method)
        super().initial(request, *args, **kwargs)


class APIView(MethodCheckedFirst, views.APIView):
    pass


class GenericAPIView(MethodCheckedFirst, generics.GenericAPIView):
    pass


class PublicAPIView(APIView):
    """An endpoint anyone may call (login, refresh, logout).

    Without authenticators DRF turns every 401 into a 403; these endpoints
    still answer a bad token with 401, as the contract says.
    """

    authentication_classes: list = []

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'

