"""WAHA webhook events as received, one row per envelope id (tenant schema).

The row is the receiver's memory: the unique ``event_id`` is what makes a
retried or doubly delivered event (a session and a global webhook) change
nothing, and ``outcome``/``error`` say what applying it did.
"""

from __future__ import annotations

from django.db import models


class Outcome(models.TextChoices):
    PENDING = "pending", "Stored, not applied yet"
    APPLIED = "applied", "Applied"
    IGNORED = "ignored", "Stored, nothing to apply"
    ERROR = "error", "Applying failed"


class WebhookEvent(models.Model):
    # The envelope's ``id`` (``evt_`` + ULID): identical across retries and targets.
    event_id = models.CharField(max_length=100, unique=True)
    event = models.CharField(max_length=64)
    session = models.ForeignKey("sessions_waha.Session", on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField()
    # The envelope as WAHA sent it (WAHA payloads carry no secret; the HMAC header is never stored).
    payload = models.JSONField()
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    # The traceback when outcome is "error"; why nothing was applied when "ignored".
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["-received_at"], name="webhook_event_received"),
            models.Index(fields=["event", "-received_at"], name="webhook_event_type"),
            # The applier's queue: small, since events leave it within seconds.
            models.Index(fields=["id"], name="webhook_event_pending", condition=models.Q(outcome="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id} ({self.outcome})"
