"""The model catalogue: every model the app knows, what each is (`describe`), and where its weights are.

Bundled, hub, folder and adapter references are described from files on disk without loading anything;
`openai:` references by asking their server (models/servers.py). `weights_folder` prepares a model's plain
folder for training, evaluation and the transformers engine; `check_free_ram` refuses a model whose weights would
not fit in the free RAM, instead of being killed halfway.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from studio.core import paths, runtime
from studio.models import bundled, hub, servers, weights
from studio.models.bundled import BUNDLED, BundledModel, bundled_folder
from studio.models.hub import HUB_MODELS, HubModel, downloads_allowed, find_hub_folder
from studio.models.refs import ModelEntry, ModelError, ModelRef, adapter_id, adapter_path

ADAPTER_CONFIG = "adapter_config.json"
"""PEFT's own file name, not one of ours: an adapter folder is whatever folder holds it."""

# ---------------------------------------------------------------- bundled weights (models/bundled.py does the work)


def prepare_bundled(key: str, progress: Callable[[str], None] = print) -> Path:
    """bundled.prepare_bundled, its failures reported as ModelError like every other model problem."""
    try:
        return bundled.prepare_bundled(key, progress)
    except bundled.BundledError as e:
        raise ModelError(str(e)) from e


def _bundled_entry(model: BundledModel) -> ModelEntry:
    if bundled.is_converted(model.key):
        available, reason = True, "weights ready (converted from its pip package)"
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
        reason = "weights found in the local model cache"  # no server path: a shared page shows this
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
    folder = adapter_path(path)
    if (folder / ADAPTER_CONFIG).is_file():
        return folder
    if not folder.is_dir():
        raise ModelError(f"adapter folder {path} does not exist")
    found = sorted(p for p in folder.iterdir() if (p / ADAPTER_CONFIG).is_file())
    if not found:
        raise ModelError(f"no adapter in {path}: no {ADAPTER_CONFIG} there or in a folder one level down")
    if len(found) > 1:
        raise ModelError(f"{path} holds {len(found)} adapters ({', '.join(p.name for p in found)}); "
                         f"name one, e.g. adapter:{adapter_id(found[0])}")
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
    ref = ModelRef("adapter", adapter_id(path))
    path = adapter_path(path)
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
    trained = _training_summary(path)
    name = (f"{base.name} {trained['how']} on {trained['data']} ({method}{rank}{trained['details']}) · "
            f"{_run_name(path)}" if trained else f"{base.name} + {method}{rank} · {path.name}")
    return ModelEntry(ref, name, base.family, base.params, base.seq2seq, base.prompt_style, base.available, reason)


def _training_summary(run: Path) -> dict | None:
    """What the run's config.json says was trained: the data's name, epochs and knowledge collection; None when
    the folder has no readable training config (an adapter copied in on its own)."""
    try:
        config = json.loads((run / "config.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict) or not isinstance(config.get("data"), str):
        return None
    epochs = config.get("epochs")
    details = f", {epochs} epoch{'s' if epochs != 1 else ''}" if isinstance(epochs, int) else ""
    if isinstance(config.get("knowledge"), str) and config["knowledge"]:
        details += f", with the passages of {config['knowledge']}"
    method = config.get("method") if config.get("kind") == "rlhf" else None  # GRPO, RLOO, DPO
    how = f"tuned with {method.upper()}" if isinstance(method, str) and method else "fine-tuned"
    return {"data": Path(config["data"]).stem or config["data"], "details": details, "how": how}


def _run_name(run: Path) -> str:
    """A queue run id "20261204-012852-<model>-lora" as "4 Dec 2026 01:28:52" (to the second: it tells runs apart);
    any other folder name as it is."""
    stamp = re.match(r"(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-", run.name)
    if not stamp:
        return run.name
    year, month, day, hour, minute, second = stamp.groups()
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    return (f"{int(day)} {months[int(month) - 1]} {year} {hour}:{minute}:{second}" if 1 <= int(month) <= 12
            else run.name)


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
        return servers.describe(ref)
    raise ModelError(f"Unknown model kind {ref.kind!r}.")


def catalogue(runs_dir: Path | None = None, remote: bool = False) -> list[ModelEntry]:
    """Every model the app knows: bundled, the report's families, fine-tuned adapters, and with `remote` the
    configured OpenAI-compatible servers' models (chat only: asks each server, at most CHECK_TIMEOUT seconds).
    Cheap: no weights read."""
    return (
        [_bundled_entry(m) for m in BUNDLED.values()]
        + [_hub_entry(m) for m in HUB_MODELS]
        + [adapter_entry(p) for p in find_adapters(runs_dir)]
        + (servers.catalogue_entries() if remote else [])
    )


# -------------------------------------------------------------------------------------------------- loading


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
            return find_hub_folder(ref.id) or hub.download_hub_model(ref.id, progress)
        except hub.HubError as e:
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


