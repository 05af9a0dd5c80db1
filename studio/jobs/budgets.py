"""What a job may cost on a shared app, and whether its model fits in the free RAM.

Shared mode (studio.access.shared_mode) only:
  cost         estimate(cfg) counts the tokens a job will run through its model, at most, from its fields (steps x
               batch x tokens, sampled answers, epochs, questions); check(cfg) refuses a job over max_job_tokens().
  time         a running job older than max_job_minutes() is stopped by the queue as Stop stops it (over_time), and
               killed when it has not stopped KILL_AFTER_S later (kill_reason); a resume does not reset the clock.
  per visitor  check_visitor: at most max_jobs_per_visitor() queued or running jobs per owner (a login, or
               "session:<id>" for an anonymous visitor; "" is not limited), follow-up evaluations not counted.
Everywhere:
  RAM          ram_shortfall(cfg): the model's weights against the free RAM, as Chat checks them before loading.

The limits are read at call time: CQA_MAX_JOB_TOKENS, CQA_MAX_JOB_MINUTES, CQA_MAX_JOBS_PER_VISITOR (defaults in
studio/access.py, next to the queue's).
"""

from __future__ import annotations

import math
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from studio import access
from studio.core import paths
from studio.jobs import runs
from studio.jobs.config import ConfigError, JobConfig
from studio.jobs.kinds import EvalJob, MemoryBenchJob, RLHFJob, SFTJob

PROMPT_TOKENS = 128
"""An evaluation's or benchmark's prompt before retrieval: the chat template, the default system prompt and a
question (the sample test sets' longest question with the system prompt is under 60 tokens)."""
PASSAGE_TOKENS = 200
"""One retrieved passage: studio/knowledge/documents.py cuts chunks of 800 characters, about 4 per token."""
RLHF_PROMPT_FLOOR = 16
"""The prompt room studio/training/rl_steps.prompt_ids keeps when max_new_tokens takes all of max_length."""
BENCH_FILE = paths.ASSETS / "memory_bench.jsonl"
"""The conversations a memory benchmark replays (studio/evaluation/memory_bench.py reads it; jobs may not import
evaluation)."""
KILL_AFTER_S = 300
"""A job stopped for its time that still runs this long after (one training step that does not end) is killed."""


class BudgetError(ConfigError):
    """A job over the shared app's compute budget; the message gives the estimate, the cap and what to lower."""


def _env_number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, "").strip() or default)
    except ValueError:
        return default
    return value if 0 < value < math.inf else default


def max_job_tokens() -> int:
    return int(_env_number("CQA_MAX_JOB_TOKENS", access.SHARED_MAX_JOB_TOKENS))


def max_job_minutes() -> float:
    return _env_number("CQA_MAX_JOB_MINUTES", access.SHARED_MAX_JOB_MINUTES)


def max_jobs_per_visitor() -> int:
    return max(1, int(_env_number("CQA_MAX_JOBS_PER_VISITOR", access.SHARED_MAX_JOBS_PER_VISITOR)))


# ------------------------------------------------------------------------------------------------- cost


@dataclass
class Cost:
    """The tokens a job runs through its model, at most: a sequence counts once each time the job runs it (each
    epoch of training, each sampled answer, each question of each test set), forward and backward together."""

    tokens: int
    why: str
    """How `tokens` was counted, e.g. "355 examples × 1 epoch × 512 tokens"."""
    lower: tuple[str, ...]
    """The fields that set it: what a refusal tells the visitor to lower."""
    scale: float = 1.0
    """The model's parameters over the default model's (SmolLM2-135M), at least 1: the cap is in tokens of the
    default model, and a smaller model gets no larger allowance."""
    model: str = ""
    """The model's name, when it is larger than the default one."""

    @property
    def weighted(self) -> int:
        """What is checked against the cap: `tokens` x `scale`."""
        return math.ceil(self.tokens * self.scale)

    def describe(self) -> str:
        size = f" × {self.scale:.1f} ({self.model} has {self.scale:.1f}x SmolLM2-135M's parameters)" if (
            self.scale > 1) else ""
        return f"{self.why}{size}"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _records(name: str, question_column: str | None = None, answer_column: str | None = None):
    """A Q/A or conversation file by path, else a registered dataset by name, as the jobs read them; BudgetError
    (the job could not run either) when it cannot be read."""
    from studio.data import qa, registry
    from studio.data.files import DataError

    source = Path(name)
    try:
        return (qa.load_file(source, question_column, answer_column) if source.exists()
                else registry.load_registered(name))
    except (DataError, OSError, ValueError) as e:
        raise BudgetError(f"{name} cannot be read, so the job's cost is unknown: {e}") from e


