"""Sending: engine-specific shapes, ids, failures and acks (WAHA.md §4, §5.5)."""

from __future__ import annotations

import base64
import json
import re
import time

import pytest
import requests

from waha_sandbox.testing import wait_until

STATUS_ERROR = "Session status is not as expected. Try again later or restart the session"
WA_ID = re.compile(r"3EB0[0-9A-F]{18}")


def _send(api, **body):
    body.setdefault("session", "s")
    return api.post("/api/sendText", {"text": "hello", **body})


def test_noweb_send_shape(api):
    api.working("s")
    r = _send(api, chatId="4915112345678@c.us")
    assert r.status_code == 201
    body = r.json()
    assert list(body) == ["key", "message", "messageTimestamp", "status"]
    assert body["key"]["remoteJid"] == "4915112345678@s.whatsapp.net" and body["key"]["fromMe"] is True
    assert WA_ID.fullmatch(body["key"]["id"])
    assert body["message"]["extendedTextMessage"]["text"] == "hello"
    assert isinstance(body["messageTimestamp"], str) and body["status"] == "PENDING"


@pytest.mark.parametrize("engine", ["GOWS", "WEBJS"])
def test_other_engine_shapes(api, engine):
    api.post("/sandbox/config", {"engine": engine})
    api.working("s")
    assert api.get("/api/sessions/s").json()["engine"]["engine"] == engine
    assert api.get("/api/server/version").json()["engine"] == engine
    body = _send(api, chatId="4915112345678@c.us").json()
    if engine == "GOWS":
        assert re.fullmatch(r"true_4915112345678@c\.us_3EB0[0-9A-F]{18}", body["id"])
        assert "_data" in body
    else:
        assert re.fullmatch(r"true_4915112345678@c\.us_3EB0[0-9A-F]{18}", body["id"]["_serialized"])
        assert body["id"]["fromMe"] is True and "_data" in body


def test_chat_id_suffix_and_no_normalisation(api):
    api.working("s")
    assert _send(api, chatId="4915112345678").json()["key"]["remoteJid"] == "4915112345678@s.whatsapp.net"
    _send(api, chatId="+49 151 1234")
    chats = {m["chatId"] for m in api.get("/sandbox/messages?session=s").json()["messages"]}
    assert chats == {"4915112345678@c.us", "+49 151 1234@c.us"}


def test_pregenerated_id_honoured_and_duplicates_counted(api):
    api.working("s")
    new_id = api.get("/api/s/new-message-id").json()["id"]
    assert WA_ID.fullmatch(new_id)
    for _ in range(2):
        r = _send(api, chatId="111@c.us", id=new_id)
        assert r.status_code == 201 and r.json()["key"]["id"] == new_id
    listing = api.get("/sandbox/messages?session=s").json()
    assert listing["count"] == 1 and listing["duplicates"] == 1
    (msg,) = listing["messages"]
    assert msg["id"] == f"true_111@c.us_{new_id}" and msg["count"] == 2 and msg["text"] == "hello"


def test_not_working_is_fast_422_without_status_code(api):
    api.create("s", start=False)
    t0 = time.monotonic()
    r = _send(api, chatId="111@c.us")
    assert time.monotonic() - t0 < 1.5
    assert r.status_code == 422
    assert r.json() == {"error": STATUS_ERROR, "session": "s", "status": "STOPPED", "expected": ["WORKING"]}
    api.post("/api/sessions/s/start")
    api.wait_status("s", "SCAN_QR_CODE")
    assert _send(api, chatId="111@c.us").json()["status"] == "SCAN_QR_CODE"


def test_unknown_session_and_engine_failure(api):
    r = _send(api, session="x", chatId="111@c.us")
    assert r.status_code == 422
    assert r.json() == {"error": 'Session "x" does not exist', "session": "x"}
    api.working("s")
    r = api.post("/api/sendText", {"session": "s", "text": "no chat id"})
    assert r.status_code == 500
    body = r.json()
    assert list(body) == ["statusCode", "timestamp", "exception", "request", "version"]
    assert body["request"]["body"] == {"session": "s", "text": "no chat id"}
    assert body["request"]["path"] == "/api/sendText" and body["request"]["method"] == "POST"


