"""The Results tab: run the experiment grid and the memory benchmark, and read what they found at a glance."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from chat import access, models
from eval import grid, results
from eval.rouge import HEADLINE_LABEL
from training import data, jobs
from training.configs import ConfigError, MemoryBenchJob


def _numbers(text: str, kind=float) -> list:
    try:
        return [kind(part) for part in str(text).replace(",", " ").split()]
    except ValueError as e:
        raise gr.Error(f"Not a list of numbers: {text!r}", print_exception=False) from e


def spec_from(preset: str, name: str, model_refs: list[str], methods: list[str], epochs: str, sizes: str,
              data_path: str) -> grid.GridSpec:
    spec = dataclasses.replace(grid.PRESETS[preset])
    spec.name = (name or spec.name).strip()
    spec.models = list(model_refs or [])
    spec.methods = [m.lower() for m in methods or []]
    spec.epochs = _numbers(epochs, int)
    spec.train_sizes = _numbers(sizes)
    spec.data = data_path or spec.data
    return spec


def plan_grid(*form) -> str:
    try:
        return "```\n" + grid.describe_plan(spec_from(*form)) + "\n```"
    except (ConfigError, data.DataError, models.ModelError, access.AccessError) as e:
        raise gr.Error(str(e), print_exception=False) from e


def run_grid(*form) -> str:
    spec = spec_from(*form)
    try:
        outcome = grid.submit(spec)
    except (ConfigError, data.DataError, models.ModelError, access.AccessError) as e:
        raise gr.Error(str(e), print_exception=False) from e
    return (f"Queued {len(outcome['queued'])} cells of grid '{spec.name}' ({len(outcome['done'])} already done, "
            f"{len(outcome['in progress'])} in progress). They run one at a time; follow them in the Training tab, "
            "results appear here as cells finish.")


def preset_values(preset: str):
    spec = grid.PRESETS[preset]
    return (spec.name, spec.models, [m.upper() if m == "lora" else "QLoRA" for m in spec.methods],
            " ".join(map(str, spec.epochs)), " ".join(f"{s:g}" for s in spec.train_sizes), spec.data)


def grid_status(name: str) -> str:
    state = grid.progress(dataclasses.replace(grid.PRESETS["small"], name=name or "small"))
    if not any(state[k] for k in ("finished", "running", "queued", "failed")):
        return f"Grid '{name}': nothing queued yet."
    return (f"Grid '{name}': {state['finished']} of {state['cells']} cells done · {state['running']} running · "
            f"{state['queued']} queued · {state['failed']} failed")


def refresh():
    table = results.collect()
    bench = results.collect_memory_bench()
    run_choices = sorted({f"{r.run} · {r.test_set}" for r in table.itertuples()}, reverse=True)
    return (*results.figures(table, bench), results.rounded(table),
            gr.Dropdown(choices=run_choices, value=run_choices[0] if run_choices else None))


def export_csv() -> str:
    path = Path(tempfile.mkdtemp()) / "cqa-results.csv"
    results.collect().to_csv(path, index=False)
    return str(path)


def drill_down(choice: str | None) -> pd.DataFrame:
    if not choice:
        return pd.DataFrame()
    run, test_set = choice.split(" · ")
    return results.per_question(models.RUNS_DIR / run, test_set)


def start_memory_bench(model: str, k: int, max_tokens: int, limit: int) -> str:
    try:
        job = MemoryBenchJob(model=model, k=int(k), max_tokens=int(max_tokens), limit=int(limit)).validate()
        entry = models.describe(models.ModelRef.parse(model))
    except (ConfigError, models.ModelError) as e:
        raise gr.Error(str(e), print_exception=False) from e
    if not entry.available:
        raise gr.Error(f"{entry.name} is unavailable: {entry.reason}", print_exception=False)
    run_id = jobs.submit(job)
    return f"Queued memory benchmark {run_id}; it runs in the job queue (Training tab) and shows up here when done."


def build_results_tab(tab: gr.Tab | None = None) -> None:
    """The tab's content; `tab` (the enclosing gr.Tab) refreshes the results whenever it is opened."""
    gr.Markdown(f"Headline score everywhere: **{HEADLINE_LABEL}** (`rouge-score`, stemming on), with a 95% "
                "bootstrap interval over the test questions. Two held-out test sets: *detailed* (long answers) and "
                "*brief* (one sentence or yes/no).")
    with gr.Row():
        refresh_button = gr.Button("Refresh results", variant="primary")
        auto = gr.Checkbox(False, label="Refresh every 15 s (while a grid runs)")
    plots = []
    for _ in range(3):
        with gr.Row():
            plots += [gr.Plot(show_label=False), gr.Plot(show_label=False)]
    with gr.Accordion("All runs (sortable; CSV export)", open=False):
        table = gr.Dataframe(interactive=False, wrap=True, max_height=420)
        download = gr.DownloadButton("Export CSV")
    with gr.Accordion("One run, question by question", open=False):
        pick = gr.Dropdown([], label="Run · test set")
        questions = gr.Dataframe(interactive=False, wrap=True, max_height=500)
    with gr.Accordion("Experiment grid: models x epochs x training-set sizes", open=False):
        choices = [(e.label, str(e.ref)) for e in models.catalogue() if e.ref.kind != "adapter"]
        default = grid.PRESETS["small"]
        with gr.Row():
            preset = gr.Dropdown(sorted(grid.PRESETS), value="small", label="Preset",
                                 info="report = the study's 200/400/800 examples x 1/3 epochs (needs 800+ examples)")
            name = gr.Textbox(default.name, label="Grid name", info="a rerun of a name skips its finished cells")
        grid_models = gr.Dropdown(choices, value=default.models, multiselect=True, label="Models",
                                  allow_custom_value=True, info="pick, or type a model folder path")
        with gr.Row():
            methods = gr.CheckboxGroup(["LoRA", "QLoRA"], value=["LoRA"], label="Methods")
            epochs = gr.Textbox(" ".join(map(str, default.epochs)), label="Epochs")
            sizes = gr.Textbox(" ".join(f"{s:g}" for s in default.train_sizes), label="Training sizes",
                               info="fractions (0.25 0.5 1) or counts (200 400 800)")
        grid_data = gr.Textbox(default.data, label="Q/A data (file path)")
        with gr.Row():
            plan = gr.Button("Plan and estimate time")
            start = gr.Button("Run grid", variant="primary")
        grid_message = gr.Markdown()
        grid_state = gr.Markdown()
    with gr.Accordion("Memory benchmark: which memory keeps context?", open=False):
        gr.Markdown("30 sample conversations whose last question only makes sense with an earlier turn "
                    "(\"How many days is it?\"). Every memory kind is scored: did the needed fact reach the "
                    "prompt, and the ROUGE of the answer.")
        with gr.Row():
            bench_model = gr.Dropdown(choices, value=str(models.DEFAULT_MODEL), label="Model", allow_custom_value=True)
            k = gr.Number(2, label="Window k", precision=0, minimum=1)
            budget = gr.Number(192, label="Token budget", precision=0, minimum=16)
            limit = gr.Number(0, label="Conversations (0 = all 30)", precision=0, minimum=0)
        bench_start = gr.Button("Run memory benchmark")
        bench_message = gr.Markdown()
    outputs = [*plots, table, pick]
    refresh_button.click(refresh, None, outputs, api_name="results")
    if tab is not None:
        tab.select(refresh, None, outputs, api_visibility="private")
    timer = gr.Timer(15.0, active=False)
    auto.change(lambda on: gr.Timer(active=on), auto, timer, api_visibility="private")
    timer.tick(refresh, None, outputs, api_visibility="private")
    download.click(export_csv, None, download, api_name="export_csv")
    pick.change(drill_down, pick, questions, api_name="per_question")
    form = [preset, name, grid_models, methods, epochs, sizes, grid_data]
    preset.change(preset_values, preset, [name, grid_models, methods, epochs, sizes, grid_data],
                  api_visibility="private")
    plan.click(plan_grid, form, grid_message, api_name="plan_grid")
    start.click(run_grid, form, grid_message, api_name="run_grid").then(grid_status, name, grid_state,
                                                                      api_visibility="private")
    timer.tick(grid_status, name, grid_state, api_visibility="private")
    bench_start.click(start_memory_bench, [bench_model, k, budget, limit], bench_message, api_name="memory_bench")
