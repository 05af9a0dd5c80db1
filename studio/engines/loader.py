"""`load_model(ref)`: the one place an engine is chosen, and the cache of loaded models.

Which engine answers: llama.cpp (engines/llama_cpp.py) or transformers (engines/hf.py), for "auto" and for an
explicit choice; a model on an OpenAI-compatible server is answered by its server (engines/remote.py).

"auto" is llama.cpp wherever this build can run the model on the CPU, transformers on a GPU or when llama.cpp is
missing, cannot run the model's family, or $CQA_ENGINE pins transformers; the reason travels with the choice so
the Models tab and the stats line can say it.
"""

from __future__ import annotations

import gc
import os
import threading
from collections import OrderedDict
from collections.abc import Callable

import torch

from studio.core import runtime
from studio.engines import hf, llama_cpp, remote
from studio.engines.base import LoadedModel
from studio.models import gguf_files
from studio.models.catalogue import describe
from studio.models.refs import ModelEntry, ModelError, ModelRef, adapter_path
from studio.models.servers import REMOTE_ENGINE

MAX_LOADED_MODELS = int(os.environ.get("CQA_MAX_LOADED_MODELS", "2"))

ENGINES = ("auto", "llama.cpp", "transformers")
ENGINE_LABELS = {"auto": "auto (llama.cpp on a CPU when it can run the model)", "llama.cpp": "llama.cpp",
                 "transformers": "transformers (PyTorch)"}
LLAMA_FAMILIES = {"llama", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "gpt_neox", "mistral", "phi3"}
"""Decoder-only families whose Hugging Face folders llama.cpp's converter handles and this engine was tried on."""


def pinned_engine() -> str | None:
    """What "auto" means when $CQA_ENGINE pins it (a deployment, or a test suite that needs PyTorch models)."""
    value = os.environ.get("CQA_ENGINE", "").strip()
    return value if value in ("llama.cpp", "transformers") else None


def model_problem(entry: ModelEntry) -> str | None:
    """Why llama.cpp does not run this model here (it may run on transformers), or None."""
    if entry.seq2seq:
        return f"{entry.name} is an encoder-decoder ({entry.family}) model; the llama.cpp engine runs decoder-only ones"
    if entry.family not in LLAMA_FAMILIES:
        return (f"{entry.name} is a {entry.family} model; the llama.cpp engine runs the families "
                f"{', '.join(sorted(LLAMA_FAMILIES))}")
    return None


def hardware_prefers_pytorch() -> str | None:
    """Why "auto" should use PyTorch on this machine, or None: this llama.cpp build runs on the CPU only.

    On CPUs llama.cpp is auto's choice even where PyTorch's bf16 is fast. Measured on an idle 2-core Xeon with AMX
    (bench/chat_speed.py, 2 threads, 128 tokens): decoding 74.5 vs 21.5 tok/s (SmolLM2), 22.5 vs 7.7 (Qwen-0.5B);
    a chat's next turn starts in 0.12 / 0.24 s (KV cache reused) vs 0.71 / 2.65 s. PyTorch reads a cold 1,000-token
    prompt (a grounded turn) faster, 0.76 vs 6.6 s and 2.5 vs 14.7 s, which makes such a turn with a 128-token reply
    about even (Qwen 20.4 vs 19.2 s). On AVX2-only CPUs PyTorch's bf16 is 30-100x slower still."""
    if runtime.pick_device() == "cuda":
        return "a GPU is present and this llama.cpp build runs on the CPU only"
    return None


def resolve_engine(entry: ModelEntry, engine: str) -> tuple[str, str]:
    """(engine actually used, why it is not llama.cpp when that was asked for or meant by auto)."""
    if engine not in ENGINES:
        raise ModelError(f"Unknown engine {engine!r}; choose one of {', '.join(ENGINES)}.")
    if entry.ref.kind == "openai":
        return REMOTE_ENGINE, ""
    if engine == "auto" and pinned_engine():
        engine = pinned_engine()
        if engine == "transformers":
            return engine, "CQA_ENGINE=transformers"
    if engine == "auto" and (reason := hardware_prefers_pytorch()):
        return "transformers", reason
    if engine == "transformers":
        return engine, ""
    problem = gguf_files.llama_cpp_problem() or model_problem(entry)
    if problem and engine == "llama.cpp":
        raise ModelError(f"llama.cpp cannot run {entry.name}: {problem}.")
    return ("transformers", problem) if problem else ("llama.cpp", "")


# ------------------------------------------------------------------------------------------------- loading

_cache: OrderedDict[tuple[ModelRef, str, str], LoadedModel] = OrderedDict()
"""(reference, precision ("gguf" on llama.cpp), engine) -> the loaded model."""
_cache_lock = threading.Lock()
_llama_failures: dict[ModelRef, str] = {}
"""Models "auto" tried on llama.cpp and had to load on transformers, with why (not tried again)."""


def load_model(ref: ModelRef | str, precision: str = "auto", progress: Callable[[str], None] = print,
               engine: str = "auto") -> LoadedModel:
    """Load (or fetch from the per-process cache) a model; at most MAX_LOADED_MODELS stay loaded (LRU).

    `engine`: "transformers", "llama.cpp" (`precision` is then the GGUF file's) or "auto": llama.cpp when it is
    installed and runs the model, else transformers with the reason in `engine_note`."""
    ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
    if ref.kind == "openai":  # nothing loaded here: not cached, so a changed key or URL counts at once
        return remote.load(ref)
    chosen, note = resolve_engine(describe(ref), engine)
    # "adapter:runs/<run id>" names a run in the current workspace: two workspaces may hold the same run id
    same = ModelRef("adapter", str(adapter_path(ref.id).resolve())) if ref.kind == "adapter" else ref
    if engine == "auto" and same in _llama_failures:
        chosen, note = "transformers", _llama_failures[same]
    key = (same, precision if chosen == "transformers" else "gguf", chosen)
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
                loaded = runtime.on_model_thread(llama_cpp.load, ref, progress)
            except ModelError as e:
                if engine == "llama.cpp":
                    raise
                chosen, note = "transformers", str(e)
                _llama_failures[same] = note
                key = (same, precision, chosen)
        if chosen == "transformers":
            loaded = runtime.on_model_thread(hf.load, ref, precision, progress)
            loaded.engine_note = note
        _cache[key] = loaded
        return loaded


def loaded_refs() -> list[tuple[ModelRef, str]]:
    with _cache_lock:
        return [(ref, precision) for ref, precision, _ in _cache]
