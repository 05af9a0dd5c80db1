"""The Training tab: add Q/A data, start LoRA/QLoRA and RLHF (GRPO/RLOO/DPO) jobs, watch them, stop and resume them."""

from __future__ import annotations

import html
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from studio import access
from studio.data import dialogue, qa, registry
from studio.data.files import DataError
from studio.jobs import queue, runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import MODES, SFTJob, field_docs
from studio.models import catalogue, refs
from studio.training import export
from studio.ui import knowledge_form, rlhf, visitor
from studio.ui.charts import loss_figure, reward_figure

SAMPLE_DATA = "assets/insurer_faq.csv"
DEFAULTS = SFTJob()
DOCS = field_docs()


# ------------------------------------------------------------------------------------------------------ data


def dataset_choices() -> list[tuple[str, str]]:
    """(label, value) where value is the file a job reads: the sample file or a registered dataset's file."""
    choices = [("Sample: Nilgiri Health FAQ (fictional insurer)", SAMPLE_DATA)]
    for d in registry.list_registered():  # by name (qa.data_file finds the file): no server path on the page
        choices.append((f"{d['name']} · {d['kind']} · {d['rows']} rows (from {d['source']})", d["name"]))
    return choices


SAMPLE_TEST = "assets/test_brief.csv"
"""The test set a training run is evaluated on unless the form says otherwise: the sample's one-sentence answers
(36 questions; about a minute for SmolLM2 on 2 cores)."""


def page_choices():
    """The training-data and base-model pickers (the job form's "data" and "model") as a freshly loaded page shows
    them: datasets added and models installed since the app started included; each keeps its value. (The run
    picker follows the queue on its own timer.)"""
    return gr.Dropdown(choices=dataset_choices()), gr.Dropdown(choices=trainable_models())


def show_dataset(path: str):
    try:
        access.check_data_path(path)
        dataset = qa.load_file(path)
    except (DataError, access.AccessError) as e:
        return pd.DataFrame(), f"⚠️ {e}"
    return qa.preview(dataset), f"{len(dataset.records)} {'Q/A pairs' if dataset.kind == 'qa' else 'conversations'}."


def add_dataset(file: str | None, question_column: str, answer_column: str, request: gr.Request = None):
    """Validate and register an uploaded file. On any error nothing is registered and the message lists the rows."""
    visitor.changer(request, "Adding a dataset")
    if not file:
        raise gr.Error("Choose a file first (CSV, JSONL or JSON).", print_exception=False)
    try:
        path = registry.register(file, question_column=question_column.strip() or None,
                             answer_column=answer_column.strip() or None)
    except DataError as e:
        problems = "\n".join(f"- {html.escape(line)}" for line in e.errors)
        return gr.Dropdown(), gr.skip(), f"⚠️ **{Path(file).name} was not added** — fix these and try again:\n{problems}"
    value = str(path.resolve())
    table, summary = show_dataset(value)
    return gr.Dropdown(choices=dataset_choices(), value=value), table, f"✅ Added {Path(file).name}: {summary}"


WRITERS = [("Templates (offline, instant)", "templates"), ("The base model chosen below", "model"),
           ("OpenAI-compatible endpoint (CQA_OPENAI_BASE_URL)", "endpoint")]


def make_dialogue_data(dataset_path: str, writer: str, model: str, pairs: int, request: gr.Request = None):
    """Q/A pairs -> conversations with small talk, registered as a new dataset and selected for dialogue mode."""
    visitor.changer(request, "Making a dataset")
    try:
        access.check_inputs([model] if writer == "model" else [], [dataset_path])
        dataset = qa.load_file(dataset_path)
    except (DataError, access.AccessError) as e:
        raise gr.Error(str(e), print_exception=False) from e
    if dataset.kind != "qa":
        raise gr.Error("This data already holds conversations: pick Q/A pairs to turn into conversations.",
                       print_exception=False)
    complete = {"templates": None, "model": dialogue.LocalChat(model),
                "endpoint": dialogue.openai_complete_from_env()}[writer]
    if writer == "endpoint" and complete is None:
        raise gr.Error("No endpoint configured: set CQA_OPENAI_BASE_URL (and CQA_OPENAI_MODEL, CQA_OPENAI_API_KEY) "
                       "before starting the app.", print_exception=False)
    try:
        made = dialogue.make_conversations(dataset.records, int(pairs), 0, complete)
    except (RuntimeError, ValueError, refs.ModelError) as e:
        raise gr.Error(str(e), print_exception=False) from e
    with tempfile.TemporaryDirectory() as tmp:
        written = dialogue.save_conversations(made, Path(tmp) / f"{Path(dataset_path).stem}_conversations.jsonl")
        registered = registry.register(written)
    value = str(registered.resolve())
    table, _ = show_dataset(value)
    message = (f"✅ Made {len(made)} conversations from {len(dataset.records)} Q/A pairs (small talk by "
               f"{dialogue.describe_writer(complete)}); selected for dialogue mode.")
    return gr.Dropdown(choices=dataset_choices(), value=value), table, message, "dialogue"


