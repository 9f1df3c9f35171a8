"""The WAHA client's session calls: the server, sessions and their lifecycle, pairing (WAHA.md §2, §3, §7)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .chat_ids import phone_digits
from .errors import WahaNotFound
from .transport import (
    Timeout,
    Transport,
    _json_list,
    _json_object,
    _json_optional,
    _json_strings,
    _png_bytes,
    validate_session_name,
)


class SessionCalls(Transport):
    """The server's health and version, its sessions and their lifecycle, and pairing a phone."""

    # Health (WAHA.md §7)

    def ping(self, *, timeout: Timeout | None = None) -> bool:
        """Liveness: ``GET /ping``. True when WAHA answers; raises ``WahaError`` otherwise."""
        self._call("ping", timeout=timeout)
        return True

    def server_version(self, *, timeout: Timeout | None = None) -> dict[str, Any]:
        """``{"version","engine","tier",...}`` of the server."""
        return self._call("server_version", timeout=timeout, reader=_json_object)

    # Sessions (WAHA.md §2)

    def sessions_list(
        self, *, all: bool = True, timeout: Timeout | None = None
    ) -> list[dict[str, Any]]:
        """All sessions; STOPPED ones are hidden by WAHA unless ``all`` is true."""
        return self._call(
            "sessions_list",
            params={"all": "true" if all else "false"},
            timeout=timeout,
            reader=_json_list,
        )

    def session_get(self, *, name: str, timeout: Timeout | None = None) -> dict[str, Any]:
        """``SessionInfo`` of one session; ``WahaNotFound`` if WAHA does not know it."""
        return self._call("session_get", session=name, timeout=timeout, reader=_json_object)

    def session_create(
        self,
        *,
        name: str,
        config: Mapping[str, Any] | None,
        start: bool = True,
        timeout: Timeout | None = None,
    ) -> dict[str, Any] | None:
        """Create a session; ``WahaAlreadyExists`` if the name is taken (update or start it)."""
        validate_session_name(name)
        # "start" is always explicit: the docs default it to true, the code to false (WAHA.md §2).
        body: dict[str, Any] = {"name": name, "start": bool(start)}
        if config is not None:
            body["config"] = dict(config)
        return self._call("session_create", json_body=body, timeout=timeout, reader=_json_optional)

    def session_update(
        self, *, name: str, config: Mapping[str, Any], timeout: Timeout | None = None
    ) -> dict[str, Any] | None:
        """Replace the whole config (not a patch: send every field); restarts a running session."""
        return self._call(
            "session_update",
            session=name,
            json_body={"config": dict(config)},
            timeout=timeout,
            reader=_json_optional,
        )

    def session_delete(self, *, name: str, timeout: Timeout | None = None) -> None:
        """Stop, log out and delete a session; deleting an unknown session succeeds."""
        self._call(
            "session_delete",
            session=name,
            timeout=timeout,
            tolerate=lambda error: isinstance(error, WahaNotFound),
        )

    def session_start(self, *, name: str, timeout: Timeout | None = None) -> dict[str, Any] | None:
        """Start a session; returns ``None`` when it was already running."""
        # Core answers 422 "already started" where the docs promise idempotence (WAHA.md §2, §9.3).
        return self._call(
            "session_start",
            session=name,
            timeout=timeout,
            reader=_json_optional,
            tolerate=lambda error: error.status_code == 422 and "already started" in error.reason,
        )

    def session_stop(self, *, name: str, timeout: Timeout | None = None) -> dict[str, Any] | None:
        """Stop a session, keeping its auth and config."""
        return self._call("session_stop", session=name, timeout=timeout, reader=_json_optional)

    def session_logout(self, *, name: str, timeout: Timeout | None = None) -> dict[str, Any] | None:
        """Unpair and wipe auth, keeping config; a running session restarts with a new QR."""
        return self._call("session_logout", session=name, timeout=timeout, reader=_json_optional)

    def session_restart(
        self, *, name: str, timeout: Timeout | None = None
    ) -> dict[str, Any] | None:
        """Stop then start a session."""
        return self._call("session_restart", session=name, timeout=timeout, reader=_json_optional)

    def session_me(self, *, name: str, timeout: Timeout | None = None) -> dict[str, Any] | None:
        """The paired account (``{"id","pushName",...}``) or ``None`` if unpaired or stopped."""
        # Unpaired answers null; a stopped session answers 404 in Core (WAHA.md §3).
        me = self._call(
            "session_me",
            session=name,
            timeout=timeout,
            reader=_json_optional,
            tolerate=lambda error: isinstance(error, WahaNotFound),
        )
        return me if isinstance(me, dict) else None

    # Pairing (WAHA.md §3)

    def qr_png(self, *, name: str, timeout: Timeout | None = None) -> bytes:
        """The current QR code as PNG bytes; ``WahaSessionNotReady`` outside ``SCAN_QR_CODE``."""
        return self._call(
            "qr_png",
            session=name,
            params={"format": "image"},
            headers={"Accept": "image/png"},
            timeout=timeout,
            reader=_png_bytes,
        )

    def qr_base64(self, *, name: str, timeout: Timeout | None = None) -> dict[str, str]:
        """The QR code as ``{"mimetype": "image/png", "data": "<base64>"}``."""
        # WAHA switches to JSON only for exactly "Accept: application/json" (WAHA.md §3).
        data = self._call(
            "qr_base64",
            session=name,
            params={"format": "image"},
            headers={"Accept": "application/json"},
            timeout=timeout,
            reader=_json_strings("mimetype", "data"),
        )
        return {"mimetype": data["mimetype"], "data": data["data"]}

    def qr_raw(self, *, name: str, timeout: Timeout | None = None) -> str:
        """The raw QR string, for rendering it ourselves."""
        data = self._call(
            "qr_raw",
            session=name,
            params={"format": "raw"},
            timeout=timeout,
            reader=_json_strings("value"),
        )
        return data["value"]

    def request_code(self, *, name: str, phone_number: str, timeout: Timeout | None = None) -> str:
        """Ask for a pairing code (``"ABCD-ABCD"``) to link by phone number instead of QR."""
        # International digits without "+"; "method" stays unset, NOWEB rejects it (WAHA.md §3).
        data = self._call(
            "request_code",
            session=name,
            json_body={"phoneNumber": phone_digits(phone_number)},
            timeout=timeout,
            reader=_json_strings("code"),
        )
        return data["code"]
