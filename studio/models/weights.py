"""What a model folder's weight files hold, read from their headers without loading them: whether there are
weights, how many parameters, how many bytes they take once loaded; and whether that fits in the free RAM."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import psutil
import torch

RAM_MARGIN = 1.25
"""Loading needs more than the weights: the tokenizer, Python objects, a second copy while converting a dtype."""

_FLOAT_DTYPES = {"F64", "F32", "F16", "BF16"}
_ITEM_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def has_weights(folder: Path) -> bool:
    return (folder / "config.json").exists() and any(
        p.suffix in (".safetensors", ".bin") for p in folder.iterdir() if p.is_file()
    )


def _tensors(folder: Path) -> list[tuple[str, int]]:
    """(safetensors dtype, element count) of every tensor in the folder's .safetensors files."""
    found = []
    for path in sorted(folder.glob("*.safetensors")):
        with path.open("rb") as f:
            header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
        for name, info in header.items():
            if name != "__metadata__":
                count = 1
                for dim in info["shape"]:
                    count *= dim
                found.append((info["dtype"], count))
    return found


def count_params(folder: Path) -> int:
    """Parameter count from safetensors headers (0 when the folder has only .bin weights)."""
    return sum(count for _, count in _tensors(folder))


def loaded_bytes(folder: Path, dtype: torch.dtype) -> int:
    """Bytes the weights in `folder` take once loaded as `dtype` (float tensors are converted, others kept).

    For .bin files only the size on disk is known: they are taken to hold 16-bit floats, which over-estimates
    fp32 files (a refusal beats an out-of-memory kill). Safetensors are preferred when both are present, as
    transformers does.
    """
    tensors = _tensors(folder)
    if not tensors:
        return sum(int(p.stat().st_size * max(1.0, dtype.itemsize / 2)) for p in folder.glob("*.bin"))
    return sum(count * (dtype.itemsize if kind in _FLOAT_DTYPES else _ITEM_BYTES.get(kind, 4))
               for kind, count in tensors)


def free_ram_bytes() -> int:
    return psutil.virtual_memory().available


def ram_shortfall(name: str, weights: int) -> str | None:
    """A message when `weights` bytes (plus the margin) do not fit in the free RAM now, else None."""
    needed, free = int(weights * RAM_MARGIN), free_ram_bytes()
    if needed <= free:
        return None
    return (f"{name} needs about {needed / 1e9:.1f} GB of RAM; {free / 1e9:.1f} GB is free. Pick a smaller model "
            "or precision, or close other models and jobs first.")
