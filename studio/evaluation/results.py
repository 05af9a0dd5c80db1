"""Every run folder collected into one table; the Results tab's charts (studio/ui/charts.py) draw it.

A fine-tuned model's row comes from its training run folder (config, training summary and the evaluation results
files its evaluation wrote there); a base model's from its evaluation run folder. Each row has its condition (base,
ft, raft = trained with retrieval, each + "+rag" when answered with retrieval) and its key-fact accuracy; result
files written before fact accuracy existed load with blank facts.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from studio.core import paths
from studio.jobs import runs
from studio.jobs.config import ConfigError, JobConfig
from studio.jobs.kinds import EvalJob, RLHFJob, SFTJob
from studio.models import catalogue, refs

COLUMNS = ["run", "grid", "model", "model_name", "params", "condition", "method", "epochs", "train_examples",
           "train_size", "test_set", "rougeL", "rougeL_low", "rougeL_high", "facts", "facts_low", "facts_high",
           "hit1", "hit3", "knowledge", "answer_style", "faithfulness", "faithfulness_low", "faithfulness_high",
           "unsupported", "unsupported_low", "unsupported_high", "citation_precision", "refused", "refused_low",
           "refused_high", "rouge1", "rouge2", "rougeLsum", "perplexity", "questions", "runtime_s",
           "train_tokens_per_s", "answer_tokens_per_s", "peak_cpu_ram_mb", "peak_gpu_ram_mb", "result", "created"]
"""One row per (run, test set, collection). rouge* are F1 x 100, facts the % of key facts stated (blank for old
results), hit1/hit3 the retrieval hit rates where the test set names sources; method is base, LoRA or QLoRA; epochs
0 = not fine-tuned; result is the result file's name in the run folder. Answered with knowledge: answer_style and
the % measures of studio/evaluation/grounded.py (faithfulness: key facts found in the passages; unsupported:
answers the check rejects; citation precision; refused: answers that decline), each with its 95% interval."""
CONDITION_ORDER = ["base", "ft", "ft+grpo", "ft+rloo", "ft+dpo", "grpo", "rloo", "dpo", "raft", "base+rag", "ft+rag",
                   "raft+rag"]


def _base_model(cfg: JobConfig | None) -> str:
    """The base model a run's scores belong to (an adapter's size is its base model's)."""
    if cfg is None:
        return "?"
    training = runs.adapter_run(cfg.model)
    if training is not None:
        return runs.read_config(training).model
    if cfg.model.startswith("adapter:"):
        try:
            return str(catalogue.adapter_base(Path(cfg.model.split(":", 1)[1])))
        except (OSError, ValueError, KeyError, refs.ModelError):
            return cfg.model
    return cfg.model


def _method(cfg: JobConfig | None) -> str:
    """LoRA or QLoRA for a fine-tuned model (trained here, or an adapter evaluated), GRPO/RLOO/DPO for an RLHF run
    (SFT+GRPO when it continued an SFT adapter), else base."""
    if isinstance(cfg, EvalJob) and cfg.model.startswith("adapter:"):
        training = runs.adapter_run(cfg.model)
        cfg = runs.read_config(training) if training is not None else None
        if cfg is None:
            return "LoRA"
    if isinstance(cfg, SFTJob):
        return "QLoRA" if cfg.qlora else "LoRA"
    if isinstance(cfg, RLHFJob):
        return ("SFT+" if cfg.starting_adapter() else "") + cfg.method.upper()
    return "base"


def _raft(cfg: JobConfig | None) -> bool:
    """Whether the model was fine-tuned with retrieved passages in its prompts (SFTJob.knowledge)."""
    if isinstance(cfg, EvalJob):
        training = runs.adapter_run(cfg.model)
        cfg = runs.read_config(training) if training is not None else None
    return isinstance(cfg, SFTJob) and bool(getattr(cfg, "knowledge", None))


