"""The console in a real browser (headless Chromium): the daily flows as a tenant admin and as an auditor.

Each flow runs once; screenshots of the pages it passes land in var/screenshots (docs/images
holds copies, see docs/CONSOLE_GUIDE.md).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from accounts.roles import Role
from tests.console.conftest import WAIT_SECONDS, LiveConsole
from tests.console.data import FAILED_DETAIL, FAILED_NUMBER

pytestmark = pytest.mark.browser

LOG = "/admin/messaging/message/"
# WCAG AA for normal text.
MIN_CONTRAST = 4.5

UNNAMED_CONTROLS_JS = """
return [...document.querySelectorAll('input, select, textarea, button')]
  .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
  .filter(el => {
    const byLabel = el.id && document.querySelector(`label[for="${el.id}"]`);
    const wrapped = el.closest('label');
    const text = (el.getAttribute('aria-label') || el.value || el.textContent || '').trim();
    const isButton = el.tagName === 'BUTTON' || ['submit', 'button'].includes(el.type);
    return !(byLabel || wrapped || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
             || (isButton && text));
  })
  .map(el => el.outerHTML.slice(0, 120));
"""

BADGE_COLOURS_JS = """
return [...document.querySelectorAll('.status-badge')].map(el => {
  const style = getComputedStyle(el);
  return [el.textContent.trim(), style.color, style.backgroundColor];
});
"""


def _luminance(css_colour: str) -> float:
    red, green, blue = (int(part) / 255 for part in re.findall(r"\d+", css_colour)[:3])

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def assert_accessible_basics(console: LiveConsole) -> None:
    """Every control has a name, every image an alt text, every status badge readable contrast."""
    driver = console.driver
    assert driver.execute_script(UNNAMED_CONTROLS_JS) == []
    assert driver.execute_script("return [...document.images].filter(i => !i.hasAttribute('alt')).length") == 0
    for text, colour, background in driver.execute_script(BADGE_COLOURS_JS):
        assert text, "a badge without text relies on colour alone"
        assert contrast(colour, background) >= MIN_CONTRAST, (text, colour, background)


def assert_no_horizontal_scroll(console: LiveConsole) -> None:
    widths = console.driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth, window.innerWidth]"
    )
    assert widths[2] == 1280 and widths[0] <= widths[1], widths


def tab_to(console: LiveConsole, element_id: str, limit: int = 60) -> None:
    """Move the keyboard focus with Tab until it reaches ``element_id``."""
    driver = console.driver
    driver.find_element(By.TAG_NAME, "body").click()
    for _ in range(limit):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        if driver.switch_to.active_element.get_attribute("id") == element_id:
            return
    pytest.fail(f"#{element_id} cannot be reached with the keyboard")


def test_admin_finds_why_a_message_failed_and_retries_it(live_console):
    console, data = live_console, live_console.data
    console.log_in(Role.TENANT_ADMIN)
    console.wait("#content-main")
    assert "Acme Trading · console" in console.driver.find_element(By.ID, "site-name").text
    assert_accessible_basics(console)
    console.screenshot("console-index")

    # The whole log: badges say the status in words, a retrying message which attempt and when.
    console.open(LOG)
    console.wait("#result_list")
    next_at = data.retrying.next_attempt_at.strftime("%H:%M:%S")
    badges = [badge.text for badge in console.driver.find_elements(By.CSS_SELECTOR, ".status-badge")]
    assert f"retrying (attempt 4, next at {next_at})" in badges and "failed" in badges
    assert_no_horizontal_scroll(console)
    assert_accessible_basics(console)
    console.screenshot("message-log")

    # Search the number as the API accepted it, from the keyboard.
    search = console.wait("#searchbar")
    search.send_keys(FAILED_NUMBER, Keys.ENTER)
    WebDriverWait(console.driver, WAIT_SECONDS).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")) == 1
    )
    row = console.driver.find_element(By.CSS_SELECTOR, "#result_list tbody tr")
    assert "Anna Schmidt" in row.text and "+4915199999999" in row.text and "waha_rejected" in row.text
    error = row.find_element(By.CSS_SELECTOR, "td.field-error_summary")
    assert FAILED_DETAIL in error.text
    # The error is on screen at 1280 px: no horizontal scroll, the cell inside the viewport.
    assert_no_horizontal_scroll(console)
    assert console.driver.execute_script("return arguments[0].getBoundingClientRect().right", error) <= 1280
    console.screenshot("message-log-search")

    # The message's page: the attempt log as a table, times to the second, its links.
    row.find_element(By.CSS_SELECTOR, "th a").click()
    table = console.wait("table.attempt-log")
    assert "WahaRejected" in table.text and "84.2 ms" in table.text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", table.text)
    contact = console.driver.find_element(By.CSS_SELECTOR, ".field-contact_link a")
    assert f"/admin/messaging/conversation/{data.failed.conversation_id}/change/" in contact.get_attribute("href")
    assert_accessible_basics(console)
    console.screenshot("message-detail")

    # Retry, reached and pressed with the keyboard; the page then shows the message queued again.
    tab_to(console, "retry-button")
    outline = console.driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus is visible
    console.driver.switch_to.active_element.send_keys(Keys.ENTER)
    message = console.wait(".messagelist .success")
    assert "Queued again" in message.text
    assert console.driver.find_element(By.CSS_SELECTOR, ".field-status_badge .status-badge").text == "queued"
    assert not console.driver.find_elements(By.ID, "retry-button")


def test_auditor_reads_everything_and_changes_nothing(live_console):
    console, data = live_console, live_console.data
    console.log_in(Role.AUDITOR)
    index = console.wait("#content-main").text
    for plumbing in ("Groups", "Access attempts", "Outstanding tokens", "Blacklisted tokens"):
        assert plumbing not in index
    assert not console.driver.find_elements(By.LINK_TEXT, "View site")
    console.screenshot("console-index-auditor")

    console.open(f"{LOG}{data.failed.pk}/change/")
    console.wait("table.attempt-log")
    assert not console.driver.find_elements(By.ID, "retry-button")
    assert not console.driver.find_elements(By.CSS_SELECTOR, "input[type=submit][name=_save]")
    # A POST made by hand, with a valid CSRF token, is refused with an HTML page.
    assert post_by_hand(console, f"{LOG}{data.failed.pk}/retry/") == (403, "text/html")

    # A bulk send: its progress and rejected recipients, read-only.
    console.open(f"/admin/messaging/batch/{data.batch.pk}/change/")
    assert "0151-CALL-ME" in console.wait("table.rejections").text
    assert console.driver.find_element(By.CSS_SELECTOR, ".batch-count-failed a").text == "1"
    assert not console.driver.find_elements(By.CSS_SELECTOR, "input[type=submit]")
    assert post_by_hand(console, f"/admin/messaging/batch/{data.batch.pk}/change/") == (403, "text/html")

    console.open(f"/admin/sessions_waha/session/{data.session.pk}/change/")
    console.wait("#session-console")
    assert not console.driver.find_elements(By.CSS_SELECTOR, "#session-actions, #pairing-code-form, .addlink")


def post_by_hand(console: LiveConsole, path: str) -> tuple[int, str]:
    """POST to ``path`` from the page, with the CSRF token and the session cookie: (status, media type)."""
    status, content_type = console.driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const token = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1];
        fetch(arguments[0], {method: 'POST', headers: {'X-CSRFToken': token}, credentials: 'same-origin'})
          .then(r => done([r.status, r.headers.get('content-type')]));
    """,
        console.url(path),
    )
    return status, content_type.split(";")[0]


