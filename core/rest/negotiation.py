"""Content negotiation for every API view (``REST_FRAMEWORK["DEFAULT_CONTENT_NEGOTIATION_CLASS"]``).

Its own module: ``rest_framework.views`` reads the setting when it is imported, so the class cannot
live in a module that imports the views.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.http import Http404
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's content negotiation, decided at once for the usual request of a one-renderer endpoint.

    DRF parses the Accept header and builds the query dictionary (for ``?format=``) on every request,
    which was a third of its own per-request work. When the endpoint has one renderer, no format is
    asked for, and Accept is absent, ``*/*`` or exactly that renderer's type, the answer cannot differ:
    that renderer, with its type. Anything else (several renderers, ``?format=``, another Accept) is
    negotiated by DRF as before, so a 406 or 404 stays DRF's; an empty ``?format=`` is a 404 too.
    """

    def select_renderer(self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
                        ) -> tuple[BaseRenderer, str]:
        override = self.settings.URL_FORMAT_OVERRIDE
        # DRF passes the view's list of renderers.
        if format_suffix is None and isinstance(renderers, list) and len(renderers) == 1:
            renderer = renderers[0]
            accept = request.META.get("HTTP_ACCEPT", "*/*")
            if accept in ("*/*", renderer.media_type) and not (
                    override and f"{override}=" in request.META.get("QUERY_STRING", "")):
                return renderer, renderer.media_type
        if override and request.query_params.get(override) == "":
            # DRF reads an empty ?format= as none and answers in the default format; the schema lists the
            # formats an endpoint has, and no format at all is not one of them: a 404, as for an unknown one.
            raise Http404
        return super().select_renderer(request, renderers, format_suffix)
