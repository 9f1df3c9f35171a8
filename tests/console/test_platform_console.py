"""The platform console (public host, platform staff): provisioning a tenant, its overview, the WAHA servers.

Django's test client against the real database and the WAHA sandbox; the browser flow is in test_console_browser.py.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import time
from collections.abc import Iterator

import pytest
from django.contrib.admin.models import LogEntry
from django.core.cache import cache
from django.db import ProgrammingError, connection
from django.utils import timezone
from django_tenants.utils import schema_exists, tenant_context

from accounts.models import User
from accounts.roles import Role
from core.console import overview
from messaging.selectors import day_start
from sessions_waha import server_health
from tenants.middleware import tenant_cache_clear
from tenants.models import Domain, Tenant, WahaServer
from tests.console.clients import console_as as console
from tests.console.data import seed_console
from tests.sandbox_fixtures import SANDBOX_KEY
from tests.support import TEST_PASSWORD, TenantClient
from tests.support_processes import free_port

pytestmark = pytest.mark.database

TENANTS = "/admin/tenants/tenant/"
SERVERS = "/admin/tenants/wahaserver/"
STAFF_EMAIL = "root@platform.test"


@pytest.fixture
def staff(db) -> TenantClient:
    User.objects.create_superuser(STAFF_EMAIL, TEST_PASSWORD)
    return console("localhost", STAFF_EMAIL)


@pytest.fixture
def routing_cache() -> Iterator[None]:
    yield
    tenant_cache_clear()  # the host → tenant cache outlives the rolled-back transaction


def provision(staff: TenantClient, **overrides: str):
    form = {
        "slug": "initech",
        "name": "Initech",
        "domain": "initech.localhost",
        "admin_email": "Boss@Initech.test",
        "waha_server": "",
        **overrides,
    }
    return staff.post(f"{TENANTS}add/", form)


# ---------------------------------------------------------------- adding a tenant


def test_adding_a_tenant_provisions_schema_domain_and_first_admin(staff, routing_cache):
    response = provision(staff)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]  # the password is on this page only
    page = response.content.decode()
    password = re.search(r'<code id="tenant-admin-password">([^<]+)</code>', page).group(1)
    assert len(password) >= 20 and "boss@initech.test" in page and "http://initech.localhost/admin/" in page

    tenant = Tenant.objects.get(slug="initech")
    assert schema_exists(tenant.schema_name) and tenant.name == "Initech" and tenant.waha_server is None
    assert Domain.objects.get(domain="initech.localhost", is_primary=True).tenant == tenant
    with tenant_context(tenant):
        admin = User.objects.get()
        assert (admin.email, admin.role, admin.is_active) == ("boss@initech.test", Role.TENANT_ADMIN, True)
        assert admin.check_password(password)
    assert "Provisioned: schema t_initech" in LogEntry.objects.get(object_id=str(tenant.pk)).change_message

    # The first admin enters the new tenant's console with that password.
    tenant_console = TenantClient("initech.localhost")
    login = tenant_console.post("/admin/login/", {"username": "boss@initech.test", "password": password})
    assert login.status_code == 302 and tenant_console.get("/admin/").status_code == 200


def test_a_tenant_can_be_pinned_to_a_waha_server_when_added(staff, routing_cache):
    server = WahaServer.objects.create(name="eu-2", base_url="http://waha-eu-2:3000", api_key="eu-2-key-0123456789")
    assert provision(staff, waha_server=str(server.pk)).status_code == 200
    assert Tenant.objects.get(slug="initech").waha_server == server


@pytest.mark.parametrize(
    "overrides, error",
    [
        ({"slug": "acme", "domain": "new.localhost"}, "Tenant slug &#x27;acme&#x27; is already taken."),
        ({"domain": "acme.localhost"}, "Domain &#x27;acme.localhost&#x27; is already used by another tenant."),
        ({"domain": "bad_domain!"}, "is not a valid hostname"),
        ({"slug": "Not A Slug"}, "Use 3-40 lower-case letters"),
        ({"admin_email": "not-an-email"}, "Enter a valid email address."),
    ],
)
def test_a_refused_tenant_is_an_error_on_the_form_and_leaves_nothing(staff, overrides, error):
    tenants_before = set(Tenant.objects.values_list("slug", flat=True))
    response = provision(staff, **overrides)
    assert response.status_code == 200 and error in response.content.decode()
    assert b"tenant-admin-password" not in response.content
    assert set(Tenant.objects.values_list("slug", flat=True)) == tenants_before
    assert not schema_exists("t_initech") and not Domain.objects.filter(domain="new.localhost").exists()


def test_tenant_users_cannot_reach_the_platform_pages(acme, make_user):
    client = console("acme.localhost", make_user(acme, Role.TENANT_ADMIN).email)
    for page in (f"{TENANTS}add/", SERVERS, f"{TENANTS}{acme.pk}/change/"):
        response = client.get(page)
        assert response.status_code == 403 and response["Content-Type"].startswith("text/html"), page


# ---------------------------------------------------------------- a tenant's overview


def test_a_tenants_page_shows_its_users_sessions_and_messages_today(staff, acme, make_user):
    admin = make_user(acme, Role.TENANT_ADMIN)
    make_user(acme, Role.AUDITOR)
    # An hour into today (UTC), so that every seeded message is today's whenever the test runs.
    seed_console(acme, now=day_start(timezone.now().astimezone(dt.UTC).date()) + dt.timedelta(hours=1))
    page = staff.get(f"{TENANTS}{acme.pk}/change/").content.decode()
    overview_html = page.split('id="tenant-overview"')[1].split("</form>")[0]
    assert "1 TENANT_ADMIN, 0 MANAGER, 0 AGENT, 1 AUDITOR" in overview_html and admin.email in overview_html
    assert '<span class="status-badge status-WORKING">WORKING</span> 1' in overview_html
    # Outbound: failed, retrying, delivered and the bulk's failed and queued; inbound: one.
    assert "5 (1 sent or better, 2 waiting, 2 failed)" in overview_html
    assert re.search(r"received</th><td>1<", overview_html)
    assert "none: new sessions go to the freest server" in overview_html


def test_an_overview_section_that_fails_says_so_and_the_page_still_opens(staff, acme):
    def broken() -> overview.OverviewSection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")
        raise AssertionError("unreachable")

    overview.tenant_overview_section("broken", order=99)(broken)
    try:
        response = staff.get(f"{TENANTS}{acme.pk}/change/")
    finally:
        overview._sections.pop("broken")
    assert response.status_code == 200
    assert f"Could not be read ({ProgrammingError.__name__})." in response.content.decode()
    assert b"Messages today (UTC)" in response.content  # the other sections are there


# ---------------------------------------------------------------- WAHA servers


@pytest.fixture
def servers(sandbox, acme) -> Iterator[dict[str, WahaServer]]:
    """A server that answers, one with a wrong key and one where nothing listens; acme pinned to the first."""
    made = {
        "sandbox": WahaServer.objects.create(name="sandbox", base_url=sandbox.base_url, api_key=SANDBOX_KEY),
        "wrong-key": WahaServer.objects.create(
            name="wrong-key", base_url=sandbox.base_url + "/", api_key="not-the-key-0123456789"
        ),
        "nowhere": WahaServer.objects.create(
            name="nowhere", base_url=f"http://127.0.0.1:{free_port()}", api_key="nowhere-key-0123456789"
        ),
    }
    acme.waha_server = made["sandbox"]
    acme.save(update_fields=["waha_server"])
    forget = [server_health.health_cache_key(server) for server in made.values()]
    cache.delete_many(forget)  # answers remembered by an earlier run for the same ids
    yield made
    cache.delete_many(forget)


def has_badge(html: str, state: str) -> bool:
    """A health badge reading ``state`` (its title has what the server answered)."""
    return re.search(rf'class="status-badge status-{state}"[^>]*>{state}</span>', html) is not None


def row_of(page: str, name: str) -> str:
    return next(row for row in page.split("<tr") if f">{name}</a>" in row)


def test_servers_list_shows_health_version_and_tenants(staff, servers):
    page = staff.get(SERVERS).content.decode()
    answering = row_of(page, "sandbox")
    assert has_badge(answering, "reachable") and "2026.7.1" in answering
    assert f'href="{TENANTS}' in answering and "acme</a> (pinned)" in answering
    assert has_badge(row_of(page, "wrong-key"), "refused")
    assert has_badge(row_of(page, "nowhere"), "unreachable")
    assert "not-the-key" not in page and SANDBOX_KEY not in page


def test_a_servers_page_shows_its_health_and_tenants(staff, servers):
    page = staff.get(f"{SERVERS}{servers['sandbox'].pk}/change/").content.decode()
    assert "WAHA 2026.7.1 answered." in page and "<td>NOWEB</td>" in page
    assert "Acme (acme)</a>: 0 sessions, pinned to this server" in page
    assert 'id="test-connection-button"' in page and SANDBOX_KEY not in page
    refused = staff.get(f"{SERVERS}{servers['wrong-key'].pk}/change/").content.decode()
    assert "WAHA refused the API key (HTTP 401)." in refused


def test_health_is_remembered_and_test_connection_asks_again(staff, servers, sandbox):
    server = servers["sandbox"]
    assert has_badge(row_of(staff.get(SERVERS).content.decode(), "sandbox"), "reachable")
    sandbox.faults(down=True)
    # Within HEALTH_CACHE_SECONDS the list answers from what it remembered: WAHA is not asked again.
    assert has_badge(row_of(staff.get(SERVERS).content.decode(), "sandbox"), "reachable")
    response = staff.post(f"{SERVERS}{server.pk}/test/", follow=True)
    assert response.redirect_chain[-1][0] == f"{SERVERS}{server.pk}/change/"
    assert "Sandbox: unreachable. No connection" in response.content.decode()
    assert has_badge(row_of(staff.get(SERVERS).content.decode(), "sandbox"), "unreachable")
    sandbox.faults()
    response = staff.post(f"{SERVERS}{server.pk}/test/", follow=True)
    assert re.search(
        r"Sandbox: reachable, WAHA 2026\.7\.1 \(NOWEB, [A-Z]+\), answered in \d+ ms\.", response.content.decode()
    )


def test_a_server_is_deactivated_not_deleted(staff, servers):
    """Tenants' sessions refer to their server from schemas the public host cannot list: no delete."""
    server = servers["nowhere"]
    page = staff.get(f"{SERVERS}{server.pk}/change/").content.decode()
    assert "deletelink" not in page and "delete_selected" not in staff.get(SERVERS).content.decode()
    assert staff.get(f"{SERVERS}{server.pk}/delete/").status_code == 403
    assert WahaServer.objects.filter(pk=server.pk).exists()


