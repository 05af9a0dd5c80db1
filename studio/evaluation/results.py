"""Every run folder collected into one table, and the plots of the Results tab (plotly).

A fine-tuned model's row comes from its training run folder (config, training summary and the evaluation results
files its evaluation wrote there); a base model's from its evaluation run folder. Each row has its condition (base,
ft, raft = trained with retrieval, each + "+rag" when answered with retrieval) and its key-fact accuracy; result
files written before fact accuracy existed load with blank facts.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from studio.jobs import runs
from studio.jobs.config import ConfigError, JobConfig
from studio.jobs.kinds import EvalJob, RLHFJob, SFTJob
from studio.memory import MEMORY_KINDS
from studio.metrics.rouge import HEADLINE_LABEL
from studio.models import catalogue, refs

COLUMNS = ["run", "grid", "model", "model_name", "params", "condition", "method", "epochs", "train_examples",
           "train_size", "test_set", "rougeL", "rougeL_low", "rougeL_high", "facts", "facts_low", "facts_high",
           "hit1", "hit3", "knowledge", "rouge1", "rouge2", "rougeLsum", "perplexity", "questions", "runtime_s",
           "train_tokens_per_s", "answer_tokens_per_s", "peak_cpu_ram_mb", "peak_gpu_ram_mb", "result", "created"]
"""One row per (run, test set, collection). rouge* are F1 x 100, facts the % of key facts stated (blank for old
results), hit1/hit3 the retrieval hit rates where the test set names sources; method is base, LoRA or QLoRA; epochs
0 = not fine-tuned; result is the result file's name in the run folder."""
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
    return trained + ("+rag" if result.get("knowledge") else "")


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
                "rouge1": 100 * agg["rouge1"]["mean"], "rouge2": 100 * agg["rouge2"]["mean"],
                "rougeLsum": 100 * agg["rougeLsum"]["mean"], "perplexity": result.get("perplexity"),
                "questions": result.get("questions"), "runtime_s": summary.get("runtime_s"),
                "train_tokens_per_s": summary.get("tokens_per_s") if trained else None,
                "answer_tokens_per_s": result.get("tokens_per_s"), "peak_cpu_ram_mb": summary.get("peak_cpu_ram_mb"),
                "peak_gpu_ram_mb": summary.get("peak_gpu_ram_mb"), "created": result.get("created_at"),
            })
    return pd.DataFrame(rows, columns=COLUMNS)


def per_question(run_dir: Path, test_set: str, knowledge: str = "") -> pd.DataFrame:
    """The drill-down of one run on one test set (answered with collection `knowledge`, "" = without retrieval):
    question, reference, answer, scores, the key facts the answer missed and the passages it was given."""
    for path in runs.eval_result_files(run_dir):
        result = runs.read_json(path)
        if result.get("test_set") == test_set and (result.get("knowledge") or "") == knowledge:
            frame = pd.DataFrame(result["rows"])
            for metric in ("rouge1", "rouge2", "rougeL", "rougeLsum", "facts"):
                frame[metric] = (100 * frame[metric].astype(float)).round(1) if metric in frame else None
            frame["missed_facts"] = [", ".join(m) if isinstance(m, list) else "" for m in
                                     frame.get("missed_facts", pd.Series([None] * len(frame)))]
            frame["sources"] = [" | ".join(s) if isinstance(s, list) else "" for s in
                                frame.get("sources", pd.Series([None] * len(frame)))]
            return frame[["question", "reference", "answer", "rougeL", "facts", "missed_facts", "sources", "rouge1",
                          "rouge2", "rougeLsum"]]
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


# ------------------------------------------------------------------------------------------------- figures

LAYOUT = dict(height=430, margin=dict(l=50, r=10, t=80, b=120), title_font_size=15,
              legend=dict(orientation="h", yanchor="top", y=-0.22, x=0, title_text=""))
ORDER = {"test_set": ["detailed", "brief", "policy"], "condition": CONDITION_ORDER}
"""Facets always left to right: the long-answer test set, the brief one, the policy questions."""
FACTS_LABEL = "key facts stated (%)"


def _empty(title: str, why: str) -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=why, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_layout(title=title, xaxis_visible=False, yaxis_visible=False, **LAYOUT)
    return figure


PALETTE = px.colors.qualitative.Plotly


def _model_colors(table: pd.DataFrame) -> dict[str, str]:
    """One colour per model in every chart (plotly would colour by order of appearance, chart by chart)."""
    names = sorted(table["model_name"].dropna().unique()) if "model_name" in table else []
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def _plain(table: pd.DataFrame) -> pd.DataFrame:
    """Rows answered without retrieval by base or plainly fine-tuned models: what the ROUGE charts compare."""
    return table[table["condition"].isin(["base", "ft"])]


def _trained(table: pd.DataFrame) -> pd.DataFrame:
    plain = _plain(table)
    return plain[plain["method"] != "base"]


def _error_bars(frame: pd.DataFrame, value: str, low: str, high: str) -> pd.DataFrame:
    return frame.assign(error_plus=frame[high] - frame[value], error_minus=frame[value] - frame[low])


