"""What the event webhook pages of the console show and take: times, badges, ids, the forms.

Shared by ``events.admin`` (endpoints) and ``events.admin_log`` (the delivery log).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django import forms
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from accounts.roles import EVENT_WEBHOOK_WRITERS
from core.console.site import status_badge
from core.problems import ServiceError
from core.tenancy import in_public_schema
from core.times import UtcDateTimeField
from events.models import ALL_EVENTS, Delivery, DeliveryStatus, Endpoint, EventType, event_public_id
from events.serializers import URL_PATTERN

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


def uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def problem_into_form(form: forms.Form, exc: ServiceError) -> None:
    """A service's refusal on the form: its detail on top, its field errors at their fields."""
    form.add_error(None, exc.detail)
    for field, errors in (exc.errors or {}).items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


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
    since = UtcDateTimeField(label="From (UTC)", widget=time_input())
    until = UtcDateTimeField(label="Until (UTC)", widget=time_input("empty: until now"), required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until <= since:
            raise forms.ValidationError("“Until” must be later than “From”.")
        return cleaned


def endpoint_url(endpoint_id: Any) -> str:
    return reverse("admin:events_endpoint_change", args=[endpoint_id])


def delivery_log_url(endpoint_id: Any, **filters: str) -> str:
    return f"{reverse('admin:events_delivery_changelist')}?{urlencode({'endpoint': str(endpoint_id), **filters})}"


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
