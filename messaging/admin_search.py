"""The message log's search box: one term, matched the ways an operator would mean it.

A number is read the way the API reads a recipient (``messaging.services.recipients``): ``+49 151 9999
9999``, ``4915199999999``, ``0049 151 …`` and ``4915199999999@c.us`` all find the same chat. A
number with a leading 0 is a national number; tenants have no country setting, so its digits after
the 0 are matched at the end of any chat's number. Digits alone also match part of a number. The
term is also looked for in contact names, texts, error codes and details, and as a message id.
"""

from __future__ import annotations

import contextlib
import re
import uuid

from django.db.models import Q

from messaging.models import Conversation
from messaging.services.recipients import InvalidRecipient, recipient_chat_id

_PHONE_LIKE = re.compile(r"^\+?[0-9 ().\-]+$")
# Fewer digits than this match too much to mean a number (years, amounts in texts).
MIN_SEARCH_DIGITS = 4


def _chat_id(term: str) -> str | None:
    try:
        return recipient_chat_id(term)
    except InvalidRecipient:
        return None


def _number_digits(term: str) -> str | None:
    """The digits a typed number (whole or in part) has in a chat id, without call prefixes."""
    if not _PHONE_LIKE.match(term):
        return None
    digits = re.sub(r"[^0-9]", "", term)
    if digits.startswith("00"):
        digits = digits[2:]  # the international call prefix, like "+"
    digits = digits.lstrip("0")  # a national number's trunk prefix
    return digits if len(digits) >= MIN_SEARCH_DIGITS else None


def _conversation_match(term: str) -> Q:
    match = Q(contact_name__icontains=term)
    chat_id = _chat_id(term)
    if chat_id:
        match |= Q(chat_id=chat_id)
    digits = _number_digits(term)
    if digits:
        match |= Q(chat_id__contains=digits)
    return match


def message_search(term: str) -> Q:
    """The filter for a search term of the message log (an empty term matches everything)."""
    term = term.strip()
    if not term:
        return Q()
    # Chats are few next to messages: match them first, then take their messages by the
    # (conversation, created_at) index.
    chats = Conversation.objects.filter(_conversation_match(term)).values("id")
    match = (
        Q(conversation__in=chats)
        | Q(text__icontains=term)
        | Q(error_code__icontains=term)
        | Q(error_detail__icontains=term)
        | Q(waha_message_id=term)
        | Q(wa_id=term)
    )
    with contextlib.suppress(ValueError):
        match |= Q(pk=uuid.UUID(term))
    return match
