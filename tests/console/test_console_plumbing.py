"""No plumbing, no dead ends: tenant users see the product's pages only, and every page is HTML."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.test import RequestFactory

from accounts.models import User
from accounts.roles import Role
from core.web.middleware import ProblemExceptionMiddleware
from tenants.middleware import tenant_cache_clear
from tests.console.clients import console_as as console
from tests.console.data import seed_console
from tests.support import TEST_PASSWORD, TenantClient

PLUMBING = [
    "/admin/auth/group/",
    "/admin/axes/accessattempt/",
    "/admin/axes/accesslog/",
    "/admin/axes/accessfailurelog/",
    "/admin/token_blacklist/outstandingtoken/",
    "/admin/token_blacklist/blacklistedtoken/",
]


def is_html(response) -> bool:
    return response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("role", [Role.TENANT_ADMIN, Role.AUDITOR])
def test_tenant_index_shows_only_the_product(acme, make_user, role):
    client = console("acme.localhost", make_user(acme, role).email)
    index = client.get("/admin/").content.decode()
    for page in PLUMBING:
        assert page not in index
    for word in ("Groups", "Access attempts", "Outstanding tokens", "Blacklisted tokens", "View site"):
        assert word not in index
    for page in PLUMBING:
        response = client.get(page)
        assert response.status_code == 403 and is_html(response), page


def test_platform_staff_keep_the_plumbing_on_the_public_host(db):
    User.objects.create_superuser("root@platform.test", TEST_PASSWORD)
    client = console("localhost", "root@platform.test")
    index = client.get("/admin/").content.decode()
    assert "/admin/axes/accessattempt/" in index and "/admin/auth/group/" in index
    assert client.get("/admin/token_blacklist/outstandingtoken/").status_code == 200


def test_console_errors_are_html_pages_while_the_api_keeps_problem_json(acme, make_user):
    client = console("acme.localhost", make_user(acme, Role.TENANT_ADMIN).email)
    missing = client.get("/admin/nothing/here/")
    assert missing.status_code == 404 and is_html(missing)
    assert b"Page not found" in missing.content and b'href="/admin/"' in missing.content
    assert b"Log out" in missing.content  # the console's frame, with its user tools
    api = client.get("/no/such/endpoint")
    assert api.status_code == 404 and api["Content-Type"] == "application/problem+json"


@pytest.fixture
def deactivated_acme(acme):
    acme.is_active = False
    acme.save()
    yield acme
    tenant_cache_clear()  # the routing cache outlives the rolled-back transaction


def test_console_of_a_deactivated_tenant_is_an_html_page(deactivated_acme):
    response = TenantClient("acme.localhost").get("/admin/")
    assert response.status_code == 404 and is_html(response) and b"Unknown tenant" in response.content
    api = TenantClient("acme.localhost").get("/users")
    assert api.status_code == 404 and api.json()["code"] == "tenant_not_found"


def test_an_unexpected_error_in_the_console_is_an_html_500():
    middleware = ProblemExceptionMiddleware(lambda request: None)
    request = RequestFactory().get("/admin/messaging/message/")
    request.request_id = "abc123"
    response = middleware.process_exception(request, RuntimeError("boom"))
    assert response.status_code == 500 and is_html(response)
    assert b"Something went wrong" in response.content and b"abc123" in response.content
    api = middleware.process_exception(RequestFactory().get("/messages"), RuntimeError("boom"))
    assert api.status_code == 500 and api["Content-Type"] == "application/problem+json"


HREF = re.compile(r'href="([^"#]*)"')
# Leaving the console is fine (documentation links); logging out ends the crawl's session.
NOT_CRAWLED = ("/admin/logout/",)


def crawl(client: TenantClient, start: str = "/admin/", limit: int = 120) -> dict[str, tuple[int, str]]:
    """Follow every console link breadth-first, pages before their filtered and sorted variants;
    return each page's status and content."""
    seen: dict[str, tuple[int, str]] = {}
    queue, variants = [start], []
    while (queue or variants) and len(seen) < limit:
        url = queue.pop(0) if queue else variants.pop(0)
        if url in seen:
            continue
        response = client.get(url)
        content = response.content.decode()
        seen[url] = (response.status_code, content)
        assert is_html(response), (url, response["Content-Type"])
        if response.status_code != 200:
            continue
        for href in HREF.findall(content):
            target = urljoin(url, href.replace("&amp;", "&"))
            parts = urlsplit(target)
            if parts.netloc or not parts.path.startswith("/admin/") or parts.path in NOT_CRAWLED:
                continue
            if parts.path.startswith("/admin/jsi18n") or "/static/" in parts.path:
                continue
            (variants if parts.query else queue).append(target)
    return seen


@pytest.mark.parametrize("role", [Role.TENANT_ADMIN, Role.AUDITOR])
def test_every_console_link_leads_to_an_html_page(acme, make_user, role):
    seed_console(acme)
    client = console("acme.localhost", make_user(acme, role).email)
    pages = crawl(client)
    assert len(pages) > 20
    broken = {url: status for url, (status, _) in pages.items() if status not in (200, 302)}
    assert broken == {}
    waha_address = urlsplit(settings.WAHA_BASE_URL).netloc
    for url, (_, page) in pages.items():
        assert waha_address not in page, url  # no internal WAHA address on a tenant's page
        assert "/admin/tenants/" not in page, url  # no link into the platform's pages


def test_auditor_gets_no_password_form_link_on_a_user_page(acme, make_user):
    target = make_user(acme, Role.AGENT)
    auditor = console("acme.localhost", make_user(acme, Role.AUDITOR).email)
    page = auditor.get(f"/admin/accounts/user/{target.pk}/change/")
    assert page.status_code == 200 and b"password/" not in page.content and b"algorithm" not in page.content
