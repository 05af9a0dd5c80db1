"""What a visitor of a shared app may change. On your own machine (shared mode off) everything is allowed. In shared
mode a visitor is a login, or, on an open Space without logins, an anonymous browser session: anonymous visitors
may chat, compare and use the sample collections, while training, RLHF, uploads, indexing, evaluations and
exports (work that fills the machine's CPU, RAM and disk for minutes to hours) need a login, unless the owner opens
them to everyone with CQA_OPEN_TO_VISITORS=1 (the job budgets of studio/jobs still apply).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from studio import access

OPEN_TO_VISITORS = "CQA_OPEN_TO_VISITORS"


def owner(username: str | None, session: str | None) -> str:
    """Who a request comes from: a login's name, else "session:<id>" for an anonymous browser session, else ""."""
    if username:
        return str(username)
    return f"session:{session}" if session else ""


def check_may_change(username: str | None, what: str, env: Mapping[str, str] | None = None) -> None:
    """Raise AccessError when an anonymous visitor of a shared app asks for `what` ("Training", "Indexing") and
    the app was not opened to visitors."""
    env = os.environ if env is None else env
    if username or not access.shared_mode(env) or access.env_flag(env, OPEN_TO_VISITORS):
        return
    raise access.AccessError(
        f"{what} needs a login on this shared app. Anyone may chat, compare and ask the sample collections here; "
        "training, uploads, indexing, evaluations and exports are for logged-in users. The app's owner can add "
        f"logins (CQA_AUTH) or open them to every visitor ({OPEN_TO_VISITORS}=1).")
