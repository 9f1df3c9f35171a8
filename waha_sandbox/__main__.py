"""Command line entry point: ``python -m waha_sandbox [--host H] [--port P] ...``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from .app import create_app
from .config import ENGINES, ConfigError, load_settings


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m waha_sandbox", description="WAHA-compatible sandbox server")
    p.add_argument("--host", help="listen address (default: host of WAHA_BASE_URL)")
    p.add_argument("--port", type=int, help="listen port (default: port of WAHA_BASE_URL)")
    p.add_argument("--api-key", dest="api_key", help="API key (plain or sha512:<hex>); default WAHA_API_KEY")
    p.add_argument("--engine", type=str.upper, choices=ENGINES, help="engine to imitate (default NOWEB)")
    p.add_argument("--access-log", action="store_true", help="log every request (slows the server down)")
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(cli=vars(args))
    except ConfigError as exc:
        print(f"waha_sandbox: {exc}", file=sys.stderr, flush=True)
        return 2
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=logging.getLogger("aiohttp.access") if args.access_log else None,
                           handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=2048, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        print(f"waha_sandbox: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr, flush=True)
        await runner.cleanup()
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"waha_sandbox listening on http://{settings.host}:{settings.port} "
          f"(engine {settings.engine}, media base {settings.base_url})", flush=True)
    await stop.wait()
    await runner.cleanup()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
