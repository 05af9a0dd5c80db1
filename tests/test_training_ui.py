"""The Training tab: the job form -> SFTJob mapping, and the tab driven through gradio_client (add data, start a
job on a tiny model, see the adapter)."""

import dataclasses
import json
import time

import gradio as gr
import pytest
from gradio_client import Client, handle_file

import app
from studio.data import registry
from studio.jobs.config import ConfigError
from studio.jobs.kinds import SFTJob
from studio.ui import training


def use_folders(patch: pytest.MonkeyPatch, root) -> None:
    """Runs and datasets under `root`, whichever way the app reads its folders (environment or module constant)."""
    patch.setenv("CQA_RUNS_DIR", str(root / "runs"))
    patch.setenv("CQA_DATA_DIR", str(root / "data"))


# ------------------------------------------------------------------------------------------- form -> job


@pytest.fixture(scope="module")
def default_form(tmp_path_factory) -> dict:
    """The job form's widgets by SFTJob field name, at their initial values, as the tab builds them."""
    patch = pytest.MonkeyPatch()
    use_folders(patch, tmp_path_factory.mktemp("form"))
    with gr.Blocks():
        form = training.build_training_tab()
    patch.undo()
    return {name: widget.value for name, widget in form.items()}


def todays_job(model, dataset, method, epochs, learning_rate, batch_size, train_size, mode, context_turns, lora_r,
               max_length, patience, merge, knowledge=None, knowledge_k=3, gold_drop=0.2, eval_tests=()) -> SFTJob:
    """The job the tab built before it built jobs by name: the reference the by-name form must still match (the
    retrieval-augmented fields and the evaluation when done came later, after the by-name form)."""
    size = float(train_size)
    return SFTJob(model=model, data=dataset, qlora=method == "QLoRA", epochs=int(epochs),
                  learning_rate=float(learning_rate), batch_size=int(batch_size),
                  train_size=int(size) if size > 1 else size, mode=mode, context_turns=int(context_turns),
                  lora_r=int(lora_r), lora_alpha=2 * int(lora_r), max_length=int(max_length),
                  early_stopping_patience=int(patience), merge=bool(merge), knowledge=knowledge or None,
                  knowledge_k=int(knowledge_k), gold_drop=float(gold_drop), eval_tests=list(eval_tests)).validate()


def test_form_is_keyed_by_job_fields_with_the_jobs_defaults(default_form):
    defaults = SFTJob()
    assert set(default_form) <= {f.name for f in dataclasses.fields(SFTJob)}
    assert default_form["epochs"] == defaults.epochs and default_form["lora_r"] == defaults.lora_r
    assert default_form["qlora"] == "LoRA" and default_form["train_size"] == defaults.train_size
    assert default_form["eval_tests"] == [str(training.SAMPLE_TEST)], "a finished run is scored unless unticked"


@pytest.mark.parametrize(
    "edits, expected",
    [({}, {}),
     ({"qlora": "QLoRA"}, {"qlora": True}),
     ({"train_size": "200"}, {"train_size": 200}),
     ({"train_size": 200.0}, {"train_size": 200}),
     ({"train_size": "0.25"}, {"train_size": 0.25}),
     ({"lora_r": 8.0, "epochs": 3.0, "batch_size": "2"}, {"lora_r": 8, "lora_alpha": 16, "epochs": 3, "batch_size": 2}),
     ({"mode": "dialogue", "context_turns": 3, "merge": True}, {"mode": "dialogue", "context_turns": 3, "merge": True}),
     ({"learning_rate": "5e-4", "early_stopping_patience": 0}, {"learning_rate": 5e-4, "early_stopping_patience": 0})],
    ids=["default", "qlora", "size-text-count", "size-float-count", "size-text-fraction", "float-sliders",
         "dialogue", "text-learning-rate"],
)
def test_form_builds_the_same_job_as_before(default_form, edits, expected):
    values = {**default_form, **edits}
    job = SFTJob.from_dict(values)
    assert job == todays_job(*values.values())
    for name, value in expected.items():
        assert getattr(job, name) == value and type(getattr(job, name)) is type(value), name
    assert job.lora_alpha == 2 * job.lora_r


