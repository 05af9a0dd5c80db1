"""The run folder: the only contract between the UI, the job runner and a job subprocess. This module owns it:
the runs root, every file name below, the typed config, status updates and the life cycle of every job kind.

runs/<id>/
  config.json        the job config, with its "kind" (sft, rlhf, eval, memory_bench): what made everything else here
  status.json        state (queued | running | finished | stopped | failed), message, pid, step/total, times,
                     owner (who queued it: a login, "session:<id>", or "" from the CLI or a grid), and what a stop
                     needs: stop_requested(_at), stop_reason (the queue's time limit), ran_s (earlier starts' time)
  .status.lock       taken while status.json is read, changed and written (the app and the job both write it)
  metrics.jsonl      one JSON object per line: training steps and per-epoch validation
  log.txt            the subprocess's log
  summary.json       runtime, tokens/s, peak RAM, losses (written when the job ends)
  adapter/           the PEFT adapter (adapter_config.json + adapter_model.safetensors); its adapter_config.json
                     names the model reference it was trained on, so the folder describes itself
  checkpoint/        the latest resumable state: state.pt (tensors and plain values only, loaded weights_only)
  merged/            optional: base model with the adapter merged in
  export/<quant>/    GGUF export (studio/training/export.py): <run id>.<quant>.gguf, an Ollama Modelfile and export.json
                     (what was exported and how the llama.cpp check answered); each file appears only when whole
  eval-<test>.json   evaluation results on one test set (file stem of the test set)
  memory-bench.json  a memory benchmark's result

runs/memory-bench/   every memory benchmark result, <model>-<time>.json (what the Results tab charts)

Where evaluation results live: an evaluation of a fine-tuned adapter (an EvalJob whose model is
adapter:<training run folder>, the job queued after a training run with eval_tests, or
`python -m studio evaluate --adapter runs/<id>`) writes its eval-<test>.json files into the *training* run's
folder, next to the adapter, its config and its training summary: one folder holds all Results needs about a
fine-tuned model. An evaluation of anything else (a base model) writes them into its own run folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from studio.core import paths
from studio.jobs.config import ConfigError, JobConfig, read_config_values
from studio.jobs.kinds import JOB_KINDS, RLHFJob, SFTJob
from studio.models.refs import adapter_path

CONFIG = "config.json"
STATUS = "status.json"
STATUS_LOCK = ".status.lock"
METRICS = "metrics.jsonl"
LOG = "log.txt"
SUMMARY = "summary.json"
ADAPTER = "adapter"
CHECKPOINT = "checkpoint"
CHECKPOINT_STATE = "state.pt"
MERGED = "merged"
EXPORT = "export"
EXPORT_RESULT = "export.json"
MODELFILE = "Modelfile"
EVAL_PREFIX = "eval-"
MEMORY_BENCH_RESULT = "memory-bench.json"
MEMORY_BENCH_DIR = "memory-bench"

TRAINING_KINDS = ("sft", "rlhf")
"""Job kinds whose run folder holds an adapter (and its evaluations)."""
STATES = ("queued", "running", "finished", "stopped", "failed")
ENDED = ("finished", "stopped", "failed")
RUN_ID = re.compile(r"[A-Za-z0-9._-]+")


class RunError(ValueError):
    """A bad run id, an unreadable status.json or a full queue; the message says which and why."""


class StopJob(Exception):
    """A clean early end of a job (stop signal, NaN loss): the run ends as stopped, with this message."""


# ---------------------------------------------------------------------------------------------- where


def root() -> Path:
    """The runs root, read at call time ($CQA_RUNS_DIR, persistent storage, else ./runs)."""
    return paths.runs_dir()


def slug(text: str) -> str:
    """The model part of a run id; an adapter's run id loses its own time stamp ("20261126-152923-smollm2-...")."""
    name = re.sub(r"^\d{8}-\d{6}-", "", text.lower().split(":")[-1].rstrip("/").split("/")[-1])
    return re.sub(r"[^a-z0-9.]+", "-", name).strip("-")[:40] or "model"