def test_test_connection_needs_a_post(staff, servers):
    assert staff.get(f"{SERVERS}{servers['sandbox'].pk}/test/").status_code == 405


def test_test_connection_of_the_selected_servers(staff, servers):
    chosen = [servers["sandbox"].pk, servers["nowhere"].pk]
    response = staff.post(SERVERS, {"action": "test_connection", "_selected_action": chosen}, follow=True)
    page = response.content.decode()
    assert "Sandbox: reachable, WAHA 2026.7.1" in page and "Nowhere: unreachable." in page
    assert "Wrong-key:" not in page  # the admin's messages start with a capital letter


def test_a_server_that_never_answers_costs_the_page_one_deadline(monkeypatch, db):
    """Connection accepted, no answer: the page waits HEALTH_DEADLINE, not the read timeout."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    monkeypatch.setattr(server_health, "HEALTH_DEADLINE", 0.3)
    server = WahaServer.objects.create(
        name="silent", base_url=f"http://127.0.0.1:{silent.getsockname()[1]}", api_key="silent-key-0123456789"
    )
    try:
        started = time.monotonic()
        health = server_health.waha_server_health(server, fresh=True)
        assert time.monotonic() - started < server_health.HEALTH_TIMEOUT[1]
    finally:
        silent.close()
        cache.delete(server_health.health_cache_key(server))
    assert (health.state, health.detail) == ("unreachable", "No answer within 0.3 s.")
