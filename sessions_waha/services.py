"""Session lifecycle: create, refresh, QR, stop, start, restart, logout, delete.

WAHA is called through ``sessions_waha.waha`` only. Every operation is
all-or-nothing: when WAHA fails, the database is left as it was, and a
session created in WAHA whose database rows cannot be committed is deleted
from WAHA again, so nothing half-made survives a failure.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.problems import Conflict, InvalidInput, ServiceError
from core.tenancy import current_schema
from events import outbox
from sessions_waha.models import Session, SessionStatus
from sessions_waha.serializers import SessionSerializer
from sessions_waha.signals import session_deleted
from sessions_waha.waha import WahaClient, WahaError, WahaNotFound, WahaSessionNotReady, client_for
from tenants import waha_pool
from tenants.models import Tenant, WahaServer

logger = logging.getLogger("sessions_waha")

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
# Events this service consumes (WAHA.md §5.1); anything else would be noise.
WEBHOOK_EVENTS = [
    "session.status", "message", "message.ack", "message.ack.group",
    "message.revoked", "message.edited", "message.reaction",
]
# NOWEB keeps no messages without its store, and then cannot answer the lookup that
# comes before a resend (WAHA.md §9.7: 400 "Enable NOWEB store ..."). fullSync stays off:
# it would download the phone's whole history, and only messages sent from now on are
# looked up. Other engines ignore the key (GOWS stores messages by default, WEBJS reads
# them from WhatsApp Web), so every session gets it: the engine is not known before WAHA
# reports it.
NOWEB_STORE = {"enabled": True, "fullSync": False}
STATUS_STALE_AFTER = timedelta(seconds=10)
_KNOWN_STATUSES = {choice.value for choice in SessionStatus}
LOST_IN_WAHA = "Session not found in WAHA"


class WahaUnavailable(ServiceError):
    status_code = 503
    code = "waha_unavailable"
    title = "WAHA unavailable"


class SessionNotReady(Conflict):
    code = "session_not_ready"
    title = "Session not ready"


def waha_client(server: WahaServer) -> WahaClient:
    """The pooled client for ``server`` (one connection pool per server)."""
    return client_for(server.base_url, server.api_key, connect_timeout=settings.WAHA_CONNECT_TIMEOUT,
                      read_timeout=settings.WAHA_READ_TIMEOUT)


def _unavailable(exc: WahaError, action: str) -> WahaUnavailable:
    # str(exc) never contains the API key (the client redacts it).
    logger.warning("waha.call_failed action=%s error=%s detail=%s", action, type(exc).__name__, exc)
    return WahaUnavailable(f"WAHA could not {action}: {exc.message}")


def _current_tenant() -> Tenant:
    return Tenant.objects.get(schema_name=current_schema())


def _waha_name_for(tenant: Tenant, name: str) -> str:
    # Unique across tenants and servers, and inside WAHA's 54-character limit.
    return f"{tenant.slug[:16]}_{name[:24]}_{secrets.token_hex(4)}"


def webhook_url() -> str:
    return settings.WEBHOOK_BASE_URL.rstrip("/") + "/webhooks/waha"


def webhook_config(*, tenant: Tenant, session: Session, hmac_key: str) -> dict[str, Any]:
    """The whole WAHA session config (WAHA.md §2, §5): our signed webhook, tenant metadata,
    and the NOWEB message store that lookups before a resend need."""
    return {
        "webhooks": [{
            "url": webhook_url(),
            "events": WEBHOOK_EVENTS,
            "hmac": {"key": hmac_key},
            "retries": {"policy": "exponential", "delaySeconds": 2, "attempts": 10},
        }],
        "metadata": {"tenant": tenant.slug, "session_id": str(session.id)},
        "noweb": {"store": dict(NOWEB_STORE)},
    }


def _apply_waha_state(session: Session, info: dict[str, Any] | None) -> bool:
    """Copy WAHA's view of the session (status, paired number) onto ``session``; whether its status changed."""
    now = timezone.now()
    status = (info or {}).get("status") or SessionStatus.STOPPED
    # PASSKEY_* are pairing steps like the QR scan (GOWS, WAHA.md §2).
    status = SessionStatus.SCAN_QR_CODE if str(status).startswith("PASSKEY") else status
    if status not in _KNOWN_STATUSES:
        status = SessionStatus.STARTING
    changed = status != session.status
    if changed:
        logger.info("session.status_changed session_id=%s from=%s to=%s", session.id, session.status, status)
        session.status = status
        session.status_changed_at = now
    engine = (info or {}).get("engine")
    engine = engine.get("engine") if isinstance(engine, dict) else engine
    if isinstance(engine, str) and engine:
        session.engine = engine.upper()[:10]
    me = (info or {}).get("me") or {}
    if me.get("id"):
        session.phone = "+" + me["id"].split("@", 1)[0].split(":", 1)[0]
        session.push_name = (me.get("pushName") or "")[:100]
    session.status_refreshed_at = now
    return changed


