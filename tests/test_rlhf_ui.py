"""The Training tab's RLHF form: form -> RLHFJob, the expected run time, the reward chart, and a GRPO job started
through gradio_client on a tiny model."""

import dataclasses
import json
import time

import gradio as gr
import pytest
from gradio_client import Client

from studio.jobs import runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import RLHFJob
from studio.ui import charts, rlhf, training

MODEL = "bundled:smollm2-135m-instruct"


def use_runs(patch: pytest.MonkeyPatch, root) -> None:
    patch.setenv("CQA_RUNS_DIR", str(root / "runs"))
    patch.setenv("CQA_DATA_DIR", str(root / "data"))


@pytest.fixture(scope="module")
def default_form(tmp_path_factory) -> dict:
    """The RLHF widgets by RLHFJob field name at their initial values, with the SFT form's model and data."""
    patch = pytest.MonkeyPatch()
    use_runs(patch, tmp_path_factory.mktemp("form"))
    with gr.Blocks():
        form, _, _ = rlhf.build_rlhf_form()
    patch.undo()
    return {"model": MODEL, "data": "assets/insurer_faq.csv", **{name: w.value for name, w in form.items()}}


def fake_adapter(folder, base: str):
    (folder / runs.ADAPTER).mkdir(parents=True)
    (folder / runs.ADAPTER / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base}))
    return folder


def test_form_is_keyed_by_job_fields_with_the_jobs_defaults(default_form):
    assert set(default_form) <= {f.name for f in dataclasses.fields(RLHFJob)}
    assert rlhf.job_from_form(default_form) == RLHFJob(model=MODEL, data="assets/insurer_faq.csv", adapter=None)


@pytest.mark.parametrize(
    "edits, expected",
    [({"method": "dpo", "beta": "0.2"}, {"method": "dpo", "beta": 0.2}),
     ({"generations": 8.0, "max_steps": "12"}, {"generations": 8, "max_steps": 12}),
     ({"facts_weight": "2.5", "length_weight": 0.0}, {"facts_weight": 2.5, "length_weight": 0.0})],
)
def test_form_values_become_the_job(default_form, edits, expected):
    job = rlhf.job_from_form({**default_form, **edits})
    for name, value in expected.items():
        assert getattr(job, name) == value and type(getattr(job, name)) is type(value), name


def test_a_starting_run_brings_its_base_model(default_form, tmp_path):
    run = fake_adapter(tmp_path / "sft-run", "folder:/models/tiny")
    job = rlhf.job_from_form({**default_form, "adapter": str(run)})
    assert job.model == "folder:/models/tiny" and job.adapter == str(run)


@pytest.mark.parametrize(
    "edits, message",
    [({"method": "ppo"}, "method must be one of grpo, rloo, dpo"),
     ({"generations": 1}, "generations must be at least 2"),
     ({"facts_weight": -1}, "reward weights cannot be negative"),
     ({"max_steps": "many"}, "max_steps must be a number"),
     ({"adapter": "/no/such/run"}, "adapter: adapter folder /no/such/run does not exist")],
)
def test_bad_form_value_is_refused_with_the_field_named(default_form, edits, message):
    with pytest.raises(ConfigError, match=message):
        rlhf.job_from_form({**default_form, **edits})
    with pytest.raises(gr.Error, match=message):
        rlhf.start_rlhf(**{**default_form, **edits})


def past_run(root, run_id: str, cfg: RLHFJob, summary: dict):
    folder = root / run_id
    folder.mkdir(parents=True)
    cfg.save(folder / runs.CONFIG)
    runs.write_json(folder / runs.STATUS, {"state": "finished", "created_at": time.time()})
    runs.write_json(folder / runs.SUMMARY, summary)


def test_expected_time_scales_the_newest_comparable_run(tmp_path):
    past = RLHFJob(model=MODEL, max_steps=10, batch_size=2, generations=4, max_new_tokens=48)
    past_run(tmp_path, "grpo-1", past, {"model": MODEL, "steps": 10, "train_seconds": 100.0, "runtime_s": 130.0})
    past_run(tmp_path, "dpo-1", dataclasses.replace(past, method="dpo"),
             {"model": MODEL, "steps": 10, "train_seconds": 20.0, "runtime_s": 80.0})
    # twice the answers per step and 3x the steps: 10 s/step x 2 x 30 steps + 30 s start-up
    seconds, run_id = rlhf.expected_seconds(dataclasses.replace(past, max_steps=30, generations=8), tmp_path)
    assert run_id == "grpo-1" and seconds == pytest.approx(10 * 2 * 30 + 30)
    # DPO: 2 s/step x 20 steps, start-up (pairs) 60 s x (20 x 2 questions) / (10 x 2)
    seconds, run_id = rlhf.expected_seconds(RLHFJob(model=MODEL, method="dpo", max_steps=20), tmp_path)
    assert run_id == "dpo-1" and seconds == pytest.approx(2 * 20 + 60 * 2)
    assert rlhf.expected_seconds(RLHFJob(model="bundled:gemma-3-270m"), tmp_path) is None
    assert rlhf.expected_seconds(RLHFJob(model=MODEL, method="rloo"), tmp_path) is None


def test_reward_chart_draws_mean_and_one_std_band():
    metrics = [{"step": 1, "loss": 0.1, "reward_mean": 0.5, "reward_std": 0.2, "rouge_l": 0.3, "facts": 0.4},
               {"step": 2, "loss": 0.0, "reward_mean": 0.7, "reward_std": 0.1, "rouge_l": 0.35, "facts": 0.5},
               {"step": 2, "epoch": 1, "val_loss": 1.0}]
    band, mean, rouge, facts = charts.reward_figure(metrics).data
    assert list(band.y) == pytest.approx([0.7, 0.8, 0.6, 0.3])  # upper edge by step, then lower edge backwards
    assert list(mean.y) == [0.5, 0.7] and list(rouge.y) == [0.3, 0.35] and list(facts.y) == [0.4, 0.5]
    dpo = charts.reward_figure([{"step": 1, "loss": 0.69, "reward_mean": 0.0, "reward_std": 0.0,
                                    "reward_accuracy": 0.0}])
    assert dpo.data[1].name == "DPO margin (mean)"
    assert len(charts.reward_figure([]).data) == 2  # an SFT run: empty band and mean


def test_start_grpo_from_the_tab_and_see_the_reward(tiny_models, tmp_path):
    patch = pytest.MonkeyPatch()
    use_runs(patch, tmp_path)
    with gr.Blocks() as demo:
        training.build_training_tab(f"folder:{tiny_models['llama']}")
    demo.queue().launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        run_id = client.predict(model=f"folder:{tiny_models['llama']}", data="assets/insurer_faq.csv",
                                method="grpo", max_steps=2, generations=2, max_new_tokens=4, api_name="/start_rlhf")
        deadline = time.time() + 120
        while (status := client.predict(run_id, api_name="/run_status"))["state"] not in runs.ENDED:
            assert time.time() < deadline, status
            time.sleep(0.5)
        assert status["state"] == "finished", status
        assert status["summary"]["method"] == "grpo" and status["summary"]["steps"] == 2 and status["adapter"]
        assert "-grpo" in run_id and [m["step"] for m in runs.read_metrics(tmp_path / "runs" / run_id)] == [1, 2]
        assert any(" · GRPO · " in label for label, _ in rlhf.adapter_choices(tmp_path / "runs")), \
            "a finished RLHF run can start the next one"
    finally:
        demo.close()
        patch.undo()
