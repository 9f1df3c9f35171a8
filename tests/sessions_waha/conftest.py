"""Fixtures of the WAHA client's unit tests: WAHA faked with ``responses``, and a client pointed at it."""

from __future__ import annotations

import pytest
import responses

from sessions_waha.waha import WahaClient
from tests.sessions_waha.waha_fakes import API_KEY, BASE


@pytest.fixture
def waha():
    """The fake WAHA: register its answers; a registered answer nobody asked for fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def client() -> WahaClient:
    """A WAHA client on the fake WAHA. (Tests here use ``client_for`` for API calls, never pytest-django's
    ``client``, which this name shadows in this folder.)"""
    return WahaClient(BASE, API_KEY)
