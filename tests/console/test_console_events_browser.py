"""Event webhooks in a real browser (headless Chromium): a tenant admin follows a failed delivery from the
endpoint list to its attempts and replays it to a live receiver; an auditor reads the same pages, read-only.

Screenshots land in var/screenshots (docs/images holds copies, see docs/CONSOLE_GUIDE.md).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from django_tenants.utils import schema_context
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from accounts.roles import Role
from events import delivery
from tests.console.conftest import CONSOLE_SLUG
from tests.console.events_data import GONE_REASON, HOSTILE_RESPONSE, HOSTILE_TEXT, seed_event_log
from tests.console.test_console_browser import assert_accessible_basics, assert_no_horizontal_scroll, tab_to
from tests.support_processes import PROJECT_ROOT, free_port, wait_until

pytestmark = pytest.mark.browser

RECEIVER = PROJECT_ROOT / "tests" / "events" / "receiver.py"
POST_BY_HAND_JS = """
const done = arguments[arguments.length - 1];
const token = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1];
fetch(arguments[0], {method: 'POST', headers: {'X-CSRFToken': token}, credentials: 'same-origin'})
  .then(r => done([r.status, r.headers.get('content-type')]));
"""


@pytest.fixture
def receiver() -> Iterator[str]:
    """The events tests' receiver process (records every request, answers 200 "ok"); yields its base URL."""
    url = f"http://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [sys.executable, str(RECEIVER), url.rsplit(":", 1)[1]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def up() -> bool:
        try:
            return requests.get(url + "/_requests", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        assert wait_until(up, timeout=10), "the receiver did not start"
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def event_log(live_console, console_tenant, django_db_blocker, receiver):
    with django_db_blocker.unblock():
        return seed_event_log(console_tenant, orders_url=f"{receiver}/whatsapp/events")


def assert_log_fits(console) -> None:
    """No horizontal scroll of the page, nor inside the list (Django's results box scrolls a wide table)."""
    assert_no_horizontal_scroll(console)
    widths = console.driver.execute_script(
        "const box = document.querySelector('#changelist .results'); return [box.scrollWidth, box.clientWidth]"
    )
    assert widths[0] <= widths[1], widths


def rows(console) -> list[str]:
    return [row.text for row in console.driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")]


def test_admin_follows_a_failed_delivery_and_replays_it(
    live_console, console_tenant, event_log, receiver, django_db_blocker
):
    console, log = live_console, event_log
    console.log_in(Role.TENANT_ADMIN)

    # The index leads to the endpoints: each with its events, its state (and why it is disabled), its last delivery.
    console.driver.find_element(By.LINK_TEXT, "Endpoints").click()
    console.wait("#result_list")
    listing = console.driver.find_element(By.ID, "result_list").text
    assert log.orders.url in listing and "all events" in listing and GONE_REASON in listing
    badges = [badge.text for badge in console.driver.find_elements(By.CSS_SELECTOR, ".status-badge")]
    assert {"enabled", "disabled", "pending", "failed"} <= set(badges)
    assert_log_fits(console)
    assert_accessible_basics(console)
    console.screenshot("event-endpoints")

    # Adding one: the URL and its events; the next page shows the signing secret, once.
    console.driver.find_element(By.CSS_SELECTOR, "a.addlink").click()
    console.wait("#id_url").send_keys(f"{receiver}/crm")
    for event_type in ("*", "message.received", "message.failed"):  # "All events" is checked at first
        console.driver.find_element(By.CSS_SELECTOR, f"input[name=events][value='{event_type}']").click()
    assert_accessible_basics(console)
    console.screenshot("event-endpoint-add")
    console.driver.find_element(By.CSS_SELECTOR, "input[name=_save]").click()
    secret = console.wait("#endpoint-secret").get_attribute("value")
    assert secret.startswith("whsec_") and "only time it is" in console.driver.find_element(By.ID, "secret-once").text
    assert_accessible_basics(console)
    console.screenshot("event-endpoint-secret")
    console.driver.find_element(By.ID, "secret-stored").click()
    shown = console.wait("#endpoint-console").text
    assert "enabled" in shown and secret not in console.driver.page_source
    assert "message.failed, message.received" in console.driver.find_element(By.ID, "content-main").text
    console.driver.find_element(By.LINK_TEXT, "Endpoints").click()
    console.wait("#result_list")

    # The endpoint's page: what a tenant admin may do, its fields (never the secret), its latest deliveries.
    console.driver.find_element(By.LINK_TEXT, log.orders.url).click()
    console.wait("#endpoint-actions")
    assert log.orders.secret not in console.driver.page_source
    assert len(console.driver.find_elements(By.CSS_SELECTOR, "table.recent-deliveries tbody tr")) == 4
    assert console.driver.find_element(By.ID, "id_since").get_attribute("value")  # a day back, ready to replay
    assert_no_horizontal_scroll(console)
    assert_accessible_basics(console)
    console.screenshot("event-endpoint")

    # The delivery log, newest first; the status filter narrows it to what failed.
    console.driver.find_element(By.ID, "delivery-log-link").click()
    console.wait("#result_list")
    assert len(rows(console)) == 4 and "retrying (attempt 1, next at" in rows(console)[1]
    assert_log_fits(console)
    assert_accessible_basics(console)
    console.screenshot("event-deliveries")
    console.driver.find_element(By.CSS_SELECTOR, "#changelist-filter a[href*='status=failed']").click()
    console.wait("#result_list")
    (failed_row,) = rows(console)
    assert "message.failed" in failed_row and "HTTP 503" in failed_row and log.failed.event.public_id in failed_row

    # The delivery: its payload and every attempt, the markup of the contact and the receiver shown as text.
    console.driver.find_element(By.CSS_SELECTOR, "#result_list tbody tr th a").click()
    table = console.wait("table.delivery-attempts")
    assert [r.text.split()[0] for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")] == ["1", "2", "3"]
    assert HOSTILE_RESPONSE in table.text and "no answer" in table.text
    payload = console.driver.find_element(By.CSS_SELECTOR, "pre.event-payload")
    assert HOSTILE_TEXT in payload.text and not payload.find_elements(By.CSS_SELECTOR, "*")
    assert_accessible_basics(console)
    console.screenshot("event-delivery")

    # Replay, reached and pressed with the keyboard: due now, with a new retry schedule.
    tab_to(console, "replay-button")
    console.driver.switch_to.active_element.send_keys(Keys.ENTER)
    assert "Replayed: the delivery is due now" in console.wait(".messagelist .success").text
    badge = console.driver.find_element(By.CSS_SELECTOR, ".field-badge .status-badge").text
    assert badge == "retrying (attempt 3, due now)"

    # A worker's drain (the events queue has no worker in these tests) sends it to the receiver: the same
    # webhook-id as every earlier attempt, and the page shows the fourth attempt and the delivery delivered.
    schema = console_tenant.schema_name
    with django_db_blocker.unblock(), schema_context(schema):
        delivery.endpoint_drain(schema_name=schema, endpoint_id=str(log.orders.pk), tenant=CONSOLE_SLUG)
    received = requests.get(f"{receiver}/_requests", timeout=5).json()
    assert log.failed.event.public_id in {r["headers"].get("webhook-id") for r in received}
    console.driver.refresh()
    table = console.wait("table.delivery-attempts")
    last = table.find_elements(By.CSS_SELECTOR, "tbody tr")[-1].text
    assert last.startswith("4 ") and "HTTP 200" in last and "ok" in last
    assert console.driver.find_element(By.CSS_SELECTOR, ".field-badge .status-badge").text == "delivered"


def test_auditor_reads_the_delivery_log_and_replays_nothing(live_console, event_log):
    console, log = live_console, event_log
    console.log_in(Role.AUDITOR)
    console.open(f"/admin/events/endpoint/{log.orders.pk}/change/")
    assert "Read-only" in console.wait("#endpoint-console").text
    assert not console.driver.find_elements(By.CSS_SELECTOR, "#endpoint-actions, #replay-range-form, .addlink")

    console.open(f"/admin/events/delivery/{log.failed.pk}/change/")
    console.wait("table.delivery-attempts")
    assert not console.driver.find_elements(By.ID, "replay-button")
    assert_accessible_basics(console)
    # POSTs made by hand, with a valid CSRF token, are refused with an HTML page.
    for path in (
        f"/admin/events/delivery/{log.failed.pk}/replay/",
        f"/admin/events/endpoint/{log.orders.pk}/replay/",
        f"/admin/events/endpoint/{log.orders.pk}/rotate-secret/",
        f"/admin/events/endpoint/{log.orders.pk}/ping/",
    ):
        status, content_type = console.driver.execute_async_script(POST_BY_HAND_JS, console.url(path))
        assert status == 403 and content_type.startswith("text/html"), path
    console.driver.refresh()
    assert console.wait(".field-badge .status-badge").text == "failed"
