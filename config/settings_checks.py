"""Checks and derived values of ``config.settings`` that are code rather than configuration.

``settings.py`` calls them with its own namespace (``globals()``) once every section is read: the production
guard must see all settings, and each problem names the environment variable to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production-0123456789abcdef"
SECRET_MIN_LENGTH = {"SECRET_KEY": 50, "JWT_SIGNING_KEY": 50, "METRICS_TOKEN": 32, "WAHA_API_KEY": 32,
                     "MEDIA_S3_SECRET_ACCESS_KEY": 24}
SECRET_MIN_DISTINCT = 10
# Defaults and examples of this project and WAHA's "common" keys (WAHA.md §1): never secrets.
KNOWN_SECRETS = {DEV_SECRET_KEY, "sandbox-dev-key-change-me", "compose-dev-waha-key-5d1e9b7c3a8f4e20b6c2d9a7",
                 "compose-dev-media-secret-8d2f6b1e9c4a70", "minioadmin",
                 "123", "321", "waha", "admin", "secret", "0" * 32, "1" * 32}


def weak_secret_reason(name: str, value: str) -> str | None:
    """Why ``value`` is too weak for the secret ``name`` in production (None when it is strong enough)."""
    minimum = SECRET_MIN_LENGTH[name]
    if value in KNOWN_SECRETS or len(value) < minimum or len(set(value)) < SECRET_MIN_DISTINCT:
        return (f"{name} must be a random value of at least {minimum} characters with at least "
                f"{SECRET_MIN_DISTINCT} different ones")
    return None


def refuse_insecure_production(settings: Mapping[str, Any]) -> None:
    """Production must not start with any development default or guessable secret; each problem names its
    variable."""
    secrets_to_check = {"SECRET_KEY": settings["SECRET_KEY"], "WAHA_API_KEY": settings["WAHA_API_KEY"]}
    if settings["JWT_SIGNING_KEY"]:
        secrets_to_check["JWT_SIGNING_KEY"] = settings["JWT_SIGNING_KEY"]
    if settings["METRICS_TOKEN"]:
        secrets_to_check["METRICS_TOKEN"] = settings["METRICS_TOKEN"]
    problems = [reason for name, value in secrets_to_check.items()
                if (reason := weak_secret_reason(name, value)) is not None]
    if settings["DEBUG"]:
        problems.append("DEBUG must be off")
    if not settings["ALLOWED_HOSTS"] or "*" in settings["ALLOWED_HOSTS"]:
        problems.append("ALLOWED_HOSTS must list the service's hosts (no '*')")
    if not settings["METRICS_TOKEN"] and not settings["METRICS_ALLOWED_IPS"]:
        problems.append("METRICS_TOKEN (or METRICS_ALLOWED_IPS) must restrict /metrics")
    if settings["MEDIA_STORAGE"] == "s3":
        # Explicit keys: the store holds every tenant's files, and compose's MinIO creates this very user.
        if not settings["MEDIA_S3_ACCESS_KEY_ID"]:
            problems.append("MEDIA_S3_ACCESS_KEY_ID must be set when MEDIA_STORAGE is s3")
        reason = weak_secret_reason("MEDIA_S3_SECRET_ACCESS_KEY", settings["MEDIA_S3_SECRET_ACCESS_KEY"])
        if reason is not None:
            problems.append(reason)
    if problems:
        raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(problems))


def s3_media_options(settings: Mapping[str, Any]) -> dict[str, object]:
    """The S3 storage's options (``MEDIA_STORAGE=s3``); each configuration error names its variable."""
    problems = []
    if not settings["MEDIA_S3_BUCKET"]:
        problems.append("MEDIA_S3_BUCKET must name the bucket")
    if bool(settings["MEDIA_S3_ACCESS_KEY_ID"]) != bool(settings["MEDIA_S3_SECRET_ACCESS_KEY"]):
        problems.append("MEDIA_S3_ACCESS_KEY_ID and MEDIA_S3_SECRET_ACCESS_KEY are set together or not at all")
    if settings["MEDIA_S3_ADDRESSING_STYLE"] not in {"auto", "path", "virtual"}:
        problems.append("MEDIA_S3_ADDRESSING_STYLE must be auto, path or virtual")
    if problems:
        raise ImproperlyConfigured("MEDIA_STORAGE is s3: " + "; ".join(problems))
    options: dict[str, object] = {
        "bucket_name": settings["MEDIA_S3_BUCKET"],
        "endpoint_url": settings["MEDIA_S3_ENDPOINT_URL"] or None,
        "region_name": settings["MEDIA_S3_REGION"] or None,
        "addressing_style": settings["MEDIA_S3_ADDRESSING_STYLE"],
        "signature_version": "s3v4",
        # Private objects: no ACL of their own (the bucket's, private), and url() would only sign. Clients get
        # files through GET /messages/{id}/media, after the API's checks; never from the store.
        "default_acl": None,
        "querystring_auth": True,
        # Never replace an object: two concurrent copies of one file get two names, so the one that lost the
        # race deletes its own copy, not the winner's (messaging.services.media.media_fetch).
        "file_overwrite": False,
    }
    if settings["MEDIA_S3_ACCESS_KEY_ID"]:
        options.update(access_key=settings["MEDIA_S3_ACCESS_KEY_ID"],
                       secret_key=settings["MEDIA_S3_SECRET_ACCESS_KEY"])
    return options
