"""Settings for the sandbox, read from environment variables and CLI flags."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ENGINES = ("NOWEB", "GOWS", "WEBJS")
DEFAULT_BASE_URL = "http://127.0.0.1:3001"
DEFAULT_API_KEY = "sandbox-dev-key-change-me"


class ConfigError(ValueError):
    """Raised when the environment holds an unusable setting (aborts boot)."""


def _float(env: dict, name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number") from exc


def _bool(env: dict, name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


@dataclass
class HookSpec:
    """One webhook target as configured (session item or global env hook)."""

    url: str
    events: list[str]
    hmac_key: str | None = None
    policy: str = "constant"
    delay_seconds: float = 2.0
    attempts: int = 15
    headers: list[tuple[str, str]] = field(default_factory=list)


class ApiKey:
    """Checks a presented key against a plain or ``sha512:<hex>`` configured key."""

    def __init__(self, configured: str | None):
        self.disabled = configured is None
        self._plain: bytes | None = None
        self._digest: str | None = None
        if configured is None:
            return
        if configured.startswith("sha512:"):
            self._digest = configured[len("sha512:"):].strip().lower()
        else:
            self._plain = configured.encode()

    def check(self, presented: str | None) -> bool:
        if self.disabled:
            return True
        if not presented:
            return False
        raw = presented.encode()
        if self._plain is not None:
            return hmac.compare_digest(raw, self._plain)
        return hmac.compare_digest(hashlib.sha512(raw).hexdigest(), self._digest or "")


def parse_global_hook(env: dict) -> HookSpec | None:
    """Build the env-level hook from ``WHATSAPP_HOOK_*``; both URL and EVENTS are needed."""
    url = (env.get("WHATSAPP_HOOK_URL") or "").strip()
    events_raw = (env.get("WHATSAPP_HOOK_EVENTS") or "").strip()
    if not url or not events_raw:
        return None
    if not url.startswith(("http://", "https://")):
        raise ConfigError("Invalid global webhook config: WHATSAPP_HOOK_URL must be http(s)")
    events = [e.strip() for e in events_raw.split(",") if e.strip()]
    headers: list[tuple[str, str]] = []
    raw_headers = (env.get("WHATSAPP_HOOK_CUSTOM_HEADERS") or "").strip()
    if raw_headers:
        for pair in raw_headers.split(";"):
            if not pair.strip():
                continue
            if pair.count(":") != 1:
                raise ConfigError("Invalid global webhook config: WHATSAPP_HOOK_CUSTOM_HEADERS")
            name, value = pair.split(":")
            headers.append((name.strip(), value.strip()))
    policy = (env.get("WHATSAPP_HOOK_RETRIES_POLICY") or "constant").strip()
    if policy not in ("constant", "linear", "exponential"):
        raise ConfigError("Invalid global webhook config: WHATSAPP_HOOK_RETRIES_POLICY")
    return HookSpec(
        url=url,
        events=events,
        hmac_key=env.get("WHATSAPP_HOOK_HMAC_KEY") or None,
        policy=policy,
        delay_seconds=_float(env, "WHATSAPP_HOOK_RETRIES_DELAY_SECONDS", 2.0),
        attempts=int(_float(env, "WHATSAPP_HOOK_RETRIES_ATTEMPTS", 15)),
        headers=headers,
    )


@dataclass
class Settings:
    """Everything the server needs; runtime knobs may later be changed via /sandbox/config."""

    host: str = "127.0.0.1"
    port: int = 3001
    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = DEFAULT_API_KEY
    engine: str = "NOWEB"
    version: str = "2026.7.1"
    tier: str = "PLUS"
    phone_prefix: str = "1555000"
    push_name: str = "WAHA Sandbox"
    autopair_seconds: float = 5.0
    starting_seconds: float = 0.2
    qr_rotate_seconds: float = 20.0
    status_wait_seconds: float = 1.0
    files_lifetime: float = 180.0
    auto_ack: bool = True
    ack_delays_ms: tuple[float, float, float] = (50.0, 100.0, 200.0)
    hook_timeout_seconds: float = 30.0
    hook_connections: int = 64
    max_messages: int = 200_000
    global_hook: HookSpec | None = None
    auth_exclude: tuple[str, ...] = ()

    @property
    def browser(self) -> str | None:
        return "/usr/bin/chromium" if self.engine == "WEBJS" else None

    def environment(self) -> dict:
        """The ``environment`` object used by /api/server/version and webhook envelopes.

        Cached per (version, engine, tier) because it is built for every event; treat
        the returned dict as read-only.
        """
        key = (self.version, self.engine, self.tier)
        cached = self.__dict__.get("_env_cache")
        if cached is None or cached[0] != key:
            env = {
                "version": self.version,
                "engine": self.engine,
                "tier": self.tier,
                "browser": self.browser,
                "platform": "linux/x64",
                "worker": {"id": None},
            }
            cached = (key, env)
            self.__dict__["_env_cache"] = cached
        return cached[1]


def load_settings(env: dict | None = None, cli: dict | None = None) -> Settings:
    """Create :class:`Settings` from an environment mapping, then apply CLI overrides."""
    env = dict(os.environ if env is None else env)
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    s = Settings()

    explicit_base = (env.get("WAHA_BASE_URL") or "").strip().rstrip("/")
    parts = urlsplit(explicit_base or DEFAULT_BASE_URL)
    s.host = parts.hostname or "127.0.0.1"
    s.port = parts.port or (443 if parts.scheme == "https" else 80)
    # Listening address may differ from the public base URL (e.g. 0.0.0.0 in a container).
    s.host = (env.get("WAHA_SANDBOX_HOST") or "").strip() or s.host
    if (env.get("WAHA_SANDBOX_PORT") or "").strip():
        s.port = int(env["WAHA_SANDBOX_PORT"])

    if _bool(env, "WAHA_NO_API_KEY", False):
        s.api_key = None
    else:
        s.api_key = env.get("WAHA_API_KEY") or env.get("WHATSAPP_API_KEY") or DEFAULT_API_KEY

    engine = (env.get("WAHA_SANDBOX_ENGINE") or "NOWEB").strip().upper()
    s.version = env.get("WAHA_SANDBOX_VERSION") or s.version
    s.tier = env.get("WAHA_SANDBOX_TIER") or s.tier
    s.phone_prefix = env.get("WAHA_SANDBOX_PHONE_PREFIX") or s.phone_prefix
    s.push_name = env.get("WAHA_SANDBOX_PUSH_NAME") or s.push_name
    if "WAHA_SANDBOX_AUTOPAIR_SECONDS" in env:  # set but empty also means "never"
        s.autopair_seconds = _float(env, "WAHA_SANDBOX_AUTOPAIR_SECONDS", 0.0) or 0.0
    s.starting_seconds = _float(env, "WAHA_SANDBOX_STARTING_SECONDS", 0.2)
    s.qr_rotate_seconds = _float(env, "WAHA_SANDBOX_QR_ROTATE_SECONDS", 20.0)
    s.status_wait_seconds = _float(env, "WAHA_SANDBOX_STATUS_WAIT_SECONDS", 1.0)
    s.files_lifetime = _float(env, "WHATSAPP_FILES_LIFETIME", 180.0)
    s.auto_ack = _bool(env, "WAHA_SANDBOX_AUTO_ACKS", True)
    delays = (env.get("WAHA_SANDBOX_ACK_DELAYS_MS") or "").strip()
    if delays:
        try:
            vals = [float(x) for x in delays.split(",")]
        except ValueError as exc:
            raise ConfigError("WAHA_SANDBOX_ACK_DELAYS_MS must be three numbers") from exc
        if len(vals) != 3:
            raise ConfigError("WAHA_SANDBOX_ACK_DELAYS_MS must be three numbers")
        s.ack_delays_ms = (vals[0], vals[1], vals[2])
    s.hook_timeout_seconds = _float(env, "WAHA_SANDBOX_HOOK_TIMEOUT_SECONDS", 30.0)
    s.hook_connections = max(1, int(_float(env, "WAHA_SANDBOX_HOOK_CONNECTIONS", 64)))
    s.max_messages = int(_float(env, "WAHA_SANDBOX_MAX_MESSAGES", 200_000))
    s.global_hook = parse_global_hook(env)
    exclude = env.get("WHATSAPP_API_KEY_EXCLUDE_PATH") or ""
    s.auth_exclude = tuple(p.strip() for p in exclude.split(",") if p.strip())

    if "host" in cli:
        s.host = cli["host"]
    if "port" in cli:
        s.port = int(cli["port"])
    if "api_key" in cli:
        s.api_key = cli["api_key"]
    if "engine" in cli:
        engine = cli["engine"].upper()
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}")
    s.engine = engine
    # Media URLs use WAHA_BASE_URL verbatim when given (it may sit behind a proxy);
    # otherwise they point at the address we actually listen on.
    s.base_url = explicit_base or f"http://{s.host}:{s.port}"
    return s
