"""The experiment grid: models x methods x epochs x training-set sizes x conditions, each cell queued jobs.

Conditions (GridSpec.conditions; the default, base and ft, is the plain grid):
  base      the untrained model                          an evaluation job
  ft        fine-tuned (LoRA/QLoRA)                      an SFT job, then an evaluation of its adapter
  ft+grpo   the ft adapter tuned further with GRPO (ft+dpo: DPO)    an RLHF job after ft's, then its evaluation
  base+rag  the untrained model answering from retrieved passages        an evaluation job with knowledge
  ft+rag    the ft adapter answering from retrieved passages (shares ft's training run)
  raft+rag  retrieval-augmented fine-tune (SFTJob.knowledge) answering from retrieved passages
A +rag evaluation answers each test set from its collection in GridSpec.knowledge (one evaluation job per
collection), once per answer style in GridSpec.answer_styles (auto, generate, quote: studio/answer_check.py); its
results sit beside the plain ones as eval-<test>+<collection>[+<style>].json. Base cells exist per model,
trained cells per model x method x epochs x size. Cells go through the job queue (one job at a time). Running a
grid again submits only what has not finished (a trained cell whose evaluation is missing gets the evaluation only):
the grid is resumable. A grid has at most MAX_CELLS cells.

    python -m studio grid --preset small --plan          # list the cells and estimate the time (grid_plan.py)
    python -m studio grid --preset facts --plan          # the five conditions on the sample data
    python -m studio grid --preset rlhf --plan           # base -> SFT -> SFT+GRPO -> SFT+DPO (grid_rlhf.py)
    python -m studio grid --preset small --wait          # queue them and wait, printing results
    python -m studio grid --models bundled:smollm2-135m-instruct --epochs 1 3 --sizes 0.5 1.0 --name mine
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from studio import access
from studio.data import qa
from studio.evaluation.evaluate import result_path
from studio.evaluation.grid_rlhf import RLHF_CONDITIONS, check_rlhf, rlhf_job_for
from studio.jobs import queue, runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import TEST_SETS, EvalJob, RLHFJob, SFTJob
from studio.knowledge.collection import SAMPLE_FAQ, SAMPLE_FILES, SAMPLE_POLICY, check_name, names
from studio.knowledge.support import ANSWER_STYLES
from studio.models import catalogue, refs

METHODS = ("lora", "qlora")
CONDITIONS = ("base", "ft", *RLHF_CONDITIONS, "base+rag", "ft+rag", "raft+rag")
"""Conditions in the order they are listed and charted (module docstring)."""
BASE_CONDITIONS = ("base", "base+rag")
SAMPLE_KNOWLEDGE = {"assets/test_brief.csv": SAMPLE_FAQ, "assets/test_detailed.csv": SAMPLE_FAQ,
                    "assets/test_policy.csv": SAMPLE_POLICY}
MAX_CELLS = 64
"""Cells one grid may have: each trains for minutes to hours on a CPU, and they all wait in the one queue."""


@dataclass
class GridSpec:
    name: str = "small"
    """Grid name; its cells are found again by it, so a rerun skips finished cells."""
    models: list[str] = field(default_factory=lambda: ["bundled:smollm2-135m-instruct", "bundled:gemma-3-270m"])
    """Base models (model references)."""
    methods: list[str] = field(default_factory=lambda: ["lora"])
    """lora and/or qlora."""
    epochs: list[int] = field(default_factory=lambda: [1, 3])
    """Epoch counts to train for."""
    train_sizes: list[float] = field(default_factory=lambda: [0.25, 0.5, 1.0])
    """Training-set sizes: fractions of the training split, or counts (200, 400, 800 as in the report)."""
    data: str = "assets/insurer_faq.csv"
    """The Q/A data (split 90/10 into training and validation)."""
    tests: list[str] = field(default_factory=lambda: list(TEST_SETS))
    """Test sets every cell is evaluated on."""
    include_base: bool = True
    """Also evaluate each model untrained (epochs 0): False drops the base condition."""
    conditions: list[str] = field(default_factory=lambda: ["base", "ft"])
    """Conditions to measure: base, ft, ft+grpo, ft+dpo, base+rag, ft+rag, raft+rag (module docstring)."""
    answer_styles: list[str] = field(default_factory=lambda: ["auto"])
    """+rag conditions: how grounded answers are given, one cell per style (auto, generate, quote)."""
    knowledge: dict[str, str] = field(default_factory=lambda: dict(SAMPLE_KNOWLEDGE))
    """+rag conditions: the knowledge collection each test file is answered from (test file -> collection)."""
    train_knowledge: str = SAMPLE_FAQ
    """raft+rag: the collection each training example's passages are retrieved from (SFTJob.knowledge)."""
    job: dict = field(default_factory=dict)
    """Other SFTJob fields shared by every cell (learning_rate, batch_size, lora_r, ...)."""
    rlhf_job: dict = field(default_factory=dict)
    """ft+grpo / ft+dpo: RLHFJob fields shared by their cells (max_steps, batch_size, learning_rate, ...); seed,
    split, system prompt and threads come from `job` as the SFT run used them (studio/evaluation/grid_rlhf.py)."""

    def validate(self) -> GridSpec:
        if not self.models or not self.epochs or not self.train_sizes or not self.methods:
            raise ConfigError("a grid needs at least one model, method, epoch count and training size")
        if not set(self.methods) <= set(METHODS):
            raise ConfigError(f"methods are {', '.join(METHODS)}, not {self.methods}")
        if not self.conditions or not set(self.conditions) <= set(CONDITIONS):
            raise ConfigError(f"conditions are one or more of {', '.join(CONDITIONS)}, not {self.conditions}")
        if not self.answer_styles or not set(self.answer_styles) <= set(ANSWER_STYLES):
            raise ConfigError(f"answer_styles are one or more of {', '.join(ANSWER_STYLES)}, not {self.answer_styles}")
        if any(c.endswith("+rag") for c in self.conditions):
            unmapped = [t for t in self.tests if not self.knowledge.get(t)]
            if unmapped:
                raise ConfigError(f"the +rag conditions need a knowledge collection for every test set; none is "
                                  f"named for {', '.join(unmapped)} (the sample collections answer only the sample "
                                  "test sets): pick a collection, or set GridSpec.knowledge (test file -> collection)")
            for name in {*self.knowledge.values(), self.train_knowledge}:
                check_name(name)
        check_rlhf(self)
        SFTJob.from_dict({**self.job, "model": self.models[0], "data": self.data})  # shared fields are valid
        count = len(cells(self))
        if count > MAX_CELLS:
            raise ConfigError(f"this grid has {count} cells; a grid may have at most {MAX_CELLS}: use fewer models, "
                              "epoch counts or training sizes")
        return self