def _best_trained(table: pd.DataFrame) -> pd.DataFrame:
    """For each model, method, epochs, data size and test set: the newest run."""
    return table.sort_values("created").groupby(
        ["model_name", "method", "epochs", "train_examples", "test_set"], as_index=False).last()


def rouge_vs_model_size(table: pd.DataFrame) -> go.Figure:
    title = f"{HEADLINE_LABEL} against model size"
    table = _plain(table)
    if table.empty:
        return _empty(title, "No evaluated runs yet: run a grid or evaluate a model.")
    best = table.sort_values("rougeL").groupby(["model_name", "method", "test_set"], as_index=False).last()
    best["error_plus"] = best["rougeL_high"] - best["rougeL"]
    best["error_minus"] = best["rougeL"] - best["rougeL_low"]
    figure = px.scatter(best, x="params", y="rougeL", color="method", facet_col="test_set", log_x=True,
                        error_y="error_plus", error_y_minus="error_minus", text="model_name", category_orders=ORDER,
                        hover_data=["epochs", "train_examples", "run"],
                        labels={"params": "parameters (log scale)", "rougeL": HEADLINE_LABEL},
                        title=title + "<br><sup>best run per model and method; bars: 95% bootstrap interval</sup>")
    figure.update_traces(textposition="top center", marker=dict(size=11), cliponaxis=False)  # names stay whole
    return figure.update_layout(**LAYOUT)


def rouge_vs_epochs(table: pd.DataFrame) -> go.Figure:
    title = f"{HEADLINE_LABEL} against epochs"
    trained = _best_trained(_plain(table))
    if trained.empty:
        return _empty(title, "No runs yet.")
    tuned = trained[trained["method"] != "base"]
    full = tuned.loc[tuned.groupby(["model_name", "method", "test_set"])["train_examples"].transform("max")
                     == tuned["train_examples"]]
    # Each method's line starts from the untrained model at epoch 0.
    base = trained[trained["method"] == "base"]
    starts = [base.assign(method=m) for m in full["method"].unique()] if not base.empty else []
    lines = pd.concat([full, *starts]) if len(full) or starts else trained
    figure = px.line(lines.sort_values("epochs"), x="epochs", y="rougeL", color="model_name", line_dash="method",
                     color_discrete_map=_model_colors(table),
                     facet_col="test_set", markers=True, hover_data=["train_examples", "run"], category_orders=ORDER,
                     labels={"rougeL": HEADLINE_LABEL, "model_name": "model"},
                     title=title + "<br><sup>largest training set; epoch 0 = the model before fine-tuning</sup>")
    return figure.update_layout(**LAYOUT)


def rouge_vs_data_size(table: pd.DataFrame) -> go.Figure:
    title = f"{HEADLINE_LABEL} against training-set size"
    trained = _best_trained(_trained(table))
    if trained.empty:
        return _empty(title, "No fine-tuned runs yet.")
    trained = trained.assign(run_epochs=trained["epochs"].astype(str) + " epoch(s)")
    figure = px.line(trained.sort_values("train_examples"), x="train_examples", y="rougeL", color="model_name",
                     line_dash="run_epochs", facet_col="test_set", markers=True, hover_data=["method", "run"],
                     color_discrete_map=_model_colors(table),
                     category_orders=ORDER,
                     labels={"rougeL": HEADLINE_LABEL, "train_examples": "training examples", "model_name": "model",
                             "run_epochs": "epochs"}, title=title)
    return figure.update_layout(**LAYOUT)


def runtime_figure(table: pd.DataFrame) -> go.Figure:
    title = "Runtime against training-set size and epochs"
    trained = _best_trained(_trained(table)).drop_duplicates("run")
    if trained.empty:
        return _empty(title, "No fine-tuned runs yet.")
    trained = trained.assign(minutes=trained["runtime_s"] / 60, run_epochs=trained["epochs"].astype(str))
    figure = px.line(trained.sort_values("train_examples"), x="train_examples", y="minutes", color="model_name",
                     line_dash="run_epochs", markers=True, color_discrete_map=_model_colors(table), hover_data=["peak_cpu_ram_mb", "train_tokens_per_s", "run"],
                     labels={"minutes": "minutes", "train_examples": "training examples", "model_name": "model",
                             "run_epochs": "epochs"},
                     title=title + "<br><sup>whole training job: load, train, validate, save (evaluation not included)</sup>")
    return figure.update_layout(**LAYOUT)


