"""Unit tests of the WAHA HTTP client: sessions, QR, sending, auth header, pooling.

WAHA's answers are faked with ``responses`` using the bodies docs/WAHA.md documents; no
Django and no database are involved.
"""

from __future__ import annotations

import json

import pytest
import requests
import responses
from responses import matchers

from sessions_waha.waha import (
    InvalidChatId,
    InvalidSessionName,
    NumberCheck,
    SentMessage,
    WahaAlreadyExists,
    WahaClient,
    WahaInvalidResponse,
    WahaNotFound,
    WahaRejected,
    WahaSessionNotReady,
    clear_client_cache,
    client_for,
)
from tests.sessions_waha.waha_fakes import API_KEY, BASE, nest_error

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def sent_json(call) -> dict:
    return json.loads(call.request.body)


# --- auth header, timeouts, pooling (WAHA.md §1, §9.1, §9.2) -------------------------


def test_api_key_travels_as_header_never_in_query(waha, client):
    waha.get(
        f"{BASE}/api/contacts/check-exists",
        json={"numberExists": False},
        match=[matchers.header_matcher({"X-Api-Key": API_KEY})],
    )
    client.check_exists(session="default", phone="+1 213 213 2131")
    url = waha.calls[0].request.url
    assert "api-key" not in url.lower() and API_KEY not in url


def test_ping_sends_the_key_too(waha, client):
    waha.get(
        f"{BASE}/ping",
        json={"message": "pong"},
        match=[matchers.header_matcher({"X-Api-Key": API_KEY})],
    )
    assert client.ping() is True


def test_default_timeouts_exceed_wahas_fifteen_second_wait(waha, client):
    waha.post(f"{BASE}/api/sendText", status=201, json={"id": "true_1@c.us_X"})
    client.send_text(session="default", chat_id="12132132131", text="hi")
    connect, read = waha.calls[0].request.req_kwargs["timeout"]
    assert read > 15 and connect == pytest.approx(3.05)


def test_per_call_timeout_overrides_the_read_timeout(waha, client):
    waha.get(f"{BASE}/api/server/version", json={"version": "2026.2.1"})
    client.server_version(timeout=2.5)
    assert waha.calls[0].request.req_kwargs["timeout"] == (3.05, 2.5)


def test_constructor_timeouts_are_passed_to_requests(waha):
    waha.get(f"{BASE}/ping", json={"message": "pong"})
    WahaClient(BASE, API_KEY, connect_timeout=1.5, read_timeout=30).ping()
    assert waha.calls[0].request.req_kwargs["timeout"] == (1.5, 30)


def test_redirects_are_not_followed(waha, client):
    # requests keeps custom headers across hosts on redirect, which would leak X-Api-Key.
    waha.get(f"{BASE}/api/server/version", status=302, headers={"Location": "http://evil.test/"})
    with pytest.raises(WahaRejected) as caught:
        client.server_version()
    assert caught.value.status_code == 302 and len(waha.calls) == 1


def test_client_for_returns_one_client_per_server_and_key():
    clear_client_cache()
    try:
        first = client_for(BASE + "/", API_KEY)
        assert client_for(BASE, API_KEY) is first
        assert client_for(BASE, "another-key-0000000000000000") is not first
    finally:
        clear_client_cache()


def test_client_for_shares_the_pooled_session_across_timeouts():
    clear_client_cache()
    try:
        default = client_for(BASE, API_KEY)
        slow = client_for(BASE, API_KEY, read_timeout=60)
        assert slow is not default and slow._http is default._http
    finally:
        clear_client_cache()


def test_connection_pool_is_sized_and_never_retries():
    adapter = WahaClient(BASE, API_KEY)._http.get_adapter(BASE)
    assert (adapter._pool_connections, adapter._pool_maxsize) == (32, 32)
    assert adapter.max_retries.total == 0 and adapter.max_retries.read is False


