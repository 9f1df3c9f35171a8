"""Sending endpoints, contact checks and media file downloads."""

from __future__ import annotations

import asyncio
import base64
import binascii
import random
from typing import Any

from aiohttp import web

from .ids import build_message_id, ensure_suffix, now_ms, wa_id
from .payloads import ack_payload, send_response, sent_message_payload
from .responses import (
    NOWEB_STORE_DISABLED,
    empty,
    engine_failure,
    file_not_found,
    jresp,
    nest_error,
    session_does_not_exist,
    status_not_expected,
)
from .sessions import WORKING, Session
from .state import Sandbox, read_json, sandbox_of
from .store import SentMessage, extension_for

routes = web.RouteTableDef()


async def _working(request: web.Request, name: object) -> Session | web.Response:
    """Resolve a session that must be WORKING; returns it or the error response."""
    sb = sandbox_of(request)
    if not isinstance(name, str) or not name:
        name = "default"
    s = sb.sessions.get(name)
    if s is None:
        return session_does_not_exist(name)
    if s.status != WORKING:
        await sb.sessions.wait_for(s, WORKING)
        if s.status != WORKING:
            return status_not_expected(name, s.status, [WORKING])
    return s


def _decode_size(data: str) -> int | None:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return None


def _user_part(chat_id: str) -> str:
    return chat_id.split("@", 1)[0]


def _ack_event(rec: SentMessage) -> str:
    return "message.ack.group" if rec.is_group else "message.ack"


def emit_ack(sb: Sandbox, s: Session, rec: SentMessage, ack: int, *, evt_id: str | None = None, repeat: int = 1,
             participant: str | None = None) -> dict[str, Any]:
    if ack > rec.ack or ack == -1:
        rec.ack = ack
    part = participant if participant is not None else rec.participant
    msg_id = build_message_id(True, rec.chat_id, rec.wa, part if rec.is_group else None)
    payload = ack_payload(msg_id=msg_id, wa=rec.wa, chat_id=rec.chat_id, me_id=(s.me or {}).get("id"),
                          from_me=True, ack=ack, participant=part if rec.is_group else None)
    return sb.dispatcher.emit(s, _ack_event(rec), payload, evt_id=evt_id, repeat=repeat)


def _auto_ack(sb: Sandbox, s: Session, rec: SentMessage, ack: int) -> None:
    if sb.sessions.get(s.name) is not s or s.status != WORKING:
        return
    emit_ack(sb, s, rec, ack)


def schedule_acks(sb: Sandbox, s: Session, rec: SentMessage) -> None:
    settings = sb.settings
    if not settings.auto_ack:
        return
    if settings.engine == "WEBJS" and not ((s.config or {}).get("webjs") or {}).get("tagsEventsOn"):
        return  # WEBJS only emits acks with config.webjs.tagsEventsOn
    loop = asyncio.get_running_loop()
    d1, d2, d3 = settings.ack_delays_ms
    loop.call_later(d1 / 1000, _auto_ack, sb, s, rec, 1)
    if not rec.not_on_whatsapp:
        loop.call_later(d2 / 1000, _auto_ack, sb, s, rec, 2)
        loop.call_later(d3 / 1000, _auto_ack, sb, s, rec, 3)


def _fill(rec: SentMessage, kind: str, body: dict[str, Any], sb: Sandbox, session: str) -> str | None:
    """Copy the kind-specific fields into the record; returns an engine error text or None."""
    if kind == "text":
        text = body.get("text")
        if text is not None and not isinstance(text, str):
            return "text must be a string"
        rec.text = text
    elif kind == "location":
        lat, lng = body.get("latitude"), body.get("longitude")
        if not isinstance(lat, (int, float)) or not isinstance(lng, (int, float)):
            return "latitude and longitude must be numbers"
        rec.location = {"latitude": lat, "longitude": lng, "title": body.get("title")}
    else:
        f = body.get("file")
        if not isinstance(f, dict) or not (f.get("url") or f.get("data")):
            return "file.url or file.data is required"
        mimetype = f.get("mimetype") or ("audio/ogg; codecs=opus" if kind == "voice" else None)
        if not mimetype:
            return "file.mimetype is required"
        meta = {"mimetype": mimetype, "filename": f.get("filename"), "url": f.get("url"), "size": None}
        if isinstance(f.get("data"), str):
            try:
                raw = base64.b64decode(f["data"], validate=False)
            except (binascii.Error, ValueError):
                return "file.data is not valid base64"
            meta["size"] = len(raw)
            name = f"{rec.wa}.{extension_for(mimetype)}"
            sb.files.put(session, name, raw, mimetype.split(";")[0], sb.settings.files_lifetime)
            rec.media_url = f"{sb.settings.base_url}/api/files/{session}/{name}"
        rec.file = meta
        caption = body.get("caption")
        rec.caption = caption if isinstance(caption, str) else None
    reply = body.get("reply_to")
    rec.reply_to = reply if isinstance(reply, str) else None
    return None


