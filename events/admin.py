"""Event webhooks in the tenant console: endpoints, their delivery log, replays and the test ping.

A TENANT_ADMIN adds and edits endpoints, enables and disables them, rotates the signing secret, sends a test
``ping`` and replays deliveries (one, or every failed one in a time range). All of it goes through the API's
services (``events.services``), so the URL rules, the retry schedule and the delivery state machine are the
same in both. The AUDITOR reads every page and gets no buttons; a POST made by hand is refused (403).

A signing secret is on a page only in the answer to create and rotate (``secret.html``, never cached), never
in a list, a detail, a message or the history.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from accounts.roles import EVENT_WEBHOOK_WRITERS
from core.console.admin import TenantOnlyAdmin
from core.console.site import status_badge
from core.problems import ServiceError
from core.tenancy import in_public_schema
from events import selectors, services
from events.models import ALL_EVENTS, Delivery, DeliveryStatus, Endpoint, EventType, event_public_id
from events.serializers import URL_PATTERN

if TYPE_CHECKING:
    from django.contrib.admin.filters import _ListFilterChoices

# The delivery log pages through at most this many rows of a filter (the count and the OFFSET stay cheap on an
# endpoint with millions of deliveries); the time range reaches older ones.
LOG_LIMIT = 10_000
LOG_PAGE_SIZE = 50
# The endpoint's page shows its latest deliveries; the log has them all.
RECENT_DELIVERIES = 10
# Crockford's base32, the alphabet of ``evt_…`` ids (events.models.event_public_id).
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def may_manage(request: HttpRequest) -> bool:
    """Whether the user may change endpoints and replay: the API's writers (TENANT_ADMIN), on a tenant host."""
    return not in_public_schema() and getattr(request.user, "role", None) in EVENT_WEBHOOK_WRITERS


def stamp(value: dt.datetime | None) -> str:
    """``2026-05-01 10:15:02``: a time to the second, in the console's time zone (UTC)."""
    return date_format(timezone.localtime(value), "Y-m-d H:i:s") if value else ""


def clock(value: dt.datetime) -> str:
    return date_format(timezone.localtime(value), "H:i:s")


def endpoint_badge(endpoint: Endpoint) -> SafeString:
    """``enabled``, or ``disabled`` with its reason beside it (the badge's title repeats it)."""
    if endpoint.enabled:
        return status_badge("enabled", "enabled")
    badge = status_badge("disabled", "disabled", title=endpoint.disabled_reason)
    if not endpoint.disabled_reason:
        return badge
    return format_html('{} <span class="disabled-reason">{}</span>', badge, endpoint.disabled_reason)


def delivery_badge(delivery: Delivery, *, now: dt.datetime | None = None) -> SafeString:
    """The status in words; a delivery waiting for another attempt says how many it made and when the next is."""
    if delivery.status != DeliveryStatus.PENDING:
        return status_badge(delivery.status, delivery.status)
    now = now or timezone.now()
    due = delivery.next_attempt_at
    when = f"next at {clock(due)}" if due and due > now else "due now"
    if delivery.attempts:
        return status_badge("retrying", f"retrying (attempt {delivery.attempts}, {when})")
    return status_badge("pending", f"pending ({when})")


def events_summary(events: list[str]) -> str:
    return "all events" if ALL_EVENTS in events else ", ".join(events)


def event_id_parse(public_id: str) -> uuid.UUID | None:
    """``evt_…`` → the event's UUID (None for anything else)."""
    body = public_id.strip().upper().removeprefix("EVT_")
    if len(body) != 26 or any(char not in _CROCKFORD for char in body):
        return None
    value = 0
    for char in body:
        value = value << 5 | _CROCKFORD.index(char)
    return uuid.UUID(int=value) if value < 1 << 128 else None


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _problem_into_form(form: forms.Form, exc: ServiceError) -> None:
    """A service's refusal on the form: its detail on top, its field errors at their fields."""
    form.add_error(None, exc.detail)
    for field, errors in (exc.errors or {}).items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


