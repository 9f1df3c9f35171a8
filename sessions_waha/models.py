"""A WhatsApp number connected through WAHA, as the tenant sees it."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class SessionStatus(models.TextChoices):
    STOPPED = "STOPPED", "Stopped"
    STARTING = "STARTING", "Starting"
    SCAN_QR_CODE = "SCAN_QR_CODE", "Scan QR code"
    WORKING = "WORKING", "Working"
    FAILED = "FAILED", "Failed"


def pacing_default() -> bool:
    from django.conf import settings

    return settings.SEND_PACING != "off"


class SessionQuerySet(models.QuerySet["Session"]):
    def alive(self) -> SessionQuerySet:
        return self.filter(deleted_at__isnull=True)


class Session(models.Model):
    """One WhatsApp number. Deleted sessions stay (soft) so their messages stay readable."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=40, help_text="Unique within the tenant, e.g. 'support'.")
    waha_name = models.CharField(max_length=54, unique=True, help_text="The session's name inside WAHA.")
    waha_server = models.ForeignKey("tenants.WahaServer", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=SessionStatus.choices, default=SessionStatus.STOPPED)
    phone = models.CharField(max_length=32, blank=True, help_text="The paired number, once WORKING.")
    push_name = models.CharField(max_length=100, blank=True)
    # False only for sessions declared while WAHA was unreachable (seed_demo);
    # the reconcile task creates them in WAHA once it answers.
    provisioned = models.BooleanField(default=True)
    last_error = models.CharField(max_length=300, blank=True)
    engine = models.CharField(max_length=10, blank=True, help_text="WAHA engine (NOWEB, GOWS, WEBJS...).")
    # Send policy (WAHA.md §8): random gaps between messages, a per-minute cap,
    # and optionally "seen + typing" before a reply. Off for tests and benchmarks.
    pacing_enabled = models.BooleanField(default=pacing_default,
                                         help_text="Off: messages leave as fast as WAHA takes them.")
    min_gap_seconds = models.FloatField(default=30.0, validators=[MinValueValidator(0.0)],
                                        help_text="Shortest random pause between two messages.")
    max_gap_seconds = models.FloatField(default=60.0, validators=[MinValueValidator(0.0)],
                                        help_text="Longest random pause between two messages.")
    max_per_minute = models.PositiveIntegerField(default=2, validators=[MinValueValidator(1)],
                                                 help_text="Messages per minute at most.")
    typing_before_reply = models.BooleanField(default=True,
                                              help_text="Mark the chat seen and type before a reply.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_refreshed_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["name"], condition=Q(deleted_at__isnull=True),
                                    name="sessions_waha_session_name_alive_unique"),
        ]
        indexes = [models.Index(fields=["-created_at", "id"], name="session_created_id")]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    def clean(self) -> None:
        if self.min_gap_seconds is not None and self.max_gap_seconds is not None \
                and self.max_gap_seconds < self.min_gap_seconds:
            raise ValidationError({"max_gap_seconds": "Must be at least the shortest pause."})