def create(cfg: JobConfig, root: Path, owner: str = "") -> str:
    """A new run folder holding the config and a queued status, owned by `owner`. Returns the run id."""
    kind = (("qlora" if cfg.qlora else "lora") if isinstance(cfg, SFTJob) else cfg.method if isinstance(cfg, RLHFJob)
            else cfg.MODULE.rsplit(".", 1)[-1])
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug(cfg.model)}-{kind}"
    run_id, n = base, 1
    while (root / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    run_dir = root / run_id
    run_dir.mkdir()
    cfg.save(run_dir / CONFIG)
    write_json(run_dir / STATUS, {"state": "queued", "message": "Waiting for the queue...", "step": 0,
                                  "total_steps": 0, "created_at": time.time(), "resume": False, "owner": owner})
    return run_id


def job_environment(run_dir: Path) -> dict[str, str]:
    """The environment that gives a job its run's folders: the runs root it lies in and, for a run in a
    workspace, that workspace (whose datasets and collections the job reads by name)."""
    root = run_dir.parent
    if root.parent.name == paths.WORKSPACES:
        return {"CQA_RUNS_DIR": str(root.parent.parent), "CQA_WORKSPACE": root.name}
    return {"CQA_RUNS_DIR": str(root), "CQA_WORKSPACE": ""}


def run_path(run_id: str, runs_root: Path | None = None) -> Path:
    """The folder of run `run_id`: a plain name (letters, digits, '.', '_', '-') inside the runs root."""
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id) or set(run_id) == {"."}:
        raise RunError(f"{run_id!r} is not a run id: a run id is a plain name of letters, digits, '.', '_' and '-'")
    try:
        return paths.inside(runs_root or root(), run_id)
    except paths.PathError as e:
        raise RunError(f"{run_id!r} is not a run id: {e}") from e


def eval_result_path(run_dir: Path, test: str | Path) -> Path:
    """Where a run keeps its evaluation on one test set: eval-<test file stem>.json."""
    return Path(run_dir) / f"{EVAL_PREFIX}{Path(test).stem}.json"


def eval_result_files(run_dir: Path) -> list[Path]:
    return sorted(Path(run_dir).glob(f"{EVAL_PREFIX}*.json"))


def memory_bench_dir(runs_root: Path | None = None) -> Path:
    return (runs_root or root()) / MEMORY_BENCH_DIR


def export_dir(run_dir: Path, quant: str) -> Path:
    """Where a run's GGUF export in quantization `quant` is written (unless the export is told another folder)."""
    return Path(run_dir) / EXPORT / quant


def export_gguf_name(run_id: str, quant: str) -> str:
    return f"{run_id}.{quant}.gguf"


def checkpoint_file(run_dir: Path) -> Path:
    return Path(run_dir) / CHECKPOINT / CHECKPOINT_STATE


def adapter_run(model: str) -> Path | None:
    """The training run folder behind an `adapter:<folder>` model reference, when it is one of ours."""
    if not model.startswith("adapter:"):
        return None
    folder = adapter_path(model.split(":", 1)[1])
    try:
        return folder if read_config(folder).KIND in TRAINING_KINDS else None
    except ConfigError:
        return None


def eval_results_folder(model: str, own_run_dir: Path) -> Path:
    """Where an evaluation of `model` keeps its results (see the module docstring)."""
    return adapter_run(model) or Path(own_run_dir)


# ---------------------------------------------------------------------------------------------- config


def infer_kind(values: dict) -> str:
    """The kind of a config written before configs stored one (the only place a kind is guessed)."""
    if "lora_r" in values:
        return "sft"
    if "tests" in values:
        return "eval"
    if "k" in values and "max_tokens" in values:
        return "memory_bench"
    raise ConfigError("the config names no job kind and is none of " + ", ".join(JOB_KINDS))


def read_config(run_dir: Path) -> JobConfig:
    """The run's job config, typed by its kind (SFTJob, EvalJob, MemoryBenchJob)."""
    path = Path(run_dir) / CONFIG
    values = read_config_values(path)
    kind = values.get("kind") or infer_kind(values)
    if kind not in JOB_KINDS:
        raise ConfigError(f"{path}: unknown job kind {kind!r}; known kinds are {', '.join(JOB_KINDS)}")
    return JOB_KINDS[kind].from_dict({**values, "kind": kind})


# ---------------------------------------------------------------------------------------------- files


def write_json(path: Path, value: dict) -> None:
    """Atomic: a reader (the UI polling every second) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        json.dump(value, f, indent=2)
    os.replace(f.name, path)


def read_json(path: Path) -> dict:
    """A results or summary file; missing or half-written reads as {} (status.json goes through read_status)."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _load_status(run_dir: Path) -> dict:
    """status.json as written; {} when there is none; RunError when it cannot be read."""
    path = Path(run_dir) / STATUS
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunError(f"status.json is unreadable: {e}") from e
    if not isinstance(value, dict):
        raise RunError(f"status.json is unreadable: it holds a {type(value).__name__}, not a JSON object")
    return value


def read_status(run_dir: Path) -> dict:
    """The run's status; an unreadable status.json is reported as a failed run saying so (`corrupt`: True)."""
    try:
        return _load_status(run_dir)
    except RunError as e:
        return {"state": "failed", "message": str(e), "corrupt": True}


