"""The app's folders, in one place: the project's own (its root and the shipped assets) and the data folders
(converted models, training runs, datasets, knowledge collections, settings).

Each is read from its environment variable at call time (so tests and the CLI can point them elsewhere), else it
lies under the persistent storage when there is one (a Hugging Face Space's /data), else a local default.
Anything reached by a name a visitor typed goes through `inside()`, which refuses paths that leave the folder.

Workspaces: on a shared app each visitor's runs, datasets and collections live in a folder of their own,
<folder>/_workspaces/<workspace>/, so no handler can reach another visitor's by name. The workspace of the request being
handled is a context variable (the UI sets it around every handler: studio/ui/visitor.py); a job inherits its
run's as $CQA_WORKSPACE. Without one (your own machine, the CLI) the folders are the plain ones.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path


class PathError(ValueError):
    """A path that leaves the folder it must stay in; the message says which folder."""


PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The folder holding app.py, studio/ and assets/: the only place it is computed."""
ASSETS = PROJECT_ROOT / "assets"
"""The shipped sample data: the FAQ, the policy wording, the test sets, presets and the memory benchmark."""

SPACE_DATA = Path("/data")
"""Where a Hugging Face Space mounts its persistent storage, when the Space has some."""


def storage_root() -> Path | None:
    """Persistent storage: $CQA_STORAGE, else /data on a Hugging Face Space when it is writable, else None."""
    if os.environ.get("CQA_STORAGE"):
        return Path(os.environ["CQA_STORAGE"])
    if os.environ.get("SPACE_ID") and SPACE_DATA.is_dir() and os.access(SPACE_DATA, os.W_OK):
        return SPACE_DATA / "cqa-studio"
    return None


WORKSPACES = "_workspaces"
"""The folder inside runs/, data/ and knowledge/ that holds one folder per workspace: its leading "_" is never
the first character of a run id, dataset or collection name, so none can clash with it."""
_workspace: ContextVar[str | None] = ContextVar("cqa_workspace", default=None)


def workspace_name(owner: str) -> str:
    """The folder of `owner`'s workspace (a login, or "session:<id>"): readable, and a hash of the whole name so
    that two owners never share one ("ann" and "Ann", "a/b" and "a_b")."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", owner)[:40].strip("_") or "visitor"
    return f"{readable}-{hashlib.sha256(owner.encode()).hexdigest()[:12]}"


@contextmanager
def workspace(name: str) -> Iterator[None]:
    """Within it the data folders are workspace `name`'s ("" = the plain folders, whatever $CQA_WORKSPACE says)."""
    token = _workspace.set(name)
    try:
        yield
    finally:
        _workspace.reset(token)


def current_workspace() -> str:
    name = _workspace.get()
    return os.environ.get("CQA_WORKSPACE", "") if name is None else name


def _base(variable: str, name: str, local_default: Path) -> Path:
    if os.environ.get(variable):
        return Path(os.environ[variable])
    storage = storage_root()
    return storage / name if storage else local_default


def _folder(variable: str, name: str, local_default: Path) -> Path:
    base = _base(variable, name, local_default)
    name = current_workspace()
    return base / WORKSPACES / name if name else base


def shared_knowledge_dir() -> Path:
    """The plain knowledge folder, whatever the workspace: the sample collections every visitor reads."""
    return _base("CQA_KNOWLEDGE_DIR", "knowledge", Path("knowledge"))


def run_roots() -> list[Path]:
    """The plain runs folder and every workspace's: the job queue runs one job at a time across all of them."""
    base = _base("CQA_RUNS_DIR", "runs", Path("runs"))
    users = base / WORKSPACES
    return [base, *sorted(p for p in users.iterdir() if p.is_dir())] if users.is_dir() else [base]


def cache_dir() -> Path:
    """Converted bundled models (plain safetensors folders), shared by every workspace."""
    return _base("CQA_CACHE_DIR", "cache", Path.home() / ".cache" / "cqa-studio")


def runs_dir() -> Path:
    """Training, evaluation and benchmark runs; studio/jobs/runs.py owns what lies inside."""
    return _folder("CQA_RUNS_DIR", "runs", Path("runs"))


def data_dir() -> Path:
    """Datasets added in the Training tab."""
    return _folder("CQA_DATA_DIR", "data", Path("data"))


def knowledge_dir() -> Path:
    """Knowledge collections (indexes over Q/A pairs and documents)."""
    return _folder("CQA_KNOWLEDGE_DIR", "knowledge", Path("knowledge"))


def settings_dir() -> Path:
    """Settings saved from the app (OpenAI-compatible servers and their keys): never a folder a visitor can name."""
    return _base("CQA_SETTINGS_DIR", "settings", Path.home() / ".config" / "cqa-studio")


def inside(root: str | Path, name: str | Path) -> Path:
    """`root / name` resolved, refused when it is not strictly inside `root` ("..", absolute paths, links out)."""
    base = Path(root).resolve()
    text = str(name)
    if not text.strip() or "\x00" in text:
        raise PathError(f"{text!r} is not a valid name inside {root}")
    target = (base / name).resolve()
    if target == base or base not in target.parents:
        raise PathError(f"{name} is outside {root}: only names inside that folder are allowed")
    return target
