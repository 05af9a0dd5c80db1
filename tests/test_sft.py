import csv
import json
import signal
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

from studio.data import files, qa
from studio.engines import hf
from studio.engines.base import Tokenized
from studio.jobs import runs
from studio.jobs.config import ConfigError
from studio.jobs.kinds import EvalJob, MemoryBenchJob, SFTJob
from studio.training import answer_loss, lora, sft
from studio.training.examples import load_examples

PRESETS = sorted((Path(__file__).parent.parent / "assets" / "presets").glob("*.json"))


@pytest.fixture(scope="session")
def qa_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("qa") / "faq.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["question", "answer"])
        for i in range(20):
            writer.writerow([f"What is the waiting period for illness {i}?", f"The waiting period is {i + 1} months."])
    return path


def tiny_job(tiny_models, family, qa_file, **overrides) -> SFTJob:
    values = dict(model=f"folder:{tiny_models[family]}", data=str(qa_file), batch_size=4, max_steps=2, epochs=1,
                  learning_rate=1e-2, threads=1)
    values.update(overrides)
    return SFTJob.from_dict(values)


# ------------------------------------------------------------------------------------------------ configs


def test_config_round_trips_through_json(tmp_path):
    cfg = SFTJob(model="bundled:gemma-3-270m", epochs=3, qlora=True, target_modules=["q_proj"], train_size=400,
                 extra={"cell": "a"})
    assert SFTJob.from_dict(json.loads(cfg.to_json())) == cfg
    assert SFTJob.load(cfg.save(tmp_path / "c.json")) == cfg


@pytest.mark.parametrize(
    "job, bad, message",
    [(EvalJob(model="adapter:runs/x", tests=["a.csv"], limit=3), {"batch_size": 0}, "must be positive"),
     (EvalJob(), {"tests": []}, "non-empty list of test files"),
     (MemoryBenchJob(model="bundled:gemma-3-270m", k=4), {"model": ""}, "model must be a non-empty text"),
     (MemoryBenchJob(), {"k": 0}, "must be positive")],
)
def test_every_job_kind_round_trips_and_refuses_bad_values(tmp_path, job, bad, message):
    kind = type(job)
    assert kind.load(job.save(tmp_path / "c.json")) == job
    with pytest.raises(ConfigError, match=message):
        kind.from_dict({**json.loads(job.to_json()), **bad})


@pytest.mark.parametrize("preset", PRESETS, ids=[p.stem for p in PRESETS])
def test_every_shipped_preset_validates(preset):
    SFTJob.load(preset)


def test_presets_exist():
    assert len(PRESETS) >= 4


@pytest.mark.parametrize(
    "values, message",
    [({"mode": "chat"}, "mode must be one of"), ({"epochs": 0}, "epochs must be positive"),
     ({"learning_rate": -1}, "learning_rate must be positive"), ({"val_fraction": 1.5}, "val_fraction"),
     ({"train_size": 2.5}, "fraction in \\(0, 1\\] or a whole count"), ({"precision": "fp8"}, "precision"),
     ({"target_modules": []}, "target_modules"), ({"epoch": 3}, "unknown SFTJob field"),
     ({"data": ""}, "data must be a non-empty text"), ({"model": {"x": 1}}, "model must be"),
     ({"epochs": 51}, "epochs must be at most 50"), ({"lora_r": 257}, "lora_r must be at most 256"),
     ({"max_length": 8193}, "max_length must be at most 8192"), ({"batch_size": 257}, "batch_size must be at most"),
     ({"train_size": 2_000_000}, "train_size must be at most"), ({"max_steps": 10**7}, "max_steps must be at most"),
     ({"context_turns": 65}, "context_turns must be at most"), ({"threads": 257}, "threads must be at most")],
)
def test_bad_config_is_refused_with_the_field_named(values, message):
    with pytest.raises(ConfigError, match=message):
        SFTJob.from_dict(values)


def test_unreadable_config_file_is_a_config_error(tmp_path):
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read config"):
        SFTJob.load(tmp_path / "c.json")


# --------------------------------------------------------------------------------------------- examples


def test_loss_covers_the_answer_and_its_end_token_even_when_pad_is_eos(tiny_models):
    tokenizer = AutoTokenizer.from_pretrained(tiny_models["llama"])
    tokenizer.pad_token = tokenizer.eos_token  # as SmolLM2 ships
    example = qa.Example([{"role": "user", "content": "Is dental covered?"}], "No, only after an accident.")
    t = answer_loss.tokenize(example, tokenizer, "chat", False, SFTJob(system_prompt="Be brief."))
    answer_start = t.labels.index(next(x for x in t.labels if x != -100))
    assert all(x == -100 for x in t.labels[:answer_start])
    assert tokenizer.decode(t.input_ids[:answer_start]).endswith("<|im_start|>assistant\n")
    assert tokenizer.decode(t.labels[answer_start:-1]) == "No, only after an accident."
    assert t.labels[-1] == tokenizer.eos_token_id == t.input_ids[-1]
    batch = hf.collate([t, Tokenized(t.input_ids[:5], [-100] * 5)], tokenizer.pad_token_id,
                                False)
    assert batch["labels"][1, 5:].eq(-100).all() and batch["labels"][0, -1] == tokenizer.eos_token_id


