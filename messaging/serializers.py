"""Request and response shapes of the messages and conversations endpoints."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.rest.fields import StrictCharField, StrictFloatField, StrictRegexField, StrictUUIDField
from core.rest.serializers import ModelSerializer, QuerySerializer, Serializer
from messaging.models import Conversation, Direction, MediaUpload, Message, MessageType

TEXT_MAX = 4096
# A media type as RFC 6838 spells it (type/subtype, restricted name characters), with optional parameters.
MIMETYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}(?: *;[ -~]{0,60})?$"
# Padded base64 (RFC 4648 section 4). The service decodes strictly and also takes the text wrapped in lines.
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


@extend_schema_field({"type": "string", "format": "byte", "pattern": BASE64_PATTERN, "minLength": 4})
class Base64TextField(serializers.Field):
    """A JSON string taken as it is: ``messaging.services.uploads`` decodes it strictly (400) and measures it (413).

    Not a ``CharField``: its validators walk the text character by character in Python, seconds for the
    22 million characters of a 16 MiB file.
    """

    default_error_messages = {"invalid": "Send the file as a base64 string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or not data:
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> str:
        return str(value)


class MediaSerializer(Serializer):
    """One of three ways to give a message's file: a URL WAHA downloads, an uploaded file's id, or the bytes."""

    url = serializers.URLField(max_length=2000, required=False,
                               help_text="A file WAHA downloads itself: reachable from the WAHA host.")
    id = StrictUUIDField(required=False, help_text="A media id from `POST /media` (kept 24 hours).")
    # A declared field: DRF's metaclass takes it off the class, so Serializer.data is not shadowed.
    data = Base64TextField(  # type: ignore[assignment]  # the stubs see it replace Serializer.data
        required=False, help_text="The file itself, base64 (at most `MEDIA_MAX_BYTES` once decoded, 16 MiB by "
                                  "default); needs `mimetype`.")
    mimetype = StrictRegexField(MIMETYPE_PATTERN, max_length=100, required=False,
                                help_text="With `url` (recommended) or `data` (required); not with `id`, whose "
                                          "type was recorded at upload.")
    filename = StrictCharField(max_length=255, required=False,
                               help_text="The name WhatsApp shows for a document; with `id`, overrides the "
                                         "uploaded file's name.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("url", "id", "data") if name in attrs]
        if len(given) != 1:
            raise serializers.ValidationError("Give exactly one of url, id or data.")
        if "data" in attrs and "mimetype" not in attrs:
            raise serializers.ValidationError({"mimetype": ["A file sent as data needs its mimetype."]})
        if "id" in attrs and "mimetype" in attrs:
            raise serializers.ValidationError(
                {"mimetype": ["The type of an uploaded file is the one recorded at upload; leave mimetype out."]})
        return attrs


class LocationSerializer(Serializer):
    latitude = StrictFloatField(min_value=-90, max_value=90)
    longitude = StrictFloatField(min_value=-180, max_value=180)
    title = StrictCharField(max_length=255, required=False)


class SendSerializer(Serializer):
    session = StrictCharField(max_length=64, help_text="Session id or name.")
    to = StrictCharField(max_length=100, help_text="E.164 number (spaces, dashes, brackets allowed), "
                                                         "bare digits, or a chat id ending @c.us, @g.us or @lid.")
    type = serializers.ChoiceField(choices=MessageType.choices, default=MessageType.TEXT)
    text = StrictCharField(max_length=TEXT_MAX, required=False, allow_blank=False)
    media = MediaSerializer(required=False)
    caption = StrictCharField(max_length=1024, required=False, allow_blank=True)
    reply_to = StrictCharField(max_length=200, required=False, allow_blank=True)
    location = LocationSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs["type"]
        if kind == MessageType.TEXT and not attrs.get("text"):
            raise serializers.ValidationError({"text": ["Text messages need a text."]})
        if kind == MessageType.LOCATION and not attrs.get("location"):
            raise serializers.ValidationError({"location": ["Location messages need latitude and longitude."]})
        if kind in {MessageType.IMAGE, MessageType.FILE, MessageType.VOICE, MessageType.VIDEO} and not attrs.get(
                "media"):
            raise serializers.ValidationError({"media": [f"{kind} messages need media (url, id or data)."]})
        return attrs


@extend_schema_field({"type": "string", "format": "binary", "minLength": 1})
class NonEmptyFileField(serializers.FileField):
    """A file part; the schema says it is not empty (``messaging.services.uploads`` refuses an empty file)."""


class MediaUploadSerializer(ModelSerializer):
    """`POST /media`: the multipart part `file` in; the stored upload out."""

    file = NonEmptyFileField(write_only=True, help_text=(
        "The file: at most `MEDIA_MAX_BYTES` (16 MiB by default). Its part's `Content-Type` is the mimetype (or, "
        "when it is `application/octet-stream` or missing, what the bytes show)."))

    class Meta:
        model = MediaUpload
        fields = ["id", "mimetype", "filename", "size", "expires_at", "file"]
        read_only_fields = ["id", "mimetype", "filename", "size", "expires_at"]


class RecipientSerializer(Serializer):
    to = serializers.CharField(max_length=100)
    variables = serializers.DictField(child=serializers.CharField(max_length=1000, allow_blank=True), required=False)


class BulkSerializer(Serializer):
    session = StrictCharField(max_length=64, help_text="Session id or name.")
    text = StrictCharField(max_length=TEXT_MAX, help_text="Template: `{name}` is replaced by the "
                                                                "recipient's `variables.name`.")
    # Each recipient is checked by the bulk service and rejected on its own;
    # a plain list here keeps 10,000 items out of DRF's per-item machinery.
    recipients = serializers.ListField(min_length=1, max_length=10_000,
                                       help_text="Up to 10,000 `{\"to\", \"variables\"}` objects; invalid ones "
                                                 "are rejected individually.")
    type = serializers.ChoiceField(choices=[MessageType.TEXT, MessageType.IMAGE, MessageType.FILE,
                                            MessageType.VIDEO], default=MessageType.TEXT)
    media = MediaSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["type"] != MessageType.TEXT and not attrs.get("media"):
            raise serializers.ValidationError({"media": [f"{attrs['type']} messages need media (url, id or data)."]})
        return attrs


class BulkResultSerializer(Serializer):
    batch_id = serializers.UUIDField()
    accepted = serializers.IntegerField()
    rejected = serializers.ListField(child=serializers.DictField())


class BatchSerializer(Serializer):
    id = serializers.UUIDField()
    session = serializers.UUIDField()
    total = serializers.IntegerField()
    rejected = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


class ErrorSerializer(Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class MessageSerializer(ModelSerializer):
    to = serializers.SerializerMethodField(help_text="Chat id of the recipient (outbound) or our own number.")
    # "from" is a Python keyword: declared through the class namespace.
    vars()["from"] = serializers.SerializerMethodField(method_name="get_from_",
                                                      help_text="Our own number (outbound) or the sender.")
    media = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ["id", "session", "conversation", "direction", "type", "to", "from", "text", "media", "location",
                  "reply_to", "status", "waha_message_id", "error", "attempts", "batch", "created_by", "created_by_key",
                  "created_at",
                  "sent_at", "delivered_at", "read_at", "failed_at", "revoked_at", "edited_at", "reactions"]
        read_only_fields = fields

    def to_representation(self, message: Message) -> dict[str, Any]:
        # Hand-built on purpose: this is the hottest serializer (50-200 rows per
        # list page) and DRF's field machinery costs ~0.3 ms per row. The declared
        # fields above still describe the shape for OpenAPI.
        return {
            "id": str(message.pk), "session": str(message.session_id), "conversation": str(message.conversation_id),
            "direction": message.direction, "type": message.type, "to": self.get_to(message),
            "from": self.get_from_(message), "text": message.text, "media": self.get_media(message),
            "location": message.location, "reply_to": message.reply_to, "status": message.status,
            "waha_message_id": message.waha_message_id, "error": self.get_error(message),
            "attempts": message.attempts, "batch": _uuid(message.batch_id), "created_by": _uuid(message.created_by_id),
            "created_by_key": _uuid(message.created_by_key_id),
            "created_at": _time(message.created_at), "sent_at": _time(message.sent_at),
            "delivered_at": _time(message.delivered_at), "read_at": _time(message.read_at),
            "failed_at": _time(message.failed_at), "revoked_at": _time(message.revoked_at),
            "edited_at": _time(message.edited_at), "reactions": message.reactions,
        }

    def _own_number(self, message: Message) -> str:
        phone = message.session_phone if hasattr(message, "session_phone") else message.session.phone
        return phone.lstrip("+") + "@c.us" if phone else ""

    def get_to(self, message: Message) -> str:
        return message.chat_id if message.direction == Direction.OUTBOUND else self._own_number(message)

    def get_from_(self, message: Message) -> str:
        if message.direction == Direction.OUTBOUND:
            return self._own_number(message)
        return message.sender_id or message.chat_id

    def get_media(self, message: Message) -> dict[str, Any] | None:
        if not message.media:
            return None
        if message.direction == Direction.INBOUND:
            public = {key: message.media.get(key) for key in ("mimetype", "filename", "size", "error")}
            if message.media.get("path"):
                public["url"] = f"/messages/{message.pk}/media"
            return public
        return message.media

    def get_error(self, message: Message) -> dict[str, str] | None:
        return {"code": message.error_code, "detail": message.error_detail} if message.error_code else None


def _uuid(value: Any) -> str | None:
    return str(value) if value is not None else None


def _time(value: Any) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text




class StatsFilterSerializer(QuerySerializer):
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    session = serializers.UUIDField(required=False)


class StatsSerializer(Serializer):
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_direction = serializers.DictField(child=serializers.IntegerField())
    by_day = serializers.ListField(child=serializers.DictField())


class ConversationSerializer(ModelSerializer):
    class Meta:
        model = Conversation
        fields = ["id", "session", "chat_id", "contact_name", "assigned_to", "last_message_at", "unread_count",
                  "created_at"]
        read_only_fields = fields


class ConversationAssignSerializer(Serializer):
    assigned_to = StrictUUIDField(allow_null=True, help_text="An active user of the tenant, or null to unassign.")
