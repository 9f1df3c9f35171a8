"""The query parameters of ``GET /messages``: each narrows the messages the caller may see (``selectors``)."""

from __future__ import annotations

from django.db.models import QuerySet

from core.rest.filters import ChoiceFilter, IsoDateTimeFilter, StrictFilterSet, UUIDFilter, text_filter
from messaging.models import Conversation, Direction, Message, MessageStatus


class MessageFilter(StrictFilterSet):
    status = ChoiceFilter(choices=MessageStatus.choices)
    direction = ChoiceFilter(choices=Direction.choices)
    session = UUIDFilter(field_name="session_id")
    conversation = UUIDFilter(field_name="conversation_id")
    chat_id = text_filter(
        max_length=100,
        method="chat_filter",
        help_text="A normalised chat id, exactly as stored (`4915112345678@c.us`).",
    )
    batch = UUIDFilter(field_name="batch_id")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", help_text="Inclusive.")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt", help_text="Exclusive.")
    search = text_filter(
        max_length=200, field_name="text", lookup_expr="icontains", help_text="Text contains, case-insensitive."
    )

    def chat_filter(self, messages: QuerySet[Message], name: str, chat_id: str) -> QuerySet[Message]:
        # Through the conversation: its (session, chat_id) key and the message index on conversation make
        # this an index lookup.
        chats = Conversation.objects.filter(chat_id=chat_id).values("id")
        return messages.filter(conversation_id__in=chats, chat_id=chat_id)
