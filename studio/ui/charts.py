"""Every plotly figure the app draws: the Results tab's charts of the table studio.evaluation.results collects
(ROUGE and key facts per condition, against model size, epochs and training-set size, base vs fine-tuned, runtime,
the memory benchmark), and the Training tab's loss and reward charts of a run's metrics.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from studio.evaluation.results import CONDITION_ORDER
from studio.memory import MEMORY_KINDS
from studio.metrics.rouge import HEADLINE_LABEL

# ------------------------------------------------------------------------------------------------- results

LAYOUT = dict(height=430, margin=dict(l=50, r=10, t=80, b=120), title_font_size=15,
              legend=dict(orientation="h", yanchor="top", y=-0.22, x=0, title_text=""))
ORDER = {"test_set": ["detailed", "brief", "policy"], "condition": CONDITION_ORDER}
"""Facets always left to right: the long-answer test set, the brief one, the policy questions."""
FACTS_LABEL = "key facts stated (%)"


NO_TRAINED_RESULTS = ("No evaluated fine-tuned run yet: a training run shows here once evaluated (Training tab: "
                      "'Evaluate when done on').")


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
        return _empty(title, NO_TRAINED_RESULTS)
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
        return _empty(title, NO_TRAINED_RESULTS)
    trained = trained.assign(minutes=trained["runtime_s"] / 60, run_epochs=trained["epochs"].astype(str))
    figure = px.line(trained.sort_values("train_examples"), x="train_examples", y="minutes", color="model_name",
                     line_dash="run_epochs", markers=True, color_discrete_map=_model_colors(table),
                     hover_data=["peak_cpu_ram_mb", "train_tokens_per_s", "run"],
                     labels={"minutes": "minutes", "train_examples": "training examples", "model_name": "model",
                             "run_epochs": "epochs"},
                     title=title + "<br><sup>whole training job: load, train, validate, save (evaluation not "
                     "included)</sup>")
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


CHECKED = {"faithfulness": "key facts found in the sources (%)", "unsupported": "answers not supported (%)",
           "refused": "answers refused (%)"}


def answers_vs_sources(table: pd.DataFrame) -> go.Figure:
    """Grounded answers against their sources, per +rag condition (and answer style), model and test set: the share
    of key facts found in the passages, of answers the check rejects, and of refusals; 95% intervals."""
    title = "Right or silent: grounded answers checked against their sources"
    grounded = table[table["faithfulness"].notna() | table["refused"].notna()] if not table.empty else table
    if grounded.empty:
        return _empty(title, "No grounded evaluation yet: evaluate with a knowledge collection (the 'facts' preset's "
                             "+rag conditions, or Evaluate with --knowledge).")
    newest = grounded.sort_values("created").groupby(["model_name", "test_set", "condition"], as_index=False).last()
    rows = [{"model": row.model_name, "test_set": row.test_set, "condition": row.condition, "metric": label,
             "value": getattr(row, name), "low": getattr(row, f"{name}_low"), "high": getattr(row, f"{name}_high"),
             "run": row.run} for row in newest.itertuples() for name, label in CHECKED.items()
            if pd.notna(getattr(row, name))]
    frame = _error_bars(pd.DataFrame(rows), "value", "low", "high")
    figure = px.bar(frame, x="condition", y="value", color="metric", barmode="group", facet_col="test_set",
                    facet_row="model", error_y="error_plus", error_y_minus="error_minus", category_orders=ORDER,
                    hover_data=["run"], labels={"value": "", "condition": ""},
                    title=title + "<br><sup>newest run per model, test set and condition; on a set of questions "
                    "the sources do not answer, refused is the refusal recall; bars: 95% bootstrap interval</sup>")
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
                         **{**LAYOUT, "legend": {**LAYOUT["legend"], "y": -0.42},
                            "margin": {**LAYOUT["margin"], "b": 150}})
    figure.update_xaxes(tickangle=-20)
    return figure


def figures(table: pd.DataFrame, bench: pd.DataFrame) -> list[go.Figure]:
    """What lifts facts and the grounded answers' check first (shown full width), then the ROUGE charts and the
    memory benchmark."""
    return [what_lifts_facts(table), answers_vs_sources(table), rouge_vs_model_size(table), rouge_vs_epochs(table),
            rouge_vs_data_size(table), base_vs_finetuned(table), runtime_figure(table), memory_figure(bench)]


# -------------------------------------------------------------------------------------------------- training


def loss_figure(metrics: list[dict]) -> go.Figure:
    train = [m for m in metrics if "loss" in m]
    val = [m for m in metrics if "val_loss" in m]
    figure = go.Figure()
    steps, losses = [m["step"] for m in train], [m["loss"] for m in train]
    window = max(1, len(losses) // 15)  # per-step losses of small batches are noisy; the trend is what matters
    smooth = [sum(losses[max(0, i - window + 1):i + 1]) / len(losses[max(0, i - window + 1):i + 1])
              for i in range(len(losses))]
    figure.add_trace(go.Scatter(x=steps, y=losses, name="training loss (per step)", mode="lines",
                                line=dict(color="#c7d2fe", width=1)))
    figure.add_trace(go.Scatter(x=steps, y=smooth, name=f"training loss (mean of {window})", mode="lines",
                                line=dict(color="#4f46e5", width=2)))
    figure.add_trace(go.Scatter(x=[m["step"] for m in val], y=[m["val_loss"] for m in val], name="validation loss",
                                mode="lines+markers", marker=dict(size=9, color="#dc2626"),
                                text=[f"perplexity {m['val_perplexity']}" for m in val]))
    figure.update_layout(xaxis_title="step", yaxis_title="loss (answer tokens)", height=320,
                         margin=dict(l=40, r=10, t=30, b=80),  # legend below: above, it covered the curve
                         legend=dict(orientation="h", yanchor="top", y=-0.25, x=0))
    return figure


def reward_figure(metrics: list[dict]) -> go.Figure:
    """Reward mean per step with a band of one standard deviation; for DPO the implicit reward margin."""
    steps = [m for m in metrics if "reward_mean" in m]
    figure = go.Figure()
    x = [m["step"] for m in steps]
    mean = [m["reward_mean"] for m in steps]
    spread = [m["reward_std"] for m in steps]
    dpo = bool(steps) and "reward_accuracy" in steps[0]
    figure.add_trace(go.Scatter(x=x + x[::-1], y=[m + s for m, s in zip(mean, spread)] +
                                [m - s for m, s in zip(mean, spread)][::-1], fill="toself", name="± 1 std",
                                line=dict(width=0), fillcolor="rgba(22,163,74,0.18)", hoverinfo="skip"))
    figure.add_trace(go.Scatter(x=x, y=mean, name="DPO margin (mean)" if dpo else "reward (mean)",
                                mode="lines+markers", line=dict(color="#16a34a", width=2)))
    for part, colour in (("rouge_l", "#4f46e5"), ("facts", "#d97706")):
        if steps and part in steps[0]:
            figure.add_trace(go.Scatter(x=x, y=[m[part] for m in steps], name=part.replace("_", "-"),
                                        mode="lines", line=dict(color=colour, width=1)))
    figure.update_layout(xaxis_title="step", yaxis_title="β x log-ratio margin" if dpo else "reward", height=320,
                         margin=dict(l=40, r=10, t=30, b=40), legend=dict(orientation="h", y=1.12))
    return figure
