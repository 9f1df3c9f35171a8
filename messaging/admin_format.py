"""How the console writes times and numbers: seconds in every time, numbers as people read them."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.dateformat import format as date_format


def clock(value: dt.datetime | None) -> str:
    """``10:15:02`` in the console's time zone."""
    return date_format(timezone.localtime(value), "H:i:s") if value else ""


def stamp(value: dt.datetime | None) -> str:
    """``2026-05-01 10:15:02``: a list's time, seconds included."""
    return date_format(timezone.localtime(value), "Y-m-d H:i:s") if value else ""


def readable_number(chat_id: str) -> str:
    """``4915199999999@c.us`` → ``+4915199999999``; groups and hidden numbers say what they are."""
    local, _, suffix = chat_id.partition("@")
    if suffix == "c.us":
        return f"+{local}"
    if suffix == "g.us":
        return f"group {local}"
    if suffix == "lid":
        return f"hidden number ({local})"
    return chat_id
