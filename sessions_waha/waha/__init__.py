"""WAHA (WhatsApp HTTP API) client: the only code in the project that speaks HTTP to WAHA.

Framework-free on purpose (no Django imports): callers pass plain values such as the
server's base URL and API key. See docs/WAHA.md for the behaviour it implements.
"""

from .chat_ids import normalize_chat_id, phone_digits
from .client import WahaClient, clear_client_cache, client_for
from .endpoints import ENDPOINTS
from .errors import (
    InvalidChatId,
    InvalidSessionName,
    WahaAlreadyExists,
    WahaError,
    WahaInvalidResponse,
    WahaLookupUnavailable,
    WahaMediaRefused,
    WahaMediaTooLarge,
    WahaNotFound,
    WahaRejected,
    WahaSessionNotReady,
    WahaTimeout,
    WahaUnauthorized,
    WahaUnreachable,
)
from .models import MediaFile, NumberCheck, SentMessage
from .responses import extract_message_id, normalize_send_response, wa_id_of
from .transport import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_MEDIA_BYTES,
    DEFAULT_READ_TIMEOUT,
    Timeout,
    validate_session_name,
)

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_MEDIA_BYTES",
    "DEFAULT_READ_TIMEOUT",
    "ENDPOINTS",
    "InvalidChatId",
    "InvalidSessionName",
    "MediaFile",
    "NumberCheck",
    "SentMessage",
    "Timeout",
    "WahaAlreadyExists",
    "WahaClient",
    "WahaError",
    "WahaInvalidResponse",
    "WahaLookupUnavailable",
    "WahaMediaRefused",
    "WahaMediaTooLarge",
    "WahaNotFound",
    "WahaRejected",
    "WahaSessionNotReady",
    "WahaTimeout",
    "WahaUnauthorized",
    "WahaUnreachable",
    "clear_client_cache",
    "client_for",
    "extract_message_id",
    "normalize_chat_id",
    "normalize_send_response",
    "phone_digits",
    "validate_session_name",
    "wa_id_of",
]
