"""The fake SwarmUI with 5,000 varied backends, a reply latency and churn, as its own process for P2/P6/P7/P8.

    python -m tests.bench.bench_server --backends 5000 --latency 1.0 --churn 0.01
    # prints "FAKE_SWARM_URL http://127.0.0.1:PORT" once listening; runs until killed
    python -m tests.bench.bench_server --backends 500 --count 8   # eight such servers (P9), a line each

A separate process, so that building the server's 2 MB replies never counts as the app's own stall.
``--churn`` is the fraction of backends whose status (and modcount) changes before each ListBackends reply;
with no churn the reply is encoded once and served from then on.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from typing import Any

from aiohttp import web

from tests.bench.support import populate
from tests.support.fake_swarm import FakeSwarm


class ChurningSwarm(FakeSwarm):
    def __init__(self, *, churn: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.churn = churn
        self._rnd = random.Random(3)
        self._encoded: dict[tuple[object, ...], web.Response] = {}

    def _json_reply(self, route: str, reply: dict[str, Any]) -> web.Response:
        if route != "listbackends" or self.churn:
            return super()._json_reply(route, reply)
        # nothing ever changes: encode the list once. The fake copies and encodes 5,000 backends in Python
        # (~0.1 s, 1 s for 50,000), which SwarmUI does not; P8 times the app, not this fake
        body = self.last_body or {}
        key = (bool(body.get("full_data")), bool(body.get("nonreal")))
        cached = self._encoded.get(key)
        if cached is None:
            cached = self._encoded[key] = super()._json_reply(route, reply)
        return web.Response(body=cached.body, status=200, content_type="application/json")

    def _list_backends(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        if not self.churn and (bool(body.get("full_data")), bool(body.get("nonreal"))) in self._encoded:
            return {}  # answered from the cache (_json_reply)
        if self.churn and self.backends:
            ids = list(self.backends)
            for bid in self._rnd.sample(ids, max(1, int(len(ids) * self.churn))):
                b = self.backends[bid]
                b["status"] = "errored" if b["status"] == "running" else "running"
                b["modcount"] += 1
        return super()._list_backends(request, body)


async def _main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--churn", type=float, default=0.0)
    parser.add_argument("--count", type=int, default=1, help="how many such servers, each on its own port")
    args = parser.parse_args()
    for n in range(args.count):  # each with its own titles and statuses (seeds 7, 8, ...)
        fake = populate(ChurningSwarm(churn=args.churn, latency=args.latency), args.backends, seed=7 + n)
        await fake.start()
        print(f"FAKE_SWARM_URL {fake.url}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(_main())
    except KeyboardInterrupt:
        sys.exit(0)
