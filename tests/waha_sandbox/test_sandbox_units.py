"""In-process unit tests for config parsing and id helpers (no server needed)."""

from __future__ import annotations

import hashlib
import re

import pytest

from waha_sandbox.config import ApiKey, ConfigError, load_settings
from waha_sandbox.ids import build_message_id, ensure_suffix, split_message_id, ulid, uniqid, wa_id


def test_settings_defaults_and_overrides():
    s = load_settings({})
    assert (s.host, s.port, s.base_url) == ("127.0.0.1", 3001, "http://127.0.0.1:3001")
    assert s.api_key == "sandbox-dev-key-change-me" and s.engine == "NOWEB"
    assert s.autopair_seconds == 5.0 and s.files_lifetime == 180.0 and s.global_hook is None
    s = load_settings({"WAHA_BASE_URL": "http://waha:3000", "WAHA_SANDBOX_ENGINE": "gows",
                       "WAHA_SANDBOX_AUTOPAIR_SECONDS": ""}, {"port": 4000, "engine": "WEBJS"})
    assert s.port == 4000 and s.base_url == "http://waha:3000" and s.engine == "WEBJS"
    assert s.autopair_seconds == 0.0  # set but empty: never auto-pair


def test_global_hook_parsing():
    s = load_settings({"WHATSAPP_HOOK_URL": "http://127.0.0.1:9/h", "WHATSAPP_HOOK_EVENTS": "message, session.status",
                       "WHATSAPP_HOOK_CUSTOM_HEADERS": "A:1;B:2", "WHATSAPP_HOOK_RETRIES_ATTEMPTS": "3"})
    hook = s.global_hook
    assert hook.events == ["message", "session.status"] and hook.headers == [("A", "1"), ("B", "2")]
    assert hook.attempts == 3 and hook.policy == "constant" and hook.delay_seconds == 2.0
    with pytest.raises(ConfigError, match="Invalid global webhook config"):
        load_settings({"WHATSAPP_HOOK_URL": "http://x/h", "WHATSAPP_HOOK_EVENTS": "*",
                       "WHATSAPP_HOOK_CUSTOM_HEADERS": "A:1:2"})
    assert load_settings({"WHATSAPP_HOOK_URL": "http://x/h"}).global_hook is None  # both are required


def test_api_key_forms():
    assert ApiKey("k1").check("k1") and not ApiKey("k1").check("k2") and not ApiKey("k1").check(None)
    hashed = ApiKey("sha512:" + hashlib.sha512(b"k1").hexdigest().upper())
    assert hashed.check("k1") and not hashed.check("k2")
    assert ApiKey(None).check(None)


def test_ids():
    assert re.fullmatch(r"[0-9a-hjkmnp-tv-z]{26}", ulid())
    assert ulid(0).startswith("0000000000") and ulid((1 << 48) - 1).startswith("7zzzzzzzzz")
    assert re.fullmatch(r"3EB0[0-9A-F]{18}", wa_id())
    assert re.fullmatch(r"[0-9a-z]{1,15}", uniqid()) and uniqid() != uniqid()
    assert ensure_suffix("123") == "123@c.us" and ensure_suffix("1@g.us") == "1@g.us"
    assert build_message_id(True, "1@g.us", "AB", "2@c.us") == "true_1@g.us_AB_2@c.us"
    assert split_message_id("false_1@c.us_AB") == (False, "1@c.us", "AB", None)
    assert split_message_id("AB") == (None, None, "AB", None)
