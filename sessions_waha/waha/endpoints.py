"""Every WAHA endpoint the client calls, keyed by operation name.

One table serves three purposes: the client builds its URLs from it, the metrics use its
keys as the bounded ``operation`` label, and a test checks each entry against WAHA's
``openapi.json`` so a typo or a removed endpoint fails in CI rather than in production.
"""

from __future__ import annotations

__all__ = ["DOWNLOAD_MEDIA", "ENDPOINTS"]

ENDPOINTS: dict[str, tuple[str, str]] = {
    # WAHA.md §7
    "ping": ("GET", "/ping"),
    "server_version": ("GET", "/api/server/version"),
    # WAHA.md §2
    "sessions_list": ("GET", "/api/sessions"),
    "session_create": ("POST", "/api/sessions"),
    "session_get": ("GET", "/api/sessions/{session}"),
    "session_update": ("PUT", "/api/sessions/{session}"),
    "session_delete": ("DELETE", "/api/sessions/{session}"),
    "session_start": ("POST", "/api/sessions/{session}/start"),
    "session_stop": ("POST", "/api/sessions/{session}/stop"),
    "session_logout": ("POST", "/api/sessions/{session}/logout"),
    "session_restart": ("POST", "/api/sessions/{session}/restart"),
    # WAHA.md §3
    "session_me": ("GET", "/api/sessions/{session}/me"),
    "qr_png": ("GET", "/api/{session}/auth/qr"),
    "qr_base64": ("GET", "/api/{session}/auth/qr"),
    "qr_raw": ("GET", "/api/{session}/auth/qr"),
    "request_code": ("POST", "/api/{session}/auth/request-code"),
    # WAHA.md §4
    "new_message_id": ("GET", "/api/{session}/new-message-id"),
    "send_text": ("POST", "/api/sendText"),
    "send_image": ("POST", "/api/sendImage"),
    "send_file": ("POST", "/api/sendFile"),
    "send_voice": ("POST", "/api/sendVoice"),
    "send_video": ("POST", "/api/sendVideo"),
    "send_location": ("POST", "/api/sendLocation"),
    "send_seen": ("POST", "/api/sendSeen"),
    "start_typing": ("POST", "/api/startTyping"),
    "stop_typing": ("POST", "/api/stopTyping"),
    "check_exists": ("GET", "/api/contacts/check-exists"),
    "message_get": ("GET", "/api/{session}/chats/{chatId}/messages/{messageId}"),
}

# Media URLs come from webhook payloads (WAHA.md §6) and are absent from openapi.json,
# so they are not in the table; this is their operation label.
DOWNLOAD_MEDIA = "download_media"
