"""The OpenAI-compatible servers the app knows: from the environment (CQA_OPENAI_BASE_URL, CQA_OPENAI_API_KEY,
CQA_OPENAI_MODELS, named $CQA_OPENAI_NAME or "default"), saved in the Models tab (<settings>/openai_servers.json,
owner-only, the key never sent back to a page), or outside shared mode a URL typed in a reference. What a
reference `openai:<model>@<server>` points at, and whether it serves that model now (asked at most every
CHECK_TTL seconds, never for longer than CHECK_TIMEOUT); engines/remote.py talks to them.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field

import httpx

from studio.core import paths
from studio.models.refs import ModelEntry, ModelError, ModelRef

SERVERS_FILE = "openai_servers.json"
SERVER_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")
_model_lists: dict[tuple[str, str], tuple[float, list[str] | str]] = {}
"""Each server's /v1/models answer with when it was asked (listed_models); emptied when a server is saved."""
KIND = "openai"
CHECK_TIMEOUT = 2.0
"""Seconds the model list may take: a dead or hung server costs the Models tab and the pickers at most this."""
CHECK_TTL = 10.0
"""Seconds a server's model list is reused (the catalogue asks once per model)."""
REMOTE_ENGINE = "openai-compatible"
"""The engine of `openai:` models (engines/remote.py): the server generates, whatever engine is picked."""


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


# -------------------------------------------------------------------------------------------------- availability



def problem_message(server: Server, error: Exception | httpx.Response, timeout: float) -> str:
    """What went wrong talking to `server`, in words a user can act on."""
    where = f"the server {server.name} ({server.base_url})" if server.name != server.base_url else server.base_url
    if isinstance(error, httpx.TimeoutException):
        return f"{where} did not answer within {timeout:g} s"
    if isinstance(error, httpx.HTTPError):
        return f"{where} cannot be reached ({error}): is it running, and is the URL right?"
    code = error.status_code
    if code in (401, 403):
        return f"{where} refused the API key (HTTP {code}): set the right key in the Models tab or $CQA_OPENAI_API_KEY"
    try:
        body = error.json()
        detail = body.get("error", body.get("detail", body)) if isinstance(body, dict) else body
        detail = detail.get("message", detail) if isinstance(detail, dict) else detail
    except ValueError:
        detail = error.text
    hint = " (a base URL usually ends in /v1)" if code == 404 and not server.base_url.endswith("/v1") else ""
    return f"{where} answered HTTP {code}{hint}: {str(detail)[:300]}"


def listed_models(server: Server) -> list[str] | str:
    """The model names the server's /v1/models lists, or why they could not be read (checked at most every
    CHECK_TTL seconds, and never for longer than CHECK_TIMEOUT)."""
    key = (server.base_url, server.api_key)
    if key in _model_lists and time.monotonic() - _model_lists[key][0] < CHECK_TTL:
        return _model_lists[key][1]
    try:
        response = httpx.get(f"{server.base_url}/models", headers=server.headers(), timeout=CHECK_TIMEOUT)
        result = [str(m.get("id")) for m in response.json().get("data", [])] if response.status_code == 200 \
            else problem_message(server, response, CHECK_TIMEOUT)
    except httpx.HTTPError as e:
        result = problem_message(server, e, CHECK_TIMEOUT)
    except (ValueError, AttributeError) as e:
        result = f"{server.base_url}/models did not return an OpenAI model list ({e})"
    _model_lists[key] = (time.monotonic(), result)
    return result


def describe(ref: ModelRef) -> ModelEntry:
    model, name = split_id(ref.id)
    label = f"{model or '(no model)'} @ {name}"

    def entry(available: bool, reason: str) -> ModelEntry:
        return ModelEntry(ref, label, REMOTE_ENGINE, 0, False, "chat", available, reason)

    try:
        server = server_of(ref)
    except ModelError as e:
        return entry(False, str(e))
    listed = listed_models(server)
    if isinstance(listed, str):
        return entry(False, listed)
    if not model:
        return entry(False, f"no model named; {server.name} serves {', '.join(listed) or 'no model'}")
    if model not in listed:
        return entry(False, f"{server.name} does not serve {model!r}; it lists {', '.join(listed) or 'no model'}")
    return entry(True, f"served by {server.name} at {server.base_url}")


def catalogue_entries() -> list[ModelEntry]:
    """Every configured server's models: the configured names and what /v1/models lists, each with availability."""
    entries = []
    for server in servers().values():
        listed = listed_models(server)
        names = list(dict.fromkeys(server.models + tuple(listed if isinstance(listed, list) else ())))
        entries += [describe(ModelRef(KIND, f"{model}@{server.name}")) for model in names or [""]]
    return entries


def servers_table() -> list[list[str]]:
    """Rows for the Models tab: name, URL, key set, source, status (never the key itself)."""
    rows = []
    for s in servers().values():
        listed = listed_models(s)
        status = f"reachable: {', '.join(listed) or 'no model'}" if isinstance(listed, list) else listed
        rows.append([s.name, s.base_url, "yes" if s.api_key else "no", s.source, status])
    return rows