@pytest.mark.parametrize(
    "edits, message",
    [({"train_size": "abc"}, "train_size must be a number, not 'abc'"),
     ({"train_size": 2.5}, "train_size is a fraction in \\(0, 1\\] or a whole count"),
     ({"epochs": 0}, "epochs must be positive"),
     ({"epochs": 2.5}, "epochs must be a whole number"),
     ({"learning_rate": None}, "learning_rate needs a value"),
     ({"learning_rate": "inf"}, "learning_rate must be a finite number"),
     ({"qlora": "DoRA"}, "qlora must be one of true, false, lora, qlora"),
     ({"mode": "chat"}, "mode must be one of qa, dialogue")],
)
def test_bad_form_value_is_refused_with_the_field_named(default_form, edits, message):
    with pytest.raises(ConfigError, match=message):
        SFTJob.from_dict({**default_form, **edits})
    with pytest.raises(gr.Error, match=message):
        training.start_training(**{**default_form, **edits})


@pytest.mark.parametrize(
    "stored, alpha",
    [({"lora_r": 8, "lora_alpha": 32}, 32), ({"lora_r": 8}, 16), ({}, 32), ({"lora_r": 4, "lora_alpha": None}, 8)],
)
def test_lora_alpha_is_derived_only_when_left_out(stored, alpha):
    """Config files written before alpha was derived name it and keep it; a job that leaves it out gets 2 x r."""
    assert SFTJob.from_dict(stored).lora_alpha == alpha
    assert SFTJob.from_dict(json.loads(SFTJob.from_dict(stored).to_json())).lora_alpha == alpha


# ------------------------------------------------------------------------------------------- the live tab


