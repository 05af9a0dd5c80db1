"""The model catalogue and `load_model(ref)`.

A model is named by a `ModelRef` (a small value), never by a loaded object. Four kinds of reference:
  bundled:<key>        weights shipped inside pip packages (GGUF), verified and converted once (chat/bundled.py)
  hub:<org/name>       a Hugging Face id, usable when its weights are in the local HF cache or $CQA_MODELS_DIR
  folder:<path>        any local model folder (config.json + weights + tokenizer)
  adapter:<path>       a fine-tuned PEFT adapter: a folder holding adapter_config.json, or a run folder with exactly
                       one such folder one level down; its base model is the adapter_config.json's
                       base_model_name_or_path (a model reference, or a folder path for older adapters)
  openai:<model>@<server>  a model on an OpenAI-compatible server (chat/openai_backend.py), by the server's
                       configured name (or, outside shared mode, its base URL)
Loading refuses a model whose weights would not fit in the free RAM, instead of being killed halfway.
"""

from __future__ import annotations

import gc
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from chat import bundled, hub_models, paths, runtime, weights
from chat.bundled import BUNDLED, BundledModel, bundled_folder
from chat.hub_models import HUB_FILES, HUB_MODELS, HubModel, downloads_allowed, find_hub_folder  # noqa: F401 - re-exported

MAX_LOADED_MODELS = int(os.environ.get("CQA_MAX_LOADED_MODELS", "2"))
ADAPTER_CONFIG = "adapter_config.json"
"""PEFT's own file name, not one of ours: an adapter folder is whatever folder holds it."""

_MOVED = {"CACHE_DIR": ("chat.paths.cache_dir()", "CQA_CACHE_DIR"), "RUNS_DIR": ("chat.paths.runs_dir()", "CQA_RUNS_DIR")}


def __getattr__(name: str):
    # The folders are read at call time now; a stale `models.RUNS_DIR` must fail loudly, not point somewhere old.
    if name in _MOVED:
        call, variable = _MOVED[name]
        raise AttributeError(f"chat.models.{name} is gone: call {call} (tests: monkeypatch.setenv {variable})")
    raise AttributeError(f"module 'chat.models' has no attribute {name!r}")


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


@dataclass(frozen=True)
class ModelEntry:
    """What the catalogue knows about a model before loading it."""

    ref: ModelRef
    name: str
    family: str
    params: int
    seq2seq: bool
    prompt_style: str
    """One of chat.prompts.PROMPT_STYLES."""
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

# ---------------------------------------------------------------- bundled weights (chat/bundled.py does the work)


def prepare_bundled(key: str, progress: Callable[[str], None] = print) -> Path:
    """bundled.prepare_bundled, its failures reported as ModelError like every other model problem."""
    try:
        return bundled.prepare_bundled(key, progress)
    except bundled.BundledError as e:
        raise ModelError(str(e)) from e


def _bundled_entry(model: BundledModel) -> ModelEntry:
    if bundled.is_converted(model.key):
        available, reason = True, f"converted copy in {bundled_folder(model.key)}"
    else:
        found = bundled.part_paths(model)
        available = not isinstance(found, str)
        reason = "packaged GGUF weights, converted on first use" if available else found
    return ModelEntry(
        ModelRef("bundled", model.key), model.name, model.family, model.params, False, model.prompt_style,
        available, reason,
    )


def _hub_entry(model: HubModel) -> ModelEntry:
    folder = find_hub_folder(model.id)
    if folder:
        reason = f"local copy in {folder}"
    elif downloads_allowed():
        reason = "downloaded from the Hugging Face Hub on first use"
    else:
        reason = ("weights not found in the local Hugging Face cache or $CQA_MODELS_DIR (nothing is downloaded "
                  "at run time); copy the model folder there or type its path")
    return ModelEntry(
        ModelRef("hub", model.id), model.id.split("/")[-1], model.family, model.params, model.seq2seq,
        model.prompt_style, folder is not None or downloads_allowed(), reason,
    )


# ------------------------------------------------------------------------------------- local folders and adapters