def test_pooled_session_is_reused_between_calls(waha):
    clear_client_cache()
    try:
        waha.get(f"{BASE}/ping", json={"message": "pong"})
        waha.get(f"{BASE}/ping", json={"message": "pong"})
        seen = []
        original = requests.Session.request

        def spy(self, *args, **kwargs):
            seen.append(self)
            return original(self, *args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(requests.Session, "request", spy)
            client_for(BASE, API_KEY).ping()
            client_for(BASE, API_KEY).ping()
        assert seen[0] is seen[1]
    finally:
        clear_client_cache()


def test_repr_hides_the_key():
    client = WahaClient(BASE, API_KEY)
    assert API_KEY not in repr(client) and API_KEY not in repr(vars(client))


@pytest.mark.parametrize("base_url", ["waha:3000", "ftp://waha", "http://", "http://w/?a=1"])
def test_bad_base_url_is_refused(base_url):
    with pytest.raises(ValueError, match="base_url"):
        WahaClient(base_url, API_KEY)


def test_empty_api_key_is_refused():
    # WAHA would replace an empty key with a random one at each start (WAHA.md §1).
    with pytest.raises(ValueError, match="api_key"):
        WahaClient(BASE, "")


# --- health (WAHA.md §7) --------------------------------------------------------------


def test_server_version(waha, client):
    body = {
        "version": "2026.2.1",
        "engine": "NOWEB",
        "tier": "CORE",
        "browser": None,
        "platform": "linux/x64",
        "worker": {"id": None},
    }
    waha.get(f"{BASE}/api/server/version", json=body)
    assert client.server_version() == body


# --- sessions (WAHA.md §2) ------------------------------------------------------------


def test_session_create_sends_start_true_explicitly(waha, client):
    config = {"webhooks": [{"url": "http://127.0.0.1:8000/webhooks/waha", "events": ["message"]}]}
    waha.post(
        f"{BASE}/api/sessions",
        status=201,
        json={"name": "t1_main", "status": "STARTING", "config": config},
        match=[matchers.json_params_matcher({"name": "t1_main", "start": True, "config": config})],
    )
    info = client.session_create(name="t1_main", config=config)
    assert info["status"] == "STARTING"


def test_session_create_without_start_says_false(waha, client):
    waha.post(f"{BASE}/api/sessions", status=201, json={"name": "t1", "status": "STOPPED"})
    client.session_create(name="t1", config={}, start=False)
    assert sent_json(waha.calls[0])["start"] is False


def test_session_create_duplicate_raises_already_exists(waha, client):
    waha.post(
        f"{BASE}/api/sessions",
        status=422,
        json=nest_error(422, "Session 'default' already exists. Use PUT to update it."),
    )
    with pytest.raises(WahaAlreadyExists) as caught:
        client.session_create(name="default", config={})
    assert caught.value.status_code == 422 and not caught.value.transient


@pytest.mark.parametrize("name", ["", "bad name", "x" * 55, "../etc", "a/b", "ünï"])
def test_invalid_session_names_never_reach_waha(client, name):
    with pytest.raises(InvalidSessionName):
        client.session_create(name=name, config={})


def test_session_name_of_54_characters_is_allowed(waha, client):
    name = "a" * 54
    waha.get(f"{BASE}/api/sessions/{name}", json={"name": name, "status": "WORKING"})
    assert client.session_get(name=name)["name"] == name


def test_sessions_list_asks_for_all(waha, client):
    waha.get(
        f"{BASE}/api/sessions",
        json=[{"name": "default", "status": "STOPPED"}],
        match=[matchers.query_param_matcher({"all": "true"})],
    )
    assert client.sessions_list() == [{"name": "default", "status": "STOPPED"}]


def test_sessions_list_without_all(waha, client):
    waha.get(f"{BASE}/api/sessions", json=[], match=[matchers.query_param_matcher({"all": "false"})])
    assert client.sessions_list(all=False) == []


def test_session_get_unknown_raises_not_found(waha, client):
    waha.get(
        f"{BASE}/api/sessions/nope",
        status=404,
        json=nest_error(404, "Session not found"),
    )
    with pytest.raises(WahaNotFound) as caught:
        client.session_get(name="nope")
    assert caught.value.reason == "Session not found"


def test_session_update_puts_the_full_config(waha, client):
    config = {"metadata": {"tenant.id": "t1"}, "webhooks": []}
    waha.put(
        f"{BASE}/api/sessions/t1",
        json={"name": "t1", "config": config},
        match=[matchers.json_params_matcher({"config": config})],
    )
    assert client.session_update(name="t1", config=config)["config"] == config


def test_session_delete_returns_none_on_empty_200(waha, client):
    waha.delete(f"{BASE}/api/sessions/t1", status=200, body="")
    assert client.session_delete(name="t1") is None


def test_session_delete_of_unknown_session_is_success(waha, client):
    waha.delete(
        f"{BASE}/api/sessions/gone",
        status=404,
        json=nest_error(404, "Session not found"),
    )
    assert client.session_delete(name="gone") is None


def test_session_start_returns_session_info(waha, client):
    waha.post(f"{BASE}/api/sessions/t1/start", status=201, json={"name": "t1", "status": "STARTING"})
    assert client.session_start(name="t1")["status"] == "STARTING"


def test_session_start_already_started_is_success(waha, client):
    waha.post(
        f"{BASE}/api/sessions/default/start",
        status=422,
        json=nest_error(422, "Session 'default' is already started."),
    )
    assert client.session_start(name="default") is None


def test_session_start_other_422_still_raises(waha, client):
    waha.post(
        f"{BASE}/api/sessions/other/start",
        status=422,
        json=nest_error(422, "WAHA Core support only 'default' session. You tried to access 'other'"),
    )
    with pytest.raises(WahaRejected) as caught:
        client.session_start(name="other")
    assert caught.value.status_code == 422


@pytest.mark.parametrize(
    ("method_name", "action"),
    [("session_stop", "stop"), ("session_logout", "logout"), ("session_restart", "restart")],
)
def test_session_lifecycle_posts(waha, client, method_name, action):
    waha.post(f"{BASE}/api/sessions/t1/{action}", status=201, json={"name": "t1"})
    assert getattr(client, method_name)(name="t1") == {"name": "t1"}


def test_session_logout_tolerates_empty_body(waha, client):
    waha.post(f"{BASE}/api/sessions/t1/logout", status=201, body="")
    assert client.session_logout(name="t1") is None


def test_session_me_returns_account(waha, client):
    me = {"id": "11111111111@c.us", "pushName": "Acme", "lid": "1@lid"}
    waha.get(f"{BASE}/api/sessions/t1/me", json=me)
    assert client.session_me(name="t1") == me


def test_session_me_null_when_unpaired(waha, client):
    waha.get(f"{BASE}/api/sessions/t1/me", body="null", content_type="application/json")
    assert client.session_me(name="t1") is None


def test_session_me_none_when_stopped(waha, client):
    waha.get(
        f"{BASE}/api/sessions/default/me",
        status=404,
        json=nest_error(404, "We didn't find a session with name 'default'.\nPlease start it first"),
    )
    assert client.session_me(name="default") is None


# --- QR and pairing (WAHA.md §3) ------------------------------------------------------


def test_qr_png_returns_bytes(waha, client):
    waha.get(
        f"{BASE}/api/default/auth/qr",
        body=PNG,
        content_type="image/png",
        match=[matchers.query_param_matcher({"format": "image"})],
    )
    assert client.qr_png(name="default") == PNG


def test_qr_png_rejects_non_png(waha, client):
    waha.get(f"{BASE}/api/default/auth/qr", json={"mimetype": "image/png", "data": "AAA"})
    with pytest.raises(WahaInvalidResponse):
        client.qr_png(name="default")


def test_qr_base64_asks_for_exactly_application_json(waha, client):
    waha.get(
        f"{BASE}/api/default/auth/qr",
        json={"mimetype": "image/png", "data": "iVBORw0KGgo="},
        match=[
            matchers.query_param_matcher({"format": "image"}),
            matchers.header_matcher({"Accept": "application/json"}),
        ],
    )
    assert client.qr_base64(name="default") == {"mimetype": "image/png", "data": "iVBORw0KGgo="}


def test_qr_raw_returns_value(waha, client):
    waha.get(
        f"{BASE}/api/default/auth/qr",
        json={"value": "2@abc,def,ghi"},
        match=[matchers.query_param_matcher({"format": "raw"})],
    )
    assert client.qr_raw(name="default") == "2@abc,def,ghi"


def test_qr_when_already_working_raises_not_ready(waha, client):
    waha.get(
        f"{BASE}/api/default/auth/qr",
        status=422,
        json={
            "error": "Session status is not as expected. Try again later or restart the session",
            "session": "default",
            "status": "WORKING",
            "expected": ["SCAN_QR_CODE"],
        },
    )
    with pytest.raises(WahaSessionNotReady) as caught:
        client.qr_png(name="default")
    assert (caught.value.status, caught.value.expected) == ("WORKING", ["SCAN_QR_CODE"])


def test_request_code_sends_digits_without_plus(waha, client):
    waha.post(
        f"{BASE}/api/default/auth/request-code",
        status=201,
        json={"code": "ABCD-ABCD"},
        match=[matchers.json_params_matcher({"phoneNumber": "12132132130"})],
    )
    assert client.request_code(name="default", phone_number="+1 213-213-2130") == "ABCD-ABCD"


# --- sending (WAHA.md §4) -------------------------------------------------------------

NOWEB_SEND = {
    "key": {"remoteJid": "111111111@s.whatsapp.net", "fromMe": True, "id": "3EB08A68AAAA"},
    "message": {"extendedTextMessage": {"text": "hi"}},
    "messageTimestamp": "1738070128",
    "status": "PENDING",
}
GOWS_SEND = {"id": "true_111111111@c.us_3EB0GOWS", "_data": {"Info": {}}}
WEBJS_SEND = {
    "id": {
        "fromMe": True,
        "remote": "111111111@c.us",
        "id": "3EB0WEBJS",
        "_serialized": "true_111111111@c.us_3EB0WEBJS",
    },
    "ack": 0,
    "body": "hi",
    "_data": {},
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            NOWEB_SEND,
            SentMessage(
                "true_111111111@c.us_3EB08A68AAAA",
                "3EB08A68AAAA",
                "PENDING",
                "true_111111111@c.us_3EB08A68AAAA",
            ),
        ),
        (
            GOWS_SEND,
            SentMessage("true_111111111@c.us_3EB0GOWS", "3EB0GOWS", None, "true_111111111@c.us_3EB0GOWS"),
        ),
        (
            WEBJS_SEND,
            SentMessage("true_111111111@c.us_3EB0WEBJS", "3EB0WEBJS", 0, "true_111111111@c.us_3EB0WEBJS"),
        ),
    ],
    ids=["noweb", "gows", "webjs"],
)
def test_send_text_normalises_engine_responses(waha, client, body, expected):
    waha.post(f"{BASE}/api/sendText", status=201, json=body)
    assert client.send_text(session="default", chat_id="111111111", text="hi") == expected