def test_check_exists_and_not_on_whatsapp_sticks_at_server(api, receiver):
    hook = {"url": receiver.url("/acks"), "events": ["message.ack"]}
    api.working("s", config={"webhooks": [hook]})
    r = api.get("/api/contacts/check-exists?phone=%2B4915112345678&session=s")
    assert r.json() == {"numberExists": True, "chatId": "4915112345678@c.us"}
    api.post("/sandbox/numbers", {"phones": ["4915100000000"], "exists": False})
    assert api.get("/api/contacts/check-exists?phone=4915100000000&session=s").json() == {"numberExists": False}
    api.post("/sandbox/numbers", {"chatIds": {"5511987654321": "551187654321"}})
    r = api.get("/api/contacts/check-exists?phone=5511987654321&session=s")
    assert r.json() == {"numberExists": True, "chatId": "551187654321@c.us"}

    r = _send(api, chatId="4915100000000@c.us")
    assert r.status_code == 201
    missing_id = f"true_4915100000000@c.us_{r.json()['key']['id']}"
    wait_until(lambda: receiver.events(event="message.ack"), message="SERVER ack")
    _ack_a_later_marker(api, receiver)
    acks = [
        e["json"]["payload"]["ack"]
        for e in receiver.events(event="message.ack")
        if e["json"]["payload"]["id"] == missing_id
    ]
    assert acks == [1]
    (msg,) = api.get("/sandbox/messages?session=s&chatId=4915100000000@c.us").json()["messages"]
    assert msg["ackName"] == "SERVER" and msg["notOnWhatsApp"] is True


def _ack_a_later_marker(api, receiver) -> str:
    """Send a marker to a number on WhatsApp and wait for its READ ack and every delivery to end.

    The sandbox schedules a message's acks on one event loop at fixed delays after its send: the
    marker, sent later, reads last; so any ack an earlier send was going to get has been emitted
    by then, and once no delivery is in flight the receiver holds it.
    """
    marker = _send(api, chatId="4915112345678@c.us").json()["key"]["id"]
    marker_id = f"true_4915112345678@c.us_{marker}"
    wait_until(
        lambda: any(
            e["json"]["payload"]["id"] == marker_id and e["json"]["payload"]["ackName"] == "READ"
            for e in receiver.events(event="message.ack")
        ),
        message="the marker's READ ack",
    )
    api.deliveries_settled()
    return marker_id


def test_check_exists_needs_working(api):
    api.create("s", start=False)
    r = api.get("/api/contacts/check-exists?phone=1&session=s")
    assert r.status_code == 422 and r.json()["expected"] == ["WORKING"]


def test_acks_and_message_any(api, receiver):
    hook = {"url": receiver.url("/h"), "events": ["message.ack", "message.ack.group", "message.any", "message"]}
    me = api.working("s", config={"webhooks": [hook]})
    wa = _send(api, chatId="4915112345678@c.us").json()["key"]["id"]
    acks = receiver.wait_events(3, event="message.ack")
    assert sorted(e["json"]["payload"]["ackName"] for e in acks) == ["DEVICE", "READ", "SERVER"]
    payload = acks[0]["json"]["payload"]
    assert payload["id"] == f"true_4915112345678@c.us_{wa}" and payload["fromMe"] is True
    any_ = receiver.wait_events(1, event="message.any")[0]["json"]["payload"]
    assert any_["source"] == "api" and any_["fromMe"] is True and any_["body"] == "hello"
    assert any_["from"] == me["id"] and any_["to"] == "4915112345678@c.us"
    assert receiver.events(event="message") == []  # `message` is inbound only

    wa = _send(api, chatId="120363000000000001@g.us").json()["key"]["id"]
    group_acks = receiver.wait_events(3, event="message.ack.group")
    p = group_acks[0]["json"]["payload"]
    assert p["id"] == f"true_120363000000000001@g.us_{wa}_{me['id']}" and p["participant"] == me["id"]


