"""Request and response shapes of the API keys endpoints. No response ever carries a key's hash, and
only the create answer carries the key."""

from __future__ import annotations

from rest_framework import serializers

from apikeys.models import KEY_ROLE_CHOICES, ApiKey
from core.rest.fields import StrictCharField, StrictUUIDField
from core.rest.serializers import ModelSerializer, Serializer

MAX_SESSIONS = 100


class ApiKeyCreateSerializer(Serializer):
    """A new API key: its name, its role and, optionally, the sessions it is bound to and when it expires."""

    name = StrictCharField(max_length=100, help_text="What the key is for, e.g. the backend that uses it.")
    role = serializers.ChoiceField(
        choices=KEY_ROLE_CHOICES,
        help_text="MANAGER (sends and reads) or AUDITOR (reads only); any other role is a 400.",
    )
    sessions = serializers.ListField(
        child=StrictUUIDField(),
        min_length=1,
        max_length=MAX_SESSIONS,
        required=False,
        allow_null=True,
        help_text="Ids of the tenant's sessions the key may send on and read (400 for an unknown one). Leave it "
        "out, or send null, for every session.",
    )
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the key stops working (a future time); null or left out: never.",
    )


class ApiKeySerializer(ModelSerializer):
    """An API key as lists show it: never the key itself, nor its hash."""

    sessions = serializers.ListField(
        child=serializers.UUIDField(),
        source="session_ids",
        allow_null=True,
        read_only=True,
        help_text="The sessions the key is bound to; null: every session.",
    )

    class Meta:
        model = ApiKey
        fields = ["id", "name", "role", "sessions", "prefix", "created_at", "expires_at", "last_used_at", "created_by"]
        read_only_fields = fields
        extra_kwargs = {
            "prefix": {"help_text": "The key's public beginning (`wgk_` and 8 characters), to tell keys apart."},
            "last_used_at": {"help_text": "When the key last authenticated a request, to the minute."},
            "created_by": {"help_text": "The user who created the key (null once that user is deleted)."},
        }


class ApiKeyCreatedSerializer(ApiKeySerializer):
    """A key just created: with the key itself, shown this once."""

    key = serializers.CharField(read_only=True, help_text="The key itself: shown in this answer only, store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields[:5], "key", *ApiKeySerializer.Meta.fields[5:]]
        read_only_fields = fields
