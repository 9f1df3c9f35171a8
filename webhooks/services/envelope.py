"""A WAHA webhook envelope (WAHA.md §5.4): parsed, checked and cleaned for storing.

The receiver parses every body with ``envelope_parse`` (after the signature header is known to be present),
and the applier reads stored events back as ``Envelope``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from core.problems import InvalidInput, ServiceError

_EVENT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_EVENT_ID = re.compile(r"^[\x21-\x7e]{1,100}$")  # evt_ + ULID; printable ASCII, no spaces
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class MalformedJson(ServiceError):
    code = "malformed_json"
    title = "Malformed JSON"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _clean(value: Any) -> Any:
    """Strings PostgreSQL can store: no NUL characters, no lone surrogates."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


@dataclass(frozen=True)
class Envelope:
    """A parsed WAHA envelope (WAHA.md §5.4) and the JSON text to store for it."""

    data: dict[str, Any]
    stored_json: str

    @property
    def event_id(self) -> str:
        return self.data["id"]

    @property
    def event(self) -> str:
        return self.data["event"]

    @property
    def session(self) -> str:
        return self.data["session"]

    @property
    def payload(self) -> Any:
        return self.data.get("payload")

    def timestamp(self, *, now: dt.datetime) -> dt.datetime:
        """Event creation time (``timestamp`` is in ms); ``now`` when absent or implausible."""
        value = self.data.get("timestamp")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return now
        try:
            moment = dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            return now
        return now if moment > now + dt.timedelta(minutes=5) else moment


def envelope_parse(body: bytes) -> Envelope:
    """The envelope of a webhook body, or ``MalformedJson``/``InvalidInput`` (both 400)."""
    try:
        text = body.decode("utf-8")
        data = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedJson("The body is not valid UTF-8 JSON.") from exc
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object (a WAHA event envelope).",
                           errors={"non_field_errors": ["Expected a JSON object."]})
    errors: dict[str, list[str]] = {}
    for name, pattern in (("id", _EVENT_ID), ("event", _EVENT_NAME), ("session", None)):
        value = data.get(name)
        if not isinstance(value, str) or not value:
            errors[name] = ["This field is required and must be a non-empty string."]
        elif pattern is not None and not pattern.match(value):
            errors[name] = ["This value is not in the expected format."]
    if errors:
        raise InvalidInput("The body is not a WAHA event envelope.", errors=errors)
    if "\\u" in text:  # escapes may hide NULs or lone surrogates that PostgreSQL refuses
        data = _clean(data)
        text = json.dumps(data)
    return Envelope(data=data, stored_json=text)