def _training_examples(cfg: SFTJob) -> int:
    """Training examples as studio/training/examples.py makes them: the split, then train_size."""
    from studio.data import qa

    dataset = _records(cfg.data, cfg.question_column, cfg.answer_column)
    train, _ = qa.split(dataset.records, cfg.val_fraction, cfg.seed)
    count = len(train) if dataset.kind == "qa" else len(qa.dialogue_examples(train, 0))  # one per assistant turn
    if cfg.train_size > 1:
        return min(count, int(cfg.train_size))
    return max(1, int(count * cfg.train_size + 0.5)) if count else 0


def _sft(cfg: SFTJob) -> Cost:
    examples = _training_examples(cfg)
    if cfg.max_steps and cfg.max_steps * cfg.batch_size < examples * cfg.epochs:
        return Cost(cfg.max_steps * cfg.batch_size * cfg.max_length,
                    f"{_plural(cfg.max_steps, 'step')} × {_plural(cfg.batch_size, 'example')} × "
                    f"{cfg.max_length:,} tokens", ("max_steps", "batch_size", "max_length"))
    # validation passes (a tenth of the data, forward only) are left out
    return Cost(examples * cfg.epochs * cfg.max_length,
                f"{_plural(examples, 'example')} × {_plural(cfg.epochs, 'epoch')} × {cfg.max_length:,} tokens",
                ("epochs", "train_size", "max_length"))


def _rlhf(cfg: RLHFJob) -> Cost:
    sequence = max(cfg.max_length, RLHF_PROMPT_FLOOR + cfg.max_new_tokens)  # the prompt is cut to make room
    length = "max_length" if sequence == cfg.max_length else "max_new_tokens"
    if cfg.method == "dpo":  # each question's own greedy answer once, then the chosen and rejected pair
        per, what, group = 3, "3 sequences (own answer, chosen, rejected)", _plural(cfg.batch_size, "pair")
        lower = ("max_steps", "batch_size", length)
    else:
        per, what, group = cfg.generations, _plural(cfg.generations, "answer"), _plural(cfg.batch_size, "question")
        lower = ("max_steps", "batch_size", "generations", length)
    return Cost(cfg.max_steps * cfg.batch_size * per * sequence,
                f"{_plural(cfg.max_steps, 'step')} × {group} × {what} × {sequence:,} tokens (prompt + answer)", lower)


def _eval(cfg: EvalJob) -> Cost:
    questions = cfg.holdout
    for test in cfg.tests:
        count = len(_records(test).records)
        questions += min(count, cfg.limit) if cfg.limit else count
    prompt = PROMPT_TOKENS + (cfg.knowledge_k * PASSAGE_TOKENS if cfg.knowledge else 0)
    # the reference perplexity pass and the auto answer style's second try are left out
    return Cost(questions * (prompt + cfg.max_new_tokens),
                f"{_plural(questions, 'question')} × ({prompt:,} prompt + {cfg.max_new_tokens:,} answer tokens)",
                ("limit", "max_new_tokens", "knowledge_k", "tests"))


