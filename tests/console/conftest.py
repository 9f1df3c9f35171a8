"""Browser tests of the console: headless Chromium (Selenium) against a live gunicorn.

The console is served by ``bin/web`` on the test database; its data lives in a tenant of its own
(``console``, host ``console.localhost``), committed so that gunicorn reads it, and wiped after
each test. Chromium and its driver are Debian's ``chromium`` and ``chromium-driver`` (``make
browser-deps`` installs them); ``CHROME_BIN`` and ``CHROMEDRIVER`` point elsewhere (CI does).
Screenshots of the main pages land in ``var/screenshots`` (``SCREENSHOTS_DIR``).
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.db import connection
from django_tenants.utils import schema_context

from tests.console.data import ConsoleData, seed_console
from tests.e2e_fixtures import E2E_TABLES
from tests.sandbox_fixtures import SANDBOX_KEY
from tests.support import TEST_PASSWORD
from tests.support_processes import PROJECT_ROOT, free_port, run_web

CONSOLE_SLUG = "console"
CONSOLE_HOST = "console.localhost"
VIEWPORT = (1280, 900)
# Long pages are captured whole, up to this height.
SCREENSHOT_MAX_HEIGHT = 2600
WAIT_SECONDS = 20  # explicit waits return as soon as the page is there; this is only the ceiling
# The e2e suites' tables (tests.e2e_fixtures) plus what only the console writes: its sessions, admin log
# and django-axes' records of the logins.
CONSOLE_TABLES = (*E2E_TABLES, "django_session", "django_admin_log", "axes_accessattempt", "axes_accesslog",
                  "axes_accessfailurelog")


def screenshots_dir() -> Path:
    path = Path(os.environ.get("SCREENSHOTS_DIR") or PROJECT_ROOT / "var" / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _binaries() -> tuple[str, str]:
    chrome = os.environ.get("CHROME_BIN") or shutil.which("chromium") or ""
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or ""
    if not (chrome and os.access(chrome, os.X_OK) and driver and os.access(driver, os.X_OK)):
        pytest.fail(
            "The browser tests need Chromium and ChromeDriver: run `make browser-deps` (Debian's chromium "
            "and chromium-driver), or set CHROME_BIN and CHROMEDRIVER."
        )
    return chrome, driver


@pytest.fixture(scope="session")
def console_tenant(django_db_setup, django_db_blocker):
    """The browser tests' own tenant (its schema is created once per run)."""
    from tenants.models import Domain, Tenant

    with django_db_blocker.unblock():
        tenant = Tenant.objects.filter(slug=CONSOLE_SLUG).first()
        if tenant is None:
            tenant = Tenant(slug=CONSOLE_SLUG, name="Acme Trading")
            tenant.save()
            Domain.objects.create(domain=CONSOLE_HOST, tenant=tenant, is_primary=True)
    return tenant


@pytest.fixture(scope="session")
def console_web(console_tenant, sandbox_process) -> Iterator[str]:
    """gunicorn serving the console, with the WAHA sandbox as its WAHA; yields the console tenant's base URL."""
    port = free_port()
    env = {
        "TENANT_CACHE_SECONDS": "0",
        "WAHA_BASE_URL": sandbox_process.base_url,
        "WAHA_API_KEY": SANDBOX_KEY,
        "WEBHOOK_BASE_URL": f"http://127.0.0.1:{port}",
        "SEND_PACING": "off",
    }
    with run_web(workers=2, port=port, env=env):
        yield f"http://{CONSOLE_HOST}:{port}"