def test_send_text_tolerates_empty_body(waha, client):
    waha.post(f"{BASE}/api/sendText", status=201, body="")
    assert client.send_text(session="default", chat_id="111111111", text="hi") == SentMessage(None, None, None, None)


def test_send_text_tolerates_non_json_body(waha, client):
    waha.post(f"{BASE}/api/sendText", status=201, body="OK", content_type="text/plain")
    assert client.send_text(session="default", chat_id="111111111", text="hi").message_id is None


def test_send_text_with_pregenerated_id_returns_it(waha, client):
    waha.post(
        f"{BASE}/api/sendText",
        status=201,
        json={**NOWEB_SEND, "key": {**NOWEB_SEND["key"], "id": "BBBBBBBBBBBBBBBBB"}},
        match=[matchers.json_params_matcher({"id": "BBBBBBBBBBBBBBBBB"}, strict_match=False)],
    )
    sent = client.send_text(session="default", chat_id="111111111", text="hi", message_id="BBBBBBBBBBBBBBBBB")
    assert (sent.message_id, sent.wa_id) == ("BBBBBBBBBBBBBBBBB", "BBBBBBBBBBBBBBBBB")


def test_send_text_with_pregenerated_id_and_empty_body(waha, client):
    waha.post(f"{BASE}/api/sendText", status=201, body="")
    sent = client.send_text(session="default", chat_id="111111111", text="hi", message_id="BBBB")
    assert sent.message_id == "BBBB"


