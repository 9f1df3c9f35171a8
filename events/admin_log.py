"""The delivery log in the console: one endpoint's deliveries, newest first, filtered the way the API filters
them; a delivery's page with its payload and every attempt; Replay (TENANT_ADMIN).

The log reads the indexes of ``events.models.Delivery`` (endpoint, then time): one endpoint at a time, in their
order, no sorting by other columns, no counts per filter choice, and at most ``LOG_LIMIT`` rows per filter.
Registered by ``events.admin``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from core.console.admin import TenantOnlyAdmin
from core.problems import ServiceError
from core.tenancy import in_public_schema
from core.times import utc_or_none
from events import selectors, services
from events.admin_display import (
    TIME_INPUT_FORMAT,
    TIME_PLACEHOLDER,
    delivery_badge,
    delivery_log_url,
    endpoint_badge,
    endpoint_url,
    event_id_parse,
    may_manage,
    stamp,
    uuid_or_none,
)
from events.models import Delivery, DeliveryStatus, Endpoint, EventType, event_public_id

if TYPE_CHECKING:
    from django.contrib.admin.filters import _ListFilterChoices

# The log pages through at most this many rows of a filter (the count and the OFFSET stay cheap on an endpoint
# with millions of deliveries); the time range reaches older ones.
LOG_LIMIT = 10_000
LOG_PAGE_SIZE = 50


class EndpointFilter(admin.SimpleListFilter):
    """One endpoint's log at a time: the log's indexes all start with the endpoint, so there is no "All"."""

    title = "endpoint"
    parameter_name = "endpoint"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(str(pk), url) for pk, url in Endpoint.objects.order_by("-created_at").values_list("pk", "url")]

    def choices(self, changelist: ChangeList) -> Iterator[_ListFilterChoices]:
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        if self.value() is None:
            return queryset
        endpoint_id = uuid_or_none(self.value())
        return queryset.filter(endpoint_id=endpoint_id) if endpoint_id else queryset.none()


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(DeliveryStatus.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        return queryset.filter(status=self.value()) if self.value() else queryset


class EventTypeFilter(admin.SimpleListFilter):
    """The contract's types (a field filter would ask the table for its distinct values: a scan of the log)."""

    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(value, value) for value in EventType.values]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        return queryset.filter(event_type=self.value()) if self.value() else queryset


def moment_parse(text: str) -> dt.datetime | None:
    """A time typed in the filter (``2026-05-01T10:15:02``, ``2026-05-01 10:15``, ``2026-05-01``), in
    the console's time zone unless it names one, as UTC (``core.times``); None when it is not one."""
    text = text.strip()
    try:
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)) is not None:
            moment = dt.datetime.combine(day, dt.time())
    except ValueError:
        return None
    if moment is None:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return utc_or_none(moment)


