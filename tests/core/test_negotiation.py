"""core.rest.negotiation.ContentNegotiation answers exactly as DRF's default negotiation does, but for an empty
``?format=`` (a 404, where DRF answers in the default format)."""

from __future__ import annotations

import pytest
from django.http import Http404
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.rest.negotiation import ContentNegotiation


class PngRenderer(BaseRenderer):
    media_type = "image/png"
    format = "png"


def outcome(negotiation, renderers, accept, query):
    extra = {"HTTP_ACCEPT": accept} if accept is not None else {}
    request = Request(APIRequestFactory().get("/x" + query, **extra))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except (exceptions.NotAcceptable, Http404) as exc:
        return type(exc).__name__
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("renderers", [[JSONRenderer()], [PngRenderer(), JSONRenderer()]])
@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json; indent=2", "text/html",
                                    "image/png", "application/*", "text/html, */*;q=0.1", ""])
@pytest.mark.parametrize("query", ["", "?format=json", "?format=xml", "?page_size=5"])
def test_same_answer_as_drf(renderers, accept, query):
    assert outcome(ContentNegotiation(), renderers, accept, query) == outcome(
        DefaultContentNegotiation(), renderers, accept, query)


@pytest.mark.parametrize("renderers", [[JSONRenderer()], [PngRenderer(), JSONRenderer()]])
@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "image/png"])
def test_an_empty_format_is_not_found_where_drf_took_it_for_none(renderers, accept):
    assert outcome(ContentNegotiation(), renderers, accept, "?format=") == "Http404"


def test_the_usual_request_does_not_build_the_query_dictionary():
    request = Request(APIRequestFactory().get("/x?status=queued"))
    ContentNegotiation().select_renderer(request, [JSONRenderer()])
    assert "GET" not in request._request.__dict__  # Django's QueryDict is built lazily, on first use
