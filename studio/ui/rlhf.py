"""The Training tab's RLHF part: the GRPO / RLOO / DPO form and its expected run time (the reward chart is
studio/ui/charts.py's).

The form's widgets are keyed by RLHFJob field name, as the SFT form is by SFTJob's: RLHFJob.from_dict builds the
job from them, so the dataclass stays the one source of defaults.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from studio.jobs import queue, runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import METHODS, RLHFJob, field_docs
from studio.models import catalogue, refs
from studio.ui import visitor

DEFAULTS = RLHFJob()
DOCS = field_docs(RLHFJob)
NEW_ADAPTER = ("None: a new LoRA on the base model", "")


# ------------------------------------------------------------------------------------------------ choices


def adapter_choices(root: Path | None = None) -> list[tuple[str, str]]:
    """Finished training runs with an adapter (SFT or RLHF), newest first, as (label, run folder)."""
    found = [(f"{r.id} · {r.kind} · {r.model}", refs.adapter_id(r.path)) for r in queue.list_runs(root)
             if r.state == "finished" and r.kind in ("LoRA", "QLoRA", *(m.upper() for m in METHODS))
             and (r.path / runs.ADAPTER).is_dir()]
    return [NEW_ADAPTER, *found]


def job_from_form(form: dict) -> RLHFJob:
    """The job the form describes. With a starting run picked, the base model is the one that run trained."""
    values = dict(form)
    if values.get("adapter"):
        try:
            values["model"] = str(catalogue.adapter_base(values["adapter"]))
        except refs.ModelError as e:
            raise ConfigError(f"adapter: {e}") from e
    return RLHFJob.from_dict(values)


def start_rlhf(request: gr.Request = None, **form) -> str:
    """Queue the GRPO / RLOO / DPO job the form describes (values by RLHFJob field name). Returns the run id."""
    owner = visitor.changer(request, "RLHF training")
    try:
        run_id = queue.submit_checked(job_from_form(form), owner=owner)
    except (ConfigError, queue.Refused) as e:
        raise gr.Error(str(e), print_exception=False) from e
    gr.Info(f"Queued {run_id}")
    return run_id


# ------------------------------------------------------------------------------------------------ run time


def _work_per_step(cfg: RLHFJob) -> float:
    """What a step's time grows with: answers sampled x their length (GRPO/RLOO), pairs scored (DPO)."""
    return cfg.batch_size * (1 if cfg.method == "dpo" else cfg.generations * cfg.max_new_tokens)


def expected_seconds(cfg: RLHFJob, root: Path | None = None) -> tuple[float, str] | None:
    """The run time this job should take, from the newest ended run of the same method and base model: its
    measured seconds per step, scaled by the work per step, plus its start-up time (loading, DPO pairs). None
    when no such run exists."""
    for info in queue.list_runs(root):
        try:
            past = runs.read_config(info.path)
        except ConfigError:
            continue
        summary = runs.read_json(info.path / runs.SUMMARY)
        if (not isinstance(past, RLHFJob) or past.method != cfg.method or summary.get("model") != cfg.model
                or not summary.get("steps")):
            continue
        per_step = summary["train_seconds"] / summary["steps"] * _work_per_step(cfg) / _work_per_step(past)
        start_up = summary["runtime_s"] - summary["train_seconds"]
        if cfg.method == "dpo":  # building pairs grows with the questions the run answers
            start_up *= min(cfg.max_steps * cfg.batch_size, 10**6) / max(1, past.max_steps * past.batch_size)
        return per_step * cfg.max_steps + start_up, info.id
    return None


def expected_time_text(**form) -> str:
    try:
        cfg = job_from_form(form)
    except ConfigError as e:
        return f"⚠️ {e}"
    found = expected_seconds(cfg)
    if found is None:
        return (f"No earlier {cfg.method.upper()} run of this model to estimate from: the progress bar shows the "
                "time left after the first step.")
    seconds, run_id = found
    return f"Expected run time: about {max(1, round(seconds / 60))} min (measured on run {run_id}, scaled)."


# ------------------------------------------------------------------------------------------------ form


def build_rlhf_form() -> tuple[dict[str, gr.components.Component], gr.Button, gr.Markdown]:
    """The RLHF widgets by RLHFJob field name (model and data come from the SFT form's pickers), the start button
    and the expected-time line. studio/ui/training.py wires them."""
    form: dict[str, gr.components.Component] = {}
    gr.Markdown("Tune a model (best: one you fine-tuned above) against the training answers: **GRPO/RLOO** sample "
                f"{DEFAULTS.generations} answers per question and reward those closest to the reference (ROUGE-L, "
                "key facts, a length penalty so that “yes” cannot win); **DPO** prefers the reference answer to "
                "the model's own greedy one.")
    form["method"] = gr.Radio([(m.upper(), m) for m in METHODS], value=DEFAULTS.method, label="RLHF method",
                              info=DOCS["method"])
    form["adapter"] = adapter = gr.Dropdown(adapter_choices(), value="", label="Start from run",
                                            info="A finished SFT (or RLHF) run whose adapter is tuned further; "
                                                 "its base model is used")
    adapter.focus(lambda: gr.Dropdown(choices=adapter_choices()), None, adapter, api_visibility="private")
    with gr.Row():
        form["max_steps"] = gr.Number(DEFAULTS.max_steps, label="Steps", precision=0, minimum=1,
                                      info=DOCS["max_steps"])
        form["batch_size"] = gr.Number(DEFAULTS.batch_size, label="Questions per step", precision=0, minimum=1)
    with gr.Row():
        form["generations"] = gr.Number(DEFAULTS.generations, label="Answers per question (GRPO/RLOO)",
                                        precision=0, minimum=2)
        form["max_new_tokens"] = gr.Number(DEFAULTS.max_new_tokens, label="Answer tokens", precision=0, minimum=1,
                                           info=DOCS["max_new_tokens"])
    with gr.Row():
        form["learning_rate"] = gr.Number(DEFAULTS.learning_rate, label="Learning rate")
        form["beta"] = gr.Number(DEFAULTS.beta, label="DPO beta", info=DOCS["beta"])
    with gr.Accordion("Reward weights (GRPO/RLOO)", open=False):
        with gr.Row():
            form["rouge_l_weight"] = gr.Number(DEFAULTS.rouge_l_weight, label="ROUGE-L", minimum=0)
            form["piecewise_weight"] = gr.Number(DEFAULTS.piecewise_weight, label="Report's piecewise ROUGE",
                                                 minimum=0, info=DOCS["piecewise_weight"])
        with gr.Row():
            form["facts_weight"] = gr.Number(DEFAULTS.facts_weight, label="Key facts", minimum=0)
            form["length_weight"] = gr.Number(DEFAULTS.length_weight, label="Length penalty", minimum=0,
                                              info=DOCS["length_weight"])
        form["length_ratio"] = gr.Number(DEFAULTS.length_ratio, label="Penalise answers shorter than (share of "
                                         "the reference)", minimum=0)
    expected = gr.Markdown()
    start = gr.Button("Start RLHF", variant="primary")
    return form, start, expected
