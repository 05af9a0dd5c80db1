"""Jobs as subprocesses: submit, queue (one at a time by default), stop, resume, list.

Nothing lives only in memory: a job is its run folder (studio/jobs/runs.py). A page reload or an app restart
re-reads the folders; a job whose process died without saying so is shown as failed.

A training job with eval_tests is followed by an evaluation job, queued with it, that starts only once the
training has finished (and ends, saying why, when the training stops or fails). An RLHF job with after_run waits
for its SFT run the same way.
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

from studio import access
from studio.core import paths
from studio.jobs import distributed, runs
from studio.jobs.config import ConfigError, JobConfig
from studio.jobs.kinds import JOB_KINDS, EvalJob, RLHFJob, SFTJob

MAX_RUNNING = int(os.environ.get("CQA_MAX_JOBS", "1"))
DEFAULT_MAX_QUEUED = 20
JOB_MODULES = {kind: job.MODULE for kind, job in JOB_KINDS.items()}
"""The only modules the runner starts, by the job kind of the run's config (never a module named in a file)."""

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
    """LoRA, QLoRA, GRPO, RLOO, DPO, evaluation or memory benchmark."""
    created: float
    after: str = ""
    """For an evaluation (or RLHF job) queued after a training run: that run's id."""

    @property
    def follow_up(self) -> bool:
        """An evaluation queued behind a training run: not counted against the queue's room."""
        return bool(self.after) and self.kind == "evaluation"

    @property
    def label(self) -> str:
        return f"{self.id} · {self.kind} · {self.state}"


def kind_label(cfg: JobConfig) -> str:
    if isinstance(cfg, SFTJob):
        return "QLoRA" if cfg.qlora else "LoRA"
    if isinstance(cfg, RLHFJob):
        return cfg.method.upper()
    return {"eval": "evaluation", "memory_bench": "memory benchmark"}[cfg.KIND]


def max_queued() -> int:
    """Jobs that may wait in the queue at once ($CQA_MAX_QUEUED, default 20); follow-up evaluations not counted."""
    try:
        return max(1, int(os.environ.get("CQA_MAX_QUEUED", DEFAULT_MAX_QUEUED)))
    except ValueError:
        return DEFAULT_MAX_QUEUED


def _slug(text: str) -> str:
    """The model part of a run id; an adapter's run id loses its own time stamp ("20261126-152923-smollm2-...")."""
    name = re.sub(r"^\d{8}-\d{6}-", "", text.lower().split(":")[-1].rstrip("/").split("/")[-1])
    return re.sub(r"[^a-z0-9.]+", "-", name).strip("-")[:40] or "model"


