"""Fixtures of the webhook tests: routed sessions in acme and globex, a webhook capture server."""

from __future__ import annotations

import pytest

from tests.sandbox_fixtures import WebhookReceiver
from tests.webhooks.webhook_helpers import routed_session


@pytest.fixture
def acme_routed(acme):
    return routed_session(acme, "support")


@pytest.fixture
def globex_routed(globex):
    return routed_session(globex, "support")


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Each test copies media into its own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "inbound_media": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


@pytest.fixture
def capture():
    """A webhook receiver of this test's own: a late delivery from another test cannot land in it."""
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _fresh_route_cache():
    from webhooks.services import receive

    receive.route_cache_clear()
    yield
    receive.route_cache_clear()
