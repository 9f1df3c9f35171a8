"""QR code values and PNG rendering (qrcode + pypng, no Pillow)."""

from __future__ import annotations

import base64
import io
import os
from functools import lru_cache

import qrcode
from qrcode.image.pure import PyPNGImage


def new_qr_value() -> str:
    """Return a random string shaped like a WhatsApp Web pairing QR payload.

    Real payloads are ``<ref>,<noise key>,<identity key>,<adv secret>``; here every
    part is random, which is all a client needs to render and display it.
    """
    ref = "2@" + base64.b64encode(os.urandom(48)).decode()
    keys = [base64.b64encode(os.urandom(32)).decode() for _ in range(3)]
    return ",".join([ref, *keys])


@lru_cache(maxsize=64)
def render_png(value: str) -> bytes:
    """Encode ``value`` as a scannable QR code PNG."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, box_size=6, border=4)
    qr.add_data(value)
    qr.make(fit=True)
    img = qr.make_image(image_factory=PyPNGImage)
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue()


def pairing_code() -> str:
    """An 8-character pairing code formatted ``ABCD-EFGH``."""
    alphabet = "ABCDEFGHJKLMNPQRSTVWXYZ123456789"
    raw = "".join(alphabet[b % len(alphabet)] for b in os.urandom(8))
    return raw[:4] + "-" + raw[4:]