def test_admin_follows_a_bulk_send_to_its_failures_and_rejections(live_console):
    console = live_console
    console.log_in(Role.TENANT_ADMIN)
    console.open("/admin/messaging/batch/")
    console.wait("#result_list")
    console.driver.find_element(By.CSS_SELECTOR, "#result_list tbody th a").click()

    # Progress: a count per status, the ones above zero linking to the log.
    counts = console.wait("#batch-counts")
    shown = {
        row.get_attribute("class").removeprefix("batch-count-"): row.find_elements(By.TAG_NAME, "td")[1].text
        for row in counts.find_elements(By.CSS_SELECTOR, "tbody tr")
    }
    assert shown == {
        "scheduled": "0",
        "queued": "1",
        "sending": "0",
        "sent": "0",
        "delivered": "1",
        "read": "0",
        "failed": "1",
        "canceled": "0",
    }
    assert "Settled: 2 of 3" in console.driver.find_element(By.ID, "batch-progress").text
    # The rejected recipients, each with its reason.
    rejected = console.driver.find_elements(By.CSS_SELECTOR, "table.rejections tbody tr")
    assert [row.text for row in rejected] == [
        "1 0151-CALL-ME to: phone numbers may contain only digits, one leading +, spaces, dashes, dots and brackets",
        "4 +4915233344455 variables: missing variable 'order'",
    ]
    assert_no_horizontal_scroll(console)
    assert_accessible_basics(console)
    console.screenshot("batch")

    # The failed count opens the log filtered to the batch and the status: the one failed message and its error.
    console.driver.find_element(By.CSS_SELECTOR, ".batch-count-failed a").click()
    WebDriverWait(console.driver, WAIT_SECONDS).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")) == 1
    )
    row = console.driver.find_element(By.CSS_SELECTOR, "#result_list tbody tr")
    assert "Dana Weber" in row.text and "send_failed" in row.text and "failed" in row.text
    selected = [li.text for li in console.driver.find_elements(By.CSS_SELECTOR, "#changelist-filter li.selected")]
    assert any(text.startswith("bulk send of ") for text in selected) and "Failed" in selected
    assert_no_horizontal_scroll(console)
    console.screenshot("batch-failed-messages")