def _session_save(session: Session, *, status_changed: bool, update_fields: list[str] | None = None) -> None:
    """Save the session; a new status records its ``session.status`` event in the same transaction."""
    with transaction.atomic():
        session.save(update_fields=update_fields)
        if status_changed:
            outbox.session_status_record(data=lambda: dict(SessionSerializer(session).data))


def session_create(*, name: str, start: bool = True) -> Session:
    """Create a session in this tenant and in WAHA (webhook registered, started)."""
    if not NAME_PATTERN.match(name or ""):
        raise InvalidInput(errors={"name": ["Use 1-40 letters, digits, '-' or '_', starting with a letter or digit."]})
    if Session.objects.alive().filter(name=name).exists():
        raise Conflict(f"A session named {name!r} already exists.")
    tenant = _current_tenant()
    hmac_key = secrets.token_hex(32)
    created_in_waha: tuple[WahaClient, str] | None = None
    try:
        with transaction.atomic():
            server = waha_pool.waha_server_pick(tenant=tenant)
            session = Session(name=name, waha_name=_waha_name_for(tenant, name), waha_server=server)
            session.save()
            waha_pool.session_route_add(server=server, waha_session_name=session.waha_name, tenant=tenant,
                                        session_id=session.id, hmac_key=hmac_key)
            client = waha_client(server)
            config = webhook_config(tenant=tenant, session=session, hmac_key=hmac_key)
            created_in_waha = (client, session.waha_name)
            info = client.session_create(name=session.waha_name, config=config, start=start)
            _session_save(session, status_changed=_apply_waha_state(session, info))
    except IntegrityError as exc:
        _undo_waha_create(created_in_waha)
        raise Conflict(f"A session named {name!r} already exists.") from exc
    except WahaError as exc:
        # The create may have reached WAHA before failing (a read timeout): remove it.
        _undo_waha_create(created_in_waha)
        raise _unavailable(exc, "create the session") from exc
    except BaseException:
        _undo_waha_create(created_in_waha)
        raise
    logger.info("session.created session_id=%s waha_name=%s server=%s", session.id, session.waha_name, server.name)
    return session


def _undo_waha_create(created: tuple[WahaClient, str] | None) -> None:
    if created is None:
        return
    client, waha_name = created
    try:
        client.session_delete(name=waha_name)
    except WahaError as exc:
        # Not fatal: the reconcile task deletes our WAHA sessions that have no route.
        logger.warning("session.orphan_cleanup_deferred waha_name=%s error=%s", waha_name, type(exc).__name__)


def waha_reachable(server: WahaServer | None = None) -> bool:
    """Whether WAHA answers its (unauthenticated) ping."""
    try:
        return waha_client(server or waha_pool.waha_server_default()).ping()
    except WahaError:
        return False


