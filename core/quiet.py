"""Per-process quiet windows: after doing something for a key, skip doing it again for a moment.

The hot paths kick a Celery task after each write (a dispatch per session, an applier per tenant). Asking
Redis for every write cost a round trip each time; a window lets a process ask once per window instead.
Each caller makes sure that what it skips is still seen (see ``messaging.services.kick.dispatch_kick`` and
``webhooks.services.applier.apply_kick``).
"""

from __future__ import annotations

import time
from collections.abc import Hashable


class QuietWindow:
    MAX_KEYS = 10_000  # keys are tenants and sessions: clearing now and then only costs a few extra kicks

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._until: dict[Hashable, float] = {}

    def quiet(self, key: Hashable) -> bool:
        """True while ``key``'s window, started by ``start``, is open."""
        return time.monotonic() < self._until.get(key, 0.0)

    def clear(self) -> None:
        self._until.clear()

    def start(self, key: Hashable) -> None:
        if len(self._until) >= self.MAX_KEYS:
            self._until.clear()
        self._until[key] = time.monotonic() + self.seconds
