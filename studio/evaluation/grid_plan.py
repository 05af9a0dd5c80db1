"""The experiment grid's plan: its cells with their states, and a rough time for the cells still to run."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from studio.data import qa
from studio.evaluation.grid import GridSpec, cell_state, cells, check, eval_groups, scan_runs
from studio.evaluation.grid_rlhf import RLHF_CONDITIONS, rlhf_settings
from studio.jobs import queue, runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import RLHFJob, SFTJob
from studio.models import catalogue, refs


def _measured_speeds(root: Path | None) -> dict[str, dict[str, float]]:
    """Per model, the median training tokens/s and answering tokens/s of its earlier finished runs."""
    found: dict[str, dict[str, list[float]]] = {}
    for info in queue.list_runs(root):
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


def _step_shape(cfg: RLHFJob, base_model: str) -> tuple:
    """What an RLHF step's time depends on besides the machine: method, base model and the work per step."""
    return cfg.method, base_model, cfg.batch_size, cfg.generations, cfg.max_new_tokens


def _measured_rlhf_steps(root: Path | None) -> dict[tuple, float]:
    """Seconds per step of the newest finished RLHF run of each step shape (_step_shape)."""
    found: dict[tuple, float] = {}
    for info in queue.list_runs(root):  # newest first
        summary = runs.read_json(info.path / runs.SUMMARY)
        if info.state != "finished" or not summary.get("steps") or not summary.get("train_seconds"):
            continue
        try:
            cfg = runs.read_config(info.path)
        except ConfigError:
            continue
        if isinstance(cfg, RLHFJob) and summary.get("model"):  # the base model, also of a continued adapter
            found.setdefault(_step_shape(cfg, summary["model"]), summary["train_seconds"] / summary["steps"])
    return found


def rlhf_seconds(cfg: RLHFJob, measured: dict[tuple, float], train_count: int, tokens_per_example: float,
                 answer_speed: float, train_speed: float) -> float:
    """An RLHF job's rough run time: loading (~30 s), for DPO its pairs (a greedy answer to each of up to
    max_steps x batch_size training questions), then max_steps steps. A step takes what an earlier finished run of
    the same step shape measured; without one, a rough guess: GRPO/RLOO sample batch_size x generations answers at
    the answering speed and train on them, DPO trains on batch_size chosen and rejected answers (with the default
    speeds, SmolLM2's GRPO steps took about 3x and its DPO runs 2x this guess on a shared 2-core CPU)."""
    if cfg.method == "dpo":
        questions = min(cfg.max_steps * cfg.batch_size, train_count)
        start_up = 30 + questions * cfg.max_new_tokens / answer_speed
        step = 2 * cfg.batch_size * tokens_per_example / train_speed
    else:
        answers = cfg.batch_size * cfg.generations
        start_up = 30
        step = answers * cfg.max_new_tokens / answer_speed + answers * tokens_per_example / train_speed
    return start_up + cfg.max_steps * measured.get(_step_shape(cfg, str(refs.ModelRef.parse(cfg.model))), step)


def estimate_seconds(spec: GridSpec, root: Path | None = None) -> tuple[float, dict[str, float]]:
    """Rough time for the cells still to run, from earlier runs' speeds where there are any.

    Without history: training ~60,000 / (millions of parameters) tokens/s and answering ~12,000 / (millions of
    parameters) tokens/s, as measured for SmolLM2 on a 2-core CPU (QLoRA on a CPU about half as fast). RLHF cells:
    rlhf_seconds.
    """
    records = qa.load_file(spec.data).records
    train_count = len(qa.split(records, SFTJob().val_fraction, SFTJob().seed)[0])
    chars = statistics.mean(len(r.get("question", "")) + len(r.get("answer", "")) for r in records) if records else 0
    tokens_per_example = chars / 4 + 40  # ~4 characters a token, plus the prompt template and system prompt
    questions = sum(len(qa.load_file(t).records) for t in spec.tests)
    found = scan_runs(spec, root)
    measured = _measured_speeds(root)
    measured_steps = _measured_rlhf_steps(root) if set(spec.conditions) & set(RLHF_CONDITIONS) else {}
    millions = {m: max(1.0, catalogue.describe(refs.ModelRef.parse(m)).params / 1e6) for m in spec.models}
    per_model: dict[str, float] = {}
    counted: set[tuple] = set()
    for cell in cells(spec):
        if cell_state(cell, found, spec) == "done":
            continue
        speeds = measured.get(cell.model, {})
        train_speed = speeds.get("train") or 60_000 / millions[cell.model]
        answer_speed = speeds.get("eval") or 12_000 / millions[cell.model]
        # model loading, then ~80 tokens per answer; a +rag prompt adds ~3 passages of ~200 tokens, guessed to
        # be read about 10x faster than answer tokens are generated (not measured)
        context = questions * 600 / (10 * answer_speed) if cell.condition.endswith("+rag") else 0
        seconds = 30 * len(eval_groups(spec, cell)) + questions * 80 / answer_speed + context
        key = cell.training_key()
        training = found.trainings.get(key) if key else None
        if cell.condition in RLHF_CONDITIONS:  # its SFT run is counted with the ft cell
            if not (training and training.state == "finished"):
                seconds += rlhf_seconds(RLHFJob.from_dict(rlhf_settings(spec, cell)), measured_steps, train_count,
                                        tokens_per_example, answer_speed, train_speed)
        elif key and key not in counted and not (training and training.state == "finished"):
            counted.add(key)  # ft and ft+rag share one training
            examples = cell.train_size if cell.train_size > 1 else cell.train_size * train_count
            per_example = tokens_per_example + (600 if cell.condition == "raft+rag" else 0)
            seconds += examples * cell.epochs * per_example / (train_speed / (2 if cell.method == "qlora" else 1))
        per_model[cell.model] = per_model.get(cell.model, 0.0) + seconds
    return sum(per_model.values()), per_model


def describe_plan(spec: GridSpec, root: Path | None = None) -> str:
    train_count = check(spec)
    total, per_model = estimate_seconds(spec, root)
    found = scan_runs(spec, root)
    lines = [(f"Grid '{spec.name}': {len(cells(spec))} cells ({train_count} training examples in {spec.data}; "
              f"tests: {', '.join(Path(t).stem for t in spec.tests)}).")]
    for cell in cells(spec):
        state = cell_state(cell, found, spec).replace("not queued", "to run")
        lines.append(f"  {cell.label():72s} {state}")
    lines.append(f"Estimated time for the cells still to run: about {math.ceil(total / 60)} min "
                 f"({', '.join(f'{m.split(chr(58))[-1]} {math.ceil(s / 60)} min' for m, s in per_model.items())}).")
    return "\n".join(lines)