# ==================================================================== endpoints

EVENT_CHOICES = [(ALL_EVENTS, "All events (*)"), *((value, f"{value}: {label}") for value, label in EventType.choices)]


class EndpointForm(forms.Form):
    """What a TENANT_ADMIN sets on an endpoint; the service checks the URL against the URL rules."""

    url = forms.RegexField(
        regex=URL_PATTERN,
        max_length=2000,
        label="URL",
        error_messages={"invalid": "Use an http or https URL with a host name or address."},
        widget=forms.URLInput(attrs={"size": 60}),
        help_text="Where events are POSTed. In production: https on a public address.",
    )
    events = forms.MultipleChoiceField(
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="The event types this endpoint receives. “All events” includes types added later.",
    )
    description = forms.CharField(max_length=500, required=False, widget=forms.TextInput(attrs={"size": 60}))

    def clean_events(self) -> list[str]:
        chosen = sorted(set(self.cleaned_data["events"]))
        if ALL_EVENTS in chosen and len(chosen) > 1:
            raise forms.ValidationError("Choose “All events” or single event types, not both.")
        return chosen


# Times are typed (or pasted from a list) as the console shows them, to the second, in UTC.
TIME_INPUT_FORMAT = "%Y-%m-%d %H:%M:%S"
TIME_PLACEHOLDER = "YYYY-MM-DD HH:MM:SS"


def time_input(placeholder: str = TIME_PLACEHOLDER) -> forms.DateTimeInput:
    return forms.DateTimeInput(format=TIME_INPUT_FORMAT, attrs={"placeholder": placeholder, "size": 19})


