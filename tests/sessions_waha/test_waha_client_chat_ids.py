"""Phone number / chat id normalisation and message id helpers (WAHA.md §4, §9.5, §9.7)."""

from __future__ import annotations

import pytest

from sessions_waha.waha import (
    InvalidChatId,
    extract_message_id,
    normalize_chat_id,
    normalize_send_response,
    phone_digits,
    wa_id_of,
)

VALID = [
    ("+1 213 213 2131", "12132132131@c.us"),
    ("+1 (213) 213-2131", "12132132131@c.us"),
    ("+44 20.7946.0958", "442079460958@c.us"),
    ("12132132131", "12132132131@c.us"),
    ("  12132132131  ", "12132132131@c.us"),
    ("0049 170 1234567", "491701234567@c.us"),
    ("00491701234567", "491701234567@c.us"),
    ("+55 11 98765-4321", "5511987654321@c.us"),
    ("1234567", "1234567@c.us"),
    ("123456789012345", "123456789012345@c.us"),
    ("12132132131@c.us", "12132132131@c.us"),
    ("12132132131@C.US", "12132132131@c.us"),
    ("12132132131@s.whatsapp.net", "12132132131@c.us"),
    ("15550001111:5@s.whatsapp.net", "15550001111@c.us"),
    ("120363012345678901@g.us", "120363012345678901@g.us"),
    ("123-456@g.us", "123-456@g.us"),
    ("99887766554433@lid", "99887766554433@lid"),
]

INVALID = [
    ("", "empty"),
    ("   ", "empty"),
    ("hello", "only digits"),
    ("+1 213 CALL NOW", "only digits"),
    ("1+2132132131", "only digits"),
    ("123456", "6 digits"),
    ("1234567890123456", "16 digits"),
    ("0612345678", "country code"),
    ("+", "only digits"),
    ("( - )", "no digits"),
    ("status@broadcast", "@broadcast"),
    ("120363012345678901@newsletter", "@newsletter"),
    ("12132132131@example.com", "unsupported"),
    ("+12132132131@c.us", "digits only"),
    ("12132132131@c.us@c.us", "more than one @"),
    ("@c.us", "nothing before"),
    ("123456@c.us", "6 digits"),
    ("abc@g.us", "group ids"),
    ("123-456-789@g.us", "group ids"),
    ("abc@lid", "digits only"),
]


@pytest.mark.parametrize(("value", "expected"), VALID)
def test_normalize_chat_id_accepts(value, expected):
    assert normalize_chat_id(value) == expected


@pytest.mark.parametrize(("value", "reason"), INVALID)
def test_normalize_chat_id_rejects_with_a_reason(value, reason):
    with pytest.raises(InvalidChatId) as caught:
        normalize_chat_id(value)
    assert reason in caught.value.reason


def test_invalid_chat_id_is_a_value_error():
    with pytest.raises(ValueError, match="only digits"):
        normalize_chat_id("nope")


def test_non_string_is_rejected():
    with pytest.raises(InvalidChatId):
        normalize_chat_id(12132132131)  # type: ignore[arg-type]  # the wrong type is the point of the test


@pytest.mark.parametrize(
    ("value", "digits"),
    [
        ("+1 213 213 2131", "12132132131"),
        ("12132132131@c.us", "12132132131"),
        ("12132132131@s.whatsapp.net", "12132132131"),
    ],
)
def test_phone_digits(value, digits):
    assert phone_digits(value) == digits


@pytest.mark.parametrize("value", ["120363012345678901@g.us", "99887766554433@lid"])
def test_phone_digits_refuses_ids_without_a_number(value):
    with pytest.raises(InvalidChatId):
        phone_digits(value)


# --- message ids -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message_id", "wa_id"),
    [
        ("false_11111111111@c.us_AAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAA"),
        ("true_123@g.us_3EB0ABCD_5511999999999@c.us", "3EB0ABCD"),
        ("true_99887766@lid_3EB0LID", "3EB0LID"),
        ("BBBBBBBBBBBBBBBBB", "BBBBBBBBBBBBBBBBB"),
    ],
)
def test_wa_id_of(message_id, wa_id):
    assert wa_id_of(message_id) == wa_id


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"id": "true_1@c.us_A"}, "true_1@c.us_A"),
        ({"id": {"_serialized": "true_1@c.us_B"}}, "true_1@c.us_B"),
        ({"key": {"remoteJid": "1@s.whatsapp.net", "fromMe": True, "id": "C"}}, "true_1@c.us_C"),
        ({"key": {"remoteJid": "1@s.whatsapp.net", "fromMe": False, "id": "D"}}, "false_1@c.us_D"),
        (
            {
                "key": {
                    "remoteJid": "9@g.us",
                    "fromMe": True,
                    "id": "E",
                    "participant": "1@s.whatsapp.net",
                }
            },
            "true_9@g.us_E_1@c.us",
        ),
        ({"key": {"remoteJid": "1@s.whatsapp.net"}}, None),
        ({"id": {}}, None),
        ({}, None),
        (None, None),
        ([], None),
    ],
)
def test_extract_message_id(body, expected):
    assert extract_message_id(body) == expected


def test_pregenerated_id_wins_when_engine_used_it():
    sent = normalize_send_response({"id": "true_1@c.us_PRE"}, pregenerated_id="PRE")
    assert (sent.message_id, sent.wa_id, sent.serialized_id) == ("PRE", "PRE", "true_1@c.us_PRE")


def test_engine_id_wins_when_engine_ignored_the_pregenerated_one():
    sent = normalize_send_response(
        {"id": {"_serialized": "true_1@c.us_OTHER"}}, pregenerated_id="PRE"
    )
    assert sent.wa_id == "OTHER"