def test_auto_acks_can_be_disabled(api, receiver):
    api.post("/sandbox/config", {"auto_ack": False})
    api.working("s", config={"webhooks": [{"url": receiver.url("/h"), "events": ["*"]}]})
    quiet = _send(api, chatId="111@c.us").json()["key"]["id"]
    receiver.wait_events(1, event="message.any")
    api.post("/sandbox/config", {"auto_ack": True})  # for the marker: a send's acks are scheduled when it is sent
    marker_id = _ack_a_later_marker(api, receiver)
    acked = {e["json"]["payload"]["id"] for e in receiver.events(event="message.ack")}
    assert acked == {marker_id}, f"true_111@c.us_{quiet} was acked"


def test_media_and_other_endpoints(api):
    api.working("s")
    data = base64.b64encode(b"\xff\xd8\xff\xe0 fake jpeg").decode()
    file = {"mimetype": "image/jpeg", "filename": "a.jpg", "data": data}
    for path, extra in (
        ("/api/sendImage", {"caption": "pic"}),
        ("/api/sendFile", {}),
        ("/api/sendVoice", {"convert": False}),
        ("/api/sendVideo", {"convert": False}),
    ):
        r = api.post(path, {"session": "s", "chatId": "111@c.us", "file": file, **extra})
        assert r.status_code == 201, (path, r.text)
    r = api.post("/api/sendImage", {"session": "s", "chatId": "111@c.us"})
    assert r.status_code == 500  # no file: the engine fails, no validation pipe
    r = api.post(
        "/api/sendLocation",
        {"session": "s", "chatId": "111@c.us", "latitude": 1.5, "longitude": 2.5, "title": "Office"},
    )
    assert r.status_code == 201 and r.json()["message"]["locationMessage"]["degreesLatitude"] == 1.5
    assert api.post("/api/sendSeen", {"session": "s", "chatId": "111@c.us"}).status_code == 201
    for path in ("/api/startTyping", "/api/stopTyping"):
        r = api.post(path, {"session": "s", "chatId": "111@c.us"})
        assert r.status_code == 201 and r.json() == {"result": True}
    assert api.put("/api/reaction", {"session": "s", "messageId": "x", "reaction": "👍"}).status_code == 200
    assert (
        api.put("/api/star", {"session": "s", "messageId": "x", "chatId": "111@c.us", "star": True}).status_code == 200
    )
    kinds = [m["type"] for m in api.get("/sandbox/messages?session=s").json()["messages"]]
    assert kinds == ["image", "file", "voice", "video", "location"]


def test_base64_data_files_are_recorded_and_served_byte_for_byte(api):
    api.working("s")
    raw = b"%PDF-1.7\n" + bytes(range(256)) * 40
    file = {"mimetype": "application/pdf", "filename": "invoice.pdf", "data": base64.b64encode(raw).decode()}
    assert api.post("/api/sendFile", {"session": "s", "chatId": "111@c.us", "file": file}).status_code == 201
    url_file = {"mimetype": "image/jpeg", "url": "https://cdn.example.com/a.jpg"}
    assert api.post("/api/sendImage", {"session": "s", "chatId": "222@c.us", "file": url_file}).status_code == 201
    by_chat = {m["chatId"]: m for m in api.get("/sandbox/messages?session=s").json()["messages"]}
    sent = by_chat["111@c.us"]
    assert sent["file"] == {"mimetype": "application/pdf", "filename": "invoice.pdf", "url": None, "size": len(raw)}
    assert sent["mediaUrl"].endswith(f"/api/files/s/{sent['waId']}.pdf")
    assert api.get(sent["mediaUrl"][sent["mediaUrl"].index("/api/files/") :]).content == raw
    assert by_chat["222@c.us"]["mediaUrl"] is None and by_chat["222@c.us"]["file"]["url"] == url_file["url"]


def test_body_over_50mb_is_413(api):
    api.working("s")
    big = b'{"session":"s","chatId":"1@c.us","text":"' + b"a" * (50 * 1024 * 1024) + b'"}'
    try:
        r = requests.post(
            api.url("/api/sendText"),
            data=big,
            timeout=20,
            headers={"X-Api-Key": api.handle.api_key, "Content-Type": "application/json"},
        )
    except requests.ConnectionError:
        # The server may answer 413 and close while the client is still uploading;
        # either way the body must have been refused.
        status = 413
    else:
        status = r.status_code
    assert status == 413
    assert api.get("/sandbox/messages?session=s").json()["count"] == 0


