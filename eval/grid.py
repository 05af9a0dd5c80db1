"""The experiment grid: models x methods x epochs x training-set sizes, each cell a queued job.

Each cell is one SFT job that trains, followed in the queue by an evaluation job that scores its adapter on the
test sets (results in the training run's folder); each model also gets an evaluation-only cell for the untrained
base, so "base vs fine-tuned" is measured too. Cells go through the job queue (one job at a time). Running a grid
again submits only what has not finished (a trained cell whose evaluation is missing gets the evaluation only):
the grid is resumable. A grid has at most MAX_CELLS cells.

    python -m eval.grid --preset small --plan          # list the cells and estimate the time
    python -m eval.grid --preset small --wait          # queue them and wait, printing results
    python -m eval.grid --models bundled:smollm2-135m-instruct --epochs 1 3 --sizes 0.5 1.0 --name mine
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from chat import access, models
from training import data, jobs, runs
from training.configs import TEST_SETS, ConfigError, EvalJob, SFTJob

METHODS = ("lora", "qlora")
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
    """Also evaluate each model untrained (epochs 0)."""
    job: dict = field(default_factory=dict)
    """Other SFTJob fields shared by every cell (learning_rate, batch_size, lora_r, ...)."""

    def validate(self) -> GridSpec:
        if not self.models or not self.epochs or not self.train_sizes or not self.methods:
            raise ConfigError("a grid needs at least one model, method, epoch count and training size")
        if not set(self.methods) <= set(METHODS):
            raise ConfigError(f"methods are {', '.join(METHODS)}, not {self.methods}")
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
}
"""report: the research report's grid shape (200/400/800 examples x 1/3 epochs); needs data with 800+ training
examples, e.g. your own FAQ. small: finishes on a 2-core CPU in well under an hour with the sample data."""


@dataclass(frozen=True)
class Cell:
    model: str
    method: str
    epochs: int
    train_size: float

    def key(self) -> dict:
        return dataclasses.asdict(self)

    def label(self) -> str:
        if self.method == "base":
            return f"{self.model.split(':')[-1]} · base (not fine-tuned)"
        size = f"{self.train_size:.0%}" if self.train_size <= 1 else f"{int(self.train_size)} examples"
        return f"{self.model.split(':')[-1]} · {self.method} · {self.epochs} epoch(s) · {size}"


def cells(spec: GridSpec) -> list[Cell]:
    found = []
    for model in spec.models:
        if spec.include_base:
            found.append(Cell(model, "base", 0, 0))
        for method in spec.methods:
            for epochs in spec.epochs:
                for size in spec.train_sizes:
                    found.append(Cell(model, method, int(epochs), float(size)))
    return found


def job_for(spec: GridSpec, cell: Cell) -> SFTJob | EvalJob:
    extra = {"grid": spec.name, "cell": cell.key()}
    if cell.method == "base":
        return EvalJob(model=cell.model, tests=list(spec.tests), extra=extra).validate()
    size = int(cell.train_size) if cell.train_size > 1 else cell.train_size
    return SFTJob.from_dict({**spec.job, "model": cell.model, "data": spec.data, "epochs": cell.epochs,
                             "train_size": size, "qlora": cell.method == "qlora", "eval_tests": list(spec.tests),
                             "early_stopping_patience": 0, "extra": extra})


def check(spec: GridSpec) -> int:
    """Refuse a grid that cannot run, before anything is queued. Returns the number of training examples."""
    spec.validate()
    access.check_inputs(spec.models, [spec.data, *spec.tests])  # shared mode: no server paths
    for model in spec.models:
        entry = models.describe(models.ModelRef.parse(model))
        if not entry.available:
            raise ConfigError(f"{entry.name} is unavailable: {entry.reason}")
    for test in spec.tests:
        data.load_file(test)
    records = data.load_file(spec.data).records
    train, _ = data.split(records, SFTJob().val_fraction, SFTJob().seed)
    too_big = [s for s in spec.train_sizes if s > 1 and s > len(train)]
    if too_big:
        raise ConfigError(f"training sizes {too_big} exceed the {len(train)} training examples of {spec.data}; "
                          "use fractions (0.25, 0.5, 1.0) or smaller counts")
    return len(train)


def _scan(spec: GridSpec, root: Path | None) -> tuple[dict[Cell, jobs.RunInfo], dict[str, jobs.RunInfo]]:
    """The newest run of each cell of this grid (by the grid name and cell in its config), and the newest
    evaluation queued after each training run (by training run id)."""
    found: dict[Cell, jobs.RunInfo] = {}
    follow_ups: dict[str, jobs.RunInfo] = {}
    for info in sorted(jobs.list_runs(root), key=lambda r: r.created):
        if info.after:
            follow_ups[info.after] = info
            continue
        try:
            extra = getattr(runs.read_config(info.path), "extra", {})
        except ConfigError:
            continue
        if extra.get("grid") == spec.name and isinstance(extra.get("cell"), dict):
            found[Cell(**extra["cell"])] = info
    return found, follow_ups


def find_runs(spec: GridSpec, root: Path | None = None) -> dict[Cell, jobs.RunInfo]:
    return _scan(spec, root)[0]


def _evaluated(info: jobs.RunInfo, spec: GridSpec) -> bool:
    return info.state == "finished" and all(runs.eval_result_path(info.path, t).exists() for t in spec.tests)


def cell_state(info: jobs.RunInfo | None, follow_ups: dict[str, jobs.RunInfo], spec: GridSpec) -> str:
    """done, queued, running, failed, stopped, or "not queued" (also: trained, but its evaluation is missing)."""
    if info is None:
        return "not queued"
    if _evaluated(info, spec):
        return "done"
    if info.state != "finished" or info.kind == "evaluation":
        return info.state
    follow_up = follow_ups.get(info.id)
    return follow_up.state if follow_up and follow_up.state != "finished" else "not queued"


def queue_room() -> int:
    """Waiting jobs a grid may fill the queue up to: a whole grid (MAX_CELLS) on your own machine, while in shared
    mode a grid gets no more room than single jobs (jobs.max_queued())."""
    return jobs.max_queued() if access.shared_mode() else max(jobs.max_queued(), MAX_CELLS)


def submit(spec: GridSpec, root: Path | None = None) -> dict[str, list[str]]:
    """Queue every cell that has not finished (nor is queued or running). Returns cell labels by what happened.

    The whole grid is refused, before anything is queued, when it would take the queue past queue_room().
    """
    check(spec)
    existing, follow_ups = _scan(spec, root)
    outcome = {"queued": [], "done": [], "in progress": []}
    to_queue = []
    for cell in cells(spec):
        state = cell_state(existing.get(cell), follow_ups, spec)
        if state == "done":
            outcome["done"].append(cell.label())
        elif state in ("queued", "running"):
            outcome["in progress"].append(cell.label())
        else:
            to_queue.append(cell)
    room = queue_room()
    waiting = sum(1 for r in jobs.list_runs(root) if r.state == "queued" and not r.after)
    if waiting + len(to_queue) > room:
        raise ConfigError(f"{waiting} jobs already wait in the queue and this grid would add {len(to_queue)}, over "
                          f"the limit of {room}: let the queue run down first")
    for cell in to_queue:
        info = existing.get(cell)
        if info and info.state == "finished" and cell.method != "base":  # trained: evaluate only
            jobs.submit(EvalJob(model=f"adapter:{info.path.resolve()}", tests=list(spec.tests), after_run=info.id,
                                system_prompt=runs.read_config(info.path).system_prompt), root, max_waiting=room)
            outcome["queued"].append(cell.label() + " (evaluation only)")
        else:
            jobs.submit(job_for(spec, cell), root, max_waiting=room)
            outcome["queued"].append(cell.label())
    return outcome


def progress(spec: GridSpec, root: Path | None = None) -> dict:
    existing, follow_ups = _scan(spec, root)
    states = [cell_state(existing.get(c), follow_ups, spec) for c in cells(spec)]
    return {"cells": len(states), "finished": states.count("done"), "failed": states.count("failed"),
            "stopped": states.count("stopped"), "running": states.count("running"), "queued": states.count("queued")}


# ------------------------------------------------------------------------------------------------- estimates


def _measured_speeds(root: Path | None) -> dict[str, dict[str, float]]:
    """Per model, the median training tokens/s and answering tokens/s of its earlier finished runs."""
    found: dict[str, dict[str, list[float]]] = {}
    for info in jobs.list_runs(root):
        if info.state != "finished":
            continue
        speeds = found.setdefault(info.model, {"train": [], "eval": []})
        if trained := runs.read_json(info.path / runs.SUMMARY).get("tokens_per_s"):
            speeds["train"].append(trained)
        answered = [runs.read_json(p).get("tokens_per_s") for p in runs.eval_result_files(info.path)]
        if answered := [v for v in answered if v]:
            speeds["eval"].append(statistics.median(answered))
    return {model: {kind: statistics.median(values) for kind, values in speeds.items() if values}
            for model, speeds in found.items()}


def estimate_seconds(spec: GridSpec, root: Path | None = None) -> tuple[float, dict[str, float]]:
    """Rough time for the cells still to run, from earlier runs' speeds where there are any.

    Without history: training ~60,000 / (millions of parameters) tokens/s and answering ~12,000 / (millions of
    parameters) tokens/s, as measured for SmolLM2 on a 2-core CPU (QLoRA on a CPU about half as fast).
    """
    records = data.load_file(spec.data).records
    train_count = len(data.split(records, SFTJob().val_fraction, SFTJob().seed)[0])
    chars = statistics.mean(len(r.get("question", "")) + len(r.get("answer", "")) for r in records) if records else 0
    tokens_per_example = chars / 4 + 40  # ~4 characters a token, plus the prompt template and system prompt
    questions = sum(len(data.load_file(t).records) for t in spec.tests)
    existing = find_runs(spec, root)
    measured = _measured_speeds(root)
    millions = {m: max(1.0, models.describe(models.ModelRef.parse(m)).params / 1e6) for m in spec.models}
    per_model: dict[str, float] = {}
    for cell in cells(spec):
        if cell in existing and _evaluated(existing[cell], spec):
            continue
        speeds = measured.get(cell.model, {})
        train_speed = speeds.get("train") or 60_000 / millions[cell.model]
        answer_speed = speeds.get("eval") or 12_000 / millions[cell.model]
        seconds = 30 + questions * 80 / answer_speed  # model loading, then ~80 tokens per answer
        if cell.method != "base" and not (cell in existing and existing[cell].state == "finished"):
            examples = cell.train_size if cell.train_size > 1 else cell.train_size * train_count
            seconds += examples * cell.epochs * tokens_per_example / (train_speed / (2 if cell.method == "qlora" else 1))
        per_model[cell.model] = per_model.get(cell.model, 0.0) + seconds
    return sum(per_model.values()), per_model


def describe_plan(spec: GridSpec, root: Path | None = None) -> str:
    train_count = check(spec)
    total, per_model = estimate_seconds(spec, root)
    existing, follow_ups = _scan(spec, root)
    lines = [f"Grid '{spec.name}': {len(cells(spec))} cells ({train_count} training examples in {spec.data}; "
             f"tests: {', '.join(Path(t).stem for t in spec.tests)})."]
    for cell in cells(spec):
        state = cell_state(existing.get(cell), follow_ups, spec).replace("not queued", "to run")
        lines.append(f"  {cell.label():60s} {state}")
    lines.append(f"Estimated time for the cells still to run: about {math.ceil(total / 60)} min "
                 f"({', '.join(f'{m.split(chr(58))[-1]} {math.ceil(s / 60)} min' for m, s in per_model.items())}).")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.grid", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--name", help="grid name (default: the preset's)")
    parser.add_argument("--models", nargs="+")
    parser.add_argument("--methods", nargs="+", choices=METHODS)
    parser.add_argument("--epochs", nargs="+", type=int)
    parser.add_argument("--sizes", nargs="+", type=float, help="fractions (0.25) or counts (200)")
    parser.add_argument("--data")
    parser.add_argument("--job", help='other SFTJob fields as JSON, e.g. \'{"learning_rate": 0.0005}\'')
    parser.add_argument("--plan", action="store_true", help="print the cells and the time estimate only")
    parser.add_argument("--wait", action="store_true", help="wait for every cell and print the results")
    args = parser.parse_args(argv)
    spec = dataclasses.replace(PRESETS[args.preset])
    for name, value in [("name", args.name), ("models", args.models), ("methods", args.methods),
                        ("epochs", args.epochs), ("train_sizes", args.sizes), ("data", args.data)]:
        if value:
            setattr(spec, name, value)
    if args.job:
        spec.job = json.loads(args.job)
    try:
        print(describe_plan(spec))
        if args.plan:
            return 0
        outcome = submit(spec)
    except (ConfigError, data.DataError, models.ModelError, runs.RunError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"queued {len(outcome['queued'])} cells; {len(outcome['done'])} already done; "
          f"{len(outcome['in progress'])} in progress")
    if args.wait:
        shown = None
        while (state := progress(spec))["finished"] + state["failed"] + state["stopped"] < state["cells"]:
            jobs.pump()  # start the next cell as soon as one ends (the app's queue thread may do it too)
            if state != shown:
                print(f"  {time.strftime('%H:%M:%S')} {state['finished']}/{state['cells']} cells done, "
                      f"{state['failed']} failed", flush=True)
                shown = state
            time.sleep(3)
        from eval import results

        table = results.collect()
        table = table[table["grid"] == spec.name]
        print(table[["model_name", "method", "epochs", "train_examples", "test_set", "rougeL", "rougeL_low",
                     "rougeL_high", "runtime_s"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
