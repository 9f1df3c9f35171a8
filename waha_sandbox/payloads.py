"""Builders for webhook payloads and engine-specific send responses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .acks import ack_name
from .ids import to_s_whatsapp
from .store import SentMessage

WEBJS_TYPES = {
    "text": "chat", "image": "image", "file": "document", "voice": "ptt", "video": "video", "location": "location",
}


def _noweb_message(rec: SentMessage) -> dict:
    """A Baileys-like ``message`` proto for the kind of message sent."""
    f = rec.file or {}
    if rec.kind == "text":
        return {"extendedTextMessage": {"text": rec.text}}
    if rec.kind == "location":
        loc = rec.location or {}
        return {"locationMessage": {"degreesLatitude": loc.get("latitude"),
                                    "degreesLongitude": loc.get("longitude"), "name": loc.get("title")}}
    common = {"url": "https://mmg.whatsapp.net/sandbox/" + rec.wa, "mimetype": f.get("mimetype")}
    if f.get("size") is not None:
        common["fileLength"] = str(f["size"])
    if rec.kind == "image":
        return {"imageMessage": {**common, "caption": rec.caption}}
    if rec.kind == "voice":
        return {"audioMessage": {**common, "ptt": True}}
    if rec.kind == "video":
        return {"videoMessage": {**common, "caption": rec.caption}}
    return {"documentMessage": {**common, "fileName": f.get("filename"), "caption": rec.caption}}


def send_response(engine: str, rec: SentMessage, me_id: str | None) -> dict:
    """What POST /api/send* returns, in the shape of ``engine``.

    For groups the response id carries no ``_participant`` suffix while later acks
    do, which mirrors how real engines differ here.
    """
    plain_id = f"true_{rec.chat_id}_{rec.wa}"
    if engine == "NOWEB":
        return {
            "key": {"remoteJid": to_s_whatsapp(rec.chat_id), "fromMe": True, "id": rec.wa},
            "message": _noweb_message(rec),
            "messageTimestamp": str(rec.timestamp),
            "status": "PENDING",
        }
    if engine == "GOWS":
        ts = datetime.fromtimestamp(rec.timestamp, UTC).isoformat().replace("+00:00", "Z")
        return {
            "id": plain_id,
            "_data": {
                "Info": {"ID": rec.wa, "Chat": to_s_whatsapp(rec.chat_id), "IsFromMe": True, "Timestamp": ts},
                "Message": _noweb_message(rec),
            },
        }
    # WEBJS: a whatsapp-web.js Message serialised to JSON.
    id_obj = {"fromMe": True, "remote": rec.chat_id, "id": rec.wa, "_serialized": plain_id}
    body = rec.text if rec.kind == "text" else (rec.caption or "")
    wtype = WEBJS_TYPES.get(rec.kind, "chat")
    return {
        "_data": {"id": id_obj, "body": body, "type": wtype, "t": rec.timestamp, "from": me_id, "to": rec.chat_id,
                  "ack": 0, "isNewMsg": True},
        "id": id_obj,
        "ack": 0,
        "hasMedia": rec.kind not in ("text", "location"),
        "body": body,
        "type": wtype,
        "timestamp": rec.timestamp,
        "from": me_id,
        "to": rec.chat_id,
        "fromMe": True,
        "hasQuotedMsg": rec.reply_to is not None,
    }


def message_payload(
    *, msg_id: str, wa: str, timestamp: int, from_: str | None, from_me: bool, source: str, body: str | None,
    to: str | None,
    participant: str | None, media: dict | None, ack: int, remote_jid: str, location: dict | None = None,
    reply_to: dict | None = None, push_name: str | None = None,
) -> dict:
    """A ``WAMessage`` as delivered in ``message`` / ``message.any`` events."""
    key = {"remoteJid": to_s_whatsapp(remote_jid), "fromMe": from_me, "id": wa}
    if participant:
        key["participant"] = to_s_whatsapp(participant)
    payload = {
        "id": msg_id,
        "timestamp": timestamp,
        "from": from_,
        "fromMe": from_me,
        "source": source,
        "body": body,
        "to": to,
        "participant": participant,
        "hasMedia": media is not None,
        "media": media,
    }
    if media is not None:
        payload["mediaUrl"] = media.get("url")
    payload.update({
        "ack": ack,
        "ackName": ack_name(ack),
        "location": location,
        "vCards": [],
        "replyTo": reply_to,
        "_data": {"key": key, "messageTimestamp": timestamp, "pushName": push_name},
    })
    return payload


def sent_message_payload(rec: SentMessage, me_id: str | None) -> dict:
    """``message.any`` payload for a message sent through the API (``source: api``)."""
    media = None
    if rec.file is not None:
        media = {"url": rec.media_url, "mimetype": rec.file.get("mimetype"),
                 "filename": rec.file.get("filename"), "error": None}
    body = rec.text if rec.kind == "text" else rec.caption
    location = None
    if rec.location is not None:
        loc = rec.location
        location = {"latitude": loc.get("latitude"), "longitude": loc.get("longitude"),
                    "description": loc.get("title")}
    reply: dict[str, Any] | None = (
        {"id": rec.reply_to, "participant": None, "body": None, "_data": {}} if rec.reply_to else None)
    return message_payload(
        msg_id=rec.id, wa=rec.wa, timestamp=rec.timestamp, from_=me_id, from_me=True, source="api", body=body,
        to=rec.chat_id, participant=rec.participant, media=media, ack=0, remote_jid=rec.chat_id,
        location=location, reply_to=reply,
    )


def ack_payload(*, msg_id: str, wa: str, chat_id: str, me_id: str | None, from_me: bool, ack: int,
                participant: str | None) -> dict:
    """``message.ack`` / ``message.ack.group`` payload (NOWEB flavour)."""
    key = {"remoteJid": to_s_whatsapp(chat_id), "fromMe": from_me, "id": wa}
    if participant:
        key["participant"] = to_s_whatsapp(participant)
    return {
        "id": msg_id,
        "from": chat_id,
        "to": me_id,
        "participant": participant,
        "fromMe": from_me,
        "ack": ack,
        "ackName": ack_name(ack),
        "_data": {"key": key, "update": {"status": ack + 1}},
    }