def condition(method: str, raft: bool, result: dict) -> str:
    """base, ft or raft, + "+rag" when the answers came with retrieved passages; an RLHF run is its own condition
    (ft+grpo, dpo, ...), so the epoch and data-size charts compare SFT runs only."""
    if method.endswith(("GRPO", "RLOO", "DPO")):
        return method.lower().replace("sft+", "ft+") + ("+rag" if result.get("knowledge") else "")
    trained = "base" if method == "base" else "raft" if raft else "ft"
    style = result.get("answer_style") or "auto"
    return trained + ("+rag" + (f" ({style})" if style != "auto" else "") if result.get("knowledge") else "")


def _percent(value) -> float | None:
    return None if value is None else 100 * value


def collect(root: Path | None = None) -> pd.DataFrame:
    root = root or runs.root()
    rows, sizes = [], {}
    for run_dir in sorted(root.glob("*")) if root.is_dir() else []:
        evaluations = runs.eval_result_files(run_dir)
        if not evaluations:
            continue
        try:
            cfg = runs.read_config(run_dir)
        except ConfigError:
            cfg = None
        trained = isinstance(cfg, SFTJob)
        summary = runs.read_json(run_dir / runs.SUMMARY)
        model = _base_model(cfg)
        if model not in sizes:
            try:
                entry = catalogue.describe(refs.ModelRef.parse(model))
                sizes[model] = (entry.params, entry.name)
            except refs.ModelError:
                sizes[model] = (0, model)
        method, raft = _method(cfg), _raft(cfg)
        for path in evaluations:
            result = runs.read_json(path)
            if "aggregate" not in result:
                continue
            agg = result["aggregate"]
            facts = agg.get("facts") or {}
            hits = result.get("retrieval") or {}
            checked = {f"{name}{end}": _percent((result.get("grounded") or {}).get(name, {}).get(key))
                       for name in ("faithfulness", "unsupported", "citation_precision", "refused")
                       for end, key in (("", "mean"), ("_low", "low"), ("_high", "high"))}
            rows.append({
                "run": run_dir.name, "grid": getattr(cfg, "extra", {}).get("grid", ""), "model": model,
                "model_name": sizes[model][1], "params": sizes[model][0],
                "condition": condition(method, raft, result), "method": method,
                "epochs": summary.get("epochs_completed", cfg.epochs) if trained else 0,
                "train_examples": summary.get("train_examples", 0), "train_size": cfg.train_size if trained else None,
                "test_set": result.get("test_set", path.stem), "rougeL": 100 * agg["rougeL"]["mean"],
                "rougeL_low": 100 * agg["rougeL"]["low"], "rougeL_high": 100 * agg["rougeL"]["high"],
                "facts": _percent(facts.get("mean")), "facts_low": _percent(facts.get("low")),
                "facts_high": _percent(facts.get("high")), "hit1": hits.get("hit@1"), "hit3": hits.get("hit@3"),
                "knowledge": result.get("knowledge") or "", "result": path.name,
                "answer_style": result.get("answer_style") or "", **{c: checked[c] for c in COLUMNS if c in checked},
                "rouge1": 100 * agg["rouge1"]["mean"], "rouge2": 100 * agg["rouge2"]["mean"],
                "rougeLsum": 100 * agg["rougeLsum"]["mean"], "perplexity": result.get("perplexity"),
                "questions": result.get("questions"), "runtime_s": summary.get("runtime_s"),
                "train_tokens_per_s": summary.get("tokens_per_s") if trained else None,
                "answer_tokens_per_s": result.get("tokens_per_s"), "peak_cpu_ram_mb": summary.get("peak_cpu_ram_mb"),
                "peak_gpu_ram_mb": summary.get("peak_gpu_ram_mb"), "created": result.get("created_at"),
            })
    return pd.DataFrame(rows, columns=COLUMNS)


SAMPLE_RESULTS = paths.ASSETS / "sample_results"
"""Real result files of runs the project made on the sample data (ABOUT.md there: the commands, the machine, the
date), in run folders as a runs root holds them: the Results tab shows them until the user has results of their own."""


def shown_results(root: Path | None = None) -> tuple[pd.DataFrame, Path, str]:
    """(table, the runs root it came from, a note): the user's results, or the shipped sample results with a note
    saying what they are while the user has none."""
    table = collect(root)
    if not table.empty or not SAMPLE_RESULTS.is_dir():
        return table, root or runs.root(), ""
    about = (SAMPLE_RESULTS / "ABOUT.md").read_text(encoding="utf-8").split("\n\n")[1].strip()
    return collect(SAMPLE_RESULTS), SAMPLE_RESULTS, f"**Sample results**, shown until you have runs of your own: {about}"