def test_send_text_body_is_normalised(waha, client):
    waha.post(
        f"{BASE}/api/sendText",
        status=201,
        json=GOWS_SEND,
        match=[
            matchers.json_params_matcher(
                {
                    "session": "default",
                    "chatId": "12132132131@c.us",
                    "text": "hello",
                    "linkPreview": False,
                    "reply_to": "false_12132132131@c.us_AAAA",
                }
            )
        ],
    )
    client.send_text(
        session="default",
        chat_id="+1 (213) 213-2131",
        text="hello",
        link_preview=False,
        reply_to="false_12132132131@c.us_AAAA",
    )


def test_send_to_invalid_number_makes_no_request(waha, client):
    with pytest.raises(InvalidChatId):
        client.send_text(session="default", chat_id="not a number", text="hi")
    assert len(waha.calls) == 0


@pytest.mark.parametrize(
    ("method_name", "path"),
    [("send_image", "sendImage"), ("send_file", "sendFile")],
)
def test_send_image_and_file(waha, client, method_name, path):
    file = {"mimetype": "image/jpeg", "filename": "x.jpg", "url": "https://cdn.test/x.jpg"}
    waha.post(
        f"{BASE}/api/{path}",
        status=201,
        json=GOWS_SEND,
        match=[
            matchers.json_params_matcher(
                {
                    "session": "default",
                    "chatId": "111111111@c.us",
                    "file": file,
                    "caption": "look",
                    "id": "PREGEN",
                }
            )
        ],
    )
    sent = getattr(client, method_name)(
        session="default", chat_id="111111111@c.us", file=file, caption="look", message_id="PREGEN"
    )
    # The engine's waId differs from ours, so the engine ignored it: its id wins.
    assert sent.message_id == "true_111111111@c.us_3EB0GOWS"


