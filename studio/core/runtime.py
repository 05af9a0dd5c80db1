"""Where and how models run: device, dtype and CPU thread count, chosen by measuring this machine."""

from __future__ import annotations

import contextvars
import functools
import os
import resource
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import psutil
import torch

T = TypeVar("T")

PRECISIONS = ("auto", "float32", "bfloat16", "float16", "int8")
"""auto picks per device; int8 is dynamic quantization of Linear layers (CPU only): SmolLM2 decoded about 2x faster
than bf16 but its answers degraded badly (it answered a name question in Hebrew), so it is never chosen by auto."""


def pick_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.cache
def cpu_bf16_is_fast() -> bool:
    """True when a prefill-shaped bf16 matmul beats fp32 on this CPU.

    On AVX2-only CPUs bf16 matmul is 30-100x slower than fp32 (prefill and training crawl); on CPUs with
    AVX512-BF16 or AMX it is several times faster. Measuring is cheaper than keeping a list of CPU flags.
    """

    def best_time(dtype: torch.dtype) -> float:
        a = torch.randn(64, 512, dtype=dtype)
        b = torch.randn(512, 512, dtype=dtype)
        a @ b
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
        return best

    return best_time(torch.bfloat16) < best_time(torch.float32)


def resolve_precision(precision: str, device: str) -> str:
    """Turn "auto" (or an impossible choice) into the precision actually used on `device`."""
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}.")
    if device == "cuda":
        if precision in ("auto", "int8"):
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return precision
    if precision == "auto":
        return "bfloat16" if cpu_bf16_is_fast() else "float32"
    if precision == "float16":
        return "float32"  # fp16 matmul on CPU is as slow as bf16 on AVX2 and no better anywhere else
    return precision


def torch_dtype(precision: str) -> torch.dtype:
    """The dtype weights are loaded in; int8 loads fp32 and is quantized after loading."""
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "int8": torch.float32}[
        precision
    ]


_last_pick: tuple[float, int] = (0.0, 0)


def pick_threads(max_age_s: float = 10.0, sample_s: float = 0.05) -> int:
    """Threads for the next CPU generation: one per core that is not busy right now.

    With 2 cores and a busy neighbour (a training job, another chat), asking for both cores makes PyTorch
    20-30x slower, so we count idle cores instead of all cores. OMP_NUM_THREADS, when set, wins.
    """
    global _last_pick
    if os.environ.get("OMP_NUM_THREADS"):
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    now = time.monotonic()
    if now - _last_pick[0] < max_age_s:
        return _last_pick[1]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    busy = psutil.cpu_percent(interval=sample_s, percpu=True)
    idle = sum(1 for load in busy if load < 50.0)
    threads = max(1, min(cores, idle))
    _last_pick = (now, threads)
    return threads


def peak_ram_mb() -> float:
    """This process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def use_threads(threads: int) -> None:
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


_model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cqa-model")


def submit_to_model_thread(fn: Callable[..., T], *args, **kwargs) -> Future[T]:
    """Run `fn` on the one thread that does all model compute in this process.

    Every thread that runs PyTorch CPU ops gets its own OpenMP team, and idle teams keep spinning for a while:
    on a 2-core machine a second team cut decode speed from 41 to 28 tok/s (SmolLM2, bench/chat_speed.py).
    One long-lived compute thread keeps one warm team, whichever web-server thread asked for the work.
    """
    if threading.current_thread().name.startswith("cqa-model"):
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(e)
        return future
    # in the caller's context: its workspace (studio/core/paths.py) decides which folders the work reads
    return _model_thread.submit(contextvars.copy_context().run, fn, *args, **kwargs)


def on_model_thread(fn: Callable[..., T], *args, **kwargs) -> T:
    return submit_to_model_thread(fn, *args, **kwargs).result()
