"""A fast local webhook sink for bench/sandbox_throughput.py (loopback only).

POST anything -> 200 "ok" and count it; GET /count -> {"count": N}.
Usage: python bench/sandbox_sink.py PORT
"""

from __future__ import annotations

import sys

from aiohttp import web

count = 0


async def hook(request: web.Request) -> web.Response:
    global count
    await request.read()
    count += 1
    return web.Response(text="ok")


async def get_count(request: web.Request) -> web.Response:
    return web.json_response({"count": count})


def main() -> None:
    port = int(sys.argv[1])
    app = web.Application()
    app.router.add_get("/count", get_count)
    app.router.add_post("/{tail:.*}", hook)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=2048)


if __name__ == "__main__":
    main()
