"""List filters with django-filter, as strict as the request bodies: a parameter that is sent is validated.

django-filter reads a query parameter as an HTML form does: an empty value (``?status=``) counts as absent,
so it would silently list everything, and a UUID or date-time with spaces around it passes. Here both are a
400 ``validation_error`` with ``errors`` per parameter, like every other invalid value (``DjangoFilterBackend``
raises a DRF ``ValidationError``), in the words DRF's fields use for the same mistake in a body. Unknown
parameters are ignored; of a repeated one, the last value counts.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

from core.rest.fields import NO_NUL_PATTERN
from core.times import UtcDateTimeField

BLANK = "This field may not be blank."


class _GivenMeansValidated(forms.Form):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in self.fields:
            if self.data.get(name) == "":
                self.add_error(name, BLANK)
        return cleaned


class StrictFilterSet(filters.FilterSet):
    """A FilterSet whose sent parameters are never ignored: an empty value is a 400."""

    class Meta:
        form = _GivenMeansValidated


class ChoiceFilter(filters.ChoiceFilter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, error_messages={"invalid_choice": '"%(value)s" is not a valid choice.'}, **kwargs)


class UUIDFilter(filters.UUIDFilter):
    """A UUID exactly as sent (Django's field would trim spaces first)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, strip=False, error_messages={"invalid": "Must be a valid UUID."}, **kwargs)


class _ExactIsoDateTimeField(UtcDateTimeField, IsoDateTimeField):
    """ISO 8601 exactly as sent (Django's field trims spaces first, DRF's does not), in UTC."""

    default_error_messages = {
        "invalid": "Datetime has wrong format. Use one of these formats instead: "
        "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
    }

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value != value.strip():
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class IsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = _ExactIsoDateTimeField


def text_filter(*, max_length: int, help_text: str, **kwargs: Any) -> filters.CharFilter:
    """A text parameter taken as sent (never trimmed), 1 to ``max_length`` characters, and documented so."""
    schema = {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": NO_NUL_PATTERN,
              "description": help_text}
    text = filters.CharFilter(
        max_length=max_length,
        strip=False,
        error_messages={"max_length": "Ensure this field has no more than %(limit_value)d characters."},
        **kwargs,
    )
    # drf-spectacular documents this use (on a filter instance), but types the decorator for callables only.
    return extend_schema_field(schema)(text)  # type: ignore[type-var]  # a filter instance is not a callable
