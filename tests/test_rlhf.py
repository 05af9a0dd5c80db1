import csv
import dataclasses
import json
import os
import signal
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

from studio.jobs import queue, runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import RLHFJob, SFTJob
from studio.models.catalogue import adapter_entry
from studio.models.refs import ModelRef
from studio.training import rl_steps, rlhf, sft

FAMILIES = ["gpt_neox", "gpt2", "llama", "t5"]


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("qa") / "faq.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["question", "answer"])
        for i in range(12):
            writer.writerow([f"What is the waiting period for illness {i}?",
                             f"The waiting period for illness {i} is {i + 1} months from the start of the policy."])
    return path


@pytest.fixture(scope="module")
def sft_runs(tiny_models, qa_file, tmp_path_factory) -> dict[str, Path]:
    """family -> a finished one-step SFT run folder (a starting adapter)."""
    root = tmp_path_factory.mktemp("sft-runs")
    folders = {}
    for family in FAMILIES:
        cfg = SFTJob(model=f"folder:{tiny_models[family]}", data=str(qa_file), batch_size=2, max_steps=1, threads=1)
        sft.run(cfg.validate(), root / family)
        folders[family] = root / family
    return folders


def tiny_rlhf(tiny_models, family, qa_file, **overrides) -> RLHFJob:
    # A long length_ratio makes the penalty tell the tiny models' gibberish answers apart, so groups have a signal.
    values = dict(model=f"folder:{tiny_models[family]}", data=str(qa_file), batch_size=2, generations=3,
                  max_new_tokens=6, max_steps=2, learning_rate=1e-2, length_ratio=4.0, threads=1)
    values.update(overrides)
    return RLHFJob.from_dict(values)


def lora_weights(folder: Path) -> dict[str, torch.Tensor]:
    return {name: w for name, w in load_file(folder / "adapter_model.safetensors").items() if "lora_" in name}


def reload_changes_outputs(family: str, base_folder: Path, adapter: Path) -> bool:
    auto = AutoModelForSeq2SeqLM if family == "t5" else AutoModelForCausalLM
    base = auto.from_pretrained(base_folder).eval()
    inputs = {"input_ids": torch.tensor([[5, 6, 7]])}
    if family == "t5":
        inputs["decoder_input_ids"] = torch.tensor([[0, 5]])
    with torch.no_grad():
        before = base(**inputs).logits
        after = PeftModel.from_pretrained(base, adapter).eval()(**inputs).logits
    return after.shape == before.shape and not torch.allclose(after, before)


# ------------------------------------------------------------------------------------------------ configs


def test_config_round_trips_and_names_its_kind(tmp_path):
    cfg = RLHFJob(method="dpo", adapter="runs/x", beta=0.2, eval_tests=["a.csv"], extra={"cell": "b"})
    assert RLHFJob.load(cfg.save(tmp_path / "c.json")) == cfg
    assert json.loads(cfg.to_json())["kind"] == "rlhf" and cfg.starting_adapter() == "runs/x"
    assert RLHFJob(model="adapter:runs/y").starting_adapter() == "runs/y"
    assert queue.kind_label(cfg) == "DPO" and queue.JOB_MODULES["rlhf"] == "studio.training.rlhf"


@pytest.mark.parametrize(
    "values, message",
    [({"method": "ppo"}, "method must be one of grpo, rloo, dpo, not 'ppo'"),
     ({"generations": 1}, "generations must be at least 2 for grpo"),
     ({"max_steps": 0}, "max_steps must be positive"),
     ({"facts_weight": -1}, "reward weights cannot be negative"),
     ({"rouge_l_weight": 0, "facts_weight": 0}, "one of rouge_l_weight, piecewise_weight, facts_weight"),
     ({"model": "adapter:runs/a", "adapter": "runs/b"}, "give one"),
     ({"data": ""}, "data must be a non-empty text"),
     ({"generations": 65}, "generations must be at most 64"),
     ({"steps": 3}, "unknown RLHFJob field")],
)
def test_bad_config_is_refused_with_the_field_named(values, message):
    with pytest.raises(ConfigError, match=message):
        RLHFJob.from_dict(values)


