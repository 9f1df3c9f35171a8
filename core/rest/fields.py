"""Request fields that take a JSON value only in the type the schema gives it.

DRF's fields coerce: a ``CharField`` turns ``0`` into ``"0"``, a
``BooleanField`` takes ``"yes"``, a ``FloatField`` takes ``"1.5"`` and a
``UUIDField`` takes an integer. The schema says string, boolean, number and
uuid, so a request body with another type is a 400 ``validation_error``, as
the schema promises. (Query parameters always arrive as strings: their
serializers use DRF's fields.)
"""

from __future__ import annotations

import re
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

# What DRF enforces on text beyond the type and lengths, spelled out for the schema only
# (``core.rest.schema.ServiceAutoSchema``; the fields already enforce it, nothing runs these):
# - no U+0000 anywhere: DRF's ``CharField`` refuses it (PostgreSQL cannot store it in text);
# - for a trimmed field that may not be blank, also one character that ``str.strip`` keeps. ECMA's ``\s``
#   knows neither \x1c-\x1f nor \x85 but does count \ufeff, so the pattern spells out Python's reading.
NO_NUL_PATTERN = r"^[^\u0000]*$"
NOT_BLANK_NO_NUL_PATTERN = r"^[^\u0000]*(?:[^\s\u0000\u001c-\u001f\u0085]|\ufeff)[^\u0000]*$"


class _JsonTyped(serializers.Field):
    """Refuse a value whose JSON type is not one of ``json_types`` with the field's ``invalid`` message."""

    json_types: tuple[type, ...] = (str,)

    def to_internal_value(self, data: Any) -> Any:
        if (isinstance(data, bool) and bool not in self.json_types) or not isinstance(data, self.json_types):
            self.fail("invalid")
        return super().to_internal_value(data)


def shows_not_blank(field: serializers.Field) -> bool:
    """Whether ``field`` is a trimmed string that may not be blank (its schema shows the not-blank rule)."""
    return isinstance(field, StrictCharField) and field.trim_whitespace and not field.allow_blank


def schema_pattern(field: serializers.Field) -> str | None:
    """The pattern that the schema shows for a text ``field`` without a pattern or format of its own: the
    rules DRF enforces on it that JSON Schema's ``type`` and lengths cannot say."""
    if not isinstance(field, serializers.CharField) or any(isinstance(v, RegexValidator) for v in field.validators):
        return None  # not text, or text whose own pattern the schema shows
    return NOT_BLANK_NO_NUL_PATTERN if shows_not_blank(field) else NO_NUL_PATTERN


class StrictCharField(_JsonTyped, serializers.CharField):
    """A JSON string; when blank values are refused, the schema says what is left after trimming."""


class StrictEmailField(_JsonTyped, serializers.EmailField):
    pass


class StrictRegexField(_JsonTyped, serializers.RegexField):
    """A string matching ``regex`` as a whole (``$`` does not let a trailing newline through).

    The schema shows the regex as the field's ``pattern``.
    """

    def __init__(self, regex: str | re.Pattern[str], **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(regex, **kwargs)
        self.whole = re.compile(regex) if isinstance(regex, str) else regex

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if self.whole.fullmatch(value) is None:
            self.fail("invalid")
        return value


class StrictBooleanField(_JsonTyped, serializers.BooleanField):
    json_types = (bool,)


class StrictFloatField(_JsonTyped, serializers.FloatField):
    json_types = (int, float)


class StrictUUIDField(_JsonTyped, serializers.UUIDField):
    pass
