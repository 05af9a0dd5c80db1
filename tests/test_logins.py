"""Failed logins are limited per client: the throttle on its own (a fake app and clock), then in front of a real
Gradio login page."""

import asyncio

import gradio as gr
import httpx
import pytest

from studio import logins


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def login(throttle, password: str, client="1.2.3.4", forwarded: str | None = None, path="/login/") -> int:
    """POST /login through the throttle to an app that accepts the password "right"; returns the status."""
    async def app(scope, receive, send):
        status = 200 if scope["password"] == "right" else 400
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    sent = []

    async def send(message):
        sent.append(message)

    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    throttle.app = app
    scope = {"type": "http", "method": "POST", "path": path, "client": (client, 5000), "headers": headers,
             "password": password}
    asyncio.run(throttle(scope, None, send))
    return sent[0]["status"]


def test_a_client_with_too_many_failures_waits_out_the_window_right_password_or_not():
    clock = Clock()
    throttle = logins.LoginThrottle(None, max_failed=3, window_s=60, clock=clock)
    failed = []
    for _ in range(3):  # at 100, 110 and 120 s
        failed.append(login(throttle, "wrong"))
        clock.now += 10
    assert failed == [400, 400, 400]
    assert login(throttle, "right") == 429  # the fourth attempt is not even checked
    assert login(throttle, "right", client="5.6.7.8") == 200  # another client is not held up
    clock.now = 159.0
    assert login(throttle, "right") == 429
    clock.now = 160.0
    assert login(throttle, "right") == 200  # the first failure is a window old: two remain
    assert login(throttle, "wrong") == 400  # the third again
    assert login(throttle, "right") == 429


@pytest.mark.parametrize("trust, forwarded, same_client", [
    (False, "9.9.9.9", True),             # off a Space the header is the client's own word: ignored
    (True, "9.9.9.9", False),             # on a Space the proxy's entry names the client
    (True, "6.6.6.6, 1.2.3.4", True),     # a client's own entry stands left of the proxy's
])
def test_which_address_counts_as_the_client(trust, forwarded, same_client):
    throttle = logins.LoginThrottle(None, max_failed=1, trust_forwarded=trust, clock=Clock())
    assert login(throttle, "wrong", forwarded="1.2.3.4" if trust else None) == 400
    assert (login(throttle, "right", forwarded=forwarded) == 429) == same_client


def test_other_requests_pass_and_the_memory_of_clients_is_bounded(monkeypatch):
    monkeypatch.setattr(logins, "MAX_CLIENTS", 50)
    clock = Clock()
    throttle = logins.LoginThrottle(None, max_failed=1, window_s=10, clock=clock)
    for n in range(200):
        login(throttle, "wrong", client=f"10.0.0.{n}")
        clock.now += 1
    assert len(throttle.failures) <= 51
    assert not logins.is_login({"type": "http", "method": "GET", "path": "/login"})
    assert logins.app_kwargs(0, space=False) == {}


def test_a_gradio_login_page_refuses_the_sixth_try_within_a_minute():
    with gr.Blocks() as demo:
        gr.Markdown("inside")
    demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, auth=[("ann", "secret")],
                app_kwargs=logins.app_kwargs(1, space=False))
    try:
        with httpx.Client(base_url=demo.local_url) as client:
            statuses = [client.post("/login", data={"username": "ann", "password": f"guess{n}"}).status_code
                        for n in range(40)]
            right = client.post("/login", data={"username": "ann", "password": "secret"})
        assert statuses == [400] * logins.MAX_FAILED + [429] * (40 - logins.MAX_FAILED)
        assert right.status_code == 429 and "Too many failed logins" in right.json()["detail"]
        assert 0 < int(right.headers["retry-after"]) <= logins.WINDOW_S
    finally:
        demo.close()