def test_no_dead_ends_sessions_and_errors_are_pages(live_console):
    console = live_console
    console.log_in(Role.TENANT_ADMIN)
    console.driver.find_element(By.LINK_TEXT, "Sessions").click()
    console.wait("#result_list")
    console.driver.find_element(By.LINK_TEXT, "main").click()
    page = console.wait("#content-main").text
    assert urlsplit(console.sandbox_url).netloc not in page and "default" in page  # the WAHA server by name only
    assert not console.driver.find_elements(By.CSS_SELECTOR, "a[href*='/admin/tenants/']")

    console.open("/admin/no/such/page/")
    heading = console.wait("#content h1")
    assert heading.text == "Page not found"
    assert console.driver.find_element(By.LINK_TEXT, "Back to the console").is_displayed()
    console.screenshot("console-error-404")


def wait_for_status(console: LiveConsole, status: str) -> None:
    """The session page reloads itself when the status changes; wait until it shows ``status``."""
    WebDriverWait(console.driver, WAIT_SECONDS).until(
        lambda d: [b.text for b in d.find_elements(By.CSS_SELECTOR, ".status-badge")] == [status]
    )


def test_admin_creates_a_session_pairs_it_and_logs_it_out(live_console, django_db_blocker):
    from django_tenants.utils import schema_context

    from sessions_waha.models import Session

    console = live_console
    console.log_in(Role.TENANT_ADMIN)
    console.open("/admin/sessions_waha/session/")
    console.driver.find_element(By.CSS_SELECTOR, "a.addlink").click()
    console.wait("label[for=id_name]")
    assert_accessible_basics(console)
    console.screenshot("session-add")
    console.driver.find_element(By.ID, "id_name").send_keys("support", Keys.ENTER)

    # The new session's page: one status, the QR code while it waits for a phone, the actions that fit.
    wait_for_status(console, "SCAN_QR_CODE")
    WebDriverWait(console.driver, WAIT_SECONDS).until(
        lambda d: d.execute_script(
            "const qr = document.getElementById('session-qr-image'); return qr && qr.complete && qr.naturalWidth > 0"
        )
    )
    actions = {a.get_attribute("id") for a in console.driver.find_elements(By.CSS_SELECTOR, "#session-actions .button")}
    assert actions == {"action-restart", "action-stop", "action-delete"}
    assert_accessible_basics(console)
    console.screenshot("session-qr")

    # Or a pairing code, asked for from the keyboard.
    console.driver.find_element(By.ID, "id_phone_number").send_keys("+49 151 2222 3333", Keys.ENTER)
    assert re.search(r"Pairing code: [A-Z0-9]{4}-[A-Z0-9]{4}", console.wait(".messagelist .success").text)

    # The phone scans: the page follows by itself.
    with django_db_blocker.unblock(), schema_context("t_console"):
        waha_name = Session.objects.get(name="support", deleted_at__isnull=True).waha_name
    console.sandbox(f"/sandbox/sessions/{waha_name}/pair")
    wait_for_status(console, "WORKING")
    assert "Paired with" in console.driver.find_element(By.ID, "session-guidance").text
    assert_accessible_basics(console)
    console.screenshot("session")

    # Log out asks first, then acts, and the history says so.
    console.driver.find_element(By.ID, "action-logout").click()
    assert "This unpairs the phone" in console.wait("#confirm-text").text
    assert_accessible_basics(console)
    console.screenshot("session-logout-confirm")
    console.driver.find_element(By.ID, "confirm-button").click()
    assert "Log out: the session is now" in console.wait(".messagelist .success").text
    console.driver.find_element(By.CSS_SELECTOR, "a.historylink").click()
    assert "Log out: the session is now" in console.wait("#change-history").text


