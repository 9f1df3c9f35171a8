"""Event webhooks to tenants (tenant schema): endpoints, the event outbox, deliveries and their attempts.

``Event`` is a transactional outbox: a row is written in the same transaction
as the change it reports, with one ``Delivery`` per enabled endpoint
subscribed to its type. Workers deliver from these rows; the broker only
says "look at this endpoint", so a lost task or a killed worker loses
nothing. ``events.delivery`` is the one module that moves a delivery's status.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from core.db.ids import RowId, uuid7

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class EventType(models.TextChoices):
    MESSAGE_SENT = "message.sent", "Message sent"
    MESSAGE_DELIVERED = "message.delivered", "Message delivered"
    MESSAGE_READ = "message.read", "Message read"
    MESSAGE_FAILED = "message.failed", "Message failed"
    MESSAGE_RECEIVED = "message.received", "Message received"
    MESSAGE_CANCELED = "message.canceled", "Message canceled"
    SESSION_STATUS = "session.status", "Session status"
    BATCH_COMPLETED = "batch.completed", "Batch completed"
    OPT_OUT_CREATED = "opt_out.created", "Opt-out created"
    PING = "ping", "Ping (test)"


ALL_EVENTS = "*"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class Endpoint(models.Model):
    """A URL of the tenant's own systems that receives the events it subscribes to."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    url = models.CharField(max_length=2000)
    events = ArrayField(models.CharField(max_length=40), help_text='Event types, or ["*"] for all.')
    description = models.CharField(max_length=500, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Signing secrets ("whsec_" + base64 of 32 random bytes). They must be readable to sign, so they are
    # stored as they are; the API shows one only when it is made, and logs never do.
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Set at the first failed attempt after a success; an endpoint failing for EVENT_DISABLE_AFTER_SECONDS
    # without one success is disabled.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["-created_at", "id"], name="endpoint_created_id")]

    def __str__(self) -> str:
        return f"{self.url} ({'enabled' if self.enabled else 'disabled'})"


class Event(models.Model):
    """Something that happened in the tenant, written with the change it reports.

    ``data`` is the resource as the API's GET shows it. Message events written by SQL keep the message row
    as it was right after the change (``row``); the worker renders ``data`` from it with the API's serializer
    at the first delivery attempt and stores it, so every attempt and replay sends the same body.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices)
    created_at = models.DateTimeField()
    data = models.JSONField(null=True, blank=True)
    row = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at"], name="event_created")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"

    @property
    def public_id(self) -> str:
        return event_public_id(self.id)


def event_public_id(event_id: RowId) -> str:
    """``evt_`` + the event's UUID in Crockford base32 (26 characters, sorting by time like a ULID)."""
    import uuid

    value = event_id.int if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id)).int
    return "evt_" + "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


class Delivery(models.Model):
    """One event to one endpoint: its status, the next attempt and the last outcome."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # Both foreign keys are covered by the indexes below (no index of their own to write on each insert).
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    # Copies of the event's type and time: the delivery log filters and sorts on them without a join.
    event_type = models.CharField(max_length=40)
    created_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Attempts before the current round of retries (a replay starts a new round with the whole schedule).
    round_started_at_attempt = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_response = models.TextField(blank=True, help_text="The first 1 KiB of the last answer.")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_event_endpoint")]
        indexes = [
            # The delivery log: an endpoint's deliveries newest first, by status or type.
            models.Index(fields=["endpoint", "-created_at", "-id"], name="delivery_log"),
            models.Index(fields=["endpoint", "status", "-created_at"], name="delivery_log_status"),
            models.Index(fields=["endpoint", "event_type", "-created_at"], name="delivery_log_type"),
            # The due scan: small, since deliveries leave it within moments.
            models.Index(fields=["endpoint", "next_attempt_at"], name="delivery_due", condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"


class Attempt(models.Model):
    """One HTTP attempt of a delivery, as the delivery log shows it."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows", db_index=False)
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    response = models.TextField(blank=True, help_text="The first 1 KiB of the answer.")
    duration_ms = models.PositiveIntegerField()

    class Meta:
        ordering = ["attempted_at"]
        indexes = [models.Index(fields=["delivery", "attempted_at"], name="attempt_delivery")]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.status_code or self.error}"
