"""Messages, conversations (one per chat) and bulk batches.

The database is the queue of record: a message exists with its status before
any task names it, so a lost task never loses a message.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.db.ids import uuid7


class Direction(models.TextChoices):
    OUTBOUND = "outbound", "Outbound"
    INBOUND = "inbound", "Inbound"


class MessageType(models.TextChoices):
    TEXT = "text", "Text"
    IMAGE = "image", "Image"
    FILE = "file", "File"
    VOICE = "voice", "Voice"
    VIDEO = "video", "Video"
    LOCATION = "location", "Location"


# Where a message is. ``messaging.services.status`` holds the moves between them and is the only code that writes one.
class MessageStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"
    RECEIVED = "received", "Received"


OPEN_STATUSES = (MessageStatus.QUEUED, MessageStatus.SENDING)


def settled_at() -> Coalesce:
    """When a message left the open statuses: sent, else failed (else its last change). The latest of these over a
    batch's messages is when the batch completed."""
    return Coalesce("sent_at", "failed_at", "updated_at")


# WhatsApp's limit for one text: checked on a send's text and on each personalised bulk text.
TEXT_MAX_LENGTH = 4096
# A rejected recipient's ``to`` is kept up to this length: enough for any number or chat id, and a bulk's
# stored rejections stay small whatever was sent.
REJECTED_TO_MAX_LENGTH = 100