def test_send_video_sends_convert_and_note_flags(waha, client):
    file = {"mimetype": "video/mp4", "data": "AAAA"}
    waha.post(
        f"{BASE}/api/sendVideo",
        status=201,
        json=WEBJS_SEND,
        match=[matchers.json_params_matcher({"file": file, "asNote": True, "convert": False}, strict_match=False)],
    )
    sent = client.send_video(session="default", chat_id="111111111", file=file, as_note=True)
    assert sent.wa_id == "3EB0WEBJS"


def test_send_voice_converts_by_default(waha, client):
    file = {"mimetype": "audio/ogg; codecs=opus", "url": "https://cdn.test/v.ogg"}
    waha.post(
        f"{BASE}/api/sendVoice",
        status=201,
        json=NOWEB_SEND,
        match=[matchers.json_params_matcher({"file": file, "convert": True}, strict_match=False)],
    )
    client.send_voice(session="default", chat_id="111111111", file=file)


@pytest.mark.parametrize(
    "file",
    [
        {"url": "https://cdn.test/x.jpg"},
        {"mimetype": "image/jpeg"},
        {"mimetype": "image/jpeg", "url": "https://cdn.test/x.jpg", "data": "AAAA"},
    ],
)
def test_malformed_file_is_refused_before_sending(waha, client, file):
    # Sends have no validation pipe in WAHA: a bad body becomes an engine 500 (WAHA.md §4).
    with pytest.raises(ValueError, match="file needs"):
        client.send_image(session="default", chat_id="111111111", file=file)