@pytest.fixture(scope="session")
def browser(console_web):
    """Headless Chromium with a 1280 x 900 viewport; ``*.localhost`` resolves to 127.0.0.1."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chrome, driver_path = _binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
        "--lang=en-US",
        # The console's tenant, and the tenants the platform console's tests add.
        "--host-resolver-rules=MAP *.localhost 127.0.0.1",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    # The viewport itself is 1280 px wide, whatever the window's frame takes.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        yield driver
    finally:
        driver.quit()


def _wipe(schema: str) -> None:
    with schema_context(schema), connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        present = {row[0] for row in cursor.fetchall()}
        cursor.execute(f"TRUNCATE {', '.join(t for t in CONSOLE_TABLES if t in present)} CASCADE")


@dataclass
class LiveConsole:
    """One test's console: its URL, its data, and a browser that logs in by the form."""

    base_url: str
    driver: object
    data: ConsoleData
    emails: dict[str, str]
    sandbox_url: str

    def sandbox(self, path: str) -> None:
        """Call one of the sandbox's control endpoints (``/sandbox/...``), e.g. to pair a phone."""
        response = requests.post(self.sandbox_url + path, headers={"X-Api-Key": SANDBOX_KEY}, timeout=10)
        response.raise_for_status()

    def url(self, path: str) -> str:
        return self.base_url + path

    def open(self, path: str) -> None:
        self.driver.get(self.url(path))

    def wait(self, css: str):  # type: ignore[no-untyped-def]
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, WAIT_SECONDS).until(
            expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css))
        )

    def log_in(self, role: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        self.open("/admin/login/")
        self.wait("#id_username").send_keys(self.emails[role])
        password = self.driver.find_element(By.ID, "id_password")
        password.send_keys(TEST_PASSWORD, Keys.ENTER)
        self.wait("#user-tools")

    def screenshot(self, name: str) -> Path:
        """The whole page (up to SCREENSHOT_MAX_HEIGHT), 1280 px wide, as ``<name>.png``."""
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        height = min(int(metrics["cssContentSize"]["height"]), SCREENSHOT_MAX_HEIGHT)
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": VIEWPORT[0], "height": max(height, VIEWPORT[1]), "scale": 1},
            },
        )
        path = screenshots_dir() / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """Keep each phase's report on the test, so a fixture can tell that its test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def live_console(
    request, console_tenant, console_web, browser, django_db_blocker, sandbox_process
) -> Iterator[LiveConsole]:
    """Fresh console data, a TENANT_ADMIN and an AUDITOR; a browser with no session.

    A failed test leaves ``FAILED-<test>.png`` and ``.html`` of the page it was on next to the screenshots.
    """
    from accounts.models import User
    from accounts.roles import Role

    with django_db_blocker.unblock():
        _wipe(console_tenant.schema_name)
        data = seed_console(console_tenant)
        emails = {Role.TENANT_ADMIN: "admin@acme-trading.test", Role.AUDITOR: "auditor@acme-trading.test"}
        with schema_context(console_tenant.schema_name):
            for role, email in emails.items():
                User.objects.create_user(email, TEST_PASSWORD, role=role, first_name=role.title())
    browser.get(console_web + "/admin/login/")
    browser.delete_all_cookies()
    console = LiveConsole(console_web, browser, data, emails, sandbox_process.base_url)
    console.sandbox("/sandbox/reset")
    try:
        yield console
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            console.screenshot(f"FAILED-{request.node.name}")
            (screenshots_dir() / f"FAILED-{request.node.name}.html").write_text(browser.page_source)
        with django_db_blocker.unblock():
            _wipe(console_tenant.schema_name)


PLATFORM_STAFF = "staff@platform.test"
PROVISIONED_SLUG = "initech"


def public_url(console_url: str) -> str:
    """The public host of the same gunicorn: ``http://127.0.0.1:<port>`` is no tenant's domain."""
    return console_url.replace(f"//{CONSOLE_HOST}:", "//127.0.0.1:")


@pytest.fixture
def live_platform(live_console, django_db_blocker, sandbox_process) -> Iterator[LiveConsole]:
    """The platform console on the public host, as platform staff (``log_in("staff")``), beside a fresh console
    tenant; two WAHA servers: ``sandbox`` (answers) and ``nowhere`` (nothing listens). Whatever the test
    provisioned (the ``initech`` tenant) is dropped afterwards."""
    from django.core.cache import cache

    from accounts.models import User
    from sessions_waha.server_health import health_cache_key
    from tenants.models import Tenant, WahaServer

    with django_db_blocker.unblock():
        # Kept for the run (the test database goes with it): deleting a user from the public schema would make
        # Django look for their rows in tenant tables that are not there.
        if not User.objects.filter(email=PLATFORM_STAFF).exists():
            User.objects.create_superuser(PLATFORM_STAFF, TEST_PASSWORD)
        servers = [
            # The sandbox by another name than the default server's (which may already point at it).
            WahaServer.objects.create(
                name="sandbox", base_url=sandbox_process.base_url.replace("127.0.0.1", "localhost"), api_key=SANDBOX_KEY
            ),
            WahaServer.objects.create(
                name="nowhere", base_url=f"http://127.0.0.1:{free_port()}", api_key="nowhere-key-0123456789"
            ),
        ]
        cache.delete_many([health_cache_key(server) for server in servers])
    platform = LiveConsole(
        public_url(live_console.base_url),
        live_console.driver,
        live_console.data,
        {"staff": PLATFORM_STAFF},
        live_console.sandbox_url,
    )
    platform.open("/admin/login/")
    platform.driver.delete_all_cookies()
    try:
        yield platform
    finally:
        with django_db_blocker.unblock():
            for tenant in Tenant.objects.filter(slug=PROVISIONED_SLUG):
                tenant.delete(force_drop=True)
            # Not the ORM's delete: it would look for sessions on them in the public schema, where there are none.
            ids = [server.pk for server in servers]
            Tenant.objects.filter(waha_server__in=ids).update(waha_server=None)
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {WahaServer._meta.db_table} WHERE id = ANY(%s)", [ids])
            cache.delete_many([health_cache_key(server) for server in servers])


@pytest.fixture
def data(acme):
    """The console's seeded tenant data (messages, conversations, a batch) for the client tests."""
    return seed_console(acme)
