"""Base API views shared by every app."""

from __future__ import annotations

from rest_framework import exceptions, generics, views
from rest_framework.request import Request


class MethodCheckedFirst:
    """Answer 405 for a method the endpoint lacks before authenticating.

    DRF authenticates and checks permissions before it looks for a handler,
    so an unsupported method would otherwise be a 401 or 403 depending on
    who asks. A missing method is a property of the URL, not of the caller.
    """

    def initial(self, request: Request, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):  # type: ignore[attr-defined]
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)  # type: ignore[misc]


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

