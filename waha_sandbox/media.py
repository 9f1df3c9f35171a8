"""Generated media bytes for injected inbound messages that carry no data."""

from __future__ import annotations

import hashlib
import io

import png


def _filler(seed: str, size: int) -> bytes:
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < size:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:size])


def _png(size: int) -> bytes:
    side = max(1, min(256, int((size / 3) ** 0.5)))
    rows = [[(x * 7 + y * 3) % 256 for x in range(side * 3)] for y in range(side)]
    buf = io.BytesIO()
    png.Writer(side, side, greyscale=False, bitdepth=8).write(buf, rows)
    return buf.getvalue()


def generate(mimetype: str, size: int, seed: str) -> bytes:
    """Bytes that start with the right magic number for ``mimetype``.

    PNG output is a real decodable image; the other formats only carry their
    signature (and trailer where there is one) around deterministic filler.
    """
    size = max(16, min(int(size), 20 * 1024 * 1024))
    base = mimetype.split(";")[0].strip().lower()
    if base == "image/png":
        return _png(size)
    heads = {
        "image/jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", b"\xff\xd9"),
        "image/gif": (b"GIF89a", b";"),
        "image/webp": (b"RIFF\x00\x00\x00\x00WEBPVP8 ", b""),
        "application/pdf": (b"%PDF-1.4\n", b"\n%%EOF\n"),
        "audio/ogg": (b"OggS\x00\x02", b""),
        "audio/mpeg": (b"ID3\x03\x00\x00", b""),
        "video/mp4": (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", b""),
        "text/plain": (b"", b""),
    }
    head, tail = heads.get(base, (b"", b""))
    if base == "text/plain":
        text = (f"sandbox file {seed}\n" * (size // 20 + 1)).encode()
        return text[:size]
    body = _filler(seed, max(0, size - len(head) - len(tail)))
    return head + body + tail