def test_send_location(waha, client):
    waha.post(
        f"{BASE}/api/sendLocation",
        status=201,
        json=GOWS_SEND,
        match=[
            matchers.json_params_matcher(
                {
                    "session": "default",
                    "chatId": "111111111@c.us",
                    "latitude": 38.8937255,
                    "longitude": -77.0969763,
                    "title": "Our office",
                }
            )
        ],
    )
    sent = client.send_location(
        session="default",
        chat_id="111111111",
        latitude=38.8937255,
        longitude=-77.0969763,
        title="Our office",
    )
    assert sent.wa_id == "3EB0GOWS"


def test_send_seen_with_ids(waha, client):
    waha.post(
        f"{BASE}/api/sendSeen",
        status=201,
        json={},
        match=[
            matchers.json_params_matcher(
                {
                    "session": "default",
                    "chatId": "111111111@c.us",
                    "messageIds": ["false_111111111@c.us_AAAA"],
                }
            )
        ],
    )
    assert client.send_seen(session="default", chat_id="111111111", message_ids=["false_111111111@c.us_AAAA"]) is None


def test_send_seen_without_ids_omits_them(waha, client):
    waha.post(f"{BASE}/api/sendSeen", status=201, body="")
    client.send_seen(session="default", chat_id="120363012345678901@g.us")
    assert sent_json(waha.calls[0]) == {"session": "default", "chatId": "120363012345678901@g.us"}


@pytest.mark.parametrize(("method_name", "path"), [("start_typing", "startTyping"), ("stop_typing", "stopTyping")])
def test_typing(waha, client, method_name, path):
    waha.post(
        f"{BASE}/api/{path}",
        status=201,
        json={"result": True},
        match=[matchers.json_params_matcher({"session": "default", "chatId": "1234@lid"})],
    )
    assert getattr(client, method_name)(session="default", chat_id="1234@lid") is None


def test_new_message_id(waha, client):
    waha.get(f"{BASE}/api/default/new-message-id", json={"id": "BBBBBBBBBBBBBBBBB"})
    assert client.new_message_id(session="default") == "BBBBBBBBBBBBBBBBB"


def test_new_message_id_without_id_is_invalid(waha, client):
    waha.get(f"{BASE}/api/default/new-message-id", json={})
    with pytest.raises(WahaInvalidResponse):
        client.new_message_id(session="default")


def test_supports_pregenerated_ids_follows_engine():
    assert WahaClient(BASE, API_KEY, engine="noweb").supports_pregenerated_ids
    assert not WahaClient(BASE, API_KEY, engine="WEBJS").supports_pregenerated_ids


# --- check-exists (WAHA.md §4, §9.6) --------------------------------------------------


def test_check_exists_true_returns_wahas_chat_id(waha, client):
    # Brazil's 9th digit: WAHA's chatId differs from the typed number (issue #238).
    waha.get(
        f"{BASE}/api/contacts/check-exists",
        json={"numberExists": True, "chatId": "551187654321@c.us"},
        match=[matchers.query_param_matcher({"phone": "5511987654321", "session": "default"})],
    )
    assert client.check_exists(session="default", phone="+55 11 98765-4321") == NumberCheck(True, "551187654321@c.us")


def test_check_exists_false(waha, client):
    waha.get(f"{BASE}/api/contacts/check-exists", json={"numberExists": False})
    assert client.check_exists(session="default", phone="12132132131") == NumberCheck(False, None)


def test_check_exists_accepts_chat_id_input(waha, client):
    waha.get(
        f"{BASE}/api/contacts/check-exists",
        json={"numberExists": True, "chatId": "12132132131@s.whatsapp.net"},
        match=[matchers.query_param_matcher({"phone": "12132132131", "session": "default"})],
    )
    assert client.check_exists(session="default", phone="12132132131@c.us").chat_id == ("12132132131@c.us")


