"""The Results tab: run the experiment grid and the memory benchmark, and read what they found at a glance."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from studio import access
from studio.data import files
from studio.evaluation import grid, grid_plan, results
from studio.jobs import queue, runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import MemoryBenchJob
from studio.metrics.rouge import HEADLINE_LABEL
from studio.knowledge import collection
from studio.models import catalogue, refs
from studio.ui import charts, knowledge_form, training, visitor

METHOD_LABELS = {"lora": "LoRA", "qlora": "QLoRA"}
"""Grid method -> the label (and value) of its Methods checkbox."""
GRID_ERRORS = (ConfigError, files.DataError, refs.ModelError, access.AccessError, runs.RunError)


def _numbers(name: str, text, kind=float) -> list:
    try:
        return [kind(part) for part in str(text).replace(",", " ").split()]
    except ValueError:
        raise ConfigError(f"{name}: not a list of numbers: {text!r}") from None


SAMPLE_COLLECTIONS = ""
"""The +rag collection choice that answers each sample test set from its sample collection (grid.SAMPLE_KNOWLEDGE)."""


def collection_choices() -> list[tuple[str, str]]:
    return [("The sample collections (FAQ for the brief and detailed sets, policy wording for the policy set)",
             SAMPLE_COLLECTIONS), *((name, name) for name in collection.names())]


def spec_from(preset: str = "small", **fields) -> grid.GridSpec:
    """The grid the form describes: the preset, with the form's values by GridSpec field name (epochs and
    train_sizes as text lists, methods as their checkbox labels, data and tests as picked files, blank name or data
    = the preset's) and `collection`: the one collection every +rag cell answers from and raft+rag trains with
    (SAMPLE_COLLECTIONS: the preset's sample collections)."""
    if preset not in grid.PRESETS:
        raise ConfigError(f"preset must be one of {', '.join(sorted(grid.PRESETS))}, not {preset!r}")
    base = grid.PRESETS[preset]
    methods = {label.lower(): method for method, label in METHOD_LABELS.items()}
    values = dict(fields)
    chosen = values.pop("collection", SAMPLE_COLLECTIONS)
    if "name" in values:
        values["name"] = (values["name"] or "").strip() or base.name
    if "data" in values:
        values["data"] = values["data"] or base.data
    if "tests" in values:
        values["tests"] = list(values["tests"] or [])
        if not values["tests"]:
            raise ConfigError("Test sets: pick at least one; every cell is scored on each")
    if chosen:
        values["knowledge"] = {test: chosen for test in values.get("tests", base.tests)}
        values["train_knowledge"] = chosen
    if "models" in values:
        values["models"] = list(values["models"] or [])
    if "conditions" in values:
        values["conditions"] = list(values["conditions"] or [])
    if "methods" in values:
        values["methods"] = [methods.get(str(m).lower(), str(m).lower()) for m in values["methods"] or []]
    for name, kind in (("epochs", int), ("train_sizes", float)):
        if isinstance(values.get(name), str):
            values[name] = _numbers(name, values[name], kind)
    return dataclasses.replace(base, **values)


def plan_grid(**form) -> str:
    try:
        return "```\n" + grid_plan.describe_plan(spec_from(**form)) + "\n```"
    except GRID_ERRORS as e:
        raise gr.Error(str(e), print_exception=False) from e


def run_grid(request: gr.Request = None, **form) -> str:
    visitor.changer(request, "Running a grid")
    try:
        spec = spec_from(**form)
        outcome = grid.submit(spec)
    except GRID_ERRORS as e:
        raise gr.Error(str(e), print_exception=False) from e
    return (f"Queued {len(outcome['queued'])} cells of grid '{spec.name}' ({len(outcome['done'])} already done, "
            f"{len(outcome['in progress'])} in progress). They run one at a time; follow them in the Training tab, "
            "results appear here as cells finish.")


def preset_values(preset: str) -> tuple:
    """The grid form (name, models, methods, epochs, train_sizes, data, conditions, tests, collection) showing
    preset `preset`."""
    spec = grid.PRESETS[preset]
    return (spec.name, spec.models, [METHOD_LABELS[m] for m in spec.methods], " ".join(map(str, spec.epochs)),
            " ".join(f"{s:g}" for s in spec.train_sizes), spec.data, list(spec.conditions),
            list(spec.tests), SAMPLE_COLLECTIONS)


def page_choices():
    """The grid's data, test-set and collection pickers as a freshly loaded page shows them (datasets and
    collections added since the app started included)."""
    return (gr.Dropdown(choices=training.dataset_choices()), gr.Dropdown(choices=knowledge_form.test_file_choices()),
            gr.Dropdown(choices=collection_choices()))


def grid_status(**form) -> str:
    """How far the grid in the form has got, counted over that grid's own cells."""
    try:
        spec = spec_from(**form)
        state = grid.progress(spec)
    except GRID_ERRORS as e:  # polled by a timer: say it on the page rather than pop up an error every tick
        return f"⚠️ {e}"
    if not any(state[k] for k in ("finished", "running", "queued", "failed")):
        return f"Grid '{spec.name}': nothing queued yet."
    return (f"Grid '{spec.name}': {state['finished']} of {state['cells']} cells done · {state['running']} running · "
            f"{state['queued']} queued · {state['failed']} failed")


def refresh():
    table, _, note = results.shown_results()
    bench = results.collect_memory_bench()
    run_choices = sorted({" · ".join(filter(None, [r.run, r.test_set, r.knowledge,
                                                   "" if r.answer_style in ("", "auto") else r.answer_style]))
                          for r in table.itertuples()}, reverse=True)
    return (*charts.figures(table, bench), results.shown_table(table),
            gr.Dropdown(choices=run_choices, value=run_choices[0] if run_choices else None), note)


def export_csv() -> str:
    path = Path(tempfile.mkdtemp()) / "cqa-results.csv"
    table = results.shown_results()[0]
    files.csv_safe_frame(table).to_csv(path, index=False)  # no cell is read as a spreadsheet formula
    return str(path)


def drill_down(choice: str | None) -> pd.DataFrame:
    """One run's answers on one test set: their scores, missed key facts, verdicts and sources. `choice` is
    "<run id> · <test set>", or "<run id> · <test set> · <collection>[ · <answer style>]" when answered with
    retrieval (auto unless named); the run id must name a run."""
    if not choice:
        return pd.DataFrame()
    run, _, rest = choice.partition(" · ")
    test_set, _, rest = rest.partition(" · ")
    collection, _, style = rest.partition(" · ")
    try:
        return results.per_question(results.run_folder(run), test_set, collection, style)
    except runs.RunError as e:
        raise gr.Error(str(e), print_exception=False) from e


def start_memory_bench(request: gr.Request = None, **form) -> str:
    """Queue the memory benchmark the form describes: its values by MemoryBenchJob field name."""
    owner = visitor.changer(request, "The memory benchmark")
    try:
        run_id = queue.submit_checked(MemoryBenchJob.from_dict(form), owner=owner)
    except (ConfigError, queue.Refused) as e:
        raise gr.Error(str(e), print_exception=False) from e
    return f"Queued memory benchmark {run_id}; it runs in the job queue (Training tab) and shows up here when done."


def build_results_tab(tab: gr.Tab | None = None) -> dict[str, gr.components.Component]:
    """The tab's content; `tab` (the enclosing gr.Tab) refreshes the results whenever it is opened.
    Returns the grid form: its widgets by name (preset, then GridSpec fields)."""
    gr.Markdown(f"Scores everywhere: **{HEADLINE_LABEL}** (`rouge-score`, stemming on) and **key facts stated** "
                "(the share of a reference's numbers, amounts, durations, names and yes/no that the answer states), "
                "each with a 95% bootstrap interval over the test questions. Test sets: *detailed* (long answers), "
                "*brief* (one sentence or yes/no) and *policy* (answers only in the policy wording). Conditions: "
                "base, ft (fine-tuned), ft+grpo / ft+dpo (the ft adapter tuned further with GRPO or DPO), +rag "
                "(answered from retrieved passages), raft (fine-tuned with them).")
    with gr.Row():
        refresh_button = gr.Button("Refresh results", variant="primary")
        auto = gr.Checkbox(False, label="Refresh every 15 s (while a grid runs)")
    sample_note = gr.Markdown()
    plots = [gr.Plot(show_label=False), gr.Plot(show_label=False)]  # what lifts facts, answers vs sources: full width
    for _ in range(3):
        with gr.Row():
            plots += [gr.Plot(show_label=False), gr.Plot(show_label=False)]
    with gr.Accordion("All runs (sortable; the CSV export has every column)", open=False):
        table = gr.Dataframe(interactive=False, wrap=True, max_height=420)
        download = gr.DownloadButton("Export CSV")
    with gr.Accordion("One run, question by question", open=False):
        pick = gr.Dropdown([], label="Run · test set")
        questions = gr.Dataframe(interactive=False, wrap=True, max_height=500)
    with gr.Accordion("Experiment grid: models x epochs x training-set sizes x conditions", open=False):
        choices = [(e.label, str(e.ref)) for e in catalogue.catalogue() if e.ref.kind != "adapter"]
        default = grid.PRESETS["small"]
        with gr.Row():
            preset = gr.Dropdown(sorted(grid.PRESETS), value="small", label="Preset",
                                 info="report = the study's 200/400/800 examples x 1/3 epochs (needs 800+ examples)")
            name = gr.Textbox(default.name, label="Grid name", info="a rerun of a name skips its finished cells")
        grid_models = gr.Dropdown(choices, value=default.models, multiselect=True, label="Models",
                                  allow_custom_value=True, info="pick, or type a model folder path")
        with gr.Row():
            methods = gr.CheckboxGroup(list(METHOD_LABELS.values()), value=[METHOD_LABELS[m] for m in default.methods],
                                       label="Methods")
            epochs = gr.Textbox(" ".join(map(str, default.epochs)), label="Epochs")
            sizes = gr.Textbox(" ".join(f"{s:g}" for s in default.train_sizes), label="Training sizes",
                               info="fractions (0.25 0.5 1) or counts (200 400 800)")
        grid_data = gr.Dropdown(training.dataset_choices(), value=default.data, label="Q/A data",
                                info="the sample FAQ or a dataset added in the Training tab; split 90/10 into "
                                     "training and validation")
        grid_tests = gr.Dropdown(knowledge_form.test_file_choices(), value=list(default.tests),
                                 multiselect=True, label="Test sets", info="every cell is scored on each")
        conditions = gr.CheckboxGroup(list(grid.CONDITIONS), value=list(default.conditions), label="Conditions",
                                      info="+rag: answer from a knowledge collection; raft: fine-tune with retrieval")
        grid_collection = gr.Dropdown(collection_choices(), value=SAMPLE_COLLECTIONS, label="Collection (+rag, raft)",
                                      info="what the +rag cells answer from and raft+rag trains with; the sample "
                                           "collections answer only the sample test sets")
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
            bench_defaults = MemoryBenchJob()
            bench_model = gr.Dropdown(choices, value=bench_defaults.model, label="Model", allow_custom_value=True)
            k = gr.Number(bench_defaults.k, label="Window k", precision=0, minimum=1)
            budget = gr.Number(bench_defaults.max_tokens, label="Token budget", precision=0, minimum=16)
            limit = gr.Number(bench_defaults.limit, label="Conversations (0 = all 30)", precision=0, minimum=0)
        bench_start = gr.Button("Run memory benchmark")
        bench_message = gr.Markdown()
    outputs = [*plots, table, pick, sample_note]
    refresh_button.click(refresh, None, outputs, api_name="results")
    if tab is not None:
        tab.select(refresh, None, outputs, api_visibility="private")
    timer = gr.Timer(15.0, active=False)
    auto.change(lambda on: gr.Timer(active=on), auto, timer, api_visibility="private")
    timer.tick(refresh, None, outputs, api_visibility="private")
    download.click(export_csv, None, download, api_name="export_csv")
    pick.change(drill_down, pick, questions, api_name="per_question")
    # the grid form by name (preset, then GridSpec fields); the order is /plan_grid's and /run_grid's parameters
    form = {"preset": preset, "name": name, "models": grid_models, "methods": methods, "epochs": epochs,
            "train_sizes": sizes, "data": grid_data, "conditions": conditions, "tests": grid_tests,
            "collection": grid_collection}
    preset.change(preset_values, preset, [w for key, w in form.items() if key != "preset"], api_visibility="private")
    plan.click(plan_grid, inputs_kwargs=form, outputs=grid_message, api_name="plan_grid")
    start.click(run_grid, inputs_kwargs=form, outputs=grid_message, api_name="run_grid").then(
        grid_status, inputs_kwargs=form, outputs=grid_state, api_visibility="private")
    timer.tick(grid_status, inputs_kwargs=form, outputs=grid_state, api_visibility="private")
    bench = {"model": bench_model, "k": k, "max_tokens": budget, "limit": limit}  # MemoryBenchJob fields
    bench_start.click(start_memory_bench, inputs_kwargs=bench, outputs=bench_message, api_name="memory_bench")
    return form