PRESETS = {
    "small": GridSpec(),
    "report": GridSpec(name="report", models=["bundled:smollm2-135m-instruct", "bundled:gemma-3-270m",
                                              "bundled:qwen2.5-coder-0.5b-instruct"],
                       epochs=[1, 3], train_sizes=[200, 400, 800]),
    "quick": GridSpec(name="quick", models=["bundled:smollm2-135m-instruct"], epochs=[1], train_sizes=[0.5, 1.0]),
    "facts": GridSpec(name="facts", models=["bundled:smollm2-135m-instruct", "bundled:qwen2.5-coder-0.5b-instruct"],
                      epochs=[1], train_sizes=[1.0], conditions=[c for c in CONDITIONS if c not in RLHF_CONDITIONS],
                      tests=[*TEST_SETS, "assets/test_policy.csv"]),
    "rlhf": GridSpec(name="rlhf", models=["bundled:smollm2-135m-instruct"], epochs=[1], train_sizes=[1.0],
                     conditions=["base", "ft", "ft+grpo", "ft+dpo"], rlhf_job={"max_steps": 30}),
}
"""report: the research report's grid shape (200/400/800 examples x 1/3 epochs); needs data with 800+ training
examples, e.g. your own FAQ. small: finishes on a 2-core CPU in well under an hour with the sample data.
facts: what lifts fact accuracy: the five conditions for SmolLM2 and Qwen2.5-0.5B, one epoch on the whole FAQ,
on the brief, detailed and policy test sets (the policy set against the policy wording). rlhf: base -> SFT ->
SFT+GRPO -> SFT+DPO for SmolLM2 on both test sets, 30 RLHF steps each (about 10 min of GRPO on a 2-core CPU)."""