def session_declare(*, name: str) -> Session:
    """Record a session without WAHA (seeding while WAHA is down); reconcile creates it later."""
    tenant = _current_tenant()
    with transaction.atomic():
        server = waha_pool.waha_server_pick(tenant=tenant)
        session = Session.objects.create(name=name, waha_name=_waha_name_for(tenant, name), waha_server=server,
                                         provisioned=False)
        waha_pool.session_route_add(server=server, waha_session_name=session.waha_name, tenant=tenant,
                                    session_id=session.id, hmac_key=secrets.token_hex(32))
    return session


def _stored_config(session: Session) -> dict[str, Any]:
    """The WAHA config of an existing session, with the signing key of its route."""
    route = waha_pool.session_route_get(session_id=session.id)
    if route is None:
        raise Conflict("The session has no route; delete and recreate it.")
    return webhook_config(tenant=_current_tenant(), session=session, hmac_key=route.hmac_key)


def session_provision(*, session: Session) -> Session:
    """Create a declared (or lost) session in WAHA with its stored config, and start it."""
    config = _stored_config(session)
    try:
        info = waha_client(session.waha_server).session_create(name=session.waha_name, config=config, start=True)
    except WahaError as exc:
        raise _unavailable(exc, "create the session") from exc
    status_changed = _apply_waha_state(session, info)
    session.provisioned = True
    session.last_error = ""
    _session_save(session, status_changed=status_changed)
    logger.info("session.provisioned session_id=%s waha_name=%s", session.id, session.waha_name)
    return session


def session_refresh(*, session: Session, if_stale: bool = False) -> Session:
    """Read the session's status from WAHA; keep the stored one when WAHA cannot answer."""
    fresh_enough = session.status_refreshed_at and timezone.now() - session.status_refreshed_at < STATUS_STALE_AFTER
    if not session.provisioned or (if_stale and fresh_enough):
        return session
    return _refresh(session)[0]


def _refresh(session: Session) -> tuple[Session, dict[str, Any] | None]:
    """``session_refresh`` without the staleness shortcut; also WAHA's session info (None if not read)."""
    try:
        info = waha_client(session.waha_server).session_get(name=session.waha_name)
        session.last_error = ""
    except WahaNotFound:
        info = None  # WAHA lost it (e.g. a restarted sandbox): the reconcile task recreates it
        session.last_error = LOST_IN_WAHA
    except WahaError as exc:
        logger.warning("session.refresh_failed session_id=%s error=%s", session.id, type(exc).__name__)
        return session, None
    _session_save(session, status_changed=_apply_waha_state(session, info))
    return session, info


def _webhook_outdated(info: dict[str, Any]) -> bool:
    """WAHA posts this session's events somewhere else than ``webhook_url()`` (WEBHOOK_BASE_URL changed)."""
    hooks = (info.get("config") or {}).get("webhooks") or []
    return webhook_url() not in [hook.get("url") for hook in hooks if isinstance(hook, dict)]


def _store_missing(info: dict[str, Any]) -> bool:
    """A NOWEB session running without its message store (created before the store was part of
    the config, or changed by hand), so a send that timed out cannot be looked up before a resend."""
    engine = info.get("engine")
    engine = engine.get("engine") if isinstance(engine, dict) else engine
    if not isinstance(engine, str) or engine.upper() != "NOWEB":
        return False  # only NOWEB needs it: no restart for a key the engine ignores
    store = ((info.get("config") or {}).get("noweb") or {}).get("store") or {}
    return store.get("enabled") is not True