# ------------------------------------------------------------------------------------------------------ jobs


def trainable_models() -> list[tuple[str, str]]:
    return [(e.label, str(e.ref)) for e in catalogue.catalogue() if e.ref.kind != "adapter"]


def start_training(request: gr.Request = None, **form) -> str:
    """Queue the job the form describes: its values arrive by SFTJob field name and SFTJob.from_dict turns them
    into the job (text and float widgets coerced, fields the form leaves out at their defaults). Returns the run id."""
    owner = visitor.changer(request, "Training")
    try:
        run_id = queue.submit_checked(SFTJob.from_dict(form), owner=owner)
    except (ConfigError, queue.Refused) as e:
        raise gr.Error(str(e), print_exception=False) from e
    gr.Info(f"Queued {run_id}")
    return run_id


def run_choices() -> list[tuple[str, str]]:
    return [(r.label, r.id) for r in queue.list_runs()]


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def progress_html(status: dict, metrics: list[dict]) -> str:
    step, total = status.get("step", 0), status.get("total_steps", 0)
    share = step / total if total else 0.0
    steps = [m for m in metrics if "loss" in m]
    eta = f" · ETA {_duration(steps[-1]['eta_s'])}" if steps and status.get("state") == "running" else ""
    speed = f" · {steps[-1]['tokens_per_s']:.0f} tokens/s" if steps and "tokens_per_s" in steps[-1] else ""
    colour = {"failed": "#dc2626", "stopped": "#d97706", "finished": "#16a34a"}.get(status.get("state"), "#6366f1")
    return (f"<div style='background:#e5e7eb;border-radius:6px;height:14px'><div style='width:{share:.1%};"
            f"background:{colour};height:14px;border-radius:6px'></div></div>"
            f"<p><b>{html.escape(status.get('state', '?'))}</b> · step {step}/{total or '?'} ({share:.0%}){eta}{speed}"
            f"<br>{html.escape(status.get('message', ''))}</p>")


def run_status(run_id: str | None) -> dict:
    """Everything the page shows about one run, as plain data (the API endpoint tests poll).

    A run id that is not a run's plain name inside the runs root (e.g. "../../etc") is refused with a message."""
    if not run_id:
        return {}
    try:
        run_dir = runs.run_path(run_id)
    except runs.RunError as e:
        raise gr.Error(str(e), print_exception=False) from e
    if not (run_dir / runs.STATUS).is_file():
        raise gr.Error(f"No run named {run_id!r}", print_exception=False)
    status = queue.reconcile(run_dir)
    return {"id": run_id, **status, "summary": runs.read_json(run_dir / runs.SUMMARY),
            # named inside the runs folder, not by its server path
            "adapter": f"{run_id}/{runs.ADAPTER}" if (run_dir / runs.ADAPTER).exists() else None}


def refresh(run_id: str | None):
    """Timer tick: move the queue, redraw the selected run."""
    queue.pump()
    choices = run_choices()
    if not run_id and choices:
        run_id = choices[0][1]
    if not run_id:
        return gr.Dropdown(choices=choices), "<p>No runs yet.</p>", loss_figure([]), reward_figure([]), "", {}
    try:
        run_dir = runs.run_path(run_id)
    except runs.RunError as e:  # a typed run id: say why on the page, every tick, without an error popup
        return (gr.Dropdown(choices=choices), f"<p>⚠️ {html.escape(str(e))}</p>", loss_figure([]),
                reward_figure([]), "", {})
    status = run_status(run_id)
    metrics = runs.read_metrics(run_dir)
    return (gr.Dropdown(choices=choices, value=run_id), progress_html(status, metrics), loss_figure(metrics),
            reward_figure(metrics), runs.tail(run_dir / runs.LOG, 10), status)


def stop_run(run_id: str | None, request: gr.Request = None) -> str:
    visitor.changer(request, "Stopping a run")
    return queue.stop(run_id) if run_id else "Pick a run first."


