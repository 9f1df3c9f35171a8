"""Sandbox-only control endpoints under /sandbox (API key required, faults never apply)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from . import media
from .acks import ACK_BY_NAME
from .api_chatting import emit_ack
from .config import ENGINES
from .ids import build_message_id, ensure_suffix, inbound_wa_id, now_ms, split_message_id
from .payloads import ack_payload, message_payload
from .responses import jresp, nest_error, session_not_found, status_not_expected
from .sessions import WORKING, Session
from .state import RUNTIME_KNOBS, Sandbox, read_json, sandbox_of
from .store import extension_for

routes = web.RouteTableDef()


async def _body_and_session(request: web.Request) -> tuple[Session, dict[str, Any]] | web.Response:
    """The named session and the JSON object body, or the error answer."""
    sb = sandbox_of(request)
    s = sb.sessions.get(request.match_info["name"])
    if s is None:
        return session_not_found()
    body = await read_json(request)
    if isinstance(body, web.Response):
        return body
    if not isinstance(body, dict):
        return nest_error(400, "body must be a JSON object")
    return s, body


# -- lifecycle ----------------------------------------------------------------------------------------
@routes.post("/sandbox/sessions/{name}/pair")
async def pair(request: web.Request) -> web.Response:
    found = await _body_and_session(request)
    if isinstance(found, web.Response):
        return found
    s, body = found
    phone = body.get("phone")
    if phone is not None:
        phone = str(phone).replace("+", "").split("@", 1)[0]
    sandbox_of(request).sessions.pair(s, phone, body.get("pushName"))
    return jresp(s.dto(), 201)


@routes.post("/sandbox/sessions/{name}/fail")
async def fail(request: web.Request) -> web.Response:
    found = await _body_and_session(request)
    if isinstance(found, web.Response):
        return found
    s, body = found
    sandbox_of(request).sessions.fail(s, logout=bool(body.get("logout")))
    return jresp(s.dto(), 201)


# -- inbound messages ------------------------------------------------------------------------------
def _inbound_media(sb: Sandbox, session: str, wa: str, spec: Any) -> tuple[dict | None, str | None]:
    if spec is None or spec is False:
        return None, None
    if spec is True:
        spec = {}
    if not isinstance(spec, dict):
        return None, "media must be an object"
    mimetype = spec.get("mimetype") or "image/jpeg"
    filename = spec.get("filename")
    if spec.get("error"):
        return {"url": None, "mimetype": mimetype, "filename": filename,
                "error": {"message": str(spec["error"])}}, None
    if isinstance(spec.get("data"), str):
        try:
            data = base64.b64decode(spec["data"], validate=True)
        except (binascii.Error, ValueError):
            return None, "media.data must be base64"
    else:
        data = media.generate(mimetype, spec.get("size") or 1024, wa)
    name = f"{wa}.{extension_for(mimetype)}"
    sb.files.put(session, name, data, mimetype.split(";")[0].strip(), sb.settings.files_lifetime)
    url = f"{sb.settings.base_url}/api/files/{session}/{name}"
    return {"url": url, "mimetype": mimetype, "filename": filename, "error": None}, None


@routes.post("/sandbox/sessions/{name}/messages")
async def inject_message(request: web.Request) -> web.Response:
    """Simulate a message arriving (or typed on the paired phone with ``fromMe``)."""
    sb = sandbox_of(request)
    found = await _body_and_session(request)
    if isinstance(found, web.Response):
        return found
    s, body = found
    if s.status != WORKING:
        return status_not_expected(s.name, s.status, [WORKING])
    me_id = (s.me or {}).get("id")
    from_me = bool(body.get("fromMe"))
    group = body.get("group")
    sender = body.get("to") if from_me else body.get("from")
    if not isinstance(sender, str) or not sender:
        return nest_error(400, "'to' is required with fromMe" if from_me else "'from' is required")
    given = body.get("id")
    wa = given if isinstance(given, str) and given else inbound_wa_id()
    participant = None
    if group:
        chat = group if "@" in group else f"{group}@g.us"
        participant = ensure_suffix(sender) if not from_me else me_id
    else:
        chat = ensure_suffix(sender)
    media_obj, problem = _inbound_media(sb, s.name, wa, body.get("media"))
    if problem:
        return nest_error(400, problem)
    text = body.get("text")
    if media_obj is not None:
        text = body.get("caption", text)
    reply = body.get("replyTo")
    reply_obj: dict[str, Any] | None = (
        {"id": reply, "participant": None, "body": None, "_data": {}} if isinstance(reply, str) else None)
    ts = int(body.get("timestamp") or now_ms() // 1000)
    msg_id = build_message_id(from_me, chat, wa, participant if group else None)
    payload = message_payload(
        msg_id=msg_id, wa=wa, timestamp=ts, from_=me_id if from_me else chat, from_me=from_me, source="app",
        body=text, to=chat if from_me else me_id, participant=participant, media=media_obj,
        ack=1 if from_me else 2, remote_jid=chat, reply_to=reply_obj, push_name=body.get("pushName"),
    )
    events = []
    if not from_me:
        events.append(sb.dispatcher.emit(s, "message", payload)["id"])
    events.append(sb.dispatcher.emit(s, "message.any", payload)["id"])
    return jresp({"id": msg_id, "waId": wa, "chatId": chat, "events": events, "payload": payload}, 201)


# -- acks and raw events -----------------------------------------------------------------------------
def _ack_value(value: object) -> int | None:
    if isinstance(value, str):
        return ACK_BY_NAME.get(value.upper())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _one_ack(sb: Sandbox, s: Session, item: dict[str, Any]) -> tuple[str | None, str | None]:
    ack = _ack_value(item.get("ack"))
    ident = item.get("id")
    if ack is None or not isinstance(ident, str) or not ident:
        return None, "each ack needs 'id' (message id or waId) and 'ack' (number or name)"
    repeat = max(1, int(item.get("repeat") or 1))
    evt_id = item.get("eventId")
    from_me, chat, wa, part = split_message_id(ident)
    participant = item.get("participant") or part
    rec = sb.messages.find(s.name, wa)
    if rec is not None:
        return emit_ack(sb, s, rec, ack, evt_id=evt_id, repeat=repeat, participant=participant)["id"], None
    chat = item.get("chatId") or chat
    if not chat:
        return None, f"unknown message '{ident}': pass a full message id or 'chatId'"
    chat = ensure_suffix(chat)
    is_group = chat.endswith("@g.us")
    from_me = True if from_me is None else from_me
    if item.get("fromMe") is not None:
        from_me = bool(item["fromMe"])
    msg_id = build_message_id(from_me, chat, wa, participant if is_group else None)
    payload = ack_payload(msg_id=msg_id, wa=wa, chat_id=chat, me_id=(s.me or {}).get("id"), from_me=from_me,
                          ack=ack, participant=participant if is_group else None)
    event = "message.ack.group" if is_group else "message.ack"
    return sb.dispatcher.emit(s, event, payload, evt_id=evt_id, repeat=repeat)["id"], None


@routes.post("/sandbox/sessions/{name}/acks")
async def inject_acks(request: web.Request) -> web.Response:
    """Emit acks in the given order (duplicates and out-of-order sequences allowed)."""
    sb = sandbox_of(request)
    found = await _body_and_session(request)
    if isinstance(found, web.Response):
        return found
    s, body = found
    acks = body.get("acks")
    items = acks if isinstance(acks, list) else [body]
    ids = []
    for item in items:
        if not isinstance(item, dict):
            return nest_error(400, "acks must be objects")
        evt, problem = _one_ack(sb, s, item)
        if problem:
            return nest_error(400, problem)
        ids.append(evt)
    return jresp({"events": ids}, 201)


@routes.post("/sandbox/sessions/{name}/events")
async def inject_event(request: web.Request) -> web.Response:
    """Emit any event with a caller-supplied payload (optionally reusing an event id)."""
    sb = sandbox_of(request)
    found = await _body_and_session(request)
    if isinstance(found, web.Response):
        return found
    s, body = found
    event = body.get("event")
    if not isinstance(event, str) or not event:
        return nest_error(400, "'event' is required")
    kwargs: dict[str, Any] = {"evt_id": body.get("eventId"), "repeat": max(1, int(body.get("repeat") or 1))}
    if "me" in body:
        kwargs["me"] = body["me"]
    env = sb.dispatcher.emit(s, event, body.get("payload"), **kwargs)
    return jresp({"id": env["id"], "event": event}, 201)


# -- registry, faults, config --------------------------------------------------------------------------
@routes.get("/sandbox/numbers")
async def get_numbers(request: web.Request) -> web.Response:
    return jresp(sandbox_of(request).numbers.as_dict())


@routes.post("/sandbox/numbers")
async def set_numbers(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    body = await read_json(request)
    if isinstance(body, web.Response):
        return body
    if not isinstance(body, dict):
        return nest_error(400, "body must be a JSON object")
    phones = [str(p).replace("+", "").split("@", 1)[0] for p in body.get("phones") or []]
    exists = body.get("exists", False)
    for p in phones:
        if exists:
            sb.numbers.missing.discard(p)
        else:
            sb.numbers.missing.add(p)
    for phone, chat in (body.get("chatIds") or {}).items():
        sb.numbers.chat_ids[str(phone).replace("+", "")] = ensure_suffix(str(chat))
    return jresp(sb.numbers.as_dict())


@routes.get("/sandbox/faults")
async def get_faults(request: web.Request) -> web.Response:
    return jresp(sandbox_of(request).faults.as_dict())


@routes.post("/sandbox/faults")
async def set_faults(request: web.Request) -> web.Response:
    faults = sandbox_of(request).faults
    body = await read_json(request)
    if isinstance(body, web.Response):
        return body
    if not isinstance(body, dict):
        return nest_error(400, "body must be a JSON object")
    if body.get("clear"):
        faults.clear()
    errors = faults.update({k: v for k, v in body.items() if k != "clear"})
    if errors:
        return nest_error(400, errors)
    return jresp(faults.as_dict())


@routes.delete("/sandbox/faults")
async def clear_faults(request: web.Request) -> web.Response:
    faults = sandbox_of(request).faults
    faults.clear()
    return jresp(faults.as_dict())


def _config_view(sb: Sandbox) -> dict[str, Any]:
    out = {name: getattr(sb.settings, name) for name in RUNTIME_KNOBS}
    out["ack_delays_ms"] = list(out["ack_delays_ms"])
    return out


@routes.get("/sandbox/config")
async def get_config(request: web.Request) -> web.Response:
    return jresp(_config_view(sandbox_of(request)))


@routes.post("/sandbox/config")
async def set_config(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    body = await read_json(request)
    if isinstance(body, web.Response):
        return body
    if not isinstance(body, dict):
        return nest_error(400, "body must be a JSON object")
    unknown = [k for k in body if k not in RUNTIME_KNOBS]
    if unknown:
        return nest_error(400, f"unknown knobs: {', '.join(unknown)}")
    if "engine" in body and str(body["engine"]).upper() not in ENGINES:
        return nest_error(400, f"engine must be one of {', '.join(ENGINES)}")
    if "ack_delays_ms" in body:
        d = body["ack_delays_ms"]
        if not isinstance(d, list) or len(d) != 3 or not all(isinstance(x, (int, float)) for x in d):
            return nest_error(400, "ack_delays_ms must be a list of three numbers")
    for name, value in body.items():
        if name == "engine":
            value = str(value).upper()
        elif name == "auto_ack":
            value = bool(value)
        elif name == "ack_delays_ms":
            value = tuple(float(x) for x in value)
        else:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return nest_error(400, f"{name} must be a number")
            value = float(value)
        setattr(sb.settings, name, value)
    return jresp(_config_view(sb))


# -- inspection and reset ---------------------------------------------------------------------------
@routes.post("/sandbox/reset")
async def reset(request: web.Request) -> web.Response:
    sandbox_of(request).reset()
    return jresp({"reset": True})


@routes.get("/sandbox/messages")
async def list_messages(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    items = [m.as_dict() for m in sb.messages.list(request.query.get("session"), request.query.get("chatId"))]
    dups = sum(1 for m in items if m["count"] > 1)
    return jresp({"count": len(items), "sends": sum(m["count"] for m in items), "duplicates": dups,
                  "messages": items})


@routes.get("/sandbox/webhooks")
async def webhook_stats(request: web.Request) -> web.Response:
    return jresp(sandbox_of(request).dispatcher.snapshot())


@routes.get("/sandbox/events")
async def list_events(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    session = request.query.get("session")
    event = request.query.get("event")
    try:
        limit = int(request.query.get("limit") or 200)
    except ValueError:
        limit = 200
    items = [e for e in sb.dispatcher.recent
             if (session is None or e["session"] == session) and (event is None or e["event"] == event)]
    return jresp({"count": len(items[-limit:]), "events": items[-limit:]})