def run_folder(run_id: str) -> Path:
    """Run `run_id`'s folder: the user's, else the shipped sample run of that name (RunError for a bad id)."""
    own = runs.run_path(run_id)
    sample = runs.run_path(run_id, SAMPLE_RESULTS)
    return sample if not own.is_dir() and sample.is_dir() else own


def per_question(run_dir: Path, test_set: str, knowledge: str = "", answer_style: str = "") -> pd.DataFrame:
    """The drill-down of one run on one test set (answered with collection `knowledge`, "" = without retrieval, in
    `answer_style`): question, reference, answer, scores, the key facts the answer missed, the passages it was given
    and, for grounded answers, the check's verdict and who answered."""
    for path in runs.eval_result_files(run_dir):
        result = runs.read_json(path)
        if (result.get("test_set") == test_set and (result.get("knowledge") or "") == knowledge
                and (result.get("answer_style") or "") in ("", answer_style or "auto")):
            frame = pd.DataFrame(result["rows"])
            for metric in ("rouge1", "rouge2", "rougeL", "rougeLsum", "facts"):
                frame[metric] = (100 * frame[metric].astype(float)).round(1) if metric in frame else None
            frame["missed_facts"] = [", ".join(m) if isinstance(m, list) else "" for m in
                                     frame.get("missed_facts", pd.Series([None] * len(frame)))]
            frame["sources"] = [" | ".join(s) if isinstance(s, list) else "" for s in
                                frame.get("sources", pd.Series([None] * len(frame)))]
            checked = [c for c in ("answered_by", "verdict", "model_answer") if c in frame]
            return frame[["question", "reference", "answer", "rougeL", "facts", "missed_facts", *checked, "sources",
                          "rouge1", "rouge2", "rougeLsum"]]
    return pd.DataFrame(columns=["question", "reference", "answer", "rougeL", "facts"])


def collect_memory_bench(root: Path | None = None) -> pd.DataFrame:
    """One row per (memory benchmark run, memory kind)."""
    folder = runs.memory_bench_dir(root)
    rows = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        result = runs.read_json(path)
        for kind, values in result.get("kinds", {}).items():
            rows.append({"file": path.name, "model": result.get("model_name", result.get("model")), "kind": kind,
                         "memory": values.get("label", kind), "retention": 100 * values.get("retention", 0),
                         "rougeL": values.get("rougeL_x100"), "prompt_tokens": values.get("prompt_tokens_mean"),
                         "conversations": result.get("conversations"), "created": result.get("created_at")})
    return pd.DataFrame(rows)


SHOWN = ["run", "model_name", "condition", "test_set", "knowledge", "answer_style", "facts", "facts_low",
         "facts_high", "rougeL", "faithfulness", "unsupported", "refused", "citation_precision", "questions",
         "epochs", "train_examples"]
"""The columns of the Results tab's table (all of COLUMNS overflowed it, each header squeezed to a letter a line);
the CSV export keeps every column."""


def shown_table(table: pd.DataFrame) -> pd.DataFrame:
    """The Results tab's table: rounded, SHOWN columns only."""
    return rounded(table)[SHOWN]


def rounded(table: pd.DataFrame) -> pd.DataFrame:
    """The table as shown: numbers rounded for reading, nothing dropped."""
    shown = table.copy()
    for column in ["rougeL", "rougeL_low", "rougeL_high", "facts", "facts_low", "facts_high", "hit1", "hit3",
                   "rouge1", "rouge2", "rougeLsum", "perplexity", *[c for c in COLUMNS if c.startswith((
                       "faithfulness", "unsupported", "citation_precision", "refused"))]]:
        shown[column] = shown[column].astype(float).round(2)
    shown["params"] = shown["params"].map(lambda p: f"{p / 1e6:.0f}M" if p and not math.isnan(p) else "?")
    return shown.drop(columns=["created"])