async def _send(request: web.Request, kind: str, body: Any = None, status: int = 201) -> web.Response:
    sb = sandbox_of(request)
    if body is None:
        body = await read_json(request)
        if isinstance(body, web.Response):
            return body
    if not isinstance(body, dict):
        return engine_failure(request, body, "Request body must be an object", sb.settings.environment())
    s = await _working(request, body.get("session"))
    if isinstance(s, web.Response):
        return s
    faults = sb.faults
    if faults.hang and faults.hang_mode == "before_send":
        await faults.release.wait()
    if faults.error_rate and random.random() < faults.error_rate:
        return engine_failure(request, body, faults.error_message, sb.settings.environment())
    chat = body.get("chatId")
    if not isinstance(chat, str) or not chat:
        return engine_failure(request, body, "Cannot read properties of undefined (reading 'includes')",
                              sb.settings.environment())
    chat_id = ensure_suffix(chat)
    engine = sb.settings.engine
    given = body.get("id")
    wa = given if engine != "WEBJS" and isinstance(given, str) and given else wa_id()
    me_id = (s.me or {}).get("id")
    participant = me_id if chat_id.endswith("@g.us") else None
    rec = SentMessage(s.name, wa, chat_id, build_message_id(True, chat_id, wa, participant), kind, now_ms() // 1000)
    rec.participant = participant
    problem = _fill(rec, kind, body, sb, s.name)
    if problem:
        return engine_failure(request, body, problem, sb.settings.environment())
    if chat_id.endswith(("@c.us", "@s.whatsapp.net")):
        rec.not_on_whatsapp = not sb.numbers.exists(_user_part(chat_id))
    rec, _dup = sb.messages.record(rec)
    # A NOWEB store holds only what was sent while it was on; a repeat sent with it on is stored.
    rec.stored = rec.stored or s.keeps_messages(engine)
    s.activity = now_ms()
    sb.dispatcher.emit(s, "message.any", sent_message_payload(rec, me_id))
    schedule_acks(sb, s, rec)
    result = jresp(send_response(engine, rec, me_id), status)
    if faults.hang and faults.hang_mode == "after_send":
        await faults.release.wait()
    return result


def _send_route(path: str, kind: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        return await _send(request, kind)

    routes.post(path)(handler)


for _path, _kind in (("/api/sendText", "text"), ("/api/sendImage", "image"), ("/api/sendFile", "file"),
                     ("/api/sendVoice", "voice"), ("/api/sendVideo", "video"), ("/api/sendLocation", "location")):
    _send_route(_path, _kind)


@routes.get("/api/sendText")
async def send_text_get(request: web.Request) -> web.Response:
    """Deprecated ``GET /api/sendText?phone=&text=&session=``."""
    q = request.query
    body = {"session": q.get("session", "default"), "chatId": q.get("phone"), "text": q.get("text")}
    return await _send(request, "text", body=body, status=200)


async def _simple(request: web.Request, status: int, result: Any) -> web.Response:
    body = await read_json(request)
    if isinstance(body, web.Response):
        return body
    if not isinstance(body, dict):
        body = {}
    found = await _working(request, body.get("session"))
    if isinstance(found, web.Response):
        return found
    return empty(status) if result is None else jresp(result, status)


@routes.post("/api/sendSeen")
async def send_seen(request: web.Request) -> web.Response:
    return await _simple(request, 201, {})


@routes.post("/api/startTyping")
@routes.post("/api/stopTyping")
async def typing(request: web.Request) -> web.Response:
    return await _simple(request, 201, {"result": True})


@routes.put("/api/reaction")
async def reaction(request: web.Request) -> web.Response:
    return await _simple(request, 200, {})


@routes.put("/api/star")
async def star(request: web.Request) -> web.Response:
    return await _simple(request, 200, None)


@routes.get("/api/{session}/new-message-id")
async def new_message_id(request: web.Request) -> web.Response:
    found = await _working(request, request.match_info["session"])
    if isinstance(found, web.Response):
        return found
    if sandbox_of(request).settings.engine == "WEBJS":
        return nest_error(501, "new-message-id is available only for NOWEB and GOWS engines")
    return jresp({"id": wa_id()})


@routes.get("/api/{session}/chats/{chat_id}/messages/{message_id}")
async def message_get(request: web.Request) -> web.Response:
    """A sent message by its serialized or bare id; 404 when the engine's store does not have it.

    NOWEB without ``config.noweb.store.enabled`` cannot look anything up: 400, as real WAHA.
    """
    sb = sandbox_of(request)
    name = request.match_info["session"]
    s = sb.sessions.get(name)
    if s is None:
        return nest_error(404, "Session not found")
    if not s.keeps_messages(sb.settings.engine):
        return nest_error(400, NOWEB_STORE_DISABLED)
    message_id = request.match_info["message_id"]
    bare = message_id.split("_")[2] if message_id.count("_") >= 2 else message_id
    rec = sb.messages.find(name, bare)
    if rec is None or not rec.stored:
        return nest_error(404, "Message not found")
    return jresp(sent_message_payload(rec, None))


@routes.get("/api/contacts/check-exists")
async def check_exists(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    found = await _working(request, request.query.get("session") or "default")
    if isinstance(found, web.Response):
        return found
    digits = (request.query.get("phone") or "").split("@", 1)[0].replace("+", "")
    if not sb.numbers.exists(digits):
        return jresp({"numberExists": False})
    return jresp({"numberExists": True, "chatId": sb.numbers.chat_id_for(digits)})


@routes.get("/api/files/{session}/{filename}")
async def download_file(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    session, filename = request.match_info["session"], request.match_info["filename"]
    found = sb.files.get(session, filename)
    if found is None:
        return file_not_found(f"File '{session}/{filename}' was not found or has expired")
    data, mimetype = found
    return web.Response(body=data, content_type=mimetype)


@routes.get("/api/files/{filename}")
async def download_file_legacy(request: web.Request) -> web.Response:
    filename = request.match_info["filename"]
    found = sandbox_of(request).files.find_by_name(filename)
    if found is None:
        return file_not_found(f"File '{filename}' was not found or has expired")
    data, mimetype = found
    return web.Response(body=data, content_type=mimetype)
