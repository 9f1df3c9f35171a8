"""Times typed by a user, in UTC before they reach a query.

ISO 8601 and Python take UTC offsets up to ±23:59; PostgreSQL takes them up
to ±15:59 only, so ``2026-01-01T08:00:00-16:24`` sent on as it came is a
database error (it was a 500). In UTC every offset is fine, and a time at the
edge of year 1 or 9999 that has no UTC equivalent is refused as out of range,
in DRF's words (its ``DateTimeField`` converts the same way).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms

OUT_OF_RANGE = "Datetime value out of range."


def utc_or_none(moment: datetime) -> datetime | None:
    """An aware ``moment`` in UTC; None when it has none (the edges of years 1 and 9999)."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


class UtcDateTimeField(forms.DateTimeField):
    """A form's date-time, in UTC whatever offset it was written with."""

    default_error_messages = {"overflow": OUT_OF_RANGE}

    def to_python(self, value: Any) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        in_utc = utc_or_none(moment)
        if in_utc is None:
            raise forms.ValidationError(self.error_messages["overflow"], code="overflow")
        return in_utc
