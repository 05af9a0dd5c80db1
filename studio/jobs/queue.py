"""Jobs as subprocesses: submit, queue (one at a time by default), stop, resume, list.

Nothing lives only in memory: a job is its run folder (studio/jobs/runs.py). A page reload or an app restart
re-reads the folders; a job whose process died without saying so is shown as failed.

A training job with eval_tests is followed by an evaluation job, queued with it, that starts only once the
training has finished (and ends, saying why, when the training stops or fails). An RLHF job with after_run waits
for its SFT run the same way.

In shared mode studio/jobs/budgets.py bounds each job's cost and time and each visitor's jobs; everywhere a job
whose model does not fit in the free RAM is refused before it is queued and again before it starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from studio import access
from studio.core import paths
from studio.jobs import budgets, distributed, runs
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
    owner: str = ""
    """Who queued it: a login, "session:<id>" for an anonymous visitor, "" for the CLI or a grid."""

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


def _follow_up(cfg: SFTJob | RLHFJob, run_id: str, root: Path) -> EvalJob:
    """The evaluation of a training run's adapter on its eval_tests, to run once the training has finished."""
    return EvalJob(model=f"adapter:{(root / run_id).resolve()}", tests=list(cfg.eval_tests),
                   system_prompt=cfg.system_prompt, after_run=run_id).validate()


def _check_room(current: list[RunInfo], cap: int | None, adding: str) -> None:
    waiting = sum(1 for r in current if r.state == "queued" and not r.follow_up)
    cap = cap or max_queued()
    if waiting >= cap:
        raise runs.RunError(f"The queue is full: {waiting} jobs are waiting (at most {cap}). {adding} was not "
                            "queued; wait for queued jobs to run, or take some off the queue.")


def submit(cfg: JobConfig, root: Path | None = None, max_waiting: int | None = None, owner: str = "") -> str:
    """Create the run folder (config + queued status, owned by `owner`) and start it when the queue allows.
    Returns the run id. Refused (RunError) when `max_waiting` jobs (default: max_queued()) already wait; in shared
    mode also when `owner` has all the jobs a visitor may, and (BudgetError) when the job costs too much.
    A training job with eval_tests gets its follow-up evaluation job queued right behind it.
    """
    cfg.validate()
    access.check_job(cfg)  # shared mode: only catalogue models, registered datasets and shipped test files
    budgets.check(cfg)
    root = root or runs.root()
    root.mkdir(parents=True, exist_ok=True)
    current = list_runs(root)
    _check_room(current + _elsewhere(root), max_waiting, "This job")
    budgets.check_visitor(owner, current)
    run_id = runs.create(cfg, root, owner)
    if isinstance(cfg, (SFTJob, RLHFJob)) and cfg.eval_tests:
        runs.create(_follow_up(cfg, run_id, root), root, owner)
    pump(root)
    return run_id


class Refused(ValueError):
    """A job a page asked for that will not be queued; the message says why, for the page to show."""


def submit_checked(cfg: JobConfig, root: Path | None = None, owner: str = "") -> str:
    """submit() after the checks a page makes first: shared-mode paths before describe() (whose message would
    tell whether a typed path exists), then whether the model can be used and fits in the free RAM. Every refusal
    is a Refused. `owner`: the visitor (studio.workspace.owner), limited per visitor in shared mode."""
    from studio.models import catalogue, refs

    try:
        access.check_job(cfg)
        entry = catalogue.describe(refs.ModelRef.parse(cfg.model))
    except (refs.ModelError, access.AccessError) as e:
        raise Refused(str(e)) from e
    if not entry.available:
        raise Refused(f"{entry.name} is unavailable: {entry.reason}")
    if shortfall := budgets.ram_shortfall(cfg):
        raise Refused(shortfall)
    try:
        return submit(cfg, root, owner=owner)
    except (runs.RunError, access.AccessError, budgets.BudgetError) as e:  # full queue, path, share or cost
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
                                 env={**os.environ, "CQA_STDERR_IS_LOG": "1", **runs.job_environment(run_dir)},
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
                                            message=status.get("stop_reason") or "Stopped before the job began.")
            elif status.get("state") == "running":
                last_line = (runs.tail(run_dir / runs.LOG, 1) or "no log").strip()
                status = runs.update_status(
                    run_dir, state="failed", ended_at=time.time(),
                    message=f"The job's process ended without finishing (killed or crashed). Last log line: {last_line}")
        except runs.RunError as e:  # the status file became unreadable meanwhile
            return {"state": "failed", "message": str(e), "corrupt": True}
    reason = status.get("stop_reason")
    if reason and status.get("state") == "stopped" and not str(status.get("message", "")).startswith(reason):
        with contextlib.suppress(runs.RunError):  # the job wrote its own stop message: say why it was stopped
            status = runs.update_status(run_dir, message=f"{reason} {status.get('message', '')}".strip())
    return status


