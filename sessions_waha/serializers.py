"""A session as the API shows it (``GET /waha/sessions/{id}``), and so as its ``session.status`` event carries it."""

from __future__ import annotations

from core.rest.serializers import ModelSerializer
from sessions_waha.models import Session


class SessionSerializer(ModelSerializer):
    class Meta:
        model = Session
        fields = ["id", "name", "status", "phone", "created_at", "updated_at", "status_changed_at"]
        read_only_fields = fields