@contextlib.contextmanager
def _status_lock(run_dir: Path) -> Iterator[None]:
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(run_dir) / STATUS_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def update_status(run_dir: Path, **fields) -> dict:
    """Read, change and write status.json under the run's lock, so no writer loses another's field.

    An unreadable status.json raises RunError and is left as it is (nothing is overwritten).
    """
    with _status_lock(run_dir):
        status = _load_status(run_dir)
        status.update(fields, updated_at=time.time())
        write_json(Path(run_dir) / STATUS, status)
    return status


def append_metric(run_dir: Path, record: dict) -> None:
    with open(Path(run_dir) / METRICS, "a") as f:
        f.write(json.dumps(record) + "\n")


def read_metrics(run_dir: Path) -> list[dict]:
    try:
        lines = (Path(run_dir) / METRICS).read_text().splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line being written right now
    return records


def log_into(log: logging.Logger, run_dir: Path) -> None:
    """A job's CLI logger: timestamped lines to stderr, and to the run's log file when run at a terminal (under
    studio.jobs.queue stderr already is that file, $CQA_STDERR_IS_LOG)."""
    formatter = logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S")
    log.handlers = [logging.StreamHandler()]
    if not os.environ.get("CQA_STDERR_IS_LOG"):
        log.handlers.append(logging.FileHandler(run_dir / LOG))
    for handler in log.handlers:
        handler.setFormatter(formatter)
    log.setLevel(logging.INFO)
    log.propagate = False


def quiet_libraries() -> None:
    """Keep the run log readable: no per-file progress bars, deprecation notices or optional-kernel notices."""
    import warnings

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="peft")
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            return "\n".join(f.read().decode("utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ------------------------------------------------------------------------------------------- checkpoint


def save_checkpoint(run_dir: Path, contents: dict) -> Path:
    """Write the new checkpoint beside the old one, then swap it in: there is always a whole checkpoint."""
    import torch

    target = checkpoint_file(run_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".tmp")
    with open(partial, "wb") as f:
        torch.save(contents, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, target)
    return target


def load_checkpoint(run_dir: Path) -> dict:
    """The checkpoint's tensors and plain values; nothing in it can run code (weights_only)."""
    import torch

    return torch.load(checkpoint_file(run_dir), weights_only=True)


# ------------------------------------------------------------------------------------------- life cycle


@dataclass
class JobEnd:
    """How a job ends when its body returns: the job sets these as it learns them."""

    state: str = "finished"
    message: str = "Finished."
    fields: dict = field(default_factory=dict)
    """More status fields written with the end state (e.g. the last step)."""


def known_errors() -> tuple[type[BaseException], ...]:
    """Errors whose message already says what went wrong: shown as they are, without a traceback."""
    from studio.access import AccessError
    from studio.data.files import DataError
    from studio.models.refs import ModelError

    return AccessError, ConfigError, DataError, ModelError, paths.PathError, RunError


@contextlib.contextmanager
def job_lifecycle(run_dir: Path, log: logging.Logger, message: str = "Starting...", **fields) -> Iterator[JobEnd]:
    """Every job kind's status bookkeeping, in one place.

    On entry: running, this process's pid, started_at (plus `fields`). On exit: the JobEnd's state and message
    (finished unless the job said otherwise); on StopJob: stopped with its message; on any other exception:
    failed, with a known error's message as it is, or "TypeName: message" and the traceback in the log. Then
    ended_at. The exception still propagates, so a command line can set its exit code.

    SIGTERM (what jobs.stop sends) raises StopJob inside the job, unless the job installs its own handler (training
    stops between steps); the previous handler is back afterwards.
    """
    run_dir = Path(run_dir)
    update_status(run_dir, state="running", message=message, pid=os.getpid(), started_at=time.time(), **fields)
    end = JobEnd()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _stop_on_signal)
    try:
        yield end
    except StopJob as e:
        end.state, end.message = "stopped", str(e)
        log.warning("%s", e)
        raise
    except BaseException as e:  # noqa: BLE001 - every way out is recorded, then re-raised
        end.state = "failed"
        if isinstance(e, known_errors()):
            end.message = str(e)
            log.error("%s", e)
        else:
            end.message = f"{type(e).__name__}: {e}"
            log.error("%s\n%s", end.message, "".join(traceback.format_exception(e)).rstrip())
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        update_status(run_dir, state=end.state, message=end.message, ended_at=time.time(), **end.fields)


def _stop_on_signal(signum, frame) -> None:
    raise StopJob("Stopped on request.")