class TimeRangeFilter(admin.ListFilter):
    """Deliveries of events that happened in [since, until), as ``?since=…&until=…`` (the API's parameters)."""

    title = "time (UTC)"
    template = "admin/events/delivery/time_range_filter.html"
    parameters = ("since", "until")

    def __init__(
        self, request: HttpRequest, params: dict[str, Any], model: type[Model], model_admin: admin.ModelAdmin
    ) -> None:
        super().__init__(request, params, model, model_admin)
        self.text: dict[str, str] = {}
        self.bounds: dict[str, dt.datetime] = {}
        for name in self.parameters:
            raw = params.pop(name, None)
            if raw is None:
                continue
            text = str(raw[-1] if isinstance(raw, list) else raw)
            self.used_parameters[name] = text
            self.text[name] = text
            if not text.strip():
                continue
            moment = moment_parse(text)
            if moment is None:
                messages.warning(request, f"“{text}” is not a time (use {TIME_PLACEHOLDER}): the filter ignores it.")
            else:
                self.bounds[name] = moment

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return list(self.parameters)

    def choices(self, changelist: ChangeList) -> Iterator[Any]:
        # One "choice": the form, with the other filters as hidden fields so that applying it keeps them.
        keep = changelist.get_filters_params()
        hidden = [
            (name, value)
            for name, values in keep.items()
            if name not in self.parameters
            for value in (values if isinstance(values, list) else [values])
        ]
        if changelist.query:
            hidden.append(("q", changelist.query))
        yield {
            "hidden": hidden,
            "since": self._input_value("since"),
            "until": self._input_value("until"),
            "clear_url": changelist.get_query_string(remove=list(self.parameters)),
        }

    def _input_value(self, name: str) -> str:
        moment = self.bounds.get(name)
        return timezone.localtime(moment).strftime(TIME_INPUT_FORMAT) if moment else self.text.get(name, "")

    def queryset(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        if "since" in self.bounds:
            queryset = queryset.filter(created_at__gte=self.bounds["since"])
        if "until" in self.bounds:
            queryset = queryset.filter(created_at__lt=self.bounds["until"])
        return queryset


class CappedPaginator(Paginator):
    """Counts at most ``LOG_LIMIT`` rows: the pages end there (narrow the time range for older deliveries)."""

    @cached_property
    def count(self) -> int:
        return cast("QuerySet[Delivery]", self.object_list)[:LOG_LIMIT].count()


class DeliveryAdmin(TenantOnlyAdmin):
    list_display = (
        "when",
        "event_summary",
        "badge",
        "attempts",
        "last_code",
        "last_error_text",
        "next_attempt",
    )
    list_display_links = ("when",)
    list_filter = (EndpointFilter, StatusFilter, EventTypeFilter, TimeRangeFilter)
    search_fields = ("id",)  # the search itself is get_search_results: this only shows the box
    search_help_text = "An event id (evt_…, the webhook-id header) or a delivery id."
    # Newest first, in the order of the log's indexes; no other column sorts, no counts per filter choice.
    ordering = ("-created_at", "-id")
    sortable_by = ()
    show_facets = admin.ShowFacets.NEVER
    show_full_result_count = False
    paginator = CappedPaginator
    list_per_page = list_max_show_all = LOG_PAGE_SIZE
    fieldsets = (
        (None, {"fields": ("endpoint_link", "event_type", "event_ref", "badge", "attempts")}),
        ("Last attempt", {"fields": ("last_code", "last_error", "last_response_excerpt", "last_duration")}),
        ("Times", {"fields": ("event_time", "last_attempt_at", "next_attempt", "delivered_at")}),
        ("Payload", {"fields": ("payload",)}),
        ("Attempts", {"fields": ("attempt_table",)}),
    )
    readonly_fields = [name for _, options in fieldsets for name in cast("tuple[str, ...]", options["fields"])]
    change_form_template = "admin/events/delivery/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).select_related("endpoint")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Delivery], search_term: str
    ) -> tuple[QuerySet[Delivery], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if event_id := event_id_parse(term):
            return queryset.filter(event_id=event_id), False
        if delivery_id := uuid_or_none(term):
            return queryset.filter(pk=delivery_id), False
        return queryset.none(), False

    # ---------------------------------------------------------------- list columns

    @admin.display(description="time")
    def when(self, obj: Delivery) -> str:
        return stamp(obj.created_at)

    @admin.display(description="event")
    def event_summary(self, obj: Delivery) -> SafeString:
        """The type, and the id under it (the ``webhook-id`` header): one column, so the log fits 1280 px."""
        return format_html('{}<br><code class="event-id">{}</code>', obj.event_type, event_public_id(obj.event_id))

    @admin.display(description="event id")
    def event_ref(self, obj: Delivery) -> SafeString:
        return format_html('<code class="event-id">{}</code>', event_public_id(obj.event_id))

    @admin.display(description="status")
    def badge(self, obj: Delivery) -> SafeString:
        return delivery_badge(obj)

    @admin.display(description="last status code")
    def last_code(self, obj: Delivery) -> str:
        return f"HTTP {obj.last_status_code}" if obj.last_status_code else "-"

    @admin.display(description="last error")
    def last_error_text(self, obj: Delivery) -> str:
        return obj.last_error or "-"

    @admin.display(description="next attempt")
    def next_attempt(self, obj: Delivery) -> str:
        if obj.status != DeliveryStatus.PENDING or obj.next_attempt_at is None:
            return "-"
        return stamp(obj.next_attempt_at) if obj.next_attempt_at > timezone.now() else "due now"

    # ---------------------------------------------------------------- the delivery's page

    @admin.display(description="endpoint")
    def endpoint_link(self, obj: Delivery) -> SafeString:
        return format_html(
            '<a href="{}">{}</a> {}', endpoint_url(obj.endpoint_id), obj.endpoint.url, endpoint_badge(obj.endpoint)
        )

    @admin.display(description="event time")
    def event_time(self, obj: Delivery) -> str:
        return f"{stamp(obj.created_at)} UTC"

    @admin.display(description="response (first 1 KiB)")
    def last_response_excerpt(self, obj: Delivery) -> SafeString | str:
        return format_html('<pre class="response-excerpt">{}</pre>', obj.last_response) if obj.last_response else "-"

    @admin.display(description="took")
    def last_duration(self, obj: Delivery) -> str:
        return f"{obj.duration_ms} ms" if obj.duration_ms is not None else "-"

    @admin.display(description="body sent (every attempt and replay sends these bytes)")
    def payload(self, obj: Delivery) -> SafeString:
        body = selectors.delivery_payload(delivery=obj)
        return format_html('<pre class="event-payload">{}</pre>', json.dumps(body, indent=2, ensure_ascii=False))

    @admin.display(description="every attempt")
    def attempt_table(self, obj: Delivery) -> SafeString | str:
        attempts = list(selectors.delivery_attempts(delivery=obj))
        if not attempts:
            return "No attempt yet."
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><pre class="response-excerpt">{}</pre></td>'
            "<td>{}</td></tr>",
            (
                (
                    number,
                    stamp(attempt.attempted_at),
                    f"HTTP {attempt.status_code}" if attempt.status_code else "no answer",
                    attempt.error or "-",
                    attempt.response,
                    f"{attempt.duration_ms} ms",
                )
                for number, attempt in enumerate(attempts, start=1)
            ),
        )
        return format_html(
            '<table class="attempt-log delivery-attempts"><thead><tr><th scope="col">attempt</th>'
            '<th scope="col">time (UTC)</th><th scope="col">status code</th><th scope="col">error</th>'
            '<th scope="col">response (first 1 KiB)</th><th scope="col">took</th></tr></thead><tbody>{}</tbody>'
            "</table>",
            rows,
        )

    # ---------------------------------------------------------------- pages and Replay

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return not in_public_schema() and super().has_view_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<uuid:delivery_id>/replay/", wrap(require_POST(self.replay_view)), name="events_delivery_replay"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied  # before any query: the public host has no endpoints table
        chosen = request.GET.get(EndpointFilter.parameter_name)
        if chosen is None:
            newest = Endpoint.objects.order_by("-created_at").values_list("pk", flat=True).first()
            if newest is not None:  # the log is one endpoint's: start with the newest
                query = request.GET.copy()
                query[EndpointFilter.parameter_name] = str(newest)
                return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
        endpoint_id = uuid_or_none(chosen) if chosen else None
        endpoint = Endpoint.objects.filter(pk=endpoint_id).first() if endpoint_id else None
        extra_context = {
            **(extra_context or {}),
            "endpoint_obj": endpoint,
            "log_limit": LOG_LIMIT,
            "title": f"Deliveries to {endpoint.url}" if endpoint else "Deliveries",
        }
        return super().changelist_view(request, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        found = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "delivery_obj": found}
        if found is not None:
            extra_context.update(
                subtitle=f"{found.event_type} {event_public_id(found.event_id)}",
                may_replay=may_manage(request) and found.endpoint.enabled,
                may_manage=may_manage(request),
                log_url=delivery_log_url(found.endpoint_id),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def replay_view(self, request: HttpRequest, delivery_id: Any) -> HttpResponse:
        """Send the delivery again now: the same webhook-id and body, a new retry schedule (the API's replay)."""
        if not may_manage(request):
            raise PermissionDenied
        found = get_object_or_404(self.get_queryset(request), pk=delivery_id)
        try:
            services.delivery_replay(delivery_row=found)
        except ServiceError as exc:
            self.message_user(request, f"Not replayed: {exc.detail}", level=messages.ERROR)
        else:
            self.message_user(
                request,
                "Replayed: the delivery is due now, with the same webhook-id and body and a new retry schedule. "
                "Reload the page to see the attempt.",
                level=messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:events_delivery_change", args=[found.pk]))
