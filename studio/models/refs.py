"""What names a model: `ModelRef` (a small value, never a loaded object), what the catalogue knows about it
(`ModelEntry`), and `ModelError`, the one error every model problem is reported as.

Five kinds of reference:
  bundled:<key>        weights shipped inside pip packages (GGUF), verified and converted once (models/bundled.py)
  hub:<org/name>       a Hugging Face id, usable when its weights are in the local HF cache or $CQA_MODELS_DIR
  folder:<path>        any local model folder (config.json + weights + tokenizer)
  adapter:<path>       a fine-tuned PEFT adapter: a folder holding adapter_config.json, or a run folder with exactly
                       one such folder one level down ("runs/<run id>": in the workspace's runs folder); its base
                       model is the adapter_config.json's base_model_name_or_path (a model reference, or a folder
                       path for older adapters)
  openai:<model>@<server>  a model on an OpenAI-compatible server (models/servers.py), by the server's
                       configured name (or, outside shared mode, its base URL)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.core import paths
from studio.models.bundled import BUNDLED

RUNS_PREFIX = "runs/"
"""An adapter reference "adapter:runs/<run id>" names a run in the runs folder of the visitor's workspace, so a
picker's value names no server folder."""


class ModelError(Exception):
    """A model cannot be used; the message says why and what to do, in words a user can act on."""


@dataclass(frozen=True)
class ModelRef:
    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """Parse "kind:id"; a bare path that exists is a folder, a bare "org/name" is a hub id."""
        text = (text or "").strip()
        if not text:
            raise ModelError("No model chosen. Pick one from the list or type a local model folder path.")
        kind, sep, rest = text.partition(":")
        if sep and kind in ("bundled", "hub", "folder", "adapter", "openai") and rest.strip():
            return cls(kind, rest.strip())
        if text in BUNDLED:
            return cls("bundled", text)
        if Path(text).expanduser().exists() or text.startswith(("/", ".", "~")):
            return cls("folder", str(Path(text).expanduser()))
        if text.count("/") == 1:
            return cls("hub", text)
        raise ModelError(
            f"Unknown model {text!r}: not a bundled model, a Hugging Face id (org/name) or an existing folder."
        )


def adapter_path(text: str | Path) -> Path:
    """The folder an adapter reference's id names: "runs/<run id>[/<sub>]" inside the current runs folder, anything
    else the path as written."""
    text = str(text)
    if text.startswith(RUNS_PREFIX):
        return paths.runs_dir() / text[len(RUNS_PREFIX):]
    return Path(text).expanduser()


def adapter_id(folder: str | Path) -> str:
    """The id an adapter reference to `folder` is written with: "runs/<run id>[/<sub>]" when it lies in the current
    runs folder, else the path."""
    folder = adapter_path(folder)
    try:
        return RUNS_PREFIX + folder.resolve().relative_to(paths.runs_dir().resolve()).as_posix()
    except ValueError:
        return str(folder)


@dataclass(frozen=True)
class ModelEntry:
    """What the catalogue knows about a model before loading it."""

    ref: ModelRef
    name: str
    family: str
    params: int
    seq2seq: bool
    prompt_style: str
    """One of studio.engines.prompts.PROMPT_STYLES."""
    available: bool
    reason: str = ""
    """Why the model is unavailable, or for an available model where its weights come from."""

    @property
    def size(self) -> str:
        if not self.params:
            return "?"
        return f"{self.params / 1e9:.1f}B" if self.params >= 1e9 else f"{self.params / 1e6:.0f}M"

    @property
    def label(self) -> str:
        return f"{self.name} · {self.size}" + ("" if self.available else " — unavailable")


DEFAULT_MODEL = ModelRef("bundled", "qwen2.5-coder-0.5b-instruct")
"""The model Chat and Compare open with: the best-answering bundled model that streams at least 20 tok/s on 2 CPU
cores on the llama.cpp engine (22.5 tok/s idle; SmolLM2-135M is 3x faster but gives odd replies and repeats its
previous reply to a new question). Its package is in requirements.txt, so a Space has it too."""