def _elsewhere(root: Path) -> list[RunInfo]:
    """The runs of every other workspace (studio/core/paths.py): the queue's caps, and one job running at a time,
    hold across all of them."""
    here = root.resolve()
    return [r for other in paths.run_roots() if other.resolve() != here for r in list_runs(other)]


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
                             status.get("created_at", run_dir.stat().st_mtime), after, status.get("owner", "")))
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
        for info in current:
            if info.state == "running":
                _enforce_time(info.path, root)
        running = sum(1 for r in current + _elsewhere(root) if r.state == "running")
        started = []
        for info in sorted((r for r in current if r.state == "queued"), key=lambda r: r.created):
            if running >= MAX_RUNNING:
                break
            try:
                cfg = runs.read_config(info.path)
            except ConfigError as e:
                _end(info.path, "failed", f"Not started: {e}")
                continue
            if info.after and not _training_done(info, root):
                continue
            if shortfall := budgets.ram_shortfall(cfg):
                if not running:  # nothing of ours will free memory: say so rather than wait forever
                    _end(info.path, "failed", f"Not started: {shortfall}")
                continue
            _launch(info.path, bool(runs.read_status(info.path).get("resume")), cfg.KIND)
            running += 1
            started.append(info.id)
        return started


def _enforce_time(run_dir: Path, root: Path) -> None:
    """Shared mode: stop a job past its time as Stop does; kill it when it has not stopped long after."""
    status = runs.read_status(run_dir)
    if reason := budgets.over_time(status):
        stop(run_dir.name, root, reason)
    elif reason := budgets.kill_reason(status):
        with contextlib.suppress(runs.RunError):
            runs.update_status(run_dir, stop_reason=reason, message=reason)
            _signal(run_dir, status["pid"], signal.SIGKILL)


def _signal(run_dir: Path, pid: int, sig: int) -> None:
    """`sig` to the job; to its whole session (the launcher and every training process) when it is a team."""
    with contextlib.suppress(ProcessLookupError):
        (os.killpg if _team(run_dir)[0] > 1 else os.kill)(pid, sig)


def stop(run_id: str, root: Path | None = None, reason: str = "") -> str:
    """Ask a running job to stop (training saves its adapter and a checkpoint), or take a queued one off the queue.
    `reason` (the queue's time limit) heads the run's end message."""
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
        runs.update_status(run_dir, message=f"{reason} Stopping after the current step...".strip(),
                           stop_requested=True, stop_requested_at=time.time(), stop_reason=reason)
    except runs.RunError as e:
        return str(e)
    _signal(run_dir, status["pid"], signal.SIGTERM)
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
        current = list_runs(root)
        _check_room(current + _elsewhere(root), None, "The resumed run")
        budgets.check_visitor(status.get("owner", ""), current)
        ran_s = budgets.check_resume(status)  # shared mode: the time limit counts every start of a run
        runs.update_status(run_dir, state="queued", resume=True, stop_requested=False, stop_reason="", ran_s=ran_s,
                           message="Waiting to resume...", created_at=time.time())
        cfg = runs.read_config(run_dir)
    except (runs.RunError, ConfigError) as e:
        return str(e)
    pending = [r for r in list_runs(root) if r.after == run_id and r.follow_up and r.state in ("queued", "running")]
    if isinstance(cfg, (SFTJob, RLHFJob)) and cfg.eval_tests and not pending:
        runs.create(_follow_up(cfg, run_id, root), root)
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
                for root in paths.run_roots():  # every workspace's runs, one job at a time across them all
                    pump(root)
            except Exception as e:  # noqa: BLE001 - keep the queue alive; the next tick retries
                print(f"job queue: {e}", file=sys.stderr)
            time.sleep(interval)

    thread = threading.Thread(target=loop, daemon=True, name="cqa-job-queue")
    thread.start()
    return thread