def _memory_bench(cfg: MemoryBenchJob) -> Cost:
    from studio.memory import MEMORY_KINDS

    try:
        count = sum(1 for line in BENCH_FILE.read_text(encoding="utf-8").splitlines() if line.strip())
    except OSError as e:
        raise BudgetError(f"{BENCH_FILE.name} cannot be read, so the job's cost is unknown: {e}") from e
    conversations = min(count, cfg.limit) if cfg.limit else count
    per = cfg.max_tokens + PROMPT_TOKENS + cfg.max_new_tokens  # summaries written along the way are left out
    return Cost(conversations * len(MEMORY_KINDS) * per,
                f"{_plural(conversations, 'conversation')} × {len(MEMORY_KINDS)} memories × ({cfg.max_tokens:,} "
                f"memory + {PROMPT_TOKENS} prompt + {cfg.max_new_tokens:,} answer tokens)",
                ("limit", "max_tokens", "max_new_tokens"))


def _params(model: str) -> tuple[int, str]:
    """(parameters, name) of a model from the catalogue, without loading it; (0, "") when unknown. An adapter of a
    run not finished yet counts its run's model; a model on a server is not this machine's work."""
    from studio.models import catalogue, refs

    try:
        if model.startswith("adapter:") and (run := runs.adapter_run(model)):
            model = runs.read_config(run).model
        ref = refs.ModelRef.parse(model)
        if ref.kind == "openai":
            return 0, ""
        entry = catalogue.describe(ref)
    except (refs.ModelError, ConfigError, OSError, ValueError):
        return 0, ""
    return entry.params, entry.name


def estimate(cfg: JobConfig) -> Cost:
    """The job's cost (see Cost), from its fields, the size of its data and the size of its model. BudgetError
    when its data cannot be read."""
    kinds = {SFTJob: _sft, RLHFJob: _rlhf, EvalJob: _eval, MemoryBenchJob: _memory_bench}
    cost = kinds[type(cfg)](cfg)
    params, name = _params(cfg.model)
    reference, _ = _params(SFTJob.model)
    if params and reference and params > reference:
        cost.scale, cost.model = params / reference, name
    return cost


def _planned(cfg: JobConfig) -> list[tuple[JobConfig, str]]:
    """The job and the evaluation the queue adds behind a training job with eval_tests (on the same model)."""
    planned = [(cfg, "This job")]
    if isinstance(cfg, (SFTJob, RLHFJob)) and cfg.eval_tests:
        planned.append((EvalJob(model=cfg.model, tests=list(cfg.eval_tests)), "The evaluation queued after it"))
    return planned


def check(cfg: JobConfig) -> None:
    """Shared mode: raise BudgetError when the job (or its follow-up evaluation) is over max_job_tokens()."""
    if not access.shared_mode():
        return
    cap = max_job_tokens()
    for job, what in _planned(cfg):
        cost = estimate(job)
        if cost.weighted > cap:
            fields = ["eval_tests"] if job is not cfg else list(cost.lower)
            smaller = ", or pick a smaller model" if cost.scale > 1 else ""
            raise BudgetError(
                f"{what} would process about {cost.weighted:,} tokens ({cost.describe()}); a job on this shared app "
                f"may process at most {cap:,} (CQA_MAX_JOB_TOKENS). Lower {', '.join(fields[:-1])}"
                f"{' or ' if len(fields) > 1 else ''}{fields[-1]}{smaller}.")


# ------------------------------------------------------------------------------------------------- time


def ran_seconds(status: dict, now: float | None = None) -> float:
    """Seconds a run has run over all its starts: the earlier ones (ran_s, kept by a resume) and the last."""
    now = time.time() if now is None else now
    start = status.get("started_at")
    end = now if status.get("state") == "running" else status.get("ended_at")
    last = max(0.0, end - start) if isinstance(start, (int, float)) and isinstance(end, (int, float)) else 0.0
    earlier = status.get("ran_s", 0)
    return (earlier if isinstance(earlier, (int, float)) else 0) + last


