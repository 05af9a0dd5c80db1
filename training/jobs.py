"""Training jobs as subprocesses: submit, queue (one at a time by default), stop, resume, list.

Nothing lives only in memory: a job is its run folder (training/runs.py). A page reload or an app restart
re-reads the folders; a job whose process died without saying so is shown as failed.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from chat import models
from training import runs
from training.configs import JobConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAX_RUNNING = int(os.environ.get("CQA_MAX_JOBS", "1"))

_children: dict[int, subprocess.Popen] = {}
_lock = threading.Lock()


@dataclass
class RunInfo:
    id: str
    path: Path
    state: str
    message: str
    step: int
    total_steps: int
    model: str
    kind: str
    """LoRA, QLoRA or evaluation."""
    created: float

    @property
    def label(self) -> str:
        return f"{self.id} · {self.kind} · {self.state}"


def runs_dir() -> Path:
    return models.RUNS_DIR


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower().split(":")[-1].split("/")[-1]).strip("-")[:40] or "model"


def submit(cfg: JobConfig, root: Path | None = None) -> str:
    """Create the run folder (config + queued status) and start it when the queue allows. Returns the run id."""
    cfg.validate()
    root = root or runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    kind = ("qlora" if cfg.qlora else "lora") if hasattr(cfg, "qlora") else cfg.MODULE.rsplit(".", 1)[-1]
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(cfg.model)}-{kind}"
    run_id, n = base, 1
    while (root / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    run_dir = root / run_id
    run_dir.mkdir()
    cfg.save(run_dir / runs.CONFIG)
    runs.write_json(run_dir / runs.STATUS, {"state": "queued", "message": "Waiting for the queue...", "step": 0,
                                            "total_steps": 0, "created_at": time.time(), "resume": False,
                                            "module": cfg.MODULE})
    pump(root)
    return run_id


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None  # also reaps our own finished children (no zombies)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return stat.split(")")[-1].split()[0] != "Z" and b"-m\x00" in cmdline and b"config.json" in cmdline


def _launch(run_dir: Path, resume: bool, module: str) -> None:
    run_dir = run_dir.resolve()
    command = [sys.executable, "-m", module, str(run_dir / runs.CONFIG)] + (["--resume"] if resume else [])
    with open(run_dir / runs.LOG, "a") as log:
        child = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                 env={**os.environ, "CQA_STDERR_IS_LOG": "1", "CQA_RUNS_DIR": str(run_dir.parent)},
                                 start_new_session=True)  # outlives an app restart; Ctrl-C in the app's terminal spares it
    _children[child.pid] = child
    runs.update_status(run_dir, state="running", message="Starting...", pid=child.pid, started_at=time.time())


def reconcile(run_dir: Path) -> dict:
    """The run's status, corrected when its process died without writing an end state."""
    status = runs.read_json(run_dir / runs.STATUS)
    if status.get("state") == "running" and not _alive(status.get("pid")):
        time.sleep(0.2)  # the process may have written its end state just now
        status = runs.read_json(run_dir / runs.STATUS)
        if status.get("state") == "running" and status.get("stop_requested"):
            status = runs.update_status(run_dir, state="stopped", ended_at=time.time(),
                                        message="Stopped before training began.")
        elif status.get("state") == "running":
            last_line = (runs.tail(run_dir / runs.LOG, 1) or "no log").strip()
            status = runs.update_status(
                run_dir, state="failed", ended_at=time.time(),
                message=f"The training process ended without finishing (killed or crashed). Last log line: {last_line}")
    return status


def list_runs(root: Path | None = None) -> list[RunInfo]:
    root = root or runs_dir()
    if not root.is_dir():
        return []
    infos = []
    for run_dir in root.iterdir():
        if not (run_dir / runs.STATUS).exists():
            continue
        status = reconcile(run_dir)
        config = runs.read_json(run_dir / runs.CONFIG)
        kind = "QLoRA" if config.get("qlora") else ("LoRA" if "lora_r" in config else "evaluation")
        infos.append(RunInfo(run_dir.name, run_dir, status.get("state", "failed"), status.get("message", ""),
                             status.get("step", 0), status.get("total_steps", 0), config.get("model", "?"), kind,
                             status.get("created_at", run_dir.stat().st_mtime)))
    return sorted(infos, key=lambda r: r.created, reverse=True)


def pump(root: Path | None = None) -> list[str]:
    """Start queued runs, oldest first, while fewer than MAX_RUNNING run. Returns the ids started.

    The app's queue thread and a terminal's `python -m eval.grid --wait` may pump the same folder: a file lock
    keeps them from starting one job twice.
    """
    root = root or runs_dir()
    if not root.is_dir():
        return []
    with _lock, open(root / ".queue.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = list_runs(root)
        running = sum(1 for r in current if r.state == "running")
        started = []
        for info in sorted((r for r in current if r.state == "queued"), key=lambda r: r.created):
            if running >= MAX_RUNNING:
                break
            status = runs.read_json(info.path / runs.STATUS)
            _launch(info.path, bool(status.get("resume")), status.get("module", "training.sft"))
            running += 1
            started.append(info.id)
        return started


def stop(run_id: str, root: Path | None = None) -> str:
    """Ask a running job to stop (it saves its adapter and a checkpoint), or take a queued one off the queue."""
    run_dir = (root or runs_dir()) / run_id
    status = reconcile(run_dir)
    state = status.get("state")
    if state == "queued":
        runs.update_status(run_dir, state="stopped", message="Taken off the queue before it started.")
        return "Taken off the queue."
    if state != "running":
        return f"Nothing to stop: the run is {state}."
    runs.update_status(run_dir, message="Stopping after the current step...", stop_requested=True)
    os.kill(status["pid"], signal.SIGTERM)
    return "Stopping after the current step; the adapter trained so far will be saved."


def resume(run_id: str, root: Path | None = None) -> str:
    run_dir = (root or runs_dir()) / run_id
    status = reconcile(run_dir)
    if status.get("state") not in ("stopped", "failed"):
        return f"Only a stopped or failed run can resume; this one is {status.get('state')}."
    if not (run_dir / runs.CHECKPOINT / "state.pt").exists():
        return "This run has no checkpoint to resume from (it ended before its first step); start it again."
    runs.update_status(run_dir, state="queued", resume=True, stop_requested=False, message="Waiting to resume...",
                       created_at=time.time())
    pump(root)
    return "Resuming from the last checkpoint."


def wait(run_id: str, timeout: float = 600, root: Path | None = None) -> dict:
    """Block until the run has ended (for the CLI and tests); keeps the queue moving meanwhile."""
    run_dir = (root or runs_dir()) / run_id
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = reconcile(run_dir)
        if status.get("state") in runs.ENDED:
            pump(root)
            return status
        pump(root)
        time.sleep(0.5)
    raise TimeoutError(f"run {run_id} did not end within {timeout:.0f} s")


def start_queue_runner(interval: float = 2.0) -> threading.Thread:
    """A daemon thread that starts queued jobs as earlier ones end, whether or not a page is open."""

    def loop() -> None:
        while True:
            try:
                pump()
            except Exception as e:  # noqa: BLE001 - keep the queue alive; the next tick retries
                print(f"job queue: {e}", file=sys.stderr)
            time.sleep(interval)

    thread = threading.Thread(target=loop, daemon=True, name="cqa-job-queue")
    thread.start()
    return thread
