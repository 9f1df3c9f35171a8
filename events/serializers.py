"""Request and response shapes of the event webhook endpoints."""

from __future__ import annotations

from rest_framework import serializers

from core.rest.fields import StrictBooleanField, StrictCharField, StrictRegexField
from core.rest.serializers import ModelSerializer, QuerySerializer, Serializer
from events.models import ALL_EVENTS, Delivery, DeliveryStatus, Endpoint, EventType

EVENT_CHOICES = [*EventType.values, ALL_EVENTS]
_PORT = "6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}"
# Scheme, a host name or IPv4 address, a port, then anything but spaces; the URL rules check the rest.
URL_PATTERN = rf"^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::(?:{_PORT}))?(?:[/?#][^\s]*)?$"


class EndpointSerializer(ModelSerializer):
    secret_rotation_ends_at = serializers.DateTimeField(
        source="previous_secret_expires_at",
        read_only=True,
        allow_null=True,
        help_text="Until then the previous secret signs every delivery too (24 hours after a rotation).",
    )

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "url",
            "events",
            "description",
            "enabled",
            "disabled_reason",
            "disabled_at",
            "secret_rotation_ends_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class EndpointWithSecretSerializer(EndpointSerializer):
    """The endpoint with its signing secret: only in the answers to create and rotate."""

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointWriteSerializer(Serializer):
    url = StrictRegexField(
        URL_PATTERN,
        max_length=2000,
        error_messages={"invalid": "Use an http or https URL with a host name or address."},
        help_text="Where events are POSTed: https (and a public address) in production.",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES),
        min_length=1,
        max_length=len(EVENT_CHOICES),
        help_text='Event types to receive, or `["*"]` for all. An unknown type is a 400.',
    )
    description = StrictCharField(max_length=500, required=False, allow_blank=True)
    enabled = StrictBooleanField(required=False, help_text="Enabling a disabled endpoint clears its reason.")

    def validate_events(self, value: list[str]) -> list[str]:
        return sorted(set(value))


class DeliverySerializer(ModelSerializer):
    event_id = serializers.SerializerMethodField(help_text="`evt_…`: the `webhook-id` header of every attempt.")

    class Meta:
        model = Delivery
        fields = [
            "id",
            "endpoint",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "last_response",
            "last_attempt_at",
            "next_attempt_at",
            "duration_ms",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_event_id(self, delivery: Delivery) -> str:
        return delivery.event.public_id


class AttemptSerializer(Serializer):
    attempted_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    response = serializers.CharField(help_text="The first 1 KiB of the answer.")
    duration_ms = serializers.IntegerField()


class DeliveryDetailSerializer(DeliverySerializer):
    payload = serializers.DictField(help_text="The body the endpoint receives: `{id, type, created_at, tenant, data}`.")
    attempt_log = AttemptSerializer(many=True, help_text="Every attempt, oldest first.")

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "payload", "attempt_log"]
        read_only_fields = fields


class DeliveryFilterSerializer(QuerySerializer):
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)
    event_type = serializers.ChoiceField(choices=EventType.choices, required=False)
    since = serializers.DateTimeField(required=False, help_text="Events at or after this time.")
    until = serializers.DateTimeField(required=False, help_text="Events before this time.")


class ReplaySerializer(Serializer):
    since = serializers.DateTimeField(help_text="Replay deliveries of events at or after this time.")
    until = serializers.DateTimeField(
        required=False, help_text="… and before this time (default: now); an empty range queues nothing."
    )
    status = serializers.ChoiceField(
        choices=[DeliveryStatus.FAILED, DeliveryStatus.DELIVERED], default=DeliveryStatus.FAILED
    )


class ReplayResultSerializer(Serializer):
    queued = serializers.IntegerField(help_text="Deliveries sent again now.")
