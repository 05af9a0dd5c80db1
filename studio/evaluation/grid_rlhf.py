"""The experiment grid's RLHF cells: ft+grpo and ft+dpo continue the adapter of the same row's ft cell.

An RLHF cell's job is queued right behind its SFT run, with `after_run` naming that run: it waits in the queue
until the SFT run has finished (and ends, saying why, when that run stops or fails), then tunes the SFT adapter with
GRPO or DPO (studio/training/rlhf.py) on the same training split, and the queue evaluates the result on the grid's test
sets (RLHFJob.eval_tests). studio/evaluation/results.py shows such a run as the condition ft+grpo or ft+dpo.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from studio.jobs.config import ConfigError
from studio.jobs.kinds import RLHFJob

if TYPE_CHECKING:
    from studio.evaluation.grid import Cell, GridSpec

RLHF_CONDITIONS = {"ft+grpo": "grpo", "ft+dpo": "dpo"}
"""RLHF condition -> RLHFJob.method; the names are the conditions studio/evaluation/results.py gives such runs."""
SHARED_FIELDS = ("seed", "val_fraction", "system_prompt", "threads", "precision", "max_length", "question_column",
                 "answer_column")
"""SFTJob fields of GridSpec.job an RLHF cell takes over, so it asks the SFT run's questions, split and prompt."""
FROM_THE_CELL = ("method", "model", "adapter", "data", "train_size", "qlora", "eval_tests", "after_run", "extra")
"""RLHFJob fields the grid sets from the cell; GridSpec.rlhf_job may not name them."""


def rlhf_settings(spec: GridSpec, cell: Cell) -> dict:
    """The RLHFJob fields of an RLHF cell, all but the SFT run it continues."""
    size = int(cell.train_size) if cell.train_size > 1 else cell.train_size
    shared = {name: spec.job[name] for name in SHARED_FIELDS if name in spec.job}
    return {**shared, **spec.rlhf_job, "method": RLHF_CONDITIONS[cell.condition], "model": cell.model,
            "data": spec.data, "train_size": size, "qlora": cell.method == "qlora", "eval_tests": list(spec.tests),
            "extra": {"grid": spec.name, "cell": cell.key()}}


def rlhf_job_for(spec: GridSpec, cell: Cell, sft_run: Path) -> RLHFJob:
    """The RLHF cell's job: it waits for the SFT run folder `sft_run`, continues its adapter, then is evaluated."""
    return RLHFJob.from_dict({**rlhf_settings(spec, cell), "adapter": str(Path(sft_run).resolve()),
                              "after_run": Path(sft_run).name})


def check_rlhf(spec: GridSpec) -> None:
    """Refuse RLHF conditions the grid cannot build: without the ft cell they continue, or with bad RLHF fields."""
    wanted = [c for c in spec.conditions if c in RLHF_CONDITIONS]
    if not wanted:
        return
    if "ft" not in spec.conditions:
        raise ConfigError(f"{' and '.join(wanted)} continue{'s' if len(wanted) == 1 else ''} the adapter of the "
                          "fine-tuned (ft) cell: add ft to the conditions")
    named = sorted(set(spec.rlhf_job) & set(FROM_THE_CELL))
    if named:
        raise ConfigError(f"rlhf_job may not set {', '.join(named)}: the grid sets them from each cell")
    RLHFJob.from_dict({**spec.rlhf_job, "model": spec.models[0], "data": spec.data})  # the shared fields are valid
