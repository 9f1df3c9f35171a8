"""The modules and names that issue 15 moved, old dotted path to new: the data of ``rewrite_imports.py``.

``MOVED`` lists modules that moved whole; ``SPLITS`` lists modules whose names went to different places.
``resolve`` answers where any dotted reference (a module, a name, an attribute of a name) is now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# --------------------------------------------------------------------------- the mapping

# Modules that moved whole: every name in them moved with them.
MOVED: dict[str, str] = {
    # config/ keeps settings, URLconfs, WSGI and the Celery app; the shared runtime code is the core app.
    "config.problems": "core.problems",
    "config.logging": "core.logging",
    "config.quiet": "core.quiet",
    "config.ids": "core.db.ids",
    "config.db_statements": "core.db.statements",
    "config.db_backend": "core.db.backend",
    "config.api": "core.rest.views",
    "config.negotiation": "core.rest.negotiation",
    "config.pagination": "core.rest.pagination",
    "config.schema": "core.rest.schema",
    "config.fields": "core.rest.fields",
    "config.serializers": "core.rest.serializers",
    "config.middleware": "core.web.middleware",
    "config.client_ip": "core.web.client_ip",
    "config.health": "core.web.health",
    "config.metrics": "core.web.metrics",
    "config.admin_site": "core.console.site",
    "config.apps": "core.console.apps",
    # The demo data imports every app: it is an app of its own, above them all.
    "tenants.management.commands.seed_demo": "demo.management.commands.seed_demo",
    # messaging's service-like modules live in its services package.
    "messaging.send_sql": "messaging.services.send_sql",
    "messaging.bulk_sql": "messaging.services.bulk_sql",
    "messaging.dispatch": "messaging.services.dispatch",
    "messaging.pacing": "messaging.services.pacing",
    "messaging.status": "messaging.services.status",
    "messaging.sweeper": "messaging.services.sweeper",
    "messaging.inbound": "messaging.services.inbound",
    "messaging.media": "messaging.services.media",
    "messaging.recipients": "messaging.services.recipients",
    "messaging.personalise": "messaging.services.personalise",
}


@dataclass(frozen=True)
class Split:
    """A module whose names went to different places (or some of whose names moved)."""

    itself: str  # where the module itself is now (its own path when it still exists or is now a package)
    default: str | None  # where its other names went; None: they stayed
    names: dict[str, str] = field(default_factory=dict)  # name -> new module, or "module:new_name" for a rename
    keep: frozenset[str] = frozenset()  # submodules of the package that replaced the module: never rewritten
    package: bool = False  # the module became a package of the same name (its file is gone)


def _package_modules(*parts: str) -> frozenset[str]:
    """The modules of a package as they are now: new modules added after the move are not old names."""
    package = Path(__file__).resolve().parents[2].joinpath(*parts)
    return frozenset(path.stem for path in package.glob("*.py") if path.stem != "__init__")


_MESSAGING_SERVICES = _package_modules("messaging", "services")
_WEBHOOK_SERVICES = _package_modules("webhooks", "services")

SPLITS: dict[str, Split] = {
    # messaging/services.py is the package messaging/services/: send, bulk and retry in sending.py, the
    # dispatch kick in kick.py.
    "messaging.services": Split(
        itself="messaging.services",
        default="messaging.services.sending",
        keep=_MESSAGING_SERVICES,
        package=True,
        names={
            "dispatch_kick": "messaging.services.kick",
            "_kicked": "messaging.services.kick",
            "KICK_QUIET_SECONDS": "messaging.services.kick",
            "KICK_LOOK_AGAIN_SECONDS": "messaging.services.kick",
            "SENDER_ROLES": "accounts.roles:MESSAGE_SENDERS",
        },
    ),
    # The stats rollup is written by a service; the stats are read by the selectors.
    "messaging.stats": Split(
        itself="messaging.services.stats",
        default="messaging.services.stats",
        names={"message_stats": "messaging.selectors"},
    ),
    # webhooks/services.py is the package webhooks/services/: receive (verify, route, store once), envelope
    # (parsing), applier (the applier and its kick), sweep (media, early acks, pruning), enqueue (task names).
    "webhooks.services": Split(
        itself="webhooks.services",
        default="webhooks.services.receive",
        keep=_WEBHOOK_SERVICES,
        package=True,
        names={
            **dict.fromkeys(
                (
                    "Envelope",
                    "envelope_parse",
                    "MalformedJson",
                    "_clean",
                    "_reject_constant",
                    "_LONE_SURROGATE",
                    "_EVENT_NAME",
                    "_EVENT_ID",
                ),
                "webhooks.services.envelope",
            ),
            **dict.fromkeys(
                (
                    "Applied",
                    "HANDLERS",
                    "_ack_level",
                    "_on_ack",
                    "_clean_me",
                    "_on_session_status",
                    "_from_inbound",
                    "_on_message",
                    "_on_revoked",
                    "_on_edited",
                    "_on_reaction",
                    "_ACK_BY_NAME",
                    "not_applied_reason",
                    "APPLY_KICK_KEY",
                    "APPLY_KICK_WINDOW_SECONDS",
                    "_kicked",
                    "_APPLIER_LOCK_SQL",
                    "_APPLIER_UNLOCK_SQL",
                    "apply_kick",
                    "apply_kick_release",
                    "pending_events_apply",
                    "_apply_batch",
                    "_apply_stored",
                    "_media_enqueuer",
                ),
                "webhooks.services.applier",
            ),
            "_not_applied": "webhooks.services.applier:not_applied_reason",
            **dict.fromkeys(
                (
                    "media_fetch_pending",
                    "pending_acks_reconcile",
                    "webhook_events_prune",
                    "webhooks_sweep",
                ),
                "webhooks.services.sweep",
            ),
            **dict.fromkeys(
                (
                    "LAST_EVENT_KEY",
                    "last_event_local",
                    "last_event_touch",
                    "_last_event_lock",
                ),
                "webhooks.last_event",
            ),
        },
    ),
    # The WAHA client: transport (HTTP, errors, logs), sessions and messages calls; client.py composes them.
    "sessions_waha.waha.client": Split(
        itself="sessions_waha.waha.client",
        default=None,
        names={
            **dict.fromkeys(
                (
                    "logger",
                    "Timeout",
                    "T",
                    "DEFAULT_CONNECT_TIMEOUT",
                    "DEFAULT_READ_TIMEOUT",
                    "DEFAULT_MAX_MEDIA_BYTES",
                    "POOL_SIZE",
                    "_SESSION_NAME",
                    "_CHUNK_BYTES",
                    "_MAX_ERROR_BODY_BYTES",
                    "_PNG_MAGIC",
                    "validate_session_name",
                    "_Secret",
                    "_new_http_session",
                    "_outcome_of",
                    "_normalize_base_url",
                    "_bounded_content",
                    "_parsed_json",
                    "_json_optional",
                    "_json_lenient",
                    "_json_object",
                    "_json_strings",
                    "_json_list",
                    "_png_bytes",
                ),
                "sessions_waha.waha.transport",
            ),
            **dict.fromkeys(
                (
                    "_MEDIA_PREFIX",
                    "_CONTENT_DISPOSITION_FILENAME",
                    "_file_payload",
                    "_filename_of",
                ),
                "sessions_waha.waha.messages",
            ),
        },
    ),
    # Role sets live with the roles, not in permission classes or services.
    "accounts.models": Split(
        itself="accounts.models",
        default=None,
        names={"Role": "accounts.roles", "ADMIN_CONSOLE_ROLES": "accounts.roles", "in_public_schema": "core.tenancy"},
    ),
    "accounts.permissions": Split(itself="accounts.permissions", default=None, names={"EVERY_ROLE": "accounts.roles"}),
    # The console base class for tenant-only pages, shared by messaging and webhooks.
    "messaging.admin": Split(itself="messaging.admin", default=None, names={"TenantOnlyAdmin": "core.console.admin"}),
    # The sandbox's ack names, shared by its store and its payloads (which imported each other).
    "waha_sandbox.payloads": Split(
        itself="waha_sandbox.payloads",
        default=None,
        names=dict.fromkeys(("ACK_NAMES", "ACK_BY_NAME", "ack_name"), "waha_sandbox.acks"),
    ),
}


def _modules_their_files_became() -> dict[str, Split]:
    """The same names under the module each split module's file was first moved to (``git mv`` keeps history:
    messaging/services.py became messaging/services/sending.py before its dispatch kick moved out)."""
    found = {}
    for old, split in SPLITS.items():
        if split.default and split.default != old:
            names = {name: target for name, target in split.names.items() if target.partition(":")[0] != split.default}
            found[split.default] = Split(itself=split.default, default=None, names=names)
    return found


SPLITS.update(_modules_their_files_became())

# Gone without a new home (the integrator replaces their uses by hand):
# - messaging.metrics.register_collectors: each app registers its scrape-time collector in its AppConfig.ready()
#   (core.web.metrics.scrape_time_collector_register).
# - the permission classes' role sets (read_roles/write_roles literals): they name sets of accounts.roles.

_OLD = sorted([*MOVED, *SPLITS], key=len, reverse=True)
# --moves-only: the state right after the commit that moved the files whole (a split module's names are all in
# the module its file became); used once while making the change, never needed afterwards.
MOVES_ONLY = False  # set by rewrite_imports.py --moves-only
ROOTS = sorted({old.split(".")[0] for old in _OLD})


# --------------------------------------------------------------------------- resolving one reference


def resolve(ref: str) -> tuple[str, str] | None:
    """The new (module, rest) of a dotted reference, or None when it did not move.

    ``rest`` is what follows the module (a name and its attributes; empty for the module itself).
    """
    for old in _OLD:
        if ref != old and not ref.startswith(old + "."):
            continue
        rest = ref[len(old) + 1 :]
        if old in MOVED:
            return MOVED[old], rest
        split = SPLITS[old]
        if not rest:
            return None if split.itself == old else (split.itself, "")
        name, _, tail = rest.partition(".")
        if name in split.keep:
            return None
        target = split.default if MOVES_ONLY else split.names.get(name, split.default)
        if target is None:
            return None
        module, _, new_name = target.partition(":")
        new_rest = (new_name or name) + (f".{tail}" if tail else "")
        return None if (module, new_rest) == (old, rest) else (module, new_rest)
    return None


def resolved(ref: str) -> str:
    """``ref`` with its new path (itself when it did not move)."""
    found = resolve(ref)
    if found is None:
        return ref
    module, rest = found
    return f"{module}.{rest}" if rest else module


def resolved_path(path: str) -> str:
    """``a/b/c.py`` with its new path; a module that became a package maps to the module its names went to."""
    dotted = path[:-3].replace("/", ".")
    split = SPLITS.get(dotted)
    if split is not None and split.package and split.default:
        return split.default.replace(".", "/") + ".py"
    new = resolved(dotted)
    return path if new == dotted else new.replace(".", "/") + ".py"