class Conversation(models.Model):
    """One chat of one session: a contact or a group."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    session = models.ForeignKey("sessions_waha.Session", on_delete=models.PROTECT, related_name="conversations")
    chat_id = models.CharField(max_length=100)
    contact_name = models.CharField(max_length=200, blank=True)
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="assigned_conversations")
    last_message_at = models.DateTimeField(null=True, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    # Set once WAHA confirmed the number (check-exists) or the contact wrote to us.
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-last_message_at"]
        constraints = [models.UniqueConstraint(fields=["session", "chat_id"], name="conversation_session_chat")]
        indexes = [
            models.Index(fields=["-created_at", "id"], name="conversation_created"),
            models.Index(fields=["assigned_to", "-created_at"], name="conversation_assignee"),
        ]

    def __str__(self) -> str:
        return self.contact_name or self.chat_id


class Batch(models.Model):
    """One bulk request: many recipients, one template."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey("sessions_waha.Session", on_delete=models.PROTECT, related_name="batches")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # The API key that created the batch (created_by is then null).
    created_by_key = models.ForeignKey("apikeys.ApiKey", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    template = models.TextField(blank=True)
    total = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # The rejected recipients as the bulk request answered them: [{"index", "to", "errors"}], at most
    # BULK_MAX_RECIPIENTS entries, each ``to`` cut to REJECTED_TO_MAX_LENGTH characters. Written once, with the batch.
    rejected_recipients = models.JSONField(default=list, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return f"batch {self.id} ({self.total})"


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # Foreign keys get no index of their own: the composite indexes below lead
    # with them, and every index costs on the 10,000-row bulk insert.
    session = models.ForeignKey("sessions_waha.Session", on_delete=models.PROTECT, related_name="messages",
                                db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.PROTECT, related_name="messages", db_index=False)
    # No database constraint for these two (Django still sets them to NULL when their row is deleted): every
    # row of a bulk send names the same batch and user, and checking that 10,000 times at commit was a
    # third of a bulk's time (bench/RESULTS.md, "Bulk"). Only this code writes them, from rows it just read.
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages",
                              db_index=False, db_constraint=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", db_index=False, db_constraint=False)
    # The API key that sent the message (created_by is then null); no constraint, like created_by.
    created_by_key = models.ForeignKey("apikeys.ApiKey", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+", db_index=False, db_constraint=False)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    type = models.CharField(max_length=10, choices=MessageType.choices, default=MessageType.TEXT)
    chat_id = models.CharField(max_length=100, help_text="The other side: recipient (outbound) or chat (inbound).")
    sender_id = models.CharField(max_length=100, blank=True, help_text="Group participant who wrote (inbound).")
    text = models.TextField(blank=True)
    media = models.JSONField(null=True, blank=True)
    location = models.JSONField(null=True, blank=True)
    reply_to = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    # Highest WAHA ack applied so far (-1 error .. 4 played); acks never lower it.
    ack_level = models.SmallIntegerField(null=True, blank=True)
    waha_message_id = models.CharField(max_length=200, blank=True)
    # The bare WhatsApp id (third part of waha_message_id): acks are matched on it.
    wa_id = models.CharField(max_length=100, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    error_detail = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    attempt_log = models.JSONField(default=list, blank=True)
    # When the dispatcher may (re)try: creation time, then now + backoff after a
    # transient failure. Delays live here, not in the broker (PITFALLS 13).
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    reactions = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Cursor order and the selective list filters combined with it (direction
            # has two values and walks the cursor index; chat_id goes through the
            # conversation, see selectors.message_list).
            models.Index(fields=["-created_at", "-id"], name="message_created"),
            models.Index(fields=["status", "-created_at"], name="message_status_created"),
            models.Index(fields=["session", "-created_at"], name="message_session_created"),
            models.Index(fields=["conversation", "-created_at"], name="message_conversation_created"),
            # Batch progress. Most messages have no batch (single sends, inbound): leaving them out saves
            # every one of those inserts an index entry (bench/RESULTS.md, "Accepted sends").
            models.Index(fields=["batch", "status"], name="message_batch", condition=Q(batch__isnull=False)),
            # The dispatcher's claim: due queued messages of one session, oldest first.
            models.Index(fields=["session", "next_attempt_at"], name="message_due", condition=Q(status="queued")),
            models.Index(fields=["sending_started_at"], name="message_sending", condition=Q(status="sending")),
            models.Index(fields=["wa_id"], name="message_wa_id", condition=~Q(wa_id="")),
            # Stats: which closed days changed since the last rollup.
            models.Index(fields=["updated_at"], name="message_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.type} {self.chat_id} ({self.status})"


class IdempotencyKey(models.Model):
    """An ``Idempotency-Key`` header seen on a send, kept at least 24 hours: per user, or per API key."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey("apikeys.ApiKey", null=True, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key"),
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_api_key_key"),
            models.CheckConstraint(condition=Q(user__isnull=False, api_key__isnull=True)
                                   | Q(user__isnull=True, api_key__isnull=False), name="idempotency_one_owner"),
        ]

    def __str__(self) -> str:
        return self.key


class PendingAck(models.Model):
    """An ack that arrived before its message's WAHA id was stored; applied when it lands."""

    session = models.ForeignKey("sessions_waha.Session", on_delete=models.CASCADE, related_name="+")
    wa_id = models.CharField(max_length=100)
    ack = models.SmallIntegerField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["wa_id"], name="pending_ack_wa_id")]

    def __str__(self) -> str:
        return f"{self.wa_id} ack={self.ack}"


class DailyCount(models.Model):
    """Messages per day, session, direction and status, for fast stats over long ranges.

    Rebuilt for closed days (before today, UTC) by the stats task; today is
    always counted live. See ``messaging.services.stats``.
    """

    day = models.DateField()
    session = models.ForeignKey("sessions_waha.Session", on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "session", "direction", "status"],
                                               name="daily_count_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.direction} {self.status}: {self.count}"


class StatsState(models.Model):
    """Single row: how far ``DailyCount`` is built and when it was last refreshed."""

    rolled_until = models.DateField(help_text="First day not in DailyCount (days before it are).")
    refreshed_at = models.DateTimeField(help_text="Messages updated after this may not be counted yet.")

    def __str__(self) -> str:
        return f"rolled until {self.rolled_until}"


class MediaUpload(models.Model):
    """A file a client gave for sending (``POST /media`` or inline base64), kept 24 hours
    (``messaging.services.uploads``).

    The bytes live in the media storage under ``uploads/<schema>/<id>/<filename>``; a message that sends it
    names it in its ``media`` (``{"id", ...}``) and the worker reads it from there when it sends.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    path = models.CharField(max_length=500, help_text="The file's name in the media storage.")
    mimetype = models.CharField(max_length=100)
    # What the first bytes say the file is (``filetype``); "" when they match no known type.
    detected_mimetype = models.CharField(max_length=100, blank=True)
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    source = models.CharField(max_length=10, choices=[("multipart", "POST /media"), ("inline", "Inline base64")])
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_by_key = models.ForeignKey("apikeys.ApiKey", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["expires_at"], name="media_upload_expires"),
            # An inline file sent again (a retried request, the same invoice) reuses the stored one.
            models.Index(fields=["sha256"], name="media_upload_sha256"),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.size} bytes)"