@dataclass(frozen=True)
class Cell:
    model: str
    method: str
    epochs: int
    train_size: float
    condition: str = "ft"
    answer_style: str = "auto"
    """+rag cells: how the grounded answers are given."""

    @classmethod
    def from_key(cls, key: dict) -> Cell:
        """The cell a run's config names; cells stored before conditions existed are base or ft."""
        return cls(**{"condition": "base" if key.get("method") == "base" else "ft", **key})

    def key(self) -> dict:
        return dataclasses.asdict(self)

    def training_key(self) -> tuple | None:
        """The training run this cell evaluates (ft and ft+rag share one, an RLHF cell has its own), None for base."""
        if self.condition in BASE_CONDITIONS:
            return None
        rlhf = RLHF_CONDITIONS.get(self.condition, "")
        return self.model, self.method, self.epochs, self.train_size, self.condition == "raft+rag", rlhf

    def label(self) -> str:
        style = f" · answers: {self.answer_style}" if self.condition.endswith("+rag") else ""
        if self.method == "base":
            return f"{self.model.split(':')[-1]} · {self.condition}{style} (not fine-tuned)"
        size = f"{self.train_size:.0%}" if self.train_size <= 1 else f"{int(self.train_size)} examples"
        trained = f"{self.method} · {self.epochs} epoch(s) · {size}"
        return f"{self.model.split(':')[-1]} · {self.condition} · {trained}{style}"


def cells(spec: GridSpec) -> list[Cell]:
    found = []
    conditions = [c for c in CONDITIONS if c in spec.conditions and (spec.include_base or c != "base")]
    def styled(condition: str) -> list[str]:
        return list(dict.fromkeys(spec.answer_styles)) if condition.endswith("+rag") else ["auto"]

    for model in spec.models:
        found += [Cell(model, "base", 0, 0, c, s) for c in conditions if c in BASE_CONDITIONS for s in styled(c)]
        for method in spec.methods:
            for epochs in spec.epochs:
                for size in spec.train_sizes:
                    found += [Cell(model, method, int(epochs), float(size), c, s) for c in conditions
                              if c not in BASE_CONDITIONS for s in styled(c)]
    return found


def eval_groups(spec: GridSpec, cell: Cell) -> dict[str, list[str]]:
    """The cell's evaluations: collection ("" = none) -> the test sets answered from it."""
    if not cell.condition.endswith("+rag"):
        return {"": list(spec.tests)}
    groups: dict[str, list[str]] = {}
    for test in spec.tests:
        groups.setdefault(spec.knowledge[test], []).append(test)
    return groups


def job_for(spec: GridSpec, cell: Cell, collection: str | None = None,
            sft_run: Path | None = None) -> SFTJob | RLHFJob | EvalJob:
    """A trained cell's SFT job (ft keeps the queue's own follow-up evaluation), an RLHF cell's job continuing the
    SFT run folder `sft_run`, or a base cell's evaluation job on the test sets of `collection` (default: its first)."""
    if cell.condition in RLHF_CONDITIONS:
        return rlhf_job_for(spec, cell, sft_run)
    extra = {"grid": spec.name, "cell": cell.key()}
    if cell.method == "base":
        groups = eval_groups(spec, cell)
        collection = next(iter(groups)) if collection is None else collection
        return EvalJob(model=cell.model, tests=groups[collection], knowledge=collection or None,
                       answer_style=cell.answer_style,
                       extra={**extra, "knowledge": collection} if collection else extra).validate()
    size = int(cell.train_size) if cell.train_size > 1 else cell.train_size
    raft = {"knowledge": spec.train_knowledge} if cell.condition == "raft+rag" else {}
    return SFTJob.from_dict({**spec.job, "model": cell.model, "data": spec.data, "epochs": cell.epochs,
                             "train_size": size, "qlora": cell.method == "qlora",
                             "eval_tests": list(spec.tests) if cell.condition == "ft" else [],
                             "early_stopping_patience": 0, "extra": extra, **raft})


def evaluation_for(spec: GridSpec, cell: Cell, collection: str, training: Path, after: str) -> EvalJob:
    """The evaluation of a trained cell's adapter on the test sets of `collection` ("" = without retrieval)."""
    extra = {"grid": spec.name, "cell": cell.key(), **({"knowledge": collection} if collection else {})}
    return EvalJob(model=f"adapter:{training.resolve()}", tests=eval_groups(spec, cell)[collection],
                   knowledge=collection or None, answer_style=cell.answer_style, after_run=after, extra=extra,
                   system_prompt=runs.read_config(training).system_prompt).validate()


