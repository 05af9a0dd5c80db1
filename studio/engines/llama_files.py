"""The files llama.cpp loads for a model reference: its GGUF file (a fine-tuned adapter merged into its base's
once), the context length the file declares, and the Hugging Face tokenizer that renders its prompts.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from studio.core import paths
from studio.models import bundled, catalogue, gguf_files
from studio.models.refs import ModelRef

MERGED_KIND_FOR = {"F16": "F16", "BF16": "F16", "F32": "F16"}
"""The type an adapter merged into its base is written in, by the base file's type; any quantized base gets
Q8_0, the smallest type that kept the adapter's answers. Greedy answers to test_brief.csv, as PEFT's on
transformers / ROUGE-L x100 / llama.cpp decode tok/s (2 threads, 3 alternating rounds), by merged type:
  SmolLM2 + a 1-epoch LoRA, 36 questions (PEFT 25.6): Q8_0 14/36 27.2 44.4; Q6_K 13/36 26.4 44.2;
  Q5_K_M 0/36 25.3 46.5; Q5_0 1/36 24.4 46.2; Q4_1 0/36 18.8 49.3; the Q4_1 base without adapter 17.4 54.1.
  Qwen2.5-0.5B + a 10-step LoRA, 20 questions (PEFT 23.9): Q8_0 17/20 23.6 17.2; Q6_K 9/20 23.8 17.7;
  Q5_K_M 5/20 25.2 17.7; Q4_K_M 0/20 (3 answers as the base's) 30.0 15.7; the base 26.8 19.2.
Rounding the merged weights to 4 bits again erases a LoRA's small deltas; Q8_0 costs SmolLM2 about a fifth of
its decode speed and Qwen a tenth (its Q4_K_M base is mostly Q5_0/Q8_0 already). A LoRA applied at run time on
the quantized base kept fewer answers (Qwen 13/20) and cost SmolLM2 a third of its speed."""


def gguf_context_length(path: Path) -> int | None:
    """The context length the GGUF file declares (<arch>.context_length), read from its header."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    arch_field = reader.fields.get("general.architecture")
    if arch_field is None:
        return None
    arch = bytes(arch_field.parts[arch_field.data[0]]).decode()
    length = reader.fields.get(f"{arch}.context_length")
    return int(length.parts[length.data[0]][0]) if length is not None else None


def hf_tokenizer(ref: ModelRef, gguf: Path, progress: Callable[[str], None]):
    """The Hugging Face tokenizer of `ref` (an adapter's base): a bundled model's converted folder when there is
    one, else read once from the GGUF file and kept in the cache (the bf16 conversion is not needed to chat)."""
    from transformers import AutoTokenizer

    if ref.kind == "bundled":
        folder = bundled.bundled_folder(ref.id) if bundled.is_converted(ref.id) else (
            paths.cache_dir() / "gguf" / "tokenizers" / ref.id)
        if not (folder / "tokenizer_config.json").exists():
            progress(f"Reading the tokenizer of {gguf.name} (one time)...")
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            tokenizer.save_pretrained(folder)
        return AutoTokenizer.from_pretrained(folder)
    return AutoTokenizer.from_pretrained(catalogue.weights_folder(ref, progress))


def merged_gguf(ref: ModelRef, base_gguf: Path, weight_type: str, progress: Callable[[str], None] = print) -> Path:
    """The adapter `ref` merged into its base model once (PEFT merge_and_unload in fp32, llama.cpp's converter,
    then quantized like the base), cached by the adapter's weights: a fine-tuned run then decodes at its base's
    speed. Applied at run time instead, a rank-16 LoRA on every projection cost SmolLM2 a third of its tok/s."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM


    adapter = catalogue.adapter_folder(ref.id)
    kind = MERGED_KIND_FOR.get(weight_type, "Q8_0")  # see MERGED_KIND_FOR
    name = f"{adapter.parent.name or adapter.name}-{gguf_files.adapter_digest(adapter)[:16]}-{kind}.gguf"
    target = gguf_files.gguf_dir() / "merged" / name
    if target.is_file():
        return target
    base = catalogue.adapter_base(ref.id)
    folder = catalogue.weights_folder(base, progress)
    progress(f"Merging the adapter into {base} for llama.cpp, {kind} (once per trained adapter, about a minute)...")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".merge-") as tmp:
        merged = Path(tmp) / "merged"
        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32), adapter)
        model.merge_and_unload().save_pretrained(merged)
        del model
        hf_tokenizer(base, base_gguf, progress).save_pretrained(merged)
        f16 = gguf_files.convert_folder(merged, Path(tmp) / "f16.gguf", progress)
        if kind == "F16":
            os.replace(f16, target)
        else:
            gguf_files.quantize_gguf(f16, target, kind)
    return target


def adapter_files(ref: ModelRef, base: Path, progress: Callable[[str], None]) -> tuple[Path, Path | None, str]:
    """(model file, run-time LoRA file or None, how the adapter is applied) for an adapter reference."""

    try:
        merged = merged_gguf(ref, base, file_type(base), progress)
        return merged, None, f"merged into {merged.name}"
    except (gguf_files.GgufError, OSError, ValueError, RuntimeError) as e:
        lora = gguf_files.adapter_gguf(catalogue.adapter_folder(ref.id), progress)
        return base, lora, f"applied at run time (merging failed: {e})"


def file_type(gguf: Path) -> str:
    """The weight type a GGUF file name states (bundled and converted files say it), else ""."""
    kinds = ("Q4_K_M", "Q4_K_S", "Q5_K_M", "Q6_K", "Q8_0", "Q4_0", "Q4_1", "BF16", "F16", "F32")
    return next((kind for kind in kinds if kind.lower() in gguf.name.lower()), "")
