"""Training on several processes through accelerate launch (2 CPU processes over gloo here): the same steps, adapter
and run folder as one process; stop works; shared mode refuses it."""

import json
import sys
import time

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from studio import access
from studio.jobs import distributed, queue, runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import SFTJob


@pytest.fixture
def job(tiny_models, tmp_path):
    data = tmp_path / "faq.csv"
    data.write_text("question,answer\n" + "".join(f"What is plan {i}?,Plan {i} costs {10 * i} a month.\n"
                                                  for i in range(24)))

    def make(**overrides):
        values = dict(model=f"folder:{tiny_models['llama']}", data=str(data), batch_size=4, threads=2, max_steps=3,
                      learning_rate=1e-2, early_stopping_patience=0, checkpoint_every=1)
        values.update(overrides)
        return SFTJob.from_dict(values)

    return make


@pytest.mark.parametrize("micros, size, expected", [
    (["a", "b", "c"], 1, [["a", "b", "c"]]),
    (["a", "b", "c"], 2, [["a", "c"], ["b", None]]),  # the short process runs a zero-weight pass, in step
    (["a"], 2, [["a"], [None]]),
    (["a", "b", "c", "d"], 2, [["a", "c"], ["b", "d"]]),
])
def test_each_process_gets_the_same_number_of_micro_batches(micros, size, expected):
    shares = [distributed.my_share(distributed.Team(rank, size), micros) for rank in range(size)]
    assert shares == expected


def test_the_launch_command_goes_through_accelerate(tmp_path):
    command = distributed.launch_command("studio.training.sft", tmp_path / "config.json", 2, None, ["--resume"])
    assert command[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert command[command.index("--num_processes") + 1] == "2"
    assert command[-4:] == ["-m", "studio.training.sft", str(tmp_path / "config.json"), "--resume"]
    with_file = distributed.launch_command("studio.training.sft", tmp_path / "c.json", 4, "fsdp.yaml", [])
    assert with_file[with_file.index("--config_file") + 1] == "fsdp.yaml" and "--multi_gpu" not in with_file


@pytest.mark.parametrize("values, message", [
    ({"processes": 0}, "processes must be at least 1"),
    ({"processes": 65}, "processes must be at most 64"),
    ({"processes": 1.5}, "processes must be a whole number"),
])
def test_bad_process_settings_are_refused(values, message):
    with pytest.raises(ConfigError, match=message):
        SFTJob.from_dict(values)


def test_two_processes_train_the_same_adapter_as_one(job, tmp_path):
    """Data parallel with summed gradients is the same optimisation: after 3 steps the LoRA weights of a 2-process
    run equal a 1-process run's (up to the order of floating-point sums), and the run folder looks the same."""
    root = tmp_path / "runs"
    # One thread per process in both runs: a different thread count changes the float sums' order, and AdamW's
    # normalised steps turn those last-digit differences into visible ones after a few steps at lr 1e-2.
    single = queue.submit(job(threads=1), root)
    assert queue.wait(single, timeout=300, root=root)["state"] == "finished"
    team = queue.submit(job(processes=2, threads=2), root)
    ended = queue.wait(team, timeout=300, root=root)
    log = (root / team / runs.LOG).read_text()
    assert ended["state"] == "finished", log[-3000:]
    assert "in each of 2 processes" in log
    summary = json.loads((root / team / runs.SUMMARY).read_text())
    assert summary["processes"] == 2 and summary["steps"] == 3
    assert [m["step"] for m in runs.read_metrics(root / team) if "loss" in m] == [1, 2, 3], "written once, by rank 0"
    one = load_file(root / single / runs.ADAPTER / "adapter_model.safetensors")
    two = load_file(root / team / runs.ADAPTER / "adapter_model.safetensors")
    assert one.keys() == two.keys()
    assert any(w.abs().sum() > 0 for name, w in two.items() if "lora_B" in name), "training moved LoRA B"
    # The single process runs the batch's shared prefix once (studio/engines/answer_logits.py); a team's wrapped
    # model runs its rows whole: the same sums in another order, a few 1e-6 apart after 3 AdamW steps at lr 1e-2.
    for name in one:
        torch.testing.assert_close(two[name], one[name], atol=2e-5, rtol=1e-4)
    losses = [[m["loss"] for m in runs.read_metrics(root / run) if "loss" in m] for run in (single, team)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
    base = AutoModelForCausalLM.from_pretrained(job().model.removeprefix("folder:"))
    PeftModel.from_pretrained(base, root / team / runs.ADAPTER)  # a plain PEFT folder, as from one process


def test_stop_ends_every_process_and_keeps_the_adapter(job, tmp_path):
    root = tmp_path / "runs"
    run_id = queue.submit(job(processes=2, max_steps=2000, epochs=50), root)
    deadline = time.time() + 240
    while queue.reconcile(root / run_id).get("step", 0) < 2:
        assert time.time() < deadline, (root / run_id / runs.LOG).read_text()[-3000:]
        time.sleep(0.5)
    assert "Stopping" in queue.stop(run_id, root)
    ended = queue.wait(run_id, timeout=120, root=root)
    assert ended["state"] == "stopped" and "adapter trained so far was saved" in ended["message"]
    assert (root / run_id / runs.ADAPTER / "adapter_model.safetensors").exists()


def test_the_cli_starts_the_processes_itself(tiny_models, job, tmp_path):
    from studio.training import sft

    data = job().data
    code = sft.main(["--model", f"folder:{tiny_models['gpt2']}", "--data", data, "--processes", "2",
                     "--out", str(tmp_path / "run")])
    assert code == 0
    summary = json.loads((tmp_path / "run" / runs.SUMMARY).read_text())
    assert summary["processes"] == 2 and summary["state"] == "finished"
    assert (tmp_path / "run" / runs.ADAPTER / "adapter_config.json").exists()


def test_shared_mode_refuses_several_processes(monkeypatch):
    monkeypatch.setenv("CQA_SHARED", "1")
    allowed = SFTJob(data="assets/insurer_faq.csv")
    access.check_job(allowed)  # the catalogue model on the sample data, one process: fine
    with pytest.raises(access.AccessError, match="several processes is refused in shared mode"):
        access.check_job(SFTJob(data="assets/insurer_faq.csv", processes=2))
    with pytest.raises(access.AccessError, match="refused in shared mode"):
        access.check_job(SFTJob(data="assets/insurer_faq.csv", processes=2, accelerate_config="/etc/passwd"))