def test_long_prompt_is_cut_from_the_left_and_the_answer_kept(tiny_models):
    tokenizer = AutoTokenizer.from_pretrained(tiny_models["gpt_neox"])
    example = qa.Example([{"role": "user", "content": "word " * 300}], "Short answer.")
    t = answer_loss.tokenize(example, tokenizer, "qa", False, SFTJob(max_length=64, system_prompt=""))
    assert len(t.input_ids) == 64
    assert tokenizer.decode([x for x in t.labels if x != -100][:-1]) == " Short answer."


def test_batches_group_similar_lengths_and_cover_everything():
    items = [Tokenized([1] * n, [1] * n) for n in [5, 50, 6, 51, 7, 52, 8, 53]]
    order = answer_loss.batches(items, 2, seed=0)
    assert sorted(i for b in order for i in b) == list(range(8))
    for b in order:
        lengths = [len(items[i].input_ids) for i in b]
        assert max(lengths) - min(lengths) <= 2
    assert answer_loss.batches(items, 2, seed=0) == order


@pytest.mark.parametrize(
    "family, expected",
    [("gpt_neox", ["query_key_value"]), ("gpt2", ["c_attn"]), ("t5", ["q", "v"]),
     ("llama", ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])],
)
def test_lora_targets_follow_the_architecture(tiny_models, family, expected):
    auto = AutoModelForSeq2SeqLM if family == "t5" else AutoModelForCausalLM
    assert lora.lora_targets(auto.from_pretrained(tiny_models[family])) == expected


# --------------------------------------------------------------------------------------------- training


@pytest.mark.parametrize("family", ["gpt_neox", "gpt2", "llama", "t5"])
def test_two_steps_change_lora_weights_and_the_adapter_reloads_with_plain_peft(tiny_models, qa_file, tmp_path, family):
    summary = sft.run(tiny_job(tiny_models, family, qa_file), tmp_path)
    assert summary["state"] == "finished" and summary["steps"] == 2
    adapter = tmp_path / runs.ADAPTER
    weights = load_file(adapter / "adapter_model.safetensors")
    lora_b = [w for name, w in weights.items() if "lora_B" in name]
    assert lora_b and any(w.abs().sum() > 0 for w in lora_b), "LoRA B starts at zero; training moved it"
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == \
        f"folder:{tiny_models[family]}", "the adapter folder names the model reference it was trained on"
    auto = AutoModelForSeq2SeqLM if family == "t5" else AutoModelForCausalLM
    base = auto.from_pretrained(tiny_models[family]).eval()
    inputs = {"input_ids": torch.tensor([[5, 6, 7]])}
    if family == "t5":
        inputs["decoder_input_ids"] = torch.tensor([[0, 5]])
    with torch.no_grad():
        before = base(**inputs).logits
        after = PeftModel.from_pretrained(base, adapter).eval()(**inputs).logits
    assert after.shape == before.shape and not torch.allclose(after, before), "the reloaded adapter changes outputs"
    metrics = runs.read_metrics(tmp_path)
    assert [m["step"] for m in metrics if "loss" in m] == [1, 2]
    assert any("val_loss" in m and m["val_perplexity"] > 1 for m in metrics)
    status = runs.read_status(tmp_path)
    assert status["state"] == "finished" and status["step"] == 2 and status["ended_at"] >= status["started_at"]
    for key in ("runtime_s", "tokens_per_s", "peak_cpu_ram_mb", "peak_gpu_ram_mb", "best_val_loss"):
        assert key in summary
    assert SFTJob.load(tmp_path / runs.CONFIG).model == f"folder:{tiny_models[family]}"


def test_qlora_trains_one_step_on_cpu(tiny_models, qa_file, tmp_path):
    summary = sft.run(tiny_job(tiny_models, "llama", qa_file, qlora=True, max_steps=1), tmp_path)
    assert summary["state"] == "finished" and summary["compute"] == "4-bit" and summary["qlora"]
    weights = load_file(tmp_path / runs.ADAPTER / "adapter_model.safetensors")
    assert any(w.abs().sum() > 0 for name, w in weights.items() if "lora_B" in name)


def test_merge_writes_a_plain_model_folder(tiny_models, qa_file, tmp_path):
    sft.run(tiny_job(tiny_models, "gpt2", qa_file, merge=True, max_steps=1), tmp_path)
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / runs.MERGED)
    assert not any("lora" in name for name, _ in merged.named_parameters())


