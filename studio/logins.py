"""Failed logins limited per client. Gradio's /login checks a password as often as it is asked (40 wrong passwords
took 0.11 s, then the right one was accepted), so a login page on a public address invites guessing. LoginThrottle
sits in front of the app (an ASGI middleware: app.py hands it to FastAPI through launch's app_kwargs): a client
with MAX_FAILED failed logins within WINDOW_S seconds is answered 429 "too many failed logins", right password or
not, until the oldest of them is WINDOW_S old. Nothing else is slowed: the check is a dictionary lookup.

The client is the connecting address; on a Hugging Face Space every request comes through its proxy, so there it
is the last address the proxy appended to X-Forwarded-For (one a client writes itself stands further left).
"""

from __future__ import annotations

import json
import math
import time
from collections import deque

MAX_FAILED = 5
WINDOW_S = 60.0
MAX_CLIENTS = 10_000
"""Clients remembered at once; beyond it those with no recent failure are forgotten, so the memory is bounded."""


def is_login(scope: dict) -> bool:
    return scope.get("type") == "http" and scope.get("method") == "POST" and \
        scope.get("path", "").rstrip("/").endswith("/login")


class LoginThrottle:
    def __init__(self, app, max_failed: int = MAX_FAILED, window_s: float = WINDOW_S, trust_forwarded: bool = False,
                 clock=time.monotonic):
        self.app, self.max_failed, self.window_s = app, max_failed, window_s
        self.trust_forwarded, self.clock = trust_forwarded, clock
        self.failures: dict[str, deque[float]] = {}

    def client(self, scope: dict) -> str:
        if self.trust_forwarded:
            for name, value in scope.get("headers", []):
                if name.lower() == b"x-forwarded-for" and value.strip():
                    return value.decode("latin-1").split(",")[-1].strip()
        return (scope.get("client") or ("unknown",))[0]

    def _recent(self, client: str, now: float) -> deque[float]:
        if client not in self.failures and len(self.failures) >= MAX_CLIENTS:
            self.failures = {c: f for c, f in self.failures.items() if f and now - f[-1] < self.window_s}
        failures = self.failures.setdefault(client, deque())
        while failures and now - failures[0] >= self.window_s:
            failures.popleft()
        return failures

    async def __call__(self, scope, receive, send):
        if not is_login(scope):
            return await self.app(scope, receive, send)
        failures = self._recent(self.client(scope), self.clock())
        if len(failures) >= self.max_failed:
            wait = max(1, math.ceil(self.window_s - (self.clock() - failures[0])))
            body = json.dumps({"detail": f"Too many failed logins from your address: try again in {wait} s."})
            await send({"type": "http.response.start", "status": 429,
                        "headers": [(b"content-type", b"application/json"), (b"retry-after", str(wait).encode())]})
            await send({"type": "http.response.body", "body": body.encode()})
            return

        async def counting(message):
            if message["type"] == "http.response.start" and message["status"] in (400, 401):
                failures.append(self.clock())
            await send(message)

        await self.app(scope, receive, counting)


def app_kwargs(logins: int, space: bool) -> dict:
    """Blocks.launch's app_kwargs: the throttle in front of the login page when there is one."""
    if not logins:
        return {}
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(LoginThrottle, trust_forwarded=space)]}
