"""The visitor behind a Gradio request, for the handlers that change something (studio/workspace.py decides)."""

from __future__ import annotations

import gradio as gr

from studio import access, workspace


def changer(request: gr.Request | None, what: str) -> str:
    """The owner of what the request makes (a login, a session or ""); gr.Error when the visitor may not."""
    username = getattr(request, "username", None)
    try:
        workspace.check_may_change(username, what)
    except access.AccessError as e:
        raise gr.Error(str(e), print_exception=False) from e
    return workspace.owner(username, getattr(request, "session_hash", None))
