"""Event webhooks in the tenant console (Django's test client): endpoints, the delivery log, replays, the test
ping and the secret shown once; the AUDITOR reads everything and changes nothing."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.roles import Role
from events.models import Delivery, DeliveryStatus, Endpoint, EventType
from tests.console.clients import console
from tests.console.events_data import (
    GONE_REASON,
    HOSTILE_ERROR,
    HOSTILE_RESPONSE,
    HOSTILE_TEXT,
    LEGACY_URL,
    ORDERS_URL,
    _delivery,
    seed_event_log,
)
from tests.support import TEST_PASSWORD

ENDPOINTS = "/admin/events/endpoint/"
LOG = "/admin/events/delivery/"
SECONDS = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


@pytest.fixture
def log(acme):
    return seed_event_log(acme)


@pytest.fixture
def admin_console(acme, make_user, log):
    return console(make_user(acme, Role.TENANT_ADMIN))


@pytest.fixture
def auditor_console(acme, make_user, log):
    return console(make_user(acme, Role.AUDITOR))


@pytest.fixture(params=[Role.TENANT_ADMIN, Role.AUDITOR])
def any_console(request, acme, make_user, log):
    return request.param, console(make_user(acme, request.param))


def page(response) -> str:
    assert response.status_code == 200, response.content[:1000]
    return response.content.decode()


def listed(response) -> list[str]:
    """Ids of the deliveries on a log page, in their order."""
    return re.findall(r'href="/admin/events/delivery/([0-9a-f-]{36})/change/', page(response))


def log_of(endpoint, **filters) -> str:
    return f"{LOG}?{urlencode({'endpoint': str(endpoint.pk), **filters})}"


def fresh(acme, model, pk):
    with tenant_context(acme):
        return model.objects.get(pk=pk)


def secrets_of(acme) -> set[str]:
    with tenant_context(acme):
        return {s for pair in Endpoint.objects.values_list("secret", "previous_secret") for s in pair if s}


# ==================================================================== endpoints


def test_the_index_lists_event_webhooks(any_console):
    index = page(any_console[1].get("/admin/"))
    assert "Event webhooks" in index and ENDPOINTS in index and LOG in index


def test_endpoint_list_shows_url_events_state_and_last_delivery(acme, any_console, log):
    role, client = any_console
    listing = page(client.get(ENDPOINTS))
    assert ORDERS_URL in listing and LEGACY_URL in listing
    assert "message.delivered, message.failed, message.read, session.status" in listing and "all events" in listing
    assert 'class="status-badge status-enabled">enabled<' in listing
    assert f'class="status-badge status-disabled" title="{GONE_REASON}">disabled<' in listing
    assert GONE_REASON in listing
    # The last delivery of each: the orders endpoint's newest is pending, the legacy one's failed with a 410.
    assert f'status-pending">pending</span> <a href="/admin/events/delivery/{log.fresh.pk}/change/">' in listing
    assert f'status-failed">failed</span> <a href="/admin/events/delivery/{log.gone.pk}/change/">' in listing
    assert "HTTP 410" in listing
    assert (f"{ENDPOINTS}add/" in listing) is (role == Role.TENANT_ADMIN)
    assert not any(secret in listing for secret in secrets_of(acme))


def test_endpoint_page_shows_its_fields_latest_deliveries_and_never_the_secret(acme, any_console, log):
    role, client = any_console
    shown = page(client.get(f"{ENDPOINTS}{log.orders.pk}/change/"))
    assert "Order notifications backend" in shown and 'status-enabled">enabled<' in shown
    for delivery in (log.fresh, log.retrying, log.delivered, log.failed):
        assert f"/admin/events/delivery/{delivery.pk}/change/" in shown
    assert log_of(log.orders).replace("&", "&amp;") in shown
    assert "Shown only when it is made" in shown
    assert not any(secret in shown for secret in secrets_of(acme))
    admin = role == Role.TENANT_ADMIN
    for control in ('id="action-edit"', 'id="action-ping"', 'id="action-rotate"', 'id="replay-range-form"'):
        assert (control in shown) is admin, control
    assert ("Read-only: only a tenant admin" in shown) is not admin
    assert 'name="_save"' not in shown  # the page itself reads; changes go through the service's forms


def test_a_disabled_endpoint_says_why_and_offers_enable_instead_of_ping_and_replay(admin_console, log):
    shown = page(admin_console.get(f"{ENDPOINTS}{log.legacy.pk}/change/"))
    assert GONE_REASON in shown and 'id="action-enable"' in shown
    assert 'id="action-ping"' not in shown and 'id="replay-range-form"' not in shown


def test_admin_adds_an_endpoint_and_sees_its_secret_once(acme, admin_console):
    added = admin_console.post(
        f"{ENDPOINTS}add/",
        {"url": "https://hooks.example.com/new", "events": ["message.sent", "message.read"], "description": "CRM"},
    )
    shown = page(added)
    assert "no-store" in added["Cache-Control"]
    with tenant_context(acme):
        endpoint = Endpoint.objects.get(url="https://hooks.example.com/new")
    assert endpoint.events == ["message.read", "message.sent"] and endpoint.description == "CRM" and endpoint.enabled
    assert endpoint.created_by.role == Role.TENANT_ADMIN
    assert f'value="{endpoint.secret}"' in shown and "this is the only time" in shown
    # Never again: the endpoint's page, the list and the history show no secret.
    for url in (f"{ENDPOINTS}{endpoint.pk}/change/", ENDPOINTS, f"{ENDPOINTS}{endpoint.pk}/history/"):
        assert endpoint.secret not in page(admin_console.get(url)), url


def test_all_events_stands_alone(acme, admin_console):
    both = page(
        admin_console.post(f"{ENDPOINTS}add/", {"url": "https://hooks.example.com/all", "events": ["*", "ping"]})
    )
    assert "Choose “All events” or single event types, not both." in both
    page(admin_console.post(f"{ENDPOINTS}add/", {"url": "https://hooks.example.com/all", "events": ["*"]}))
    with tenant_context(acme):
        assert list(Endpoint.objects.filter(url="https://hooks.example.com/all").values_list("events", flat=True)) == [
            ["*"]
        ]


@pytest.fixture
def production_urls(settings):
    settings.EVENT_WEBHOOK_STRICT_URLS = True
    settings.EVENT_WEBHOOK_ALLOWED_NETWORKS = []


@pytest.mark.parametrize(
    "url, why",
    [
        ("https://10.0.0.5/hook", "resolves to an address that is not allowed (10.0.0.5)"),
        ("https://169.254.169.254/latest", "resolves to an address that is not allowed (169.254.169.254)"),
        ("http://93.184.216.34/hook", "The URL must use https."),
    ],
)
def test_a_url_the_rules_refuse_is_an_error_on_the_add_form(acme, admin_console, production_urls, url, why):
    answer = page(admin_console.post(f"{ENDPOINTS}add/", {"url": url, "events": ["*"]}))
    assert why in answer and 'class="errornote"' in answer and "Signing secret" not in answer
    assert f'value="{url}"' in answer  # the form keeps what was typed
    with tenant_context(acme):
        assert not Endpoint.objects.filter(url=url).exists()


def test_a_malformed_url_or_no_event_is_refused_before_the_service(acme, admin_console):
    answer = page(admin_console.post(f"{ENDPOINTS}add/", {"url": "hooks example", "events": []}))
    assert "Use an http or https URL" in answer and "This field is required." in answer
    with tenant_context(acme):
        assert Endpoint.objects.count() == 2


def test_admin_edits_an_endpoint_through_the_service(acme, admin_console, log, production_urls):
    edit = f"{ENDPOINTS}{log.orders.pk}/edit/"
    assert f'value="{ORDERS_URL}"' in page(admin_console.get(edit))
    refused = page(admin_console.post(edit, {"url": "https://10.1.2.3/hook", "events": ["*"]}))
    assert "not allowed (10.1.2.3)" in refused
    assert fresh(acme, Endpoint, log.orders.pk).url == ORDERS_URL

    saved = admin_console.post(edit, {"url": "https://93.184.216.34/v2", "events": ["message.failed"]}, follow=True)
    assert "Endpoint saved." in page(saved)
    endpoint = fresh(acme, Endpoint, log.orders.pk)
    assert (endpoint.url, endpoint.events, endpoint.description) == ("https://93.184.216.34/v2", ["message.failed"], "")


def test_the_edit_form_shows_the_current_subscription(admin_console, log):
    form = page(admin_console.get(f"{ENDPOINTS}{log.orders.pk}/edit/"))
    checked = set(re.findall(r'<input type="checkbox" name="events" value="([^"]+)"[^>]*checked', form))
    assert checked == {"message.delivered", "message.failed", "message.read", "session.status"}


def test_disable_asks_first_then_fails_the_pending_deliveries_and_enable_clears_the_reason(acme, admin_console, log):
    disable = f"{ENDPOINTS}{log.orders.pk}/disable/"
    assert "pending deliveries end failed" in page(admin_console.get(disable))
    assert fresh(acme, Endpoint, log.orders.pk).enabled  # asking did nothing

    done = admin_console.post(disable, {"confirmed": "yes"}, follow=True)
    assert "Endpoint disabled" in page(done)
    endpoint = fresh(acme, Endpoint, log.orders.pk)
    assert not endpoint.enabled and endpoint.disabled_reason == "Disabled by a user."
    for pending in (log.retrying, log.fresh):
        assert fresh(acme, Delivery, pending.pk).status == DeliveryStatus.FAILED

    enabled = admin_console.post(f"{ENDPOINTS}{log.orders.pk}/enable/", follow=True)
    assert "Endpoint enabled" in page(enabled)
    endpoint = fresh(acme, Endpoint, log.orders.pk)
    assert endpoint.enabled and endpoint.disabled_reason == "" and endpoint.disabled_at is None


def test_rotate_asks_first_and_shows_the_new_secret_once(acme, admin_console, log):
    rotate = f"{ENDPOINTS}{log.orders.pk}/rotate-secret/"
    old = log.orders.secret
    assert "two signatures" in page(admin_console.get(rotate))
    assert fresh(acme, Endpoint, log.orders.pk).secret == old

    answer = admin_console.post(rotate, {"confirmed": "yes"})
    shown = page(answer)
    endpoint = fresh(acme, Endpoint, log.orders.pk)
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert f'value="{endpoint.secret}"' in shown and old not in shown and "no-store" in answer["Cache-Control"]
    assert f"Until {endpoint.previous_secret_expires_at:%Y-%m-%d %H:%M:%S} UTC" in shown

    after = page(admin_console.get(f"{ENDPOINTS}{endpoint.pk}/change/"))
    assert "Rotated: until" in after and endpoint.secret not in after and old not in after


def test_a_rotation_posted_without_confirmation_only_asks(acme, admin_console, log):
    assert "two signatures" in page(admin_console.post(f"{ENDPOINTS}{log.orders.pk}/rotate-secret/"))
    assert fresh(acme, Endpoint, log.orders.pk).secret == log.orders.secret


def test_ping_queues_a_ping_and_opens_its_delivery(acme, admin_console, log):
    answer = admin_console.post(f"{ENDPOINTS}{log.orders.pk}/ping/")
    assert answer.status_code == 302
    with tenant_context(acme):
        ping = Delivery.objects.get(endpoint=log.orders, event_type=EventType.PING)
    assert answer["Location"] == f"/admin/events/delivery/{ping.pk}/change/"
    shown = page(admin_console.get(answer["Location"]))
    assert "Test ping queued" in shown and "This is a test event." in shown and "No attempt yet." in shown
    assert 'status-pending">pending (due now)<' in shown


def test_a_disabled_endpoint_is_not_pinged(acme, admin_console, log):
    answer = admin_console.post(f"{ENDPOINTS}{log.legacy.pk}/ping/", follow=True)
    assert "No ping sent: The endpoint is disabled" in page(answer)
    with tenant_context(acme):
        assert not Delivery.objects.filter(event_type=EventType.PING).exists()


# ==================================================================== the delivery log


def test_the_log_opens_on_the_newest_endpoint(admin_console, log):
    answer = admin_console.get(LOG, {"status": "failed"})
    assert answer.status_code == 302
    assert answer["Location"] == f"{LOG}?status=failed&endpoint={log.orders.pk}"


def test_the_log_lists_newest_first_with_badges_codes_errors_and_next_attempts(any_console, log):
    shown_response = any_console[1].get(log_of(log.orders))
    assert listed(shown_response) == [str(d.pk) for d in (log.fresh, log.retrying, log.delivered, log.failed)]
    shown = page(shown_response)
    assert f"Deliveries to {ORDERS_URL}" in shown
    next_at = timezone.localtime(log.retrying.next_attempt_at)
    assert f'status-retrying">retrying (attempt 1, next at {next_at:%H:%M:%S})<' in shown
    assert 'status-pending">pending (due now)<' in shown and 'status-delivered">delivered<' in shown
    assert 'status-failed">failed<' in shown and f"{next_at:%Y-%m-%d %H:%M:%S}" in shown
    assert "HTTP 503" in shown and "HTTP 502" in shown and log.failed.event.public_id in shown
    assert "ConnectError: &lt;b&gt;refused&lt;/b&gt; &amp; &quot;closed&quot;" in shown and HOSTILE_ERROR not in shown
    assert len(SECONDS.findall(shown)) >= 4
    assert log.gone.event.public_id not in shown  # another endpoint's delivery


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"status": "failed"}, ["failed"]),
        ({"status": "pending"}, ["fresh", "retrying"]),
        ({"event_type": "message.read"}, ["retrying"]),
        ({"status": "delivered", "event_type": "message.delivered"}, ["delivered"]),
        ({"since": "-30m"}, ["fresh", "retrying", "delivered"]),
        ({"since": "-3h", "until": "-10m"}, ["delivered", "failed"]),
    ],
)
def test_the_log_filters_by_status_event_type_and_time_range(admin_console, log, filters, expected):
    now = timezone.localtime(log.fresh.created_at + dt.timedelta(seconds=30))
    for name in ("since", "until"):
        if name in filters:
            amount, unit = int(filters[name][1:-1]), filters[name][-1]
            moment = now - (dt.timedelta(minutes=amount) if unit == "m" else dt.timedelta(hours=amount))
            filters[name] = moment.strftime("%Y-%m-%dT%H:%M:%S")
    found = listed(admin_console.get(log_of(log.orders, **filters)))
    assert found == [str(getattr(log, name).pk) for name in expected]


def test_the_time_range_form_keeps_the_other_filters(admin_console, log):
    shown = page(admin_console.get(log_of(log.orders, status="failed", since="2026-01-02T03:04:05")))
    form = shown[shown.index('id="time-range-filter"') :]
    form = form[: form.index("</form>")]
    assert '<input type="hidden" name="status" value="failed">' in form
    assert f'<input type="hidden" name="endpoint" value="{log.orders.pk}">' in form
    assert 'name="since" value="2026-01-02 03:04:05"' in form  # as the log shows times


@pytest.mark.parametrize("since", ["yesterday", "0001-01-01T00:00:00+01:00"])  # the second has no UTC time
def test_a_time_that_is_not_one_is_ignored_with_a_warning(admin_console, log, since):
    answer = admin_console.get(log_of(log.orders, since=since))
    assert "is not a time" in page(answer) and len(listed(answer)) == 4


def test_a_time_with_any_iso_offset_filters_by_the_instant_it_names(admin_console, log):
    # 16:24 behind UTC: ISO 8601 allows it, PostgreSQL's offsets end at ±15:59 (this was a 500).
    since = log.fresh.created_at - dt.timedelta(minutes=30)
    far_offset = since.astimezone(dt.timezone(-dt.timedelta(hours=16, minutes=24))).isoformat()
    found = listed(admin_console.get(log_of(log.orders, since=far_offset)))
    assert found and found == listed(admin_console.get(log_of(log.orders, since=since.isoformat())))


@pytest.mark.parametrize("term", ["event id", "event id lower", "delivery id"])
def test_search_finds_a_delivery_by_event_id_or_delivery_id(admin_console, log, term):
    value = {
        "event id": log.failed.event.public_id,
        "event id lower": log.failed.event.public_id.lower(),
        "delivery id": str(log.failed.pk),
    }[term]
    assert listed(admin_console.get(log_of(log.orders, q=value))) == [str(log.failed.pk)]
    assert listed(admin_console.get(log_of(log.orders, q="evt_nonsense"))) == []


def test_another_endpoint_has_its_own_log(admin_console, log):
    assert listed(admin_console.get(log_of(log.legacy))) == [str(log.gone.pk)]


def test_the_log_pages_newest_first_and_stops_at_its_limit(acme, admin_console, log, monkeypatch):
    from events import admin_log

    start = log.fresh.created_at + dt.timedelta(minutes=1)
    with tenant_context(acme):
        extra = [
            _delivery(log.orders, EventType.MESSAGE_SENT, start + dt.timedelta(seconds=n), {}, attempts=[])
            for n in range(60)
        ]
    first = listed(admin_console.get(log_of(log.orders)))
    assert first == [str(d.pk) for d in reversed(extra)][:50]
    second = listed(admin_console.get(log_of(log.orders, p=2)))
    assert second == [str(d.pk) for d in reversed(extra)][50:] + [
        str(d.pk) for d in (log.fresh, log.retrying, log.delivered, log.failed)
    ]

    monkeypatch.setattr(admin_log, "LOG_LIMIT", 55)
    capped = admin_console.get(log_of(log.orders, p=2))
    assert len(listed(capped)) == 5 and "stops at the newest 55 matches" in page(capped)


def test_the_log_runs_the_same_queries_for_4_or_64_deliveries(acme, admin_console, log):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page(admin_console.get(log_of(log.orders)))
        return len(captured)

    few = queries()
    with tenant_context(acme):
        for n in range(60):
            _delivery(
                log.orders,
                EventType.MESSAGE_SENT,
                log.fresh.created_at + dt.timedelta(seconds=n),
                {},
                attempts=[(1, 500, "", "no", 5)],
                status=DeliveryStatus.FAILED,
            )
    assert queries() == few


# ==================================================================== a delivery and Replay


def test_a_delivery_page_shows_the_payload_and_every_attempt_as_text(any_console, log):
    role, client = any_console
    shown = page(client.get(f"{LOG}{log.failed.pk}/change/"))
    # The payload, pretty and escaped: the contact's markup is text.
    assert '<pre class="event-payload">{\n  &quot;id&quot;: &quot;' + log.failed.event.public_id in shown
    assert "&lt;img src=x onerror=alert(1)&gt; Your order has shipped" in shown and HOSTILE_TEXT not in shown
    assert "&quot;tenant&quot;: &quot;acme&quot;" in shown
    # Every attempt as a row: status code (or none), error, the answer as text, duration, time to the second.
    table = shown[shown.index('<table class="attempt-log delivery-attempts">') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td><td>([^<]+)</td><td>(.*?)</td>", table)
    assert [(n, code) for n, _, code, _ in rows] == [("1", "HTTP 500"), ("2", "no answer"), ("3", "HTTP 503")]
    assert all(SECONDS.fullmatch(when) for _, when, _, _ in rows)
    assert "ReadTimeout: no answer within 10 s" in table and "10003 ms" in table and "Internal Server Error" in table
    assert "&lt;script&gt;alert(&quot;response&quot;)&lt;/script&gt; upstream said no" in table
    assert HOSTILE_RESPONSE not in shown and HOSTILE_ERROR not in shown
    assert "<script>alert(" not in shown
    assert (('id="replay-button"') in shown) is (role == Role.TENANT_ADMIN)


def test_admin_replays_one_delivery(acme, admin_console, log, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as kicks:
        answer = admin_console.post(f"{LOG}{log.failed.pk}/replay/", follow=True)
    shown = page(answer)
    assert "Replayed: the delivery is due now" in shown
    replayed = fresh(acme, Delivery, log.failed.pk)
    assert replayed.status == DeliveryStatus.PENDING and replayed.round_started_at_attempt == 3
    assert replayed.next_attempt_at <= timezone.now() and len(kicks) == 1  # a worker is asked after commit
    assert 'status-retrying">retrying (attempt 3, due now)<' in shown


def test_a_replay_on_a_disabled_endpoint_is_refused_with_a_message(acme, admin_console, log):
    shown = page(admin_console.get(f"{LOG}{log.gone.pk}/change/"))
    assert 'id="replay-button"' not in shown and "enable it on its page" in shown
    answer = admin_console.post(f"{LOG}{log.gone.pk}/replay/", follow=True)
    assert "Not replayed: The endpoint is disabled" in page(answer)
    assert fresh(acme, Delivery, log.gone.pk).status == DeliveryStatus.FAILED


def test_admin_replays_what_failed_in_a_time_range(acme, admin_console, log):
    with tenant_context(acme):
        older = _delivery(
            log.orders,
            EventType.MESSAGE_FAILED,
            log.failed.created_at - dt.timedelta(days=2),
            {},
            attempts=[(1, 500, "", "", 9)],
            status=DeliveryStatus.FAILED,
        )
    since = timezone.localtime(log.failed.created_at - dt.timedelta(hours=1))
    answer = admin_console.post(f"{ENDPOINTS}{log.orders.pk}/replay/", {"since": since.strftime("%Y-%m-%dT%H:%M:%S")})
    assert answer.status_code == 302
    assert answer["Location"] == log_of(log.orders, since=since.strftime("%Y-%m-%dT%H:%M:%S"))
    assert "Replayed 1 failed delivery from" in page(admin_console.get(answer["Location"]))
    assert fresh(acme, Delivery, log.failed.pk).status == DeliveryStatus.PENDING
    assert fresh(acme, Delivery, older.pk).status == DeliveryStatus.FAILED  # before the range
    assert fresh(acme, Delivery, log.delivered.pk).status == DeliveryStatus.DELIVERED  # not failed


@pytest.mark.parametrize(
    "form, message",
    [
        ({"since": "2026-01-02T00:00:00", "until": "2026-01-01T00:00:00"}, "must be later than"),
        ({}, "This field is required."),
        ({"since": "2020-01-01T00:00:00", "until": "2020-01-02T00:00:00"}, "nothing was replayed"),
        ({"since": "2020-01-01T00:00:00-16:24", "until": "2020-01-02T00:00:00-16:24"}, "nothing was replayed"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "Datetime value out of range."),
    ],
)
def test_a_replay_range_that_queues_nothing_says_so(acme, admin_console, log, form, message):
    answer = admin_console.post(f"{ENDPOINTS}{log.orders.pk}/replay/", form, follow=True)
    assert message in page(answer)
    assert fresh(acme, Delivery, log.failed.pk).status == DeliveryStatus.FAILED


# ==================================================================== the auditor


def test_auditor_reads_every_page_without_a_button(auditor_console, log):
    for url in (
        ENDPOINTS,
        f"{ENDPOINTS}{log.orders.pk}/change/",
        f"{ENDPOINTS}{log.legacy.pk}/change/",
        log_of(log.orders),
        f"{LOG}{log.failed.pk}/change/",
        f"{LOG}{log.gone.pk}/change/",
    ):
        shown = page(auditor_console.get(url))
        for control in ('id="action-', 'id="replay-', "/add/", 'name="_save"'):
            assert control not in shown, (url, control)


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "endpoint/add/"),
        ("post", "endpoint/add/"),
        ("get", "endpoint/{orders}/edit/"),
        ("post", "endpoint/{orders}/edit/"),
        ("get", "endpoint/{orders}/rotate-secret/"),
        ("post", "endpoint/{orders}/rotate-secret/"),
        ("get", "endpoint/{orders}/disable/"),
        ("post", "endpoint/{orders}/disable/"),
        ("post", "endpoint/{legacy}/enable/"),
        ("post", "endpoint/{orders}/ping/"),
        ("post", "endpoint/{orders}/replay/"),
        ("post", "delivery/{failed}/replay/"),
        ("post", "endpoint/{orders}/change/"),
        ("post", "delivery/{failed}/change/"),
    ],
)
def test_auditor_actions_are_refused_with_an_html_403_and_change_nothing(acme, auditor_console, log, method, path):
    url = "/admin/events/" + path.format(orders=log.orders.pk, legacy=log.legacy.pk, failed=log.failed.pk)
    body = {"confirmed": "yes", "url": "https://evil.example.com/", "events": ["*"], "since": "2020-01-01T00:00:00"}
    answer = getattr(auditor_console, method)(url, body if method == "post" else None)
    assert answer.status_code == 403 and answer["Content-Type"].startswith("text/html"), (url, answer.status_code)
    assert "Not allowed" in answer.content.decode()
    orders, legacy = fresh(acme, Endpoint, log.orders.pk), fresh(acme, Endpoint, log.legacy.pk)
    assert (orders.url, orders.secret, orders.enabled, legacy.enabled) == (ORDERS_URL, log.orders.secret, True, False)
    assert fresh(acme, Delivery, log.failed.pk).status == DeliveryStatus.FAILED
    with tenant_context(acme):
        assert Endpoint.objects.count() == 2 and not Delivery.objects.filter(event_type=EventType.PING).exists()


def test_another_tenant_never_sees_these_endpoints(globex, make_user, log):
    client = console(make_user(globex, Role.TENANT_ADMIN), host="globex.localhost")
    assert ORDERS_URL not in page(client.get(ENDPOINTS))
    for url in (f"{ENDPOINTS}{log.orders.pk}/change/", f"{LOG}{log.failed.pk}/change/"):
        answer = client.get(url, follow=True)  # Django's admin: back to the index, saying there is no such object
        assert answer.redirect_chain == [("/admin/", 302)] and "exist. Perhaps it was deleted?" in page(answer)
    assert client.post(f"{LOG}{log.failed.pk}/replay/").status_code == 404


def test_the_platform_console_has_no_event_webhook_pages(db):
    from accounts.models import User

    User.objects.create_superuser("root@platform.test", TEST_PASSWORD)
    client = console(User.objects.get(email="root@platform.test"), host="localhost")
    assert LOG not in page(client.get("/admin/"))
    for url in (ENDPOINTS, LOG, f"{ENDPOINTS}add/"):
        answer = client.get(url)
        assert answer.status_code == 403 and answer["Content-Type"].startswith("text/html"), url
