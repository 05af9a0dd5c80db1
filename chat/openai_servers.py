"""The OpenAI-compatible servers the app knows: from the environment (CQA_OPENAI_BASE_URL, CQA_OPENAI_API_KEY,
CQA_OPENAI_MODELS, named $CQA_OPENAI_NAME or "default"), saved in the Models tab (<settings>/openai_servers.json,
owner-only, the key never sent back to a page), or outside shared mode a URL typed in a reference. What a
reference `openai:<model>@<server>` points at; chat/openai_backend.py talks to them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

from chat import paths
from chat.models import ModelError, ModelRef

SERVERS_FILE = "openai_servers.json"
SERVER_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")
_model_lists: dict[tuple[str, str], tuple[float, list[str] | str]] = {}
"""Each server's /v1/models answer with when it was asked (chat/openai_backend.py); emptied when a server is saved."""


@dataclass(frozen=True)
class Server:
    name: str
    base_url: str
    """Including /v1, e.g. http://127.0.0.1:8000/v1."""
    api_key: str = field(default="", repr=False)
    models: tuple[str, ...] = ()
    """Model names to list even when the server is down (the server's /v1/models adds its own)."""
    source: str = "saved"
    """"environment", "saved" (Models tab) or "typed" (a URL in the reference)."""

    @property
    def root(self) -> str:
        """The server's root, where the tokenize endpoints live."""
        return self.base_url.removesuffix("/v1")

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


def _clean_url(url: str) -> str:
    url = (url or "").strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        raise ModelError(f"{url!r} is not a server URL: give one like http://127.0.0.1:8000/v1")
    return url


def _models_list(text: str | list | tuple) -> tuple[str, ...]:
    items = text.split(",") if isinstance(text, str) else text
    return tuple(dict.fromkeys(m.strip() for m in items if m and m.strip()))


# ------------------------------------------------------------------------------------------ configured servers


def _settings_file():
    return paths.settings_dir() / SERVERS_FILE


def _saved() -> list[dict]:
    """The saved servers; a file that cannot be read raises, so that saving never overwrites it."""
    try:
        data = json.loads(_settings_file().read_text())
        return [s for s in data["servers"] if isinstance(s, dict) and SERVER_NAME.fullmatch(str(s.get("name")))]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(f"{_settings_file()} cannot be read ({e!r}): fix or delete it") from e


def servers() -> dict[str, Server]:
    """Configured servers by name: the environment's first, then the saved ones (none while the file is broken:
    the Models tab says so when saving)."""
    found: dict[str, Server] = {}
    try:
        saved = _saved()
    except ModelError:
        saved = []
    if url := os.environ.get("CQA_OPENAI_BASE_URL", "").strip():
        name = os.environ.get("CQA_OPENAI_NAME", "").strip() or "default"
        found[name] = Server(name, url.rstrip("/"), os.environ.get("CQA_OPENAI_API_KEY", "").strip(),
                             _models_list(os.environ.get("CQA_OPENAI_MODELS", "")), "environment")
    for s in saved:
        found.setdefault(s["name"], Server(s["name"], s.get("base_url", ""), s.get("api_key", ""),
                                           _models_list(s.get("models", [])), "saved"))
    return found


def _write_saved(entries: list[dict]) -> None:
    target = _settings_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # owner only: it holds keys
    with os.fdopen(descriptor, "w") as f:
        json.dump({"servers": entries}, f, indent=1)
    os.chmod(temporary, 0o600)
    os.replace(temporary, target)


def save_server(name: str, base_url: str, api_key: str = "", models_text: str = "") -> str:
    """Add or update a saved server; an empty key keeps the saved one. Returns what was done."""
    name = (name or "").strip()
    if not SERVER_NAME.fullmatch(name):
        raise ModelError(f"{name!r} is not a server name: use 1-40 letters, digits, - or _")
    if name in servers() and servers()[name].source == "environment":
        raise ModelError(f"{name!r} is set by the environment (CQA_OPENAI_BASE_URL); save this one under another name")
    url = _clean_url(base_url)
    entries = _saved()
    old = next((s for s in entries if s["name"] == name), {})
    entry = {"name": name, "base_url": url, "api_key": (api_key or "").strip() or old.get("api_key", ""),
             "models": list(_models_list(models_text or ""))}
    _write_saved([s for s in entries if s["name"] != name] + [entry])
    _model_lists.clear()
    return f"Saved server {name} ({url}){', with an API key' if entry['api_key'] else ''}."


def remove_server(name: str) -> str:
    entries = _saved()
    if not any(s["name"] == name for s in entries):
        raise ModelError(f"No saved server named {name!r}")
    _write_saved([s for s in entries if s["name"] != name])
    return f"Removed server {name}."


def split_id(ref_id: str) -> tuple[str, str]:
    """(model, server name or URL) of an `openai:` reference's id."""
    for scheme in ("@http://", "@https://"):
        if scheme in ref_id:
            model, _, rest = ref_id.partition(scheme)
            return model.strip(), scheme[1:] + rest.strip()
    model, _, server = ref_id.rpartition("@")
    return model.strip(), server.strip()


def configured_server(ref: ModelRef) -> Server | None:
    """The configured server a reference names, or None (a URL, or an unknown name)."""
    return servers().get(split_id(ref.id)[1])


def server_of(ref: ModelRef) -> Server:
    name = split_id(ref.id)[1]
    if found := servers().get(name):
        return found
    if name.startswith(("http://", "https://")):
        return Server(name, _clean_url(name), source="typed")
    known = ", ".join(servers()) or "none yet"
    raise ModelError(f"No OpenAI-compatible server named {name!r} (configured: {known}). Add one in the Models tab "
                     "or set CQA_OPENAI_BASE_URL.")