def check(spec: GridSpec) -> int:
    """Refuse a grid that cannot run, before anything is queued. Returns the number of training examples."""
    spec.validate()
    access.check_inputs(spec.models, [spec.data, *spec.tests])  # shared mode: no server paths
    for model in spec.models:
        entry = catalogue.describe(refs.ModelRef.parse(model))
        if not entry.available:
            raise ConfigError(f"{entry.name} is unavailable: {entry.reason}")
    for test in spec.tests:
        qa.load_file(test)
    wanted = {*(spec.knowledge[t] for t in spec.tests if any(c.endswith("+rag") for c in spec.conditions)),
              *([spec.train_knowledge] if "raft+rag" in spec.conditions else [])}
    missing = sorted(wanted - set(SAMPLE_FILES) - set(names()))  # the samples are built on first use
    if missing:
        raise ConfigError(f"no knowledge collection named {', '.join(missing)}; existing: "
                          f"{', '.join(names()) or 'none'} (the samples {', '.join(SAMPLE_FILES)} are built "
                          "when first used)")
    records = qa.load_file(spec.data).records
    train, _ = qa.split(records, SFTJob().val_fraction, SFTJob().seed)
    too_big = [s for s in spec.train_sizes if s > 1 and s > len(train)]
    if too_big:
        raise ConfigError(f"training sizes {too_big} exceed the {len(train)} training examples of {spec.data}; "
                          "use fractions (0.25, 0.5, 1.0) or smaller counts")
    return len(train)


@dataclass
class Found:
    """The newest runs of a grid, by what they are for."""

    trainings: dict[tuple, queue.RunInfo] = field(default_factory=dict)
    """Training runs (SFT and RLHF) by Cell.training_key()."""
    evaluations: dict[tuple[Cell, str], queue.RunInfo] = field(default_factory=dict)
    """The grid's own evaluation runs by (cell, collection or "")."""
    follow_ups: dict[str, queue.RunInfo] = field(default_factory=dict)
    """Evaluations the queue made behind a training run (no grid tag), by training run id."""
    with_eval_tests: set[str] = field(default_factory=set)
    """Training runs with eval_tests: the queue makes their plain evaluation itself."""


def scan_runs(spec: GridSpec, root: Path | None) -> Found:
    """The newest run of each cell of this grid (by the grid name and cell in its config)."""
    found = Found()
    for info in sorted(queue.list_runs(root), key=lambda r: r.created):
        try:
            cfg = runs.read_config(info.path)
            extra = getattr(cfg, "extra", {})
            cell = Cell.from_key(extra["cell"]) if extra.get("grid") == spec.name else None
        except (ConfigError, KeyError, TypeError):
            cell = None
        if cell is None:
            if info.follow_up:
                found.follow_ups[info.after] = info
        elif isinstance(cfg, (SFTJob, RLHFJob)):
            found.trainings[cell.training_key()] = info
            if cfg.eval_tests:
                found.with_eval_tests.add(info.id)
        else:
            found.evaluations[(cell, extra.get("knowledge") or "")] = info
    return found


def _has_results(folder: Path, tests: list[str], collection: str, answer_style: str) -> bool:
    return all(result_path(folder, test, collection or None, answer_style).exists() for test in tests)


def _group_states(cell: Cell, found: Found, spec: GridSpec) -> dict[str, str]:
    """Each evaluation group's state: done, queued, running, failed, stopped or "not queued"."""
    training = found.trainings.get(cell.training_key()) if cell.training_key() else None
    states = {}
    for collection, tests in eval_groups(spec, cell).items():
        evaluation = found.evaluations.get((cell, collection))
        if training is not None and not evaluation and not collection:
            evaluation = found.follow_ups.get(training.id)
        folder = training.path if training is not None else evaluation.path if evaluation else None
        finished = (training or evaluation) is not None and (training or evaluation).state == "finished"
        if folder is not None and finished and _has_results(folder, tests, collection, cell.answer_style):
            states[collection] = "done"
        elif evaluation is None and training is not None and training.id in found.with_eval_tests \
                and not collection and training.state in ("queued", "running"):
            states[collection] = training.state  # the queue adds the evaluation behind the training itself
        elif evaluation is None or evaluation.state == "finished":
            states[collection] = "not queued"
        else:
            states[collection] = evaluation.state
    return states


