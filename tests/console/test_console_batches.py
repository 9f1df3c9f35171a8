"""Bulk sends in the tenant console: progress counts that open the filtered log, rejected recipients (test client)."""

from __future__ import annotations

import html
import re

import pytest
from django_tenants.utils import tenant_context

from accounts.roles import Role
from messaging.models import Batch
from tests.console.clients import console
from tests.console.data import BATCH_REJECTIONS

LOG = "/admin/messaging/message/"
BATCHES = "/admin/messaging/batch/"


@pytest.fixture
def admin_console(acme, make_user, data):
    return console(make_user(acme, Role.TENANT_ADMIN))


def listed_ids(page: str) -> set[str]:
    return set(re.findall(r"/admin/messaging/message/([0-9a-f-]{36})/change/", page))


def count_links(page: str) -> dict[str, tuple[str, str]]:
    """status → (count, the link's URL) of the batch page's counts table."""
    rows = re.findall(r'<tr class="batch-count-(\w+)">.*?<td>(?:<a href="([^"]+)"[^>]*>(\d+)</a>|(0))</td>', page, re.S)
    return {status: (count or zero, html.unescape(url)) for status, url, count, zero in rows}


def test_batch_page_counts_link_to_the_log_filtered_by_batch_and_status(admin_console, data):
    page = admin_console.get(f"{BATCHES}{data.batch.pk}/change/").content.decode()
    counts = count_links(page)
    assert {status: count for status, (count, _) in counts.items()} == {
        "scheduled": "0",
        "queued": "1",
        "sending": "0",
        "sent": "0",
        "delivered": "1",
        "read": "0",
        "failed": "1",
        "canceled": "0",
    }
    assert counts["failed"][1] == f"{LOG}?batch={data.batch.pk}&status__exact=failed"
    assert "Settled: 2 of 3" in page and "still sending" in page

    # The failed count opens the log with exactly the batch's failed message, its error on the row.
    log = admin_console.get(counts["failed"][1])
    assert log.status_code == 200
    log_page = log.content.decode()
    assert listed_ids(log_page) == {str(data.batch_failed.pk)}
    assert "send_failed" in log_page and "Dana Weber" in log_page
    assert f"bulk send of {data.batch.created_at:%Y-%m-%d}" in log_page  # the filter says what it shows
    everything = admin_console.get(f"{LOG}?batch={data.batch.pk}").content.decode()
    assert len(listed_ids(everything)) == 3


def test_batch_page_lists_rejected_recipients_with_reasons(admin_console, data):
    page = html.unescape(admin_console.get(f"{BATCHES}{data.batch.pk}/change/").content.decode())
    assert "Rejected recipients (2)" in page
    for rejection in BATCH_REJECTIONS:
        assert f"<code>{rejection['to']}</code>" in page
    assert "to: phone numbers may contain only digits" in page
    assert "variables: missing variable 'order'" in page
    assert 'name="_save"' not in page  # nothing to change on a bulk send


def test_rejections_come_a_hundred_per_page(acme, admin_console, data):
    rejections = [{"index": n, "to": f"bad-{n}", "errors": {"to": ["not a number"]}} for n in range(250)]
    with tenant_context(acme):
        Batch.objects.filter(pk=data.batch.pk).update(rejected=250, rejected_recipients=rejections)
    first = admin_console.get(f"{BATCHES}{data.batch.pk}/change/").content.decode()
    assert first.count("<code>bad-") == 100 and "<code>bad-0</code>" in first and "page 1 of 3" in first
    last = admin_console.get(f"{BATCHES}{data.batch.pk}/change/", {"rejected_page": 3}).content.decode()
    assert last.count("<code>bad-") == 50 and "<code>bad-249</code>" in last and "<code>bad-199</code>" not in last


def test_an_older_batch_says_its_rejections_were_not_stored(acme, admin_console, data):
    with tenant_context(acme):
        Batch.objects.filter(pk=data.batch.pk).update(rejected=3, rejected_recipients=[])
    page = admin_console.get(f"{BATCHES}{data.batch.pk}/change/").content.decode()
    assert "3 rejected recipients of this bulk send are not listed" in page


def test_batch_list_links_its_counts(admin_console, data):
    page = html.unescape(admin_console.get(BATCHES).content.decode())
    assert f'href="{LOG}?batch={data.batch.pk}&status__exact=failed">1<' in page
    assert f'href="{LOG}?batch={data.batch.pk}&status__in=queued%2Csending">1<' in page
    assert f'href="{LOG}?batch={data.batch.pk}&status__in=sent%2Cdelivered%2Cread">1<' in page
    assert admin_console.get(f"{LOG}?batch={data.batch.pk}&status__in=queued,sending").status_code == 200


def test_an_unknown_or_malformed_batch_filter_shows_no_messages(admin_console, data):
    for value in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = admin_console.get(LOG, {"batch": value})
        assert response.status_code == 200 and listed_ids(response.content.decode()) == set(), value
    assert "bulk send" not in admin_console.get(LOG).content.decode().split('id="changelist-filter"')[1]


def test_auditor_reads_batches_and_changes_nothing(acme, make_user, data):
    auditor = console(make_user(acme, Role.AUDITOR))
    page = auditor.get(f"{BATCHES}{data.batch.pk}/change/")
    assert page.status_code == 200 and b"Rejected recipients (2)" in page.content
    assert b'name="_save"' not in page.content
    failed_url = count_links(page.content.decode())["failed"][1]
    assert listed_ids(auditor.get(failed_url).content.decode()) == {str(data.batch_failed.pk)}
    refused = auditor.post(f"{BATCHES}{data.batch.pk}/change/", {"template": "changed"})
    assert refused.status_code == 403 and refused["Content-Type"].startswith("text/html")
    assert auditor.post(f"{BATCHES}{data.batch.pk}/delete/", {"post": "yes"}).status_code == 403
    with tenant_context(acme):
        assert Batch.objects.get(pk=data.batch.pk).template == data.batch.template