SEQ2SEQ_TYPES = {"t5", "mt5", "umt5", "bart", "mbart", "pegasus"}


def _guess_prompt_style(folder: Path, model_type: str) -> str:
    lowered = str(folder).lower()
    if "dialogpt" in lowered:
        return "turns"
    if "dolly" in lowered:
        return "instruction"
    tokenizer_config = folder / "tokenizer_config.json"
    has_template = (folder / "chat_template.jinja").exists() or (
        tokenizer_config.exists() and "chat_template" in json.loads(tokenizer_config.read_text())
    )
    if has_template and model_type not in SEQ2SEQ_TYPES:
        return "chat"
    return "qa"


def folder_entry(path: str | Path, ref: ModelRef | None = None, name: str | None = None) -> ModelEntry:
    folder = Path(path).expanduser()
    ref = ref or ModelRef("folder", str(folder))
    name = name or folder.name
    if not folder.is_dir():
        return ModelEntry(ref, name, "?", 0, False, "qa", False, f"folder {folder} does not exist")
    if not weights.has_weights(folder):
        return ModelEntry(
            ref, name, "?", 0, False, "qa", False,
            f"{folder} is not a model folder (needs config.json and .safetensors or .bin weights)",
        )
    config = json.loads((folder / "config.json").read_text())
    model_type = config.get("model_type", "?")
    return ModelEntry(
        ref, name, model_type, weights.count_params(folder), model_type in SEQ2SEQ_TYPES,
        _guess_prompt_style(folder, model_type), True, f"local folder {folder}",
    )


def adapter_folder(path: str | Path) -> Path:
    """The folder holding PEFT's adapter_config.json: `path` itself, or its only subfolder that holds one."""
    folder = Path(path).expanduser()
    if (folder / ADAPTER_CONFIG).is_file():
        return folder
    if not folder.is_dir():
        raise ModelError(f"adapter folder {folder} does not exist")
    found = sorted(p for p in folder.iterdir() if (p / ADAPTER_CONFIG).is_file())
    if not found:
        raise ModelError(f"no adapter in {folder}: no {ADAPTER_CONFIG} there or in a folder one level down")
    if len(found) > 1:
        raise ModelError(f"{folder} holds {len(found)} adapters ({', '.join(p.name for p in found)}); "
                         f"name one, e.g. adapter:{found[0]}")
    return found[0]


def _adapter_config(path: str | Path) -> dict:
    try:
        return json.loads((adapter_folder(path) / ADAPTER_CONFIG).read_text())
    except (OSError, ValueError) as e:
        raise ModelError(f"the adapter in {path} cannot be read: {e}") from e


def adapter_base(path: str | Path) -> ModelRef:
    """The base model the adapter in `path` was trained on, from its adapter_config.json."""
    base = _adapter_config(path).get("base_model_name_or_path")
    if not isinstance(base, str) or not base.strip():
        raise ModelError(f"the adapter in {path} does not say which model it was trained on "
                         f"(no base_model_name_or_path in its {ADAPTER_CONFIG})")
    ref = ModelRef.parse(base)
    if ref.kind == "folder" and (key := bundled.key_of_folder(ref.id)):
        return ModelRef("bundled", key)  # an older adapter naming the converted copy of a bundled model
    if ref.kind == "adapter":
        raise ModelError(f"the adapter in {path} names another adapter as its base ({base}); name a model")
    return ref


def adapter_entry(path: str | Path) -> ModelEntry:
    path = Path(path)
    ref = ModelRef("adapter", str(path))
    name = f"{path.name} (fine-tuned)"
    try:
        config = _adapter_config(path)
        base = describe(adapter_base(path))
    except ModelError as e:
        return ModelEntry(ref, name, "?", 0, False, "qa", False, str(e))
    reason = f"adapter on {base.name}" if base.available else f"base model {base.name} unavailable: {base.reason}"
    # Say what was trained, so a picker full of runs stays readable; the folder name tells runs apart.
    method = str(config.get("peft_type") or "LoRA").replace("LORA", "LoRA")
    rank = f" r={config['r']}" if isinstance(config.get("r"), int) else ""
    name = f"{base.name} + {method}{rank} · {path.name}"
    return ModelEntry(ref, name, base.family, base.params, base.seq2seq, base.prompt_style, base.available, reason)


