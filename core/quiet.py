"""Per-process quiet windows: after doing something for a key, skip doing it again for a moment.

The hot paths kick a Celery task after each write (a dispatch per session, an applier per tenant). Asking
Redis for every write cost a round trip each time; a window lets a process ask once per window instead.
Each caller makes sure that what it skips is still seen (see ``messaging.services.kick.dispatch_kick`` and
``webhooks.services.applier.apply_kick``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

from cachetools import TTLCache


class QuietWindow:
    # Keys are tenants and sessions; past this many, the least recently started window closes early,
    # which only costs an extra kick.
    MAX_KEYS = 10_000

    def __init__(self, seconds: float, timer: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._open: TTLCache[Hashable, bool] = TTLCache(maxsize=self.MAX_KEYS, ttl=seconds, timer=timer)
        self._lock = threading.Lock()  # a TTLCache is not thread-safe, and gunicorn may run threads (WEB_THREADS)

    def quiet(self, key: Hashable) -> bool:
        """True while ``key``'s window, started by ``start``, is open."""
        with self._lock:
            return key in self._open

    def clear(self) -> None:
        with self._lock:
            self._open.clear()

    def start(self, key: Hashable) -> None:
        with self._lock:
            self._open[key] = True
