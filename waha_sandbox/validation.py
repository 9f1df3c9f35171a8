"""Whitelisting and validation of session create/update bodies.

WAHA runs these bodies through a validation pipe with ``whitelist: true``:
unknown fields are silently dropped and only a few fields are checked.  This
module mirrors that: it keeps known keys (recursively) and reports errors in
class-validator style messages.
"""

from __future__ import annotations

import re
from typing import Any

NAME_RE = re.compile(r"^[a-zA-Z0-9_-]*$")
NAME_MAX = 54
NAME_MESSAGE = (
    "Session name can only contain alphanumeric characters, hyphens, and underscores "
    "(a-z, A-Z, 0-9, -, _) or be empty"
)

EVENTS = frozenset({
    "session.status", "message", "message.reaction", "message.any", "message.ack", "message.ack.group",
    "message.waiting", "message.revoked", "message.edited", "group.v2.join", "group.v2.leave",
    "group.v2.update", "group.v2.participants", "presence.update", "poll.vote", "poll.vote.failed",
    "chat.archive", "call.received", "call.accepted", "call.rejected", "label.upsert", "label.deleted",
    "label.chat.added", "label.chat.deleted", "event.response", "event.response.failed", "engine.event",
    "group.join", "group.leave", "state.change",
})
# ``*`` subscribes to everything except these two.
STAR_EXCLUDED = frozenset({"state.change", "engine.event"})

ANY = object()  # keep the value as given
_BOOL = ANY
_STR = ANY

WEBHOOK_SCHEMA = {
    "url": _STR,
    "events": ANY,
    "hmac": {"key": _STR},
    "retries": {"delaySeconds": ANY, "attempts": ANY, "policy": _STR},
    "customHeaders": [{"name": _STR, "value": _STR}],
}

CONFIG_SCHEMA = {
    "metadata": ANY,
    "proxy": {"server": _STR, "username": _STR, "password": _STR},
    "debug": _BOOL,
    "ignore": {"status": _BOOL, "groups": _BOOL, "channels": _BOOL, "broadcast": _BOOL},
    "client": {"deviceName": _STR, "browserName": _STR},
    "noweb": {"markOnline": _BOOL, "store": {"enabled": _BOOL, "fullSync": _BOOL}},
    "gows": {"storage": {"messages": _BOOL, "groups": _BOOL, "chats": _BOOL, "labels": _BOOL}},
    "webjs": {"tagsEventsOn": _BOOL},
    "webhooks": [WEBHOOK_SCHEMA],
}


def strip_unknown(value: Any, schema: Any) -> Any:
    """Return ``value`` with every key that the schema does not know removed."""
    if schema is ANY or value is None:
        return value
    if isinstance(schema, list):
        if not isinstance(value, list):
            return value
        return [strip_unknown(item, schema[0]) for item in value]
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return value
        return {k: strip_unknown(v, schema[k]) for k, v in value.items() if k in schema}
    return value


def validate_name(name: object) -> list[str]:
    if not isinstance(name, str):
        return ["name must be a string"]
    errors = []
    if len(name) > NAME_MAX:
        errors.append(f"name must be shorter than or equal to {NAME_MAX} characters")
    if not NAME_RE.match(name):
        errors.append(NAME_MESSAGE)
    return errors


def validate_config(config: object) -> list[str]:
    """Check the few things WAHA validates: metadata shape, webhook urls and events."""
    if config is None:
        return []
    if not isinstance(config, dict):
        return ["config must be an object"]
    errors: list[str] = []
    metadata = config.get("metadata")
    if metadata is not None and (
        not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values())
    ):
        errors.append("config.metadata must be an object with string values")
    hooks = config.get("webhooks")
    if hooks is None:
        return errors
    if not isinstance(hooks, list):
        return [*errors, "config.webhooks must be an array"]
    for i, hook in enumerate(hooks):
        if not isinstance(hook, dict):
            errors.append(f"config.webhooks.{i} must be an object")
            continue
        url = hook.get("url")
        if url is not None and (not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url)):
            errors.append(f"config.webhooks.{i}.url must be a URL address")
        events = hook.get("events")
        if events is not None:
            if not isinstance(events, list):
                errors.append(f"config.webhooks.{i}.events must be an array")
            else:
                bad = [e for e in events if e != "*" and e not in EVENTS]
                if bad:
                    errors.append(
                        f"config.webhooks.{i}.events must contain only known event names or '*': "
                        + ", ".join(map(str, bad))
                    )
        retries = hook.get("retries")
        if isinstance(retries, dict) and retries.get("policy") not in (None, "constant", "linear", "exponential"):
            errors.append(f"config.webhooks.{i}.retries.policy must be one of: linear, exponential, constant")
    return errors


def clean_config(config: Any) -> Any:
    """Whitelist a session config; ``None`` stays ``None``."""
    return strip_unknown(config, CONFIG_SCHEMA)
