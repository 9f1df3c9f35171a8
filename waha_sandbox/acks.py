"""WhatsApp's ack levels and their names, as WAHA reports them (``ack`` and ``ackName``)."""

from __future__ import annotations

ACK_NAMES = {-1: "ERROR", 0: "PENDING", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}
ACK_BY_NAME = {v: k for k, v in ACK_NAMES.items()}


def ack_name(ack: int) -> str:
    return ACK_NAMES.get(ack, "UNKNOWN")
