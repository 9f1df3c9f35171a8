"""Typed failures of calls to WAHA.

Every failure the client raises is a ``WahaError`` carrying ``transient``: callers
(Celery tasks) retry transient ones with backoff and give up on the rest. Messages and
reprs are built only from values the client already sanitised, so they are safe to log
(WAHA.md §9.10: never log the API key; §9.4: never keep an echoed request body).
"""

from __future__ import annotations

from typing import Any


class WahaError(Exception):
    """Base class of every failure of a call to WAHA."""

    transient: bool = False

    def __init__(self, message: str, *, method: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path

    def __str__(self) -> str:
        if self.method and self.path:
            return f"{self.method} {self.path}: {self.message}"
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class WahaUnreachable(WahaError):
    """No HTTP answer: connection refused, reset or DNS failure. Worth retrying."""

    transient = True


class WahaTimeout(WahaError):
    """WAHA did not answer in time. Worth retrying, but see ``maybe_sent``.

    ``phase`` is ``"connect"`` (the request never left, so a resend is safe) or
    ``"read"`` (WAHA got it and may still have delivered the message: reconcile through
    ``message.any``/``message.ack`` before resending, WAHA.md §9.7).
    """

    transient = True

    def __init__(
        self,
        message: str,
        *,
        phase: str = "read",
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.phase = phase

    @property
    def maybe_sent(self) -> bool:
        return self.phase != "connect"


class WahaRejected(WahaError):
    """WAHA answered with a non-2xx status.

    ``body`` is the parsed JSON error (or a short text) with anything that could echo the
    request removed; for 5xx only ``exception.message`` survives (WAHA.md §4, §9.4).
    """

    def __init__(
        self,
        status_code: int,
        body: Any = None,
        message: str = "",
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(
            f"HTTP {status_code}: {message}" if message else f"HTTP {status_code}",
            method=method,
            path=path,
        )
        self.status_code = status_code
        self.body = body
        self.reason = message
        # 5xx covers engine hiccups and proxies in front of WAHA; 429 is a rate limiter.
        self.transient = status_code >= 500 or status_code == 429


class WahaUnauthorized(WahaRejected):
    """401/403: the API key is missing, wrong, or scoped to another session (WAHA.md §1)."""


class WahaNotFound(WahaRejected):
    """404: unknown session, stopped session's ``/me``, or an expired media file."""


class WahaAlreadyExists(WahaRejected):
    """422 on create: the name is taken; update or start it instead (WAHA.md §2, §9.3)."""


class WahaSessionNotReady(WahaRejected):
    """422 from WAHA's status wait, or for a session that does not exist (WAHA.md §4).

    ``status`` is the session's status as WAHA saw it (``"SCAN_QR_CODE"``, ``"STOPPED"``...)
    or ``None`` when the session does not exist (``session_missing``); ``expected`` lists
    the statuses the endpoint waited for. Not transient: WAHA already waited ~15 s, so the
    caller should react to the session's state rather than hammer it.
    """

    def __init__(
        self,
        session: str | None,
        status: str | None,
        expected: list[str] | None,
        *,
        status_code: int = 422,
        body: Any = None,
        message: str = "",
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(
            status_code, body, message or "session not ready", method=method, path=path
        )
        self.session = session
        self.status = status
        self.expected = list(expected or [])

    @property
    def session_missing(self) -> bool:
        return self.status is None


class WahaLookupUnavailable(WahaRejected):
    """WAHA cannot look messages up on this session, so "was it already sent?" has no answer.

    NOWEB keeps no messages unless the session was started with
    ``config.noweb.store.enabled``; without it ``GET /api/{session}/chats/{chatId}/messages/{id}``
    is a 400 "Enable NOWEB store ..." (``store_disabled``). An engine without the endpoint
    answers 501. Not transient: asking again gives the same answer until the session's
    config changes. A caller that must resend does so with the same pre-generated id and
    records that a repeat was possible (WAHA.md §9.7).
    """

    @property
    def store_disabled(self) -> bool:
        return self.status_code == 400


class WahaInvalidResponse(WahaError):
    """WAHA answered 2xx with a body the client cannot use."""


class WahaMediaRefused(WahaError):
    """``download_media`` refused a URL before any request, so the API key never left.

    Raised for URLs that are neither on this client's WAHA nor a ``/api/files/`` path
    (WAHA.md §6), and for paths that try to climb out of ``/api/files/``.
    """


class WahaMediaTooLarge(WahaError):
    """The media file exceeded the caller's size cap; the download was abandoned."""

    def __init__(
        self, message: str, *, limit: int, method: str | None = None, path: str | None = None
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.limit = limit


class InvalidSessionName(ValueError):
    """A session name outside WAHA's ``^[a-zA-Z0-9_-]{1,54}$`` (WAHA.md §2, §9.3)."""


class InvalidChatId(ValueError):
    """A recipient that cannot be turned into a WAHA chat id; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