def session_webhook_update(*, session: Session, reasons: tuple[str, ...] = ("webhook_url",)) -> Session:
    """Give WAHA the session's whole config again: today's webhook address and the NOWEB store.

    WAHA replaces the whole config and restarts a running session. That is acceptable because
    it happens only when the config WAHA holds is wrong (``reasons``: ``webhook_url``,
    ``noweb_store``), so once per session and change: the phone stays paired, the restart takes
    seconds, and a send meanwhile waits in WAHA's status wait (up to ~15 s) or is retried.
    """
    config = _stored_config(session)
    try:
        waha_client(session.waha_server).session_update(name=session.waha_name, config=config)
    except WahaError as exc:
        raise _unavailable(exc, "update the session's config") from exc
    if "webhook_url" in reasons:
        logger.warning("session.webhook_updated session_id=%s waha_name=%s url=%s", session.id, session.waha_name,
                       webhook_url())
    if "noweb_store" in reasons:
        logger.warning("session.store_enabled session_id=%s waha_name=%s", session.id, session.waha_name)
    return session


def session_qr(*, session: Session, as_json: bool) -> bytes | dict[str, str]:
    """The pairing QR (PNG bytes, or ``{"mimetype", "data"}``); 409 unless SCAN_QR_CODE."""
    session = session_refresh(session=session)
    if session.status != SessionStatus.SCAN_QR_CODE:
        raise SessionNotReady(f"The session is {session.status}; a QR code exists only in SCAN_QR_CODE.")
    client = waha_client(session.waha_server)
    try:
        return client.qr_base64(name=session.waha_name) if as_json else client.qr_png(name=session.waha_name)
    except WahaSessionNotReady as exc:
        raise SessionNotReady(f"The session is {exc.status}; a QR code exists only in SCAN_QR_CODE.") from exc
    except WahaError as exc:
        raise _unavailable(exc, "return the QR code") from exc


def _lifecycle(session: Session, action: str) -> Session:
    client = waha_client(session.waha_server)
    call = {"start": client.session_start, "stop": client.session_stop, "restart": client.session_restart,
            "logout": client.session_logout}[action]
    try:
        info = call(name=session.waha_name)
        if info is None or "status" not in info:
            info = client.session_get(name=session.waha_name)
    except WahaError as exc:
        raise _unavailable(exc, f"{action} the session") from exc
    status_changed = _apply_waha_state(session, info)
    if action == "logout":
        session.phone, session.push_name = "", ""
    _session_save(session, status_changed=status_changed)
    logger.info("session.%s session_id=%s status=%s", action, session.id, session.status)
    return session


def session_stop(*, session: Session) -> Session:
    """Stop the session in WAHA (pairing is kept)."""
    return _lifecycle(session, "stop")


def session_start(*, session: Session) -> Session:
    return _lifecycle(session, "start")


def session_restart(*, session: Session) -> Session:
    return _lifecycle(session, "restart")


def session_logout(*, session: Session) -> Session:
    """Unpair the phone; WAHA restarts the session with a new QR code."""
    return _lifecycle(session, "logout")


def session_delete(*, session: Session) -> None:
    """Stop and delete the session in WAHA, then hide it here (its messages stay readable)."""
    if session.provisioned:
        try:
            waha_client(session.waha_server).session_delete(name=session.waha_name)
        except WahaError as exc:
            raise _unavailable(exc, "delete the session") from exc
    with transaction.atomic():
        status_changed = session.status != SessionStatus.STOPPED
        session.deleted_at = timezone.now()
        session.status = SessionStatus.STOPPED
        _session_save(session, status_changed=status_changed, update_fields=["deleted_at", "status", "updated_at"])
        waha_pool.session_route_remove(session_id=session.id)
        session_deleted.send(sender=Session, session_id=session.id)
    logger.info("session.deleted session_id=%s waha_name=%s", session.id, session.waha_name)