@pytest.fixture(scope="module")
def server(tiny_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    patch = pytest.MonkeyPatch()
    use_folders(patch, root)
    demo = app.build_app(default_model=f"folder:{tiny_models['llama']}", compare_model=f"folder:{tiny_models['gpt2']}")
    demo.queue().launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    yield demo.local_url, root
    demo.close()
    patch.undo()


def test_bad_file_is_explained_and_nothing_is_added(server, tmp_path):
    url, root = server
    bad = tmp_path / "faq.csv"
    bad.write_text("question,answer\nWhat is covered?,\nHow long?,Two years.\n")
    _, _, message = Client(url, verbose=False).predict(handle_file(str(bad)), "", "", api_name="/add_dataset")
    assert "was not added" in message and "row 2" in message and "empty answer" in message
    assert registry.list_registered(root / "data") == []


def test_train_from_the_tab_and_chat_with_the_adapter(server, tiny_models, tmp_path):
    url, root = server
    client = Client(url, verbose=False)
    good = tmp_path / "my_faq.csv"
    good.write_text("Frage,Antwort\n" + "".join(f"Question {i}?,Answer {i}.\n" for i in range(12)))
    _, _, message = client.predict(handle_file(str(good)), "Frage", "Antwort", api_name="/add_dataset")
    assert "Added my_faq.csv: 12 Q/A pairs" in message
    registered = registry.list_registered(root / "data")
    assert [d["name"] for d in registered] == ["my_faq"]
    dataset = str(registered[0]["path"])

    run_id = client.predict(f"folder:{tiny_models['llama']}", dataset, "LoRA", 1, 0.001, 4, 1.0, "qa", 7, 4, 256, 2,
                            False, api_name="/start_training")
    deadline = time.time() + 120
    while (status := client.predict(run_id, api_name="/run_status"))["state"] not in ("finished", "failed", "stopped"):
        assert time.time() < deadline, status
        time.sleep(0.5)
    assert status["state"] == "finished", status
    assert status["summary"]["train_examples"] == 11 and status["adapter"]

    table = client.predict(api_name="/models")
    adapter_refs = [row[1] for row in table["data"] if row[1].startswith("adapter:")]
    assert adapter_refs == [f"adapter:runs/{run_id}"]  # the run in this workspace's runs folder: no server path
    chatbot, *_ = client.predict("Question 3?", adapter_refs[0], "buffer", 3, 256, "", 8, 0.0, 0.9, 1.0, "float32",
                                 api_name="/chat")
    assert chatbot[-1]["role"] == "assistant"


def run_folders(root) -> set[str]:
    return {p.name for p in (root / "runs").glob("*") if p.is_dir()}


def test_bad_job_settings_are_refused_before_anything_runs(server, tiny_models):
    url, root = server
    client = Client(url, verbose=False)
    before = run_folders(root)
    with pytest.raises(Exception, match="learning_rate must be positive"):
        client.predict(f"folder:{tiny_models['llama']}", "assets/insurer_faq.csv", "LoRA", 1, -0.1, 4, 1.0, "qa",
                       7, 4, 256, 2, False, api_name="/start_training")
    with pytest.raises(Exception, match="max_length must be positive"):  # by name; the rest at the form's values
        client.predict(model=f"folder:{tiny_models['llama']}", max_length=0, api_name="/start_training")
    with pytest.raises(Exception, match="unavailable"):
        client.predict("hub:EleutherAI/pythia-12b", "assets/insurer_faq.csv", "LoRA", 1, 0.001, 4, 1.0, "qa",
                       7, 4, 256, 2, False, api_name="/start_training")
    assert run_folders(root) == before


@pytest.mark.parametrize("run_id", ["../../etc", "/etc", "..", "a/../../b"])
def test_a_run_id_outside_the_runs_folder_is_refused(server, run_id):
    url, _ = server
    with pytest.raises(Exception, match="is not a run id"):
        Client(url, verbose=False).predict(run_id, api_name="/run_status")


def test_qa_pairs_become_conversations_for_dialogue_mode(server):
    url, root = server
    client = Client(url, verbose=False)
    _, _, message, mode = client.predict("assets/insurer_faq.csv", "templates", "bundled:smollm2-135m-instruct", 3,
                                         api_name="/make_conversations")
    assert "Made" in message and "conversations from 395 Q/A pairs" in message and mode == "dialogue"
    made = [d for d in registry.list_registered(root / "data") if d["name"] == "insurer_faq_conversations"]
    assert made and made[0]["kind"] == "conversations" and 100 <= made[0]["rows"] <= 150


QWEN = "bundled:qwen2.5-coder-0.5b-instruct"


SMOL = SFTJob().model
BOTH = [("SmolLM2-135M-Instruct · 135M", SMOL), ("Qwen2.5-Coder-0.5B-Instruct · 494M", QWEN)]
NO_SMOL = [("SmolLM2-135M-Instruct · 135M — unavailable", SMOL), ("Qwen2.5-Coder-0.5B-Instruct · 494M", QWEN)]


@pytest.mark.parametrize("app_model, choices, expected", [
    (QWEN, BOTH, SMOL),  # SmolLM2 trains in minutes on a CPU: preselected even though Chat opens with Qwen
    (QWEN, NO_SMOL, QWEN),  # a Space without SmolLM2's package: the app's own model
    ("adapter:runs/x", NO_SMOL, SMOL),  # not trainable: the job's default (the form then says it is missing)
    ("/not/a/model", BOTH, SMOL),
])
def test_the_base_model_is_smollm2_when_installed_else_the_apps_model(tmp_path, app_model, choices, expected):
    patch = pytest.MonkeyPatch()
    use_folders(patch, tmp_path)
    patch.setattr(training, "trainable_models", lambda: choices)
    with gr.Blocks():
        form = training.build_training_tab(app_model)
    patch.undo()
    assert form["model"].value == expected


def test_run_actions_wait_for_a_run_to_act_on(tmp_path):
    patch = pytest.MonkeyPatch()
    use_folders(patch, tmp_path)
    try:
        with gr.Blocks() as demo:
            training.build_training_tab()
    finally:
        patch.undo()
    actions = {b.value: b.interactive for b in demo.blocks.values() if isinstance(b, gr.Button)
               and b.value in ("Stop (keeps the adapter so far)", "Resume from checkpoint",
                               "Export GGUF + Ollama Modelfile")}
    assert actions == dict.fromkeys(actions, False) and len(actions) == 3, "no runs yet: nothing to stop or export"
    (toggle,) = [f for f in demo.fns.values() if len(f.outputs) == 3 and all(isinstance(o, gr.Button)
                                                                           for o in f.outputs)]
    assert [b.interactive for b in toggle.fn("20261204-000000-x-lora")] == [True] * 3
    assert [b.interactive for b in toggle.fn("")] == [False] * 3


def test_the_loss_legend_sits_below_the_plot_not_over_the_curve():
    from studio.ui.charts import loss_figure

    figure = loss_figure([{"step": 1, "loss": 2.0}, {"step": 2, "val_loss": 1.8, "val_perplexity": 6.0}])
    assert figure.layout.legend.y < 0 and figure.layout.legend.yanchor == "top"