def cell_state(cell: Cell, found: Found, spec: GridSpec) -> str:
    """done, queued, running, failed, stopped, or "not queued" (also: trained, but an evaluation is missing)."""
    states = set(_group_states(cell, found, spec).values())
    if states == {"done"}:
        return "done"
    training = found.trainings.get(cell.training_key()) if cell.training_key() else None
    if cell.training_key() and training is None:
        return "not queued"
    if training is not None and training.state != "finished":
        pending = states <= {"done", "queued", "running"}
        return training.state if pending or training.state in ("failed", "stopped") else "not queued"
    return next((s for s in ("running", "queued", "failed", "stopped") if s in states), "not queued")


def queue_room() -> int:
    """Waiting jobs a grid may fill the queue up to: a whole grid (MAX_CELLS) on your own machine, while in shared
    mode a grid gets no more room than single jobs (jobs.max_queued())."""
    return queue.max_queued() if access.shared_mode() else max(queue.max_queued(), MAX_CELLS)


def _plan(spec: GridSpec, found: Found, to_queue: list[Cell]) -> list[tuple[Cell, str, str | None]]:
    """What to submit, in order: (cell, "train" or "evaluate", collection). Trainings shared by ft and ft+rag are
    planned once; an evaluation follows its training in the queue, an RLHF training the ft cell's (listed first)."""
    planned, trainings = [], set()
    for cell in to_queue:
        key = cell.training_key()
        training = found.trainings.get(key) if key else None
        new_training = key is not None and key not in trainings and (
            training is None or training.state in ("failed", "stopped"))
        if new_training:
            planned.append((cell, "train", None))
            trainings.add(key)
        for collection, state in _group_states(cell, found, spec).items():
            # the queue's own follow-up evaluation of a new ft or RLHF run
            follows = new_training and cell.condition in ("ft", *RLHF_CONDITIONS) and not collection
            if state not in ("done", "queued", "running") and not follows:
                planned.append((cell, "evaluate", collection))
    return planned


def submit(spec: GridSpec, root: Path | None = None) -> dict[str, list[str]]:
    """Queue every cell that has not finished (nor is queued or running). Returns cell labels by what happened.

    The whole grid is refused, before anything is queued, when it would take the queue past queue_room().
    """
    check(spec)
    found = scan_runs(spec, root)
    outcome = {"queued": [], "done": [], "in progress": []}
    to_queue = []
    for cell in cells(spec):
        state = cell_state(cell, found, spec)
        if state == "done":
            outcome["done"].append(cell.label())
        elif state in ("queued", "running"):
            outcome["in progress"].append(cell.label())
        else:
            to_queue.append(cell)
    planned = _plan(spec, found, to_queue)
    room = queue_room()
    waiting = sum(1 for r in queue.list_runs(root) if r.state == "queued" and not r.follow_up)
    adding = sum(1 for cell, what, _ in planned if what == "train" or cell.training_key() is None)
    if waiting + adding > room:
        raise ConfigError(f"{waiting} jobs already wait in the queue and this grid would add {adding}, over "
                          f"the limit of {room}: let the queue run down first")
    trained: dict[tuple, str] = {}
    labels: dict[Cell, str] = {}
    for cell, what, collection in planned:
        key = cell.training_key()
        if what == "train" and cell.condition in RLHF_CONDITIONS:
            sft = dataclasses.replace(cell, condition="ft").training_key()  # the run it continues
            sft_run = (root or runs.root()) / (trained.get(sft) or found.trainings[sft].id)
            trained[key] = queue.submit(job_for(spec, cell, sft_run=sft_run), root, max_waiting=room)
        elif what == "train":
            trained[key] = queue.submit(job_for(spec, cell), root, max_waiting=room)
        elif key is None:
            queue.submit(job_for(spec, cell, collection), root, max_waiting=room)
        else:
            run_id = trained.get(key) or found.trainings[key].id
            queue.submit(evaluation_for(spec, cell, collection, (root or runs.root()) / run_id, run_id), root,
                        max_waiting=room)
            if key not in trained and found.trainings[key].state == "finished":
                labels.setdefault(cell, cell.label() + " (evaluation only)")
        labels.setdefault(cell, cell.label())
    outcome["queued"] = list(labels.values())
    return outcome


def progress(spec: GridSpec, root: Path | None = None) -> dict:
    found = scan_runs(spec, root)
    states = [cell_state(c, found, spec) for c in cells(spec)]
    return {"cells": len(states), "finished": states.count("done"), "failed": states.count("failed"),
            "stopped": states.count("stopped"), "running": states.count("running"), "queued": states.count("queued")}