def test_nan_loss_stops_cleanly_and_keeps_an_adapter(tiny_models, qa_file, tmp_path, monkeypatch):
    real = hf.batch_loss
    calls = {"n": 0}

    def loss_that_explodes(model, batch, seq2seq):
        calls["n"] += 1
        loss, count = real(model, batch, seq2seq)
        return (loss * float("nan"), count) if calls["n"] >= 2 else (loss, count)

    monkeypatch.setattr(hf, "batch_loss", loss_that_explodes)
    summary = sft.run(tiny_job(tiny_models, "llama", qa_file, max_steps=5), tmp_path)
    assert summary["state"] == "stopped" and "loss became nan at step 2" in summary["message"]
    assert summary["steps"] == 1
    weights = load_file(tmp_path / runs.ADAPTER / "adapter_model.safetensors")
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_early_stopping_keeps_the_best_epoch(tiny_models, qa_file, tmp_path, monkeypatch):
    val_losses = iter([2.0, 2.5, 2.6, 2.7, 2.8])
    monkeypatch.setattr(answer_loss, "mean_loss", lambda *args: next(val_losses))
    summary = sft.run(tiny_job(tiny_models, "gpt2", qa_file, max_steps=0, epochs=5, early_stopping_patience=2),
                      tmp_path)
    assert summary["epochs_completed"] == 3 and "Early stop" in summary["message"]
    assert summary["best_val_loss"] == 2.0


def test_bad_data_fails_with_the_data_error(tiny_models, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    with pytest.raises(files.DataError, match="question"):
        sft.run(tiny_job(tiny_models, "llama", bad), tmp_path / "run")
    status = runs.read_status(tmp_path / "run")
    assert status["state"] == "failed" and "question" in status["message"] and "DataError" not in status["message"]


def test_dialogue_mode_on_plain_qa_data_explains_what_to_do(tiny_models, qa_file, tmp_path):
    with pytest.raises(ConfigError, match="python -m studio conversations"):
        sft.run(tiny_job(tiny_models, "llama", qa_file, mode="dialogue"), tmp_path)


def test_resume_continues_from_a_weights_only_checkpoint(tiny_models, qa_file, tmp_path):
    sft.run(tiny_job(tiny_models, "llama", qa_file, max_steps=2), tmp_path)
    first = runs.load_checkpoint(tmp_path)
    assert first["state"]["step"] == 2
    summary = sft.run(tiny_job(tiny_models, "llama", qa_file, max_steps=3), tmp_path, resume=True)
    assert summary["state"] == "finished" and summary["steps"] == 3
    assert [m["step"] for m in runs.read_metrics(tmp_path) if "loss" in m] == [1, 2, 3]
    assert runs.load_checkpoint(tmp_path)["state"]["step"] == 3


def test_cli_flags_make_a_run_folder(tiny_models, qa_file, tmp_path):
    code = sft.main(["--model", f"folder:{tiny_models['gpt2']}", "--data", str(qa_file), "--epochs", "1",
                     "--out", str(tmp_path / "cli-run")])
    assert code == 0
    assert (tmp_path / "cli-run" / runs.ADAPTER / "adapter_config.json").exists()
    assert "finished" in (tmp_path / "cli-run" / runs.LOG).read_text()


def test_cli_without_enough_arguments_says_so(capsys):
    with pytest.raises(SystemExit):
        sft.main(["--model", "x"])
    assert "give a CONFIG.json" in capsys.readouterr().err


def test_dialogue_mode_learns_replies_from_earlier_turns(tiny_models, qa_file, tmp_path):
    from studio.data import dialogue

    records = qa.load_file(qa_file).records
    path = dialogue.save_conversations(dialogue.make_conversations(records, 3), tmp_path / "conv.jsonl")
    cfg = tiny_job(tiny_models, "llama", path, mode="dialogue", context_turns=2)
    train, _ = load_examples(cfg)
    assert max(len(e.messages) for e in train) == 3  # two earlier turns + the user's turn
    summary = sft.run(cfg, tmp_path / "run")
    assert summary["state"] == "finished"


def test_training_leaves_the_signal_handlers_as_it_found_them(tiny_models, qa_file, tmp_path):
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    sft.run(tiny_job(tiny_models, "gpt2", qa_file, max_steps=1), tmp_path)
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_validation_set_larger_than_the_training_set_is_noted(tiny_models, qa_file, tmp_path, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="sft")
    sft.run(tiny_job(tiny_models, "llama", qa_file, train_size=2, val_fraction=0.5, max_steps=1), tmp_path)
    assert "note: validation (10 examples, val_fraction 0.5" in caplog.text
    assert "is larger than the training set" in caplog.text
    caplog.clear()
    sft.run(tiny_job(tiny_models, "llama", qa_file, max_steps=1), tmp_path / "plain")
    assert "note: validation" not in caplog.text