def base_vs_finetuned(table: pd.DataFrame) -> go.Figure:
    title = f"Base vs fine-tuned: {HEADLINE_LABEL} and key facts"
    table = _plain(table)
    if table.empty:
        return _empty(title, "No evaluated runs yet.")
    base = table[table["method"] == "base"].sort_values("created").groupby(["model_name", "test_set"]).last()
    tuned = table[table["method"] != "base"].sort_values("rougeL").groupby(["model_name", "test_set"]).last()
    rows = []
    for label, frame in [("base", base), ("best fine-tuned", tuned)]:
        for (model, test), row in frame.iterrows():
            detail = f"{row['method']}, {row['epochs']} epoch(s), {row['train_examples']} examples"
            for metric, value, low, high in [(HEADLINE_LABEL, row["rougeL"], row["rougeL_low"], row["rougeL_high"]),
                                             (FACTS_LABEL, row["facts"], row["facts_low"], row["facts_high"])]:
                if pd.notna(value):
                    rows.append({"model": model, "test_set": test, "which": label, "metric": metric,
                                 "value": value, "low": low, "high": high, "detail": detail})
    if not rows:
        return _empty(title, "No evaluated runs yet.")
    frame = _error_bars(pd.DataFrame(rows), "value", "low", "high")
    figure = px.bar(frame, x="model", y="value", color="which", barmode="group", facet_col="test_set",
                    facet_row="metric", error_y="error_plus", error_y_minus="error_minus", hover_data=["detail"],
                    labels={"value": ""}, category_orders=ORDER,
                    title=title + "<br><sup>best fine-tuned run by ROUGE-L; bars: 95% bootstrap interval</sup>")
    figure.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    return figure.update_layout(**{**LAYOUT, "height": 620})


def what_lifts_facts(table: pd.DataFrame) -> go.Figure:
    """ROUGE-L and key-fact accuracy per condition, per model (rows) and test set (columns), 95% intervals."""
    title = "What lifts facts: ROUGE-L and key facts per condition"
    if table.empty:
        return _empty(title, "No evaluated runs yet: run the 'facts' grid preset.")
    newest = table.sort_values("created").groupby(["model_name", "test_set", "condition"], as_index=False).last()
    rows = []
    for row in newest.itertuples():
        for metric, value, low, high in [(HEADLINE_LABEL, row.rougeL, row.rougeL_low, row.rougeL_high),
                                         (FACTS_LABEL, row.facts, row.facts_low, row.facts_high)]:
            if pd.notna(value):
                rows.append({"model": row.model_name, "test_set": row.test_set, "condition": row.condition,
                             "metric": metric, "value": value, "low": low, "high": high, "run": row.run,
                             "hit@3": row.hit3})
    frame = _error_bars(pd.DataFrame(rows), "value", "low", "high")
    figure = px.bar(frame, x="condition", y="value", color="metric", barmode="group", facet_col="test_set",
                    facet_row="model", error_y="error_plus", error_y_minus="error_minus", category_orders=ORDER,
                    hover_data=["run", "hit@3"], labels={"value": "", "condition": ""},
                    title=title + "<br><sup>newest run per model, test set and condition; +rag = answered from "
                    "retrieved passages, raft = fine-tuned with them; bars: 95% bootstrap interval</sup>")
    figure.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    return figure.update_layout(**{**LAYOUT, "height": 260 + 220 * frame["model"].nunique()})


def memory_figure(bench: pd.DataFrame) -> go.Figure:
    title = "Which memory keeps context?"
    if bench.empty:
        return _empty(title, "No memory benchmark yet: run one below.")
    latest = bench.sort_values("created").groupby(["model", "kind"], as_index=False).last()
    latest = latest.sort_values("kind", key=lambda kinds: kinds.map(MEMORY_KINDS.index))
    figure = go.Figure()
    for model, frame in latest.groupby("model"):
        figure.add_trace(go.Bar(x=frame["memory"], y=frame["retention"], name=f"{model}: fact kept (%)"))
        figure.add_trace(go.Scatter(x=frame["memory"], y=frame["rougeL"], name=f"{model}: {HEADLINE_LABEL}",
                                    mode="markers", marker=dict(size=12, symbol="diamond")))
    figure.update_layout(title=title + "<br><sup>bars: % of follow-up questions whose needed earlier fact reached "
                         "the prompt; diamonds: answer ROUGE</sup>", yaxis_title="%  /  ROUGE", yaxis_range=[0, 105],
                         **{**LAYOUT, "legend": {**LAYOUT["legend"], "y": -0.42}, "margin": {**LAYOUT["margin"], "b": 150}})
    figure.update_xaxes(tickangle=-20)
    return figure


def figures(table: pd.DataFrame, bench: pd.DataFrame) -> list[go.Figure]:
    """What lifts facts first (shown full width), then the ROUGE charts and the memory benchmark."""
    return [what_lifts_facts(table), rouge_vs_model_size(table), rouge_vs_epochs(table), rouge_vs_data_size(table), base_vs_finetuned(table),
            runtime_figure(table), memory_figure(bench)]


def rounded(table: pd.DataFrame) -> pd.DataFrame:
    """The table as shown: numbers rounded for reading, nothing dropped."""
    shown = table.copy()
    for column in ["rougeL", "rougeL_low", "rougeL_high", "facts", "facts_low", "facts_high", "hit1", "hit3",
                   "rouge1", "rouge2", "rougeLsum", "perplexity"]:
        shown[column] = shown[column].astype(float).round(2)
    shown["params"] = shown["params"].map(lambda p: f"{p / 1e6:.0f}M" if p and not math.isnan(p) else "?")
    return shown.drop(columns=["created"])