def _create(cfg: JobConfig, root: Path) -> str:
    """A new run folder holding the config and a queued status. Returns the run id."""
    kind = (("qlora" if cfg.qlora else "lora") if isinstance(cfg, SFTJob) else cfg.method if isinstance(cfg, RLHFJob)
            else cfg.MODULE.rsplit(".", 1)[-1])
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(cfg.model)}-{kind}"
    run_id, n = base, 1
    while (root / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    run_dir = root / run_id
    run_dir.mkdir()
    cfg.save(run_dir / runs.CONFIG)
    runs.write_json(run_dir / runs.STATUS, {"state": "queued", "message": "Waiting for the queue...", "step": 0,
                                            "total_steps": 0, "created_at": time.time(), "resume": False})
    return run_id


def _follow_up(cfg: SFTJob | RLHFJob, run_id: str, root: Path) -> EvalJob:
    """The evaluation of a training run's adapter on its eval_tests, to run once the training has finished."""
    return EvalJob(model=f"adapter:{(root / run_id).resolve()}", tests=list(cfg.eval_tests),
                   system_prompt=cfg.system_prompt, after_run=run_id).validate()


def _check_room(root: Path, cap: int | None, adding: str) -> None:
    waiting = sum(1 for r in list_runs(root) if r.state == "queued" and not r.follow_up)
    cap = cap or max_queued()
    if waiting >= cap:
        raise runs.RunError(f"The queue is full: {waiting} jobs are waiting (at most {cap}). {adding} was not "
                            "queued; wait for queued jobs to run, or take some off the queue.")


def submit(cfg: JobConfig, root: Path | None = None, max_waiting: int | None = None) -> str:
    """Create the run folder (config + queued status) and start it when the queue allows. Returns the run id.

    Refused (RunError) when `max_waiting` jobs (default: max_queued()) already wait. A training job with
    eval_tests gets its follow-up evaluation job queued right behind it.
    """
    cfg.validate()
    access.check_job(cfg)  # shared mode: only catalogue models, registered datasets and shipped test files
    root = root or runs.root()
    root.mkdir(parents=True, exist_ok=True)
    _check_room(root, max_waiting, "This job")
    run_id = _create(cfg, root)
    if isinstance(cfg, (SFTJob, RLHFJob)) and cfg.eval_tests:
        _create(_follow_up(cfg, run_id, root), root)
    pump(root)
    return run_id


class Refused(ValueError):
    """A job a page asked for that will not be queued; the message says why, for the page to show."""


def submit_checked(cfg: JobConfig, root: Path | None = None) -> str:
    """submit() after the checks a page makes first: shared-mode paths before describe() (whose message would
    tell whether a typed path exists), then whether the model can be used. Every refusal is a Refused."""
    from studio.models import catalogue, refs

    try:
        access.check_job(cfg)
        entry = catalogue.describe(refs.ModelRef.parse(cfg.model))
    except (refs.ModelError, access.AccessError) as e:
        raise Refused(str(e)) from e
    if not entry.available:
        raise Refused(f"{entry.name} is unavailable: {entry.reason}")
    try:
        return submit(cfg, root)
    except (runs.RunError, access.AccessError) as e:  # the queue is full, or shared mode refused a path
        raise Refused(str(e)) from e


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
    return stat.split(")")[-1].split()[0] != "Z" and b"-m\x00" in cmdline and runs.CONFIG.encode() in cmdline


def _launch(run_dir: Path, resume: bool, kind: str) -> None:
    run_dir = run_dir.resolve()
    extra = ["--resume"] if resume else []
    command = [sys.executable, "-m", JOB_MODULES[kind], str(run_dir / runs.CONFIG)] + extra
    processes, accelerate_config = _team(run_dir)
    if processes > 1:
        command = distributed.launch_command(JOB_MODULES[kind], run_dir / runs.CONFIG, processes, accelerate_config,
                                             extra)
    with open(run_dir / runs.LOG, "a") as log:
        child = subprocess.Popen(command, cwd=paths.PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                 env={**os.environ, "CQA_STDERR_IS_LOG": "1", "CQA_RUNS_DIR": str(run_dir.parent)},
                                 start_new_session=True)  # outlives an app restart; Ctrl-C in the app's terminal spares it
    _children[child.pid] = child
    runs.update_status(run_dir, state="running", message="Starting...", pid=child.pid, started_at=time.time())


def _team(run_dir: Path) -> tuple[int, str | None]:
    """(processes, accelerate config) a run's config asks for; (1, None) for job kinds that train alone."""
    try:
        cfg = runs.read_config(run_dir)
    except ConfigError:
        return 1, None
    return getattr(cfg, "processes", 1), getattr(cfg, "accelerate_config", None)


def reconcile(run_dir: Path) -> dict:
    """The run's status, corrected when its process died without writing an end state."""
    status = runs.read_status(run_dir)
    if status.get("state") == "running" and not _alive(status.get("pid")):
        time.sleep(0.2)  # the process may have written its end state just now
        status = runs.read_status(run_dir)
        try:
            if status.get("state") == "running" and status.get("stop_requested"):
                status = runs.update_status(run_dir, state="stopped", ended_at=time.time(),
                                            message="Stopped before the job began.")
            elif status.get("state") == "running":
                last_line = (runs.tail(run_dir / runs.LOG, 1) or "no log").strip()
                status = runs.update_status(
                    run_dir, state="failed", ended_at=time.time(),
                    message=f"The job's process ended without finishing (killed or crashed). Last log line: {last_line}")
        except runs.RunError as e:  # the status file became unreadable meanwhile
            return {"state": "failed", "message": str(e), "corrupt": True}
    return status


def list_runs(root: Path | None = None) -> list[RunInfo]:
    root = root or runs.root()
    if not root.is_dir():
        return []
    infos = []
    for run_dir in root.iterdir():
        if not (run_dir / runs.STATUS).exists():
            continue
        status = reconcile(run_dir)
        try:
            cfg = runs.read_config(run_dir)
            kind, model, after = kind_label(cfg), cfg.model, getattr(cfg, "after_run", "")
        except ConfigError:
            kind, model, after = "unreadable config", "?", ""
        infos.append(RunInfo(run_dir.name, run_dir, status.get("state", "failed"), status.get("message", ""),
                             status.get("step", 0), status.get("total_steps", 0), model, kind,
                             status.get("created_at", run_dir.stat().st_mtime), after))
    return sorted(infos, key=lambda r: r.created, reverse=True)


def _end(run_dir: Path, state: str, message: str) -> None:
    try:
        runs.update_status(run_dir, state=state, message=message, ended_at=time.time())
    except runs.RunError:
        pass  # an unreadable status already shows the run as failed, saying why


def _training_done(info: RunInfo, root: Path) -> bool:
    """For a job queued after a training run: True once that run has finished. When the training stopped or
    failed (or is gone), the job ends too, saying why."""
    ended = "Not evaluated" if info.kind == "evaluation" else "Not started"
    try:
        training = runs.read_status(runs.run_path(info.after, root))
    except runs.RunError as e:
        _end(info.path, "failed", f"{ended}: {e}")
        return False
    state = training.get("state")
    if state == "finished":
        return True
    if state in ("stopped", "failed"):
        _end(info.path, state, f"{ended}: training run {info.after} {state} "
                               f"({training.get('message', 'no message')}).")
    elif state is None:
        _end(info.path, "failed", f"{ended}: training run {info.after} does not exist.")
    return False


def pump(root: Path | None = None) -> list[str]:
    """Start queued runs, oldest first, while fewer than MAX_RUNNING run. Returns the ids started.

    The app's queue thread and a terminal's `python -m studio grid --wait` may pump the same folder: a file lock
    keeps them from starting one job twice. A run starts the module its config's kind names in JOB_MODULES.
    """
    root = root or runs.root()
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
            try:
                kind = runs.read_config(info.path).KIND
            except ConfigError as e:
                _end(info.path, "failed", f"Not started: {e}")
                continue
            if info.after and not _training_done(info, root):
                continue
            _launch(info.path, bool(runs.read_status(info.path).get("resume")), kind)
            running += 1
            started.append(info.id)
        return started


def stop(run_id: str, root: Path | None = None) -> str:
    """Ask a running job to stop (training saves its adapter and a checkpoint), or take a queued one off the queue."""
    try:
        run_dir = runs.run_path(run_id, root)
        status = reconcile(run_dir)
        state = status.get("state")
        if status.get("corrupt"):
            return f"{status['message']}; nothing was changed."
        if state == "queued":
            runs.update_status(run_dir, state="stopped", message="Taken off the queue before it started.",
                               ended_at=time.time())
            return "Taken off the queue."
        if state != "running":
            return f"Nothing to stop: the run is {state or 'not there'}."
        runs.update_status(run_dir, message="Stopping after the current step...", stop_requested=True)
    except runs.RunError as e:
        return str(e)
    if _team(run_dir)[0] > 1:
        os.killpg(status["pid"], signal.SIGTERM)  # the launcher and every training process (one session)
    else:
        os.kill(status["pid"], signal.SIGTERM)
    try:
        training = runs.read_config(run_dir).KIND in runs.TRAINING_KINDS
    except ConfigError:
        training = False
    return ("Stopping after the current step; the adapter trained so far will be saved." if training
            else "Stopping.")


def resume(run_id: str, root: Path | None = None) -> str:
    root = root or runs.root()
    try:
        run_dir = runs.run_path(run_id, root)
        status = reconcile(run_dir)
        if status.get("corrupt"):
            return f"{status['message']}; nothing was changed."
        if status.get("state") not in ("stopped", "failed"):
            return f"Only a stopped or failed run can resume; this one is {status.get('state') or 'not there'}."
        if not runs.checkpoint_file(run_dir).exists():
            return "This run has no checkpoint to resume from (it ended before its first step); start it again."
        _check_room(root, None, "The resumed run")
        runs.update_status(run_dir, state="queued", resume=True, stop_requested=False,
                           message="Waiting to resume...", created_at=time.time())
        cfg = runs.read_config(run_dir)
    except (runs.RunError, ConfigError) as e:
        return str(e)
    pending = [r for r in list_runs(root) if r.after == run_id and r.follow_up and r.state in ("queued", "running")]
    if isinstance(cfg, (SFTJob, RLHFJob)) and cfg.eval_tests and not pending:
        _create(_follow_up(cfg, run_id, root), root)
    pump(root)
    return "Resuming from the last checkpoint."


def wait(run_id: str, timeout: float = 600, root: Path | None = None) -> dict:
    """Block until the run has ended (for the CLI and tests); keeps the queue moving meanwhile."""
    run_dir = runs.run_path(run_id, root)
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = reconcile(run_dir)
        pump(root)
        if status.get("state") in runs.ENDED:
            return status
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