def resume_run(run_id: str | None, request: gr.Request = None) -> str:
    visitor.changer(request, "Resuming a run")
    return queue.resume(run_id) if run_id else "Pick a run first."


# ------------------------------------------------------------------------------------------------------- tab


def export_run(run_id: str | None, quant: str, request: gr.Request = None):
    visitor.changer(request, "Exporting a model")
    yield from export.export_messages(run_id, quant)


def build_training_tab(default_model: str = DEFAULTS.model) -> dict[str, gr.components.Component]:
    """The tab's content. Returns the job form: its widgets by SFTJob field name. The preselected base model is
    SFTJob's default (SmolLM2: an epoch takes minutes on a CPU) when it is installed, else `default_model` (the
    app's chat model, e.g. Qwen on a Space without SmolLM2)."""
    choices = trainable_models()
    installed = {value for label, value in choices if "unavailable" not in label}
    start_model = DEFAULTS.model if DEFAULTS.model in installed or default_model not in installed else default_model
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            gr.Markdown("### 1. Data")
            dataset = gr.Dropdown(dataset_choices(), value=str(SAMPLE_DATA), label="Training data", allow_custom_value=True,
                                  info="The sample FAQ, a file you added below, or a file path")
            with gr.Accordion("Add your own Q/A file", open=False):
                upload = gr.File(label="CSV, JSONL or JSON with question/answer columns, or conversations",
                                 file_types=[".csv", ".jsonl", ".json"], type="filepath")
                with gr.Row():
                    question_column = gr.Textbox(label="Question column", placeholder="auto: question, prompt, ...")
                    answer_column = gr.Textbox(label="Answer column", placeholder="auto: answer, response, ...")
                add = gr.Button("Check and add")
            with gr.Accordion("Turn Q/A pairs into conversations (for dialogue mode)", open=False):
                gr.Markdown("Groups the selected Q/A pairs into user/assistant conversations with greetings and "
                            "goodbyes; the answers stay word for word. Dialogue mode then learns each reply from the "
                            "turns before it.")
                writer = gr.Radio(WRITERS, value="templates", label="Small talk written by")
                pairs = gr.Number(3, label="Q/A pairs per conversation", precision=0, minimum=1)
                make = gr.Button("Make conversations")
            data_message = gr.Markdown()
            table, summary = show_dataset(str(SAMPLE_DATA))
            preview = gr.Dataframe(table, label="Preview", interactive=False, max_height=260, wrap=True)
            gr.Markdown("### 2. Job")
            # the job form, keyed by SFTJob field name; the order is the order of /start_training's parameters
            job: dict[str, gr.components.Component] = {}
            job["model"] = model = gr.Dropdown(choices, value=start_model, label="Base model",
                                               allow_custom_value=True, info=DOCS["model"])
            job["data"] = dataset
            job["qlora"] = gr.Radio(["LoRA", "QLoRA"], value="QLoRA" if DEFAULTS.qlora else "LoRA", label="Method",
                                    info=DOCS["qlora"])
            with gr.Row():
                job["epochs"] = gr.Number(DEFAULTS.epochs, label="Epochs", precision=0, minimum=1)
                job["learning_rate"] = gr.Number(DEFAULTS.learning_rate, label="Learning rate",
                                                 info=DOCS["learning_rate"])
            with gr.Row():
                job["batch_size"] = gr.Number(DEFAULTS.batch_size, label="Batch size", precision=0, minimum=1)
                job["train_size"] = gr.Number(DEFAULTS.train_size, label="Training examples used",
                                              info="1 = all of them; a share (0.25) or a count (200)")
            with gr.Accordion("More settings", open=False):
                job["mode"] = mode = gr.Radio(list(MODES), value=DEFAULTS.mode, label="Mode", info=DOCS["mode"])
                job["context_turns"] = gr.Number(DEFAULTS.context_turns, label="Context turns (dialogue mode)",
                                                 precision=0)
                job["lora_r"] = gr.Number(DEFAULTS.lora_r, label="LoRA rank r (alpha = 2r)", precision=0, minimum=1)
                job["max_length"] = gr.Number(DEFAULTS.max_length, label="Max tokens per example", precision=0)
                job["early_stopping_patience"] = gr.Number(DEFAULTS.early_stopping_patience,
                                                           label="Early-stopping patience (epochs)", precision=0,
                                                           minimum=0)
                job["merge"] = gr.Checkbox(DEFAULTS.merge, label="Also save a merged model folder")
                from studio.training.grounded_examples import collection_choices

                job["knowledge"] = knowledge_picker = gr.Dropdown(
                    collection_choices(), value="", label="Knowledge (retrieval-augmented fine-tuning)",
                    info=DOCS["knowledge"])
                knowledge_picker.focus(lambda: gr.Dropdown(choices=collection_choices()), None, knowledge_picker,
                                       api_visibility="private")
                with gr.Row():
                    job["knowledge_k"] = gr.Number(DEFAULTS.knowledge_k, label="Passages per example", precision=0,
                                                   minimum=1, info=DOCS["knowledge_k"])
                    job["gold_drop"] = gr.Number(DEFAULTS.gold_drop, label="Gold passage dropped (share)",
                                                 minimum=0, maximum=1, info=DOCS["gold_drop"])
            job["eval_tests"] = eval_tests = gr.Dropdown(
                knowledge_form.test_file_choices(), value=[str(SAMPLE_TEST)], multiselect=True, label="Evaluate when done on",
                info="Test sets the finished adapter answers (scores in the Results tab); empty: no evaluation")
            start = gr.Button("Start training", variant="primary")
            with gr.Accordion("RLHF: GRPO, RLOO or DPO", open=False):
                rlhf_form, rlhf_start, rlhf_expected = rlhf.build_rlhf_form()
        with gr.Column(scale=3):
            gr.Markdown("### 3. Runs")
            run = gr.Dropdown(run_choices(), label="Run", allow_custom_value=True,
                              info="Queued, running and finished jobs; one runs at a time")
            progress = gr.HTML()
            with gr.Row():
                plot = gr.Plot(label="Loss")
                reward_plot = gr.Plot(label="Reward (RLHF runs)")
            have_runs = bool(run_choices())  # the run actions wait for a run to act on
            with gr.Row():
                stop = gr.Button("Stop (keeps the adapter so far)", interactive=have_runs)
                resume = gr.Button("Resume from checkpoint", interactive=have_runs)
            with gr.Row():  # the export streams its progress from a background thread (studio.training.export)
                quant = gr.Dropdown(list(export.QUANTS), value=export.QUANTS[0], label="GGUF quantization", scale=1)
                export_gguf = gr.Button("Export GGUF + Ollama Modelfile", scale=2, interactive=have_runs)
            action_message = gr.Markdown()
            log_tail = gr.Textbox(label="Log (last lines)", lines=10, max_lines=10, autoscroll=True, interactive=False)
            with gr.Accordion("Run details", open=False):
                details = gr.JSON()
    # .input, not .change: adding a file selects it, and its "Added ..." message must stay on the page
    dataset.input(show_dataset, dataset, [preview, data_message], api_visibility="private")
    add.click(add_dataset, [upload, question_column, answer_column], [dataset, preview, data_message],
              api_name="add_dataset")
    make.click(make_dialogue_data, [dataset, writer, model, pairs], [dataset, preview, data_message, mode],
               api_name="make_conversations")
    shown = [run, progress, plot, reward_plot, log_tail, details]
    start.click(start_training, inputs_kwargs=job, outputs=run, api_name="start_training").then(
        refresh, run, shown, api_visibility="private")
    rlhf_inputs = {"model": model, "data": dataset, **rlhf_form}
    rlhf_start.click(rlhf.start_rlhf, inputs_kwargs=rlhf_inputs, outputs=run, api_name="start_rlhf").then(
        refresh, run, shown, api_visibility="private")
    gr.on([w.change for w in rlhf_inputs.values()], rlhf.expected_time_text, inputs_kwargs=rlhf_inputs,
          outputs=rlhf_expected, api_visibility="private")
    stop.click(stop_run, run, action_message, api_name="stop_training")
    resume.click(resume_run, run, action_message, api_name="resume_training")
    export_gguf.click(export_run, [run, quant], action_message, api_name="export_gguf")
    gr.Button("Refresh", size="sm", visible=False).click(run_status, run, details, api_name="run_status")
    run.change(refresh, run, shown, api_visibility="private")
    run.change(lambda run_id: [gr.Button(interactive=bool(run_id))] * 3, run, [stop, resume, export_gguf],
               api_visibility="private")
    model.focus(lambda: gr.Dropdown(choices=trainable_models()), None, model, api_visibility="private")
    dataset.focus(lambda: gr.Dropdown(choices=dataset_choices()), None, dataset, api_visibility="private")
    eval_tests.focus(lambda: gr.Dropdown(choices=knowledge_form.test_file_choices()), None, eval_tests, api_visibility="private")
    gr.Timer(2.0).tick(refresh, run, shown, api_visibility="private")
    return job