def test_admin_reads_a_conversation_and_replies(live_console):
    console, data = live_console, live_console.data
    console.log_in(Role.TENANT_ADMIN)
    console.open(f"{LOG}{data.inbound.pk}/change/")
    console.driver.find_element(By.CSS_SELECTOR, ".field-contact_link a").click()

    # The thread reads downwards: what we sent, then what the contact answered.
    items = [li.text for li in console.wait("ol.thread").find_elements(By.CSS_SELECTOR, "li.thread-message")]
    assert "Your order 4711 has shipped" in items[0] and "Thanks! When will it arrive?" in items[-1]
    assert "from the contact" in items[-1] and "delivered" in items[0]
    options = [o.text for o in console.driver.find_elements(By.CSS_SELECTOR, "#id_assigned_to option")]
    assert console.emails[Role.TENANT_ADMIN] in options and console.emails[Role.AUDITOR] not in options

    reply = console.driver.find_element(By.ID, "id_text")
    reply.send_keys("Tomorrow before noon.")
    console.driver.find_element(By.ID, "reply-button").click()
    assert "Reply queued" in console.wait(".messagelist .success").text
    last = console.driver.find_elements(By.CSS_SELECTOR, "ol.thread li.thread-message")[-1]
    assert "Tomorrow before noon." in last.text and "queued" in last.text
    assert_no_horizontal_scroll(console)
    assert_accessible_basics(console)
    console.screenshot("conversation")


def test_staff_provision_a_tenant_and_watch_tenants_and_waha_servers(live_platform):
    from selenium.webdriver.support.ui import Select

    platform = live_platform
    platform.log_in("staff")
    assert platform.driver.find_element(By.ID, "site-name").text == "Platform console"

    # Add tenant: the whole tenant in one go, pinned to the sandbox server; the first admin's password shown once.
    platform.open("/admin/tenants/tenant/add/")
    platform.wait("#id_slug").send_keys("initech")
    platform.driver.find_element(By.ID, "id_name").send_keys("Initech")
    platform.driver.find_element(By.ID, "id_domain").send_keys("initech.localhost")
    platform.driver.find_element(By.ID, "id_admin_email").send_keys("boss@initech.test")
    servers = Select(platform.driver.find_element(By.ID, "id_waha_server"))
    servers.select_by_visible_text(next(o.text for o in servers.options if o.text.startswith("sandbox (")))
    assert_accessible_basics(platform)
    platform.screenshot("platform-tenant-add")
    platform.driver.find_element(By.ID, "provision-button").click()
    password = platform.wait("#tenant-admin-password").text
    assert len(password) >= 20 and "only time it is shown" in platform.driver.find_element(By.ID, "password-once").text
    assert_accessible_basics(platform)
    platform.screenshot("platform-tenant-provisioned")

    # The new tenant's console takes its first admin with that password.
    platform.driver.find_element(By.ID, "tenant-console-link").click()
    platform.wait("#id_username").send_keys("boss@initech.test")
    platform.driver.find_element(By.ID, "id_password").send_keys(password, Keys.ENTER)
    platform.wait("#user-tools")
    assert platform.driver.find_element(By.ID, "site-name").text == "Initech · console"

    # A tenant's overview: where it lives, its users, its sessions by status, today's messages.
    platform.open("/admin/tenants/tenant/")
    platform.wait("#result_list")
    platform.driver.find_element(By.LINK_TEXT, "console").click()
    overview = platform.wait("#tenant-overview").text
    assert "WAHA placement" in overview
    assert "1 TENANT_ADMIN, 0 MANAGER, 0 AGENT, 1 AUDITOR" in overview
    assert "WORKING 1" in overview and "Messages today (UTC)" in overview
    assert_no_horizontal_scroll(platform)
    assert_accessible_basics(platform)
    platform.screenshot("platform-tenant")

    # WAHA servers: health, version and the tenants placed on each.
    platform.open("/admin/tenants/wahaserver/")
    platform.wait("#result_list")
    rows = {
        row.find_element(By.CSS_SELECTOR, "th").text: row
        for row in platform.driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    }
    answering = rows["sandbox"]
    assert answering.find_element(By.CSS_SELECTOR, ".field-health .status-badge").text == "reachable"
    assert answering.find_element(By.CSS_SELECTOR, ".field-version").text == "2026.7.1"
    assert answering.find_element(By.CSS_SELECTOR, ".field-tenants").text == "initech (pinned)"
    assert rows["nowhere"].find_element(By.CSS_SELECTOR, ".field-health .status-badge").text == "unreachable"
    assert_no_horizontal_scroll(platform)
    assert_accessible_basics(platform)
    platform.screenshot("platform-waha-servers")

    # Test connection, from the keyboard: WAHA is asked now, and says what it is.
    answering.find_element(By.LINK_TEXT, "sandbox").click()
    platform.wait("#test-connection-button")
    tab_to(platform, "test-connection-button")
    platform.driver.switch_to.active_element.send_keys(Keys.ENTER)
    assert re.search(
        r"Sandbox: reachable, WAHA 2026\.7\.1 \(\w+, \w+\), answered in \d+ ms\.",
        platform.wait(".messagelist .success").text,
    )
    assert "initech" in platform.driver.find_element(By.CSS_SELECTOR, ".field-tenants_detail").text
    assert_accessible_basics(platform)
    platform.screenshot("platform-waha-server")