def find_adapters(runs_dir: Path | None = None) -> list[Path]:
    """Folders under the runs folder that are adapters or hold exactly one, newest first."""
    runs_dir = Path(runs_dir or paths.runs_dir())
    if not runs_dir.is_dir():
        return []
    found = []
    for folder in runs_dir.iterdir():
        if folder.is_dir() and ((folder / ADAPTER_CONFIG).is_file()
                                or sum((p / ADAPTER_CONFIG).is_file() for p in folder.iterdir()) == 1):
            found.append(folder)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


# ------------------------------------------------------------------------------------------------- catalogue


def describe(ref: ModelRef) -> ModelEntry:
    if ref.kind == "bundled":
        if ref.id not in BUNDLED:
            raise ModelError(f"Unknown bundled model {ref.id!r}; bundled models: {', '.join(BUNDLED)}.")
        return _bundled_entry(BUNDLED[ref.id])
    if ref.kind == "hub":
        known = next((m for m in HUB_MODELS if m.id == ref.id), None)
        if known:
            return _hub_entry(known)
        folder = find_hub_folder(ref.id)
        if folder is None:
            return ModelEntry(
                ref, ref.id, "?", 0, False, "qa", False,
                f"{ref.id} is not in the local Hugging Face cache or $CQA_MODELS_DIR (nothing is downloaded)",
            )
        return folder_entry(folder, ref=ref, name=ref.id.split("/")[-1])
    if ref.kind == "folder":
        return folder_entry(ref.id, ref=ref)
    if ref.kind == "adapter":
        return adapter_entry(ref.id)
    if ref.kind == "openai":
        from chat import openai_backend  # it imports chat.engine, which imports this module

        return openai_backend.describe(ref)
    raise ModelError(f"Unknown model kind {ref.kind!r}.")


def catalogue(runs_dir: Path | None = None, remote: bool = False) -> list[ModelEntry]:
    """Every model the app knows: bundled, the report's families, fine-tuned adapters, and with `remote` the
    configured OpenAI-compatible servers' models (chat only: asks each server, at most CHECK_TIMEOUT seconds).
    Cheap: no weights read."""
    from chat import openai_backend

    return (
        [_bundled_entry(m) for m in BUNDLED.values()]
        + [_hub_entry(m) for m in HUB_MODELS]
        + [adapter_entry(p) for p in find_adapters(runs_dir)]
        + (openai_backend.catalogue_entries() if remote else [])
    )


# -------------------------------------------------------------------------------------------------- loading