def test_check_exists_rejects_group_ids(client):
    with pytest.raises(InvalidChatId):
        client.check_exists(session="default", phone="120363012345678901@g.us")


def test_check_exists_needs_number_exists(waha, client):
    waha.get(f"{BASE}/api/contacts/check-exists", json={"chatId": "1@c.us"})
    with pytest.raises(WahaInvalidResponse):
        client.check_exists(session="default", phone="12132132131")


@responses.activate
def test_message_get_finds_a_message_or_returns_none():
    base = "http://waha.test:3000"
    found_url = f"{base}/api/s1/chats/491511234567@c.us/messages/true_491511234567@c.us_3EB0AA"
    responses.get(found_url, json={"id": "true_491511234567@c.us_3EB0AA", "ack": 1})
    responses.get(
        f"{base}/api/s1/chats/491511234567@c.us/messages/true_491511234567@c.us_3EB0BB",
        status=404,
        json={"message": "Message not found", "statusCode": 404},
    )
    client = WahaClient(base, "key-0123456789")
    assert (
        client.message_get(session="s1", chat_id="+49 151 1234567", message_id="true_491511234567@c.us_3EB0AA")["ack"]
        == 1
    )
    assert client.message_get(session="s1", chat_id="491511234567", message_id="true_491511234567@c.us_3EB0BB") is None


# NOWEB without config.noweb.store.enabled (NowebInMemoryStore.getMessageById throws a
# NestJS BadRequestException with this text).
NOWEB_STORE_DISABLED = nest_error(
    400,
    'Enable NOWEB store "config.noweb.store.enabled=True" and "config.noweb.store.full_sync=True" '
    "when starting a new session. Read more: https://waha.devlike.pro/docs/engines/noweb#store",
)


def test_message_get_without_the_noweb_store_raises_lookup_unavailable(waha, client):
    from sessions_waha.waha import WahaLookupUnavailable

    waha.get(
        f"{BASE}/api/s1/chats/491511234567@c.us/messages/true_491511234567@c.us_3EB0AA",
        status=400,
        json=NOWEB_STORE_DISABLED,
    )
    with pytest.raises(WahaLookupUnavailable) as caught:
        client.message_get(session="s1", chat_id="491511234567", message_id="true_491511234567@c.us_3EB0AA")
    error = caught.value
    assert error.store_disabled and error.status_code == 400 and not error.transient
    assert "Enable NOWEB store" in error.reason and isinstance(error, WahaRejected)


def test_message_get_on_an_engine_without_lookups_raises_lookup_unavailable(waha, client):
    from sessions_waha.waha import WahaLookupUnavailable

    waha.get(
        f"{BASE}/api/s1/chats/491511234567@c.us/messages/3EB0AA",
        status=501,
        json=nest_error(501, "Not implemented by the engine"),
    )
    with pytest.raises(WahaLookupUnavailable) as caught:
        client.message_get(session="s1", chat_id="491511234567", message_id="3EB0AA")
    assert not caught.value.store_disabled


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, {"message": "Unauthorized", "statusCode": 401}, "WahaUnauthorized"),
        (500, {"statusCode": 500, "exception": {"message": "boom"}}, "WahaRejected"),
        (
            422,
            {
                "error": "Session status is not as expected. Try again later or restart the session",
                "session": "s1",
                "status": "STOPPED",
                "expected": ["WORKING"],
            },
            "WahaSessionNotReady",
        ),
    ],
)
def test_message_get_keeps_other_failures_as_they_were(waha, client, status, body, expected):
    waha.get(f"{BASE}/api/s1/chats/491511234567@c.us/messages/3EB0AA", status=status, json=body)
    with pytest.raises(WahaRejected) as caught:
        client.message_get(session="s1", chat_id="491511234567", message_id="3EB0AA")
    assert type(caught.value).__name__ == expected