class ReplayRangeForm(forms.Form):
    since = forms.DateTimeField(label="From (UTC)", widget=time_input())
    until = forms.DateTimeField(label="Until (UTC)", widget=time_input("empty: until now"), required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until <= since:
            raise forms.ValidationError("“Until” must be later than “From”.")
        return cleaned


def _endpoint_url(endpoint_id: Any) -> str:
    return reverse("admin:events_endpoint_change", args=[endpoint_id])


def delivery_log_url(endpoint_id: Any, **filters: str) -> str:
    return f"{reverse('admin:events_delivery_changelist')}?{urlencode({'endpoint': str(endpoint_id), **filters})}"


@admin.register(Endpoint)
class EndpointAdmin(TenantOnlyAdmin):
    list_display = ("url_link", "subscribed_events", "state", "last_delivery", "created_at")
    list_display_links = None
    # The state (and why and since when it is disabled) is in the box at the top of the page, with the actions.
    fieldsets = (
        (None, {"fields": ("url_text", "subscribed_events", "description")}),
        ("Signing secret", {"fields": ("secret_note",)}),
        ("Record", {"fields": ("created_by", "created_at", "updated_at")}),
    )
    readonly_fields = [name for _, options in fieldsets for name in cast("tuple[str, ...]", options["fields"])]
    change_form_template = "admin/events/endpoint/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Endpoint]:
        # The latest delivery of each endpoint, from the delivery log's index (endpoint, -created_at, -id).
        latest = Delivery.objects.filter(endpoint=OuterRef("pk")).order_by("-created_at", "-id")
        return (
            super()
            .get_queryset(request)
            .select_related("created_by")
            .annotate(
                last_delivery_id=Subquery(latest.values("id")[:1]),
                last_delivery_status=Subquery(latest.values("status")[:1]),
                last_delivery_code=Subquery(latest.values("last_status_code")[:1]),
                last_delivery_at=Subquery(latest.values("created_at")[:1]),
            )
        )

    # ---------------------------------------------------------------- columns and fields

    @admin.display(description="URL", ordering="url")
    def url_link(self, obj: Endpoint) -> SafeString:
        return format_html('<a href="{}">{}</a>', _endpoint_url(obj.pk), obj.url)

    @admin.display(description="URL")
    def url_text(self, obj: Endpoint) -> str:
        return obj.url

    @admin.display(description="events")
    def subscribed_events(self, obj: Endpoint) -> str:
        return events_summary(obj.events)

    @admin.display(description="state", ordering="enabled")
    def state(self, obj: Endpoint) -> SafeString:
        return endpoint_badge(obj)

    @admin.display(description="last delivery")
    def last_delivery(self, obj: Endpoint) -> SafeString | str:
        status = getattr(obj, "last_delivery_status", None)
        if status is None:
            return "none yet"
        code = getattr(obj, "last_delivery_code", None)
        url = reverse("admin:events_delivery_change", args=[getattr(obj, "last_delivery_id", None)])
        return format_html(
            '{} <a href="{}">{}</a>{}',
            status_badge(status, status),
            url,
            stamp(getattr(obj, "last_delivery_at", None)),
            f" · HTTP {code}" if code else "",
        )

    @admin.display(description="secret")
    def secret_note(self, obj: Endpoint) -> str:
        rotation = obj.previous_secret_expires_at
        if rotation and rotation > timezone.now():
            return (
                f"Rotated: until {stamp(rotation)} UTC the previous secret signs every delivery too (two "
                "signatures). The secret itself is shown only when it is made."
            )
        return "Shown only when it is made (when the endpoint is added and when the secret is rotated)."

    # ---------------------------------------------------------------- permissions

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return not in_public_schema() and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # the page reads; changes go through the service (edit_view and the actions)

    def _manageable(self, request: HttpRequest, endpoint_id: Any) -> Endpoint:
        if not may_manage(request):
            raise PermissionDenied
        return get_object_or_404(Endpoint, pk=endpoint_id)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<uuid:endpoint_id>/edit/", wrap(self.edit_view), name="events_endpoint_edit"),
            path("<uuid:endpoint_id>/rotate-secret/", wrap(self.rotate_view), name="events_endpoint_rotate"),
            path("<uuid:endpoint_id>/disable/", wrap(self.disable_view), name="events_endpoint_disable"),
            path("<uuid:endpoint_id>/enable/", wrap(require_POST(self.enable_view)), name="events_endpoint_enable"),
            path("<uuid:endpoint_id>/ping/", wrap(require_POST(self.ping_view)), name="events_endpoint_ping"),
            path("<uuid:endpoint_id>/replay/", wrap(require_POST(self.replay_view)), name="events_endpoint_replay"),
            *super().get_urls(),
        ]

    # ---------------------------------------------------------------- pages

    def _page(self, request: HttpRequest, template: str, **context: Any) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "has_view_permission": self.has_view_permission(request),
            **context,
        }
        return TemplateResponse(request, f"admin/events/endpoint/{template}", context)

    def _back(self, endpoint: Endpoint) -> HttpResponseRedirect:
        return HttpResponseRedirect(_endpoint_url(endpoint.pk))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        endpoint = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "endpoint_obj": endpoint, "may_manage": may_manage(request)}
        if endpoint is not None:
            now = timezone.now()
            recent = Delivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")[:RECENT_DELIVERIES]
            extra_context.update(
                subtitle=endpoint.url,
                state=endpoint_badge(endpoint),
                disabled_since=stamp(endpoint.disabled_at),
                log_url=delivery_log_url(endpoint.pk),
                failed_url=delivery_log_url(endpoint.pk, status=DeliveryStatus.FAILED),
                recent=[delivery_row(delivery, now=now) for delivery in recent],
                replay_form=ReplayRangeForm(initial={"since": (now - dt.timedelta(days=1)).replace(microsecond=0)}),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """URL and events; the service checks the URL and makes the secret, which this answer shows once."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = EndpointForm(request.POST or None, initial={"events": [ALL_EVENTS]})
        if request.method == "POST" and form.is_valid():
            try:
                endpoint = services.endpoint_create(created_by_id=request.user.pk, **form.cleaned_data)
            except ServiceError as exc:
                _problem_into_form(form, exc)
            else:
                self.log_addition(request, endpoint, "Added.")
                return self._secret_page(request, endpoint, title="Endpoint added")
        return self._page(request, "edit_form.html", title="Add endpoint", form=form, add=True)

    def edit_view(self, request: HttpRequest, endpoint_id: Any) -> HttpResponse:
        endpoint = self._manageable(request, endpoint_id)
        current = {"url": endpoint.url, "events": endpoint.events, "description": endpoint.description}
        form = EndpointForm(request.POST or None, initial=current)
        if request.method == "POST" and form.is_valid():
            changes = {name: value for name, value in form.cleaned_data.items() if value != current[name]}
            if not changes:
                self.message_user(request, "Nothing changed.", level=messages.INFO)
                return self._back(endpoint)
            try:
                endpoint = services.endpoint_update(endpoint=endpoint, changes=changes)
            except ServiceError as exc:
                _problem_into_form(form, exc)
            else:
                self.log_change(request, endpoint, f"Changed {', '.join(sorted(changes))}.")
                self.message_user(request, "Endpoint saved.", level=messages.SUCCESS)
                return self._back(endpoint)
        return self._page(request, "edit_form.html", title="Edit endpoint", form=form, endpoint_obj=endpoint)

    def _secret_page(self, request: HttpRequest, endpoint: Endpoint, *, title: str) -> TemplateResponse:
        """The one page that shows the secret: the answer to the POST that made it, never cached."""
        response = self._page(
            request,
            "secret.html",
            title=title,
            endpoint_obj=endpoint,
            secret=endpoint.secret,
            rotation_ends=stamp(endpoint.previous_secret_expires_at),
        )
        response["Cache-Control"] = "no-store"
        return response

    def _confirmed(self, request: HttpRequest) -> bool:
        return request.method == "POST" and request.POST.get("confirmed") == "yes"

    def rotate_view(self, request: HttpRequest, endpoint_id: Any) -> HttpResponse:
        """GET: what a rotation does. POST (confirmed): rotate, and show the new secret once."""
        endpoint = self._manageable(request, endpoint_id)
        if not self._confirmed(request):
            return self._page(
                request,
                "confirm.html",
                title="Rotate the signing secret?",
                endpoint_obj=endpoint,
                action_url=reverse("admin:events_endpoint_rotate", args=[endpoint.pk]),
                action_label="Yes, rotate the secret",
                explanation=(
                    "A new secret is made and shown once on the next page. For 24 hours every delivery carries "
                    "two signatures, one with the old secret and one with the new, so your receiver keeps "
                    "verifying while you deploy the new secret; then the old one stops signing."
                ),
            )
        endpoint = services.endpoint_rotate_secret(endpoint=endpoint)
        self.log_change(request, endpoint, "Signing secret rotated.")
        return self._secret_page(request, endpoint, title="Signing secret rotated")

    def disable_view(self, request: HttpRequest, endpoint_id: Any) -> HttpResponse:
        endpoint = self._manageable(request, endpoint_id)
        if not endpoint.enabled:
            self.message_user(request, "The endpoint is disabled already.", level=messages.INFO)
            return self._back(endpoint)
        if not self._confirmed(request):
            return self._page(
                request,
                "confirm.html",
                title="Disable the endpoint?",
                endpoint_obj=endpoint,
                action_url=reverse("admin:events_endpoint_disable", args=[endpoint.pk]),
                action_label="Yes, disable it",
                explanation=(
                    "No event is sent to it while it is disabled, and its pending deliveries end failed. "
                    "Enable it again later and replay what failed in the meantime."
                ),
            )
        endpoint = services.endpoint_update(endpoint=endpoint, changes={"enabled": False})
        self.log_change(request, endpoint, "Disabled.")
        self.message_user(request, "Endpoint disabled: its pending deliveries are failed.", level=messages.SUCCESS)
        return self._back(endpoint)

    def enable_view(self, request: HttpRequest, endpoint_id: Any) -> HttpResponse:
        endpoint = services.endpoint_update(endpoint=self._manageable(request, endpoint_id), changes={"enabled": True})
        self.log_change(request, endpoint, "Enabled.")
        self.message_user(
            request, "Endpoint enabled. Replay what failed while it was disabled below.", level=messages.SUCCESS
        )
        return self._back(endpoint)

    def ping_view(self, request: HttpRequest, endpoint_id: Any) -> HttpResponse:
        endpoint = self._manageable(request, endpoint_id)
        try:
            sent = services.endpoint_ping(endpoint=endpoint)
        except ServiceError as exc:
            self.message_user(request, f"No ping sent: {exc.detail}", level=messages.ERROR)
            return self._back(endpoint)
        self.log_change(request, endpoint, "Test ping sent.")
        self.message_user(request, "Test ping queued: reload this page to see its attempts.", level=messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:events_delivery_change", args=[sent.pk]))

    def replay_view(self, request: HttpRequest, endpoint_id: Any) -> HttpResponse:
        """Every failed delivery of the endpoint whose event happened in [since, until): sent again now."""
        endpoint = self._manageable(request, endpoint_id)
        form = ReplayRangeForm(request.POST)
        if not form.is_valid():
            errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
            self.message_user(request, f"Nothing replayed: {errors}", level=messages.ERROR)
            return self._back(endpoint)
        since, until = form.cleaned_data["since"], form.cleaned_data["until"]
        try:
            queued = services.endpoint_replay(endpoint=endpoint, since=since, until=until)
        except ServiceError as exc:
            self.message_user(request, f"Nothing replayed: {exc.detail}", level=messages.ERROR)
            return self._back(endpoint)
        span = f"from {stamp(since)} until {stamp(until) if until else 'now'} (UTC)"
        self.log_change(request, endpoint, f"Replayed {queued} failed deliveries {span}.")
        if not queued:
            self.message_user(request, f"No failed delivery {span}: nothing was replayed.", level=messages.INFO)
            return self._back(endpoint)
        self.message_user(
            request,
            f"Replayed {queued} failed {'delivery' if queued == 1 else 'deliveries'} {span}: they are due now, "
            "each with its own webhook-id and a new retry schedule.",
            level=messages.SUCCESS,
        )
        window = {"since": since.strftime("%Y-%m-%dT%H:%M:%S")}
        if until:
            window["until"] = until.strftime("%Y-%m-%dT%H:%M:%S")
        return HttpResponseRedirect(delivery_log_url(endpoint.pk, **window))


# ==================================================================== the delivery log


def delivery_row(delivery: Delivery, *, now: dt.datetime) -> dict[str, Any]:
    """One delivery for the endpoint page's table of the latest ones."""
    return {
        "url": reverse("admin:events_delivery_change", args=[delivery.pk]),
        "when": stamp(delivery.created_at),
        "event_type": delivery.event_type,
        "event_id": event_public_id(delivery.event_id),
        "badge": delivery_badge(delivery, now=now),
        "attempts": delivery.attempts,
        "code": delivery.last_status_code or "",
        "error": delivery.last_error,
    }


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
        endpoint_id = _uuid_or_none(self.value())
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


def _moment(text: str) -> dt.datetime | None:
    """A time typed or picked in the filter (``2026-05-01T10:15:02``, ``2026-05-01 10:15``, ``2026-05-01``), in
    the console's time zone unless it names one."""
    text = text.strip()
    try:
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)) is not None:
            moment = dt.datetime.combine(day, dt.time())
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


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
            moment = _moment(text)
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


@admin.register(Delivery)
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
        if delivery_id := _uuid_or_none(term):
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
            '<a href="{}">{}</a> {}', _endpoint_url(obj.endpoint_id), obj.endpoint.url, endpoint_badge(obj.endpoint)
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
        endpoint_id = _uuid_or_none(chosen) if chosen else None
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