@dataclass
class LoadedModel:
    entry: ModelEntry
    model: torch.nn.Module
    tokenizer: object
    device: str
    precision: str
    engine: str = "transformers"
    engine_note: str = ""
    """Why this model runs on transformers although llama.cpp was meant ("auto"), when it does."""

    @property
    def max_positions(self) -> int:
        config = self.model.config
        for name in ("max_position_embeddings", "n_positions", "n_ctx"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return 512 if self.entry.seq2seq else 2048


def weights_folder(ref: ModelRef, progress: Callable[[str], None] = print) -> Path:
    """The plain folder to load `ref` (for an adapter: its base) from, preparing bundled weights if needed."""
    if ref.kind == "adapter":
        return weights_folder(adapter_base(ref.id), progress)
    if ref.kind == "openai":
        raise ModelError(f"{ref} runs on its server: it can chat, but its weights are not here to train, evaluate "
                         "or export; pick a bundled, hub or folder model")
    entry = describe(ref)
    if not entry.available:
        raise ModelError(f"{entry.name} is unavailable: {entry.reason}.")
    if ref.kind == "bundled":
        return prepare_bundled(ref.id, progress)
    if ref.kind == "hub":
        try:
            return find_hub_folder(ref.id) or hub_models.download_hub_model(ref.id, progress)
        except hub_models.HubError as e:
            raise ModelError(str(e)) from e
    return Path(ref.id).expanduser()


def check_free_ram(ref: ModelRef, precision: str) -> None:
    """Raise ModelError when loading `ref` in `precision` (a resolved one) would not fit in the free RAM."""
    base = adapter_base(ref.id) if ref.kind == "adapter" else ref
    entry = describe(base)
    dtype = runtime.torch_dtype(precision)
    if base.kind == "bundled" and not bundled.is_converted(base.id):
        needed = entry.params * max(4, dtype.itemsize)  # the one-time conversion dequantizes the GGUF to fp32
    else:
        folder = bundled_folder(base.id) if base.kind == "bundled" else (
            find_hub_folder(base.id) if base.kind == "hub" else Path(base.id).expanduser())
        # a hub model not downloaded yet is counted by its catalogue parameter count (0 when unknown)
        needed = weights.loaded_bytes(folder, dtype) if folder and folder.is_dir() else entry.params * dtype.itemsize
    if message := weights.ram_shortfall(entry.name, needed):
        raise ModelError(message)


def _load(ref: ModelRef, precision: str, progress: Callable[[str], None]) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    entry = describe(ref)
    if not entry.available:
        raise ModelError(f"{entry.name} is unavailable: {entry.reason}.")
    device = runtime.pick_device()
    precision = runtime.resolve_precision(precision, device)
    check_free_ram(ref, precision)
    folder = weights_folder(ref, progress)
    progress(f"Loading {entry.name} on {device} ({precision})...")
    auto = AutoModelForSeq2SeqLM if entry.seq2seq else AutoModelForCausalLM
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = auto.from_pretrained(folder, dtype=runtime.torch_dtype(precision))
        if ref.kind == "adapter":
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter_folder(ref.id)).merge_and_unload()
    except torch.OutOfMemoryError as e:
        raise ModelError(f"Out of memory while loading {entry.name}: {e}. Pick a smaller model.") from e
    except (OSError, ValueError) as e:
        raise ModelError(f"Could not load {entry.name} from {folder}: {e}") from e
    model.to(device).eval()
    if precision == "int8":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(entry, model, tokenizer, device, precision)


_cache: OrderedDict[tuple[ModelRef, str, str], LoadedModel] = OrderedDict()
"""(reference, precision ("gguf" on llama.cpp), engine) -> the loaded model."""
_cache_lock = threading.Lock()
_llama_failures: dict[ModelRef, str] = {}
"""Models "auto" tried on llama.cpp and had to load on transformers, with why (not tried again)."""


def load_model(ref: ModelRef | str, precision: str = "auto", progress: Callable[[str], None] = print,
               engine: str = "auto") -> LoadedModel:
    """Load (or fetch from the per-process cache) a model; at most MAX_LOADED_MODELS stay loaded (LRU).

    `engine`: "transformers", "llama.cpp" (chat/llama_engine.py; `precision` is then the GGUF file's) or "auto":
    llama.cpp when it is installed and runs the model, else transformers with the reason in `engine_note`."""
    from chat import engine_choice, llama_engine

    ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
    if ref.kind == "openai":  # nothing loaded here: not cached, so a changed key or URL counts at once
        from chat import openai_backend

        return openai_backend.load(ref)
    chosen, note = engine_choice.resolve_engine(describe(ref), engine)
    if engine == "auto" and ref in _llama_failures:
        chosen, note = "transformers", _llama_failures[ref]
    key = (ref, precision if chosen == "transformers" else "gguf", chosen)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        while len(_cache) >= max(1, MAX_LOADED_MODELS):
            _cache.popitem(last=False)
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        if chosen == "llama.cpp":
            try:
                loaded = runtime.on_model_thread(llama_engine.load, ref, progress)
            except ModelError as e:
                if engine == "llama.cpp":
                    raise
                chosen, note = "transformers", str(e)
                _llama_failures[ref] = note
                key = (ref, precision, chosen)
        if chosen == "transformers":
            loaded = runtime.on_model_thread(_load, ref, precision, progress)
            loaded.engine_note = note
        _cache[key] = loaded
        return loaded


def loaded_refs() -> list[tuple[ModelRef, str]]:
    with _cache_lock:
        return [(ref, precision) for ref, precision, _ in _cache]