def test_group_relative_advantages_by_hand():
    rewards = torch.tensor([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    grpo = rl_steps.advantages(rewards, "grpo")
    assert torch.allclose(grpo[0], torch.tensor([-1.0, 0.0, 1.0]), atol=1e-3)  # (r - 2) / std 1
    assert torch.equal(grpo[1], torch.zeros(3))  # equal rewards: no signal
    rloo = rl_steps.advantages(rewards, "rloo")
    assert torch.allclose(rloo[0], torch.tensor([1 - 2.5, 2 - 2.0, 3 - 1.5]))  # r minus the mean of the others


def test_dpo_loss_by_hand():
    loss, margins = rl_steps.dpo_loss(torch.tensor([-1.0]), torch.tensor([-3.0]), torch.tensor([-2.0]),
                                      torch.tensor([-2.0]), beta=0.5)
    assert margins.item() == pytest.approx(0.5 * ((-1 + 2) - (-3 + 2)))  # 1.0
    assert loss.item() == pytest.approx(-torch.nn.functional.logsigmoid(torch.tensor(1.0)).item())


def test_steps_cycle_through_items_in_a_seeded_order():
    first_pass = rlhf.step_indices(5, 5, seed=3, step=0)
    assert sorted(first_pass) == list(range(5))
    assert rlhf.step_indices(5, 2, seed=3, step=0) == first_pass[:2]
    assert sorted(rlhf.step_indices(5, 5, seed=3, step=1)) == list(range(5))  # the next pass: all again


# ------------------------------------------------------------------------------------------------ training


@pytest.mark.parametrize("method", ["grpo", "rloo"])
@pytest.mark.parametrize("family", FAMILIES)
def test_two_policy_gradient_steps_from_a_base_model(tiny_models, qa_file, tmp_path, family, method):
    summary = rlhf.run(tiny_rlhf(tiny_models, family, qa_file, method=method), tmp_path)
    assert summary["state"] == "finished" and summary["steps"] == 2
    metrics = runs.read_metrics(tmp_path)
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:
        assert {"loss", "reward_mean", "reward_std", "rouge_l", "facts", "length", "eta_s"} <= set(m)
    assert any(m["groups_without_signal"] < 2 for m in metrics), "some group's answers were told apart"
    adapter = tmp_path / runs.ADAPTER
    assert any(w.abs().sum() > 0 for name, w in lora_weights(adapter).items() if "lora_B" in name), \
        "LoRA B starts at zero; the policy gradient moved it"
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == \
        f"folder:{tiny_models[family]}"
    assert reload_changes_outputs(family, tiny_models[family], adapter)
    assert adapter_entry(tmp_path).available, "Chat and Compare list the run like an SFT run"
    status = runs.read_status(tmp_path)
    assert status["state"] == "finished" and status["step"] == status["total_steps"] == 2


@pytest.mark.parametrize("family", FAMILIES)
def test_two_dpo_steps_from_an_sft_run(tiny_models, qa_file, sft_runs, tmp_path, family):
    cfg = tiny_rlhf(tiny_models, family, qa_file, method="dpo", adapter=str(sft_runs[family]), precision="bfloat16")
    summary = rlhf.run(cfg, tmp_path)
    assert summary["state"] == "finished" and summary["steps"] == 2 and summary["dpo_pairs"] >= 1
    metrics = runs.read_metrics(tmp_path)
    assert [m["step"] for m in metrics] == [1, 2]
    assert metrics[0]["loss"] == pytest.approx(0.693147, abs=1e-5), "at the start the policy is the reference"
    assert all({"reward_mean", "reward_std", "reward_accuracy"} <= set(m) for m in metrics)
    before, after = lora_weights(sft_runs[family] / runs.ADAPTER), lora_weights(tmp_path / runs.ADAPTER)
    assert before.keys() == after.keys() and any(not torch.equal(before[k], after[k]) for k in before), \
        "DPO moved the SFT adapter's weights"
    assert json.loads((tmp_path / runs.ADAPTER / "adapter_config.json").read_text())["base_model_name_or_path"] == \
        f"folder:{tiny_models[family]}", "the base model, not the SFT adapter, is the new adapter's base"
    assert reload_changes_outputs(family, tiny_models[family], tmp_path / runs.ADAPTER)


def test_dpo_compares_log_probs_in_fp32_where_grpo_uses_bf16(tiny_models, qa_file):
    """In bf16 the padding of a batch moved SmolLM2's log-prob sums by tenths of a nat: DPO's first loss was 0.671,
    not log 2, before the policy had changed."""
    cfg = tiny_rlhf(tiny_models, "llama", qa_file, method="dpo", precision="bfloat16")
    base = ModelRef.parse(cfg.model)
    dpo, _ = rlhf.load_policy(cfg, base, None, "cpu")
    grpo, _ = rlhf.load_policy(dataclasses.replace(cfg, method="grpo"), base, None, "cpu")
    with dpo.amp():
        assert not torch.is_autocast_enabled("cpu")
    with grpo.amp():
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


def test_grpo_continues_an_adapter_named_as_the_model(tiny_models, qa_file, sft_runs, tmp_path):
    cfg = tiny_rlhf(tiny_models, "llama", qa_file, model=f"adapter:{sft_runs['llama']}", max_steps=1)
    assert rlhf.run(cfg, tmp_path)["started_from"].endswith(runs.ADAPTER)


def test_sigterm_stops_after_the_step_and_saves_the_adapter(tiny_models, qa_file, tmp_path, monkeypatch):
    real = rlhf.grpo_step

    def step_then_signal(*args):
        record = real(*args)
        os.kill(os.getpid(), signal.SIGTERM)
        return record

    monkeypatch.setattr(rlhf, "grpo_step", step_then_signal)
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    summary = rlhf.run(tiny_rlhf(tiny_models, "gpt2", qa_file, max_steps=5), tmp_path)
    assert summary["state"] == "stopped" and summary["steps"] == 1 and "saved" in summary["message"]
    assert (tmp_path / runs.ADAPTER / "adapter_model.safetensors").exists()
    assert runs.read_status(tmp_path)["state"] == "stopped"
    assert {s: signal.getsignal(s) for s in before} == before
    monkeypatch.setattr(rlhf, "grpo_step", real)
    resumed = rlhf.run(tiny_rlhf(tiny_models, "gpt2", qa_file, max_steps=2), tmp_path, resume=True)
    assert resumed["state"] == "finished" and [m["step"] for m in runs.read_metrics(tmp_path)] == [1, 2]


def test_missing_adapter_folder_is_a_clear_config_error(tiny_models, qa_file, tmp_path):
    cfg = tiny_rlhf(tiny_models, "llama", qa_file, adapter=str(tmp_path / "no-such-run"))
    with pytest.raises(ConfigError, match="adapter: adapter folder .*no-such-run does not exist"):
        rlhf.run(cfg, tmp_path / "run")
    assert "does not exist" in runs.read_status(tmp_path / "run")["message"]


def test_adapter_of_another_model_is_refused(tiny_models, qa_file, sft_runs, tmp_path):
    cfg = tiny_rlhf(tiny_models, "gpt2", qa_file, adapter=str(sft_runs["llama"]))
    with pytest.raises(ConfigError, match="was trained on folder:.*tiny-llama-chat, not on folder:"):
        rlhf.run(cfg, tmp_path)


def test_empty_data_is_a_clear_config_error(tiny_models, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("question,answer\n")
    message = "data: empty.csv: the file has a header but no data rows"
    with pytest.raises(ConfigError, match=message):
        rlhf.run(tiny_rlhf(tiny_models, "llama", empty), tmp_path / "run")
    status = runs.read_status(tmp_path / "run")
    assert status["state"] == "failed" and status["message"] == message


def test_cli_flags_make_a_run_folder(tiny_models, qa_file, sft_runs, tmp_path):
    code = rlhf.main(["--method", "dpo", "--model", f"folder:{tiny_models['gpt2']}", "--adapter",
                      str(sft_runs["gpt2"]), "--data", str(qa_file), "--max-steps", "1", "--out", str(tmp_path / "r")])
    assert code == 0
    cfg = RLHFJob.load(tmp_path / "r" / runs.CONFIG)
    assert cfg.method == "dpo" and cfg.max_steps == 1 and cfg.adapter == str(sft_runs["gpt2"])
    assert (tmp_path / "r" / runs.ADAPTER / "adapter_config.json").exists()


def test_cli_refuses_an_unknown_method(capsys, tmp_path):
    assert rlhf.main(["--method", "ppo", "--model", "x", "--data", "d.csv", "--out", str(tmp_path)]) == 2
    assert "method must be one of grpo, rloo, dpo" in capsys.readouterr().err


def test_an_evaluated_rlhf_run_shows_in_results_as_its_own_condition(tiny_models, qa_file, sft_runs, tmp_path, capsys):
    from studio.evaluation import evaluate, results

    run_dir = tmp_path / "runs" / "dpo-run"
    rlhf.run(tiny_rlhf(tiny_models, "llama", qa_file, method="dpo", adapter=str(sft_runs["llama"]), max_steps=1),
             run_dir)
    assert evaluate.main(["--adapter", str(run_dir), "--test", str(qa_file), "--max-new-tokens", "4",
                          "--engine", "transformers"]) == 0
    assert runs.eval_result_path(run_dir, qa_file).exists(), "the result sits beside the RLHF run's adapter"
    table = results.collect(tmp_path / "runs")
    assert list(table["method"]) == ["SFT+DPO"] and list(table["condition"]) == ["ft+dpo"]
    assert table["runtime_s"].iloc[0] > 0