def test_message_get_finds_sent_messages_by_id():
    from waha_sandbox.testing import run_sandbox

    with run_sandbox(api_key="k-0123456789") as sb:
        import requests

        headers = {"X-Api-Key": "k-0123456789"}
        store = {"noweb": {"store": {"enabled": True, "fullSync": False}}}
        requests.post(
            sb.url("/api/sessions"), json={"name": "s1", "start": True, "config": store}, headers=headers, timeout=5
        )
        sb.control("/sandbox/sessions/s1/pair", {})
        sent = requests.post(
            sb.url("/api/sendText"),
            json={"session": "s1", "chatId": "4915100000001", "text": "hi", "id": "3EB0LOOKUP01"},
            headers=headers,
            timeout=5,
        )
        assert sent.status_code == 201
        serialized = "true_4915100000001@c.us_3EB0LOOKUP01"
        found = requests.get(
            sb.url(f"/api/s1/chats/4915100000001@c.us/messages/{serialized}"), headers=headers, timeout=5
        )
        assert found.status_code == 200 and found.json()["id"].endswith("3EB0LOOKUP01")
        missing = requests.get(
            sb.url("/api/s1/chats/4915100000001@c.us/messages/3EB0NEVERSENT"), headers=headers, timeout=5
        )
        assert missing.status_code == 404


NOWEB_STORE_DISABLED = (
    'Enable NOWEB store "config.noweb.store.enabled=True" and "config.noweb.store.full_sync=True" '
    "when starting a new session. Read more: https://waha.devlike.pro/docs/engines/noweb#store"
)
NOWEB_STORE = {"noweb": {"store": {"enabled": True, "fullSync": False}}}


def _lookup(api, session: str, wa: str):
    return api.get(f"/api/{session}/chats/4915100000001@c.us/messages/true_4915100000001@c.us_{wa}")


def test_noweb_lookup_without_the_store_is_wahas_400(api):
    api.working("s")
    assert _send(api, chatId="4915100000001", id="3EB0NOSTORE1").status_code == 201
    r = _lookup(api, "s", "3EB0NOSTORE1")
    assert r.status_code == 400
    # NestJS BadRequestException, keys in this order, compact like JSON.stringify.
    assert r.content == (
        b'{"message":' + json.dumps(NOWEB_STORE_DISABLED).encode() + b',"error":"Bad Request","statusCode":400}'
    )


def test_noweb_lookup_with_the_store_finds_what_was_sent_while_it_was_on(api):
    api.working("s", config=NOWEB_STORE)
    assert _send(api, chatId="4915100000001", id="3EB0STORED01").status_code == 201
    found = _lookup(api, "s", "3EB0STORED01")
    assert found.status_code == 200 and found.json()["id"] == "true_4915100000001@c.us_3EB0STORED01"
    assert _lookup(api, "s", "3EB0NEVERSENT").status_code == 404


def test_enabling_the_store_later_does_not_recover_earlier_sends(api):
    api.working("s")
    _send(api, chatId="4915100000001", id="3EB0BEFORE01")
    assert api.put("/api/sessions/s", {"config": NOWEB_STORE}).status_code == 200
    api.wait_status("s", "WORKING")  # PUT restarts the session; the pairing survives
    assert _lookup(api, "s", "3EB0BEFORE01").status_code == 404
    _send(api, chatId="4915100000001", id="3EB0BEFORE01")  # the same id again, now with the store on
    assert _lookup(api, "s", "3EB0BEFORE01").status_code == 200


@pytest.mark.parametrize("engine", ["GOWS", "WEBJS"])
def test_other_engines_look_messages_up_without_any_store_config(api, engine):
    api.post("/sandbox/config", {"engine": engine})
    api.working("s")
    body = _send(api, chatId="4915100000001").json()
    serialized = body["id"] if engine == "GOWS" else body["id"]["_serialized"]
    r = api.get(f"/api/s/chats/4915100000001@c.us/messages/{serialized}")
    assert r.status_code == 200 and r.json()["id"] == serialized
