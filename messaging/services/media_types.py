"""What a file for sending is: its type read from its first bytes (``filetype``), checked against what the
client declared and what the message needs, and the name WhatsApp shows (``messaging.services.uploads``).
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata

import filetype  # type: ignore[import-untyped]  # no type information; two calls used

from core.problems import ServiceError
from messaging.models import MessageType

SNIFF_BYTES = 8192  # filetype reads at most this much
# Declared types that say nothing about the bytes: the bytes decide then.
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/unknown"})
# Other names of one format, as clients write them, to the name ``filetype`` reports.
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/opus": "audio/ogg",
    "application/ogg": "audio/ogg",
    "audio/mp3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
    "audio/mpeg3": "audio/mpeg",
    "audio/wav": "audio/x-wav",
    "audio/wave": "audio/x-wav",
    "audio/vnd.wave": "audio/x-wav",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "audio/x-aac": "audio/aac",
    "audio/aacp": "audio/aac",
    "audio/flac": "audio/x-flac",
    "video/x-m4v": "video/mp4",
    "video/mkv": "video/x-matroska",
    "audio/3gp": "audio/3gpp",
    "video/3gp": "video/3gpp",
}
# Containers that hold audio or video alike: an audio/mp4 voice note is what filetype may call video/mp4.
_CONTAINERS = {
    "audio/mp4": "mp4",
    "video/mp4": "mp4",
    "audio/webm": "webm",
    "video/webm": "webm",
    "audio/ogg": "ogg",
    "video/ogg": "ogg",
    "audio/3gpp": "3gpp",
    "video/3gpp": "3gpp",
    "audio/x-matroska": "mkv",
    "video/x-matroska": "mkv",
}
# The kind of file an image, voice or video message needs; documents (file) take any.
_FAMILY_OF_KIND: dict[str, str] = {
    MessageType.IMAGE.value: "image/",
    MessageType.VOICE.value: "audio/",
    MessageType.VIDEO.value: "video/",
}
_MEDIA_FAMILIES = tuple(_FAMILY_OF_KIND.values())
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
WHITESPACE = re.compile(r"\s")


class MediaTypeMismatch(ServiceError):
    code = "media_type_mismatch"
    title = "Media type mismatch"




def base_type(mimetype: str) -> str:
    """``Image/JPG; q=1`` → ``image/jpeg``: lower case, no parameters, one name per format."""
    base = mimetype.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def detected_type(head: bytes) -> str:
    """The mimetype the first bytes of a file show, or "" when they match no known format."""
    kind = filetype.guess(head[:SNIFF_BYTES])
    return base_type(kind.mime) if kind is not None else ""


def same_format(declared: str, detected: str) -> bool:
    declared, detected = base_type(declared), base_type(detected)
    container = _CONTAINERS.get(declared)
    return declared == detected or (container is not None and container == _CONTAINERS.get(detected))


def _mismatch(field: str, detail: str) -> MediaTypeMismatch:
    return MediaTypeMismatch(detail, errors={field: [detail]})


def declared_type_check(*, declared: str, detected: str, field: str) -> None:
    """A declared image, audio or video type must be what the bytes are, when they show anything."""
    declared = base_type(declared)
    if declared.startswith(_MEDIA_FAMILIES) and detected and not same_format(declared, detected):
        raise _mismatch(field, f"The file was declared {declared}, but its bytes are {detected}.")


def kind_check(*, kind: str, mimetype: str, detected: str, field: str) -> None:
    """An ``image``, ``voice`` or ``video`` message needs a file of that kind whose bytes match its mimetype."""
    family = _FAMILY_OF_KIND.get(kind)
    if family is None:
        return
    declared = base_type(mimetype)
    if not declared.startswith(family):
        raise _mismatch(field, f"Messages of type {kind} need a file of type {family}*, not {declared}.")
    if not detected:
        raise _mismatch(field, f"The file's bytes match no {family[:-1]} format this service recognises.")
    if not same_format(declared, detected):
        raise _mismatch(field, f"The file is {declared}, but its bytes are {detected}.")


def display_filename(name: object) -> str | None:
    """The name a recipient sees: the last path part, without control characters, at most 255 characters."""
    if not isinstance(name, str):
        return None
    cleaned = _CONTROL.sub("", unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])).strip()
    return cleaned[:255] or None


def default_filename(mimetype: str) -> str:
    # WhatsApp shows a document's file name (WAHA.md §9.8): never send one without.
    return "file" + (mimetypes.guess_extension(base_type(mimetype)) or ".bin")