def sessions_reconcile() -> dict[str, int]:
    """Bring WAHA in line with this tenant's sessions: create missing ones, refresh the rest, and give
    WAHA the config again (one PUT) of any that still post to an old address (``WEBHOOK_BASE_URL``
    changed) or run on NOWEB without the message store."""
    counts = {"provisioned": 0, "refreshed": 0, "webhooks_updated": 0, "store_enabled": 0, "failed": 0}
    for session in Session.objects.alive().select_related("waha_server"):
        try:
            session, info = _refresh(session) if session.provisioned else (session, None)
            if not session.provisioned or session.last_error == LOST_IN_WAHA:
                session_provision(session=session)
                counts["provisioned"] += 1
                continue
            reasons = () if info is None else tuple(
                reason for reason, wrong in (("webhook_url", _webhook_outdated(info)),
                                             ("noweb_store", _store_missing(info))) if wrong)
            if reasons:
                session_webhook_update(session=session, reasons=reasons)
                counts["webhooks_updated"] += "webhook_url" in reasons
                counts["store_enabled"] += "noweb_store" in reasons
            else:
                counts["refreshed"] += 1
        except ServiceError as exc:
            counts["failed"] += 1
            Session.objects.filter(pk=session.pk).update(last_error=str(exc.detail)[:300])
    return counts


def waha_orphans_remove(*, server: WahaServer) -> list[str]:
    """Delete sessions this service created in WAHA that no route knows any more.

    A create that timed out may still complete inside WAHA after we gave up
    and rolled back; such a session carries our metadata but has no route.
    Sessions made by anyone else (no ``session_id`` metadata) are left alone.
    """
    client = waha_client(server)
    try:
        listed = client.sessions_list(all=True)
    except WahaError as exc:
        logger.warning("waha.orphan_sweep_failed server=%s error=%s", server.name, type(exc).__name__)
        return []
    known = waha_pool.session_route_names(server=server)
    removed = []
    for info in listed:
        metadata = (info.get("config") or {}).get("metadata") or {}
        if "session_id" in metadata and info.get("name") not in known:
            try:
                client.session_delete(name=info["name"])
                removed.append(info["name"])
            except WahaError:
                logger.warning("waha.orphan_delete_failed waha_name=%s", info.get("name"))
    if removed:
        logger.warning("waha.orphans_removed server=%s names=%s", server.name, ",".join(removed))
    return removed


def session_status_apply(*, session: Session, status: str, me: dict[str, Any] | None, at_ms: int | None) -> Session:
    """Apply a ``session.status`` webhook (WAHA.md §5.5) to the session.

    Events arrive unordered: one older than the status already stored
    (``at_ms`` before ``status_changed_at``) is ignored.
    """
    from datetime import UTC, datetime

    event_time = datetime.fromtimestamp(at_ms / 1000, tz=UTC) if at_ms else timezone.now()
    if session.status_changed_at and event_time < session.status_changed_at:
        logger.info("session.status_stale session_id=%s status=%s", session.id, status)
        return session
    status_changed = _apply_waha_state(session, {"status": status, "me": me})
    if status_changed:
        session.status_changed_at = event_time
    session.last_error = ""
    _session_save(session, status_changed=status_changed)
    return session


def session_pairing_code(*, session: Session, phone_number: str) -> str:
    """A code (``ABCD-EFGH``) that links the phone with this number without scanning the QR code.

    WAHA gives one only while the session waits for a phone (``SCAN_QR_CODE``); the phone enters it
    under Linked devices → Link with phone number instead.
    """
    from sessions_waha.waha import InvalidChatId, phone_digits

    try:
        digits = phone_digits(phone_number)
    except InvalidChatId as exc:
        raise InvalidInput(errors={"phone_number": [f"Not a phone number: {exc.reason}."]}) from exc
    session = session_refresh(session=session)
    if session.status != SessionStatus.SCAN_QR_CODE:
        raise SessionNotReady(f"The session is {session.status}; a pairing code exists only in SCAN_QR_CODE.")
    try:
        code = waha_client(session.waha_server).request_code(name=session.waha_name, phone_number=digits)
    except WahaSessionNotReady as exc:
        raise SessionNotReady(f"The session is {exc.status}; a pairing code exists only in SCAN_QR_CODE.") from exc
    except WahaError as exc:
        raise _unavailable(exc, "give a pairing code") from exc
    logger.info("session.pairing_code session_id=%s", session.id)
    return code