def over_time(status: dict, now: float | None = None) -> str | None:
    """Shared mode: the stop reason for a running job past max_job_minutes(), else None."""
    if not access.shared_mode() or status.get("state") != "running" or status.get("stop_requested"):
        return None
    limit = max_job_minutes()
    if ran_seconds(status, now) < limit * 60:
        return None
    return f"Stopped: it ran past the {limit:g}-minute limit per job on this shared app (CQA_MAX_JOB_MINUTES)."


def kill_reason(status: dict, now: float | None = None) -> str | None:
    """The stop reason for a job stopped for its time that still runs KILL_AFTER_S later, else None."""
    now = time.time() if now is None else now
    asked = status.get("stop_requested_at")
    if not (status.get("stop_reason") and status.get("pid") and status.get("state") == "running"
            and isinstance(asked, (int, float))):
        return None
    if now - asked < KILL_AFTER_S or "was ended" in status["stop_reason"]:
        return None
    return (f"{status['stop_reason']} It had not stopped {KILL_AFTER_S // 60} minutes later and was ended (what "
            "it wrote since its last checkpoint is lost).")


def check_resume(status: dict) -> float:
    """The seconds the run has run so far (a resume keeps them as ran_s); shared mode refuses (RunError) a run
    that has used its time."""
    ran = ran_seconds(status)
    limit = max_job_minutes()
    if access.shared_mode() and ran >= limit * 60:
        raise runs.RunError(f"This run has used the {limit:g}-minute limit per job on this shared app "
                            "(CQA_MAX_JOB_MINUTES); start a smaller job instead.")
    return ran


# ---------------------------------------------------------------------------------------------- visitors


def check_visitor(owner: str, current: list) -> None:
    """Shared mode: raise RunError when `owner` already has max_jobs_per_visitor() queued or running jobs among
    `current` (RunInfo-like: owner, state, follow_up). An empty owner (the CLI, a grid) is not limited."""
    if not owner or not access.shared_mode():
        return
    mine = sum(1 for r in current if r.owner == owner and r.state in ("queued", "running") and not r.follow_up)
    most = max_jobs_per_visitor()
    if mine >= most:
        raise runs.RunError(f"You already have {_plural(mine, 'job')} queued or running, the most one visitor may "
                            f"have on this shared app ({most}). Wait for one to finish, or stop one in the runs "
                            "list, then start this one.")


# -------------------------------------------------------------------------------------------------- RAM


def _load_precision(cfg: JobConfig) -> str:
    """The dtype the job loads its weights in: training loads float32 (bf16 is autocast, studio/training/lora.py)
    or 4-bit under QLoRA (counted as its compute dtype: more than it needs); the others resolve `precision`."""
    from studio.core import runtime

    if isinstance(cfg, (SFTJob, RLHFJob)):
        return cfg.compute_dtype if cfg.qlora else "float32"
    return runtime.resolve_precision(getattr(cfg, "precision", "auto"), runtime.pick_device())


def ram_shortfall(cfg: JobConfig) -> str | None:
    """A message when the job's model would not fit in the free RAM now, as Chat refuses it; else None. None too
    when the model cannot be described or runs on a server: the job's own loading says why."""
    from studio.models import catalogue, refs

    try:
        ref = refs.ModelRef.parse(cfg.model)
        base = catalogue.adapter_base(ref.id) if ref.kind == "adapter" else ref
        if ref.kind == "openai" or not catalogue.describe(base).available:
            return None
        precision = _load_precision(cfg)
    except (refs.ModelError, OSError, ValueError):
        return None
    try:
        catalogue.check_free_ram(ref, precision)
    except refs.ModelError as e:
        return str(e)
    except (OSError, ValueError, KeyError, struct.error):
        return None  # an unreadable weights header: loading reports it
    return None
