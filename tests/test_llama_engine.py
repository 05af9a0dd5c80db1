"""The llama.cpp engine on a tiny GGUF model built here from the tiny random llama (tests/tiny_models.py) with the
`gguf` package, so both engines hold the same weights: streaming, stop, stop strings, the reply-only repetition
penalty, token counting, engine choice and fallback, adapters, a chat turn with memory. One real-model test runs
the bundled default model. Skipped where llama-cpp-python is not installed (CI installs it)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.chat import chat_turn
from studio.core import runtime
from studio.engines import llama_cpp, llama_files, loader, prompts
from studio.engines.base import GenerationSettings, ReplyStream
from studio.engines.llama_cpp import _logits, _read_prompt, answer_log_likelihood, generate, penalise, pick_token
from studio.memory import MemoryConfig, MemoryState
from studio.models import catalogue, gguf_files, refs
from studio.models.refs import ModelError, ModelRef

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make llama installs it)")
gguf = pytest.importorskip("gguf")

GREEDY = GenerationSettings(max_new_tokens=12, repetition_penalty=1.0)


# --------------------------------------------------------------------------------------- a tiny GGUF model


def write_tiny_lora(path: Path, config: dict, rank: int = 4, seed: int = 1) -> Path:
    """A GGUF LoRA adapter on every layer's value projection of the tiny llama, random and large enough to matter."""
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(rank))
    hidden = config["hidden_size"]
    out = hidden // config["num_attention_heads"] * config["num_key_value_heads"]
    for block in range(config["num_hidden_layers"]):
        writer.add_tensor(f"blk.{block}.attn_v.weight.lora_a", rng.normal(0, 1, (rank, hidden)).astype(np.float32))
        writer.add_tensor(f"blk.{block}.attn_v.weight.lora_b", rng.normal(0, 1, (out, rank)).astype(np.float32))
    for write in (writer.write_header_to_file, writer.write_kv_data_to_file, writer.write_tensors_to_file):
        write()
    writer.close()
    return path


def pace(monkeypatch, seconds: float = 0.02) -> None:
    """Tokens at a real model's pace: the tiny model is so fast that its whole reply is out before the consumer
    reads the first token."""
    real = pick_token
    monkeypatch.setattr(llama_cpp, "pick_token", lambda *args: time.sleep(seconds) or real(*args))


def stream(loaded, text: str, settings: GenerationSettings = GREEDY) -> ReplyStream:
    prompt = prompts.render_prompt(loaded, [{"role": "user", "content": text}], settings.system_prompt)
    reply = ReplyStream(loaded, prompt, settings)
    reply.updates = list(reply)
    return reply


# ------------------------------------------------------------------------------------------------ the tests


def test_both_engines_read_the_same_prompt_and_compute_the_same_logits(fast, tiny_models):
    slow = loader.load_model(f"folder:{tiny_models['llama']}", "float32", engine="transformers")
    assert (fast.engine, slow.engine) == ("llama.cpp", "transformers") and fast.max_positions == 256
    prompt = prompts.render_prompt(fast, [{"role": "user", "content": "My name is Priya."}], "Be brief.")
    fast_stream, slow_stream = ReplyStream(fast, prompt, GREEDY), ReplyStream(slow, prompt, GREEDY)
    assert fast_stream.prompt_ids == slow_stream.prompt_ids and fast_stream.prompt_text == slow_stream.prompt_text
    _read_prompt(fast.model, fast_stream.prompt_ids)
    with torch.inference_mode():
        expected = slow.model(torch.tensor([slow_stream.prompt_ids])).logits[0, -1].numpy()
    np.testing.assert_allclose(_logits(fast.model), expected, atol=1e-3)


def test_reply_streams_growing_text_with_stats(fast, monkeypatch):
    pace(monkeypatch)
    reply = stream(fast, "Hello there", dataclasses.replace(GREEDY, min_new_tokens=12))
    assert len(set(reply.updates)) >= 3 and all(b.startswith(a) for a, b in zip(reply.updates, reply.updates[1:]))
    assert reply.stats.new_tokens == 12 and reply.stats.engine == "llama.cpp"  # min_new_tokens: no early end
    assert reply.stats.prompt_tokens == len(reply.prompt_ids) and "llama.cpp ·" in reply.stats.describe()
    assert reply.text == reply.updates[-1]


def test_greedy_replies_repeat_and_reuse_the_cached_prompt(fast):
    first, second = stream(fast, "Hello there"), stream(fast, "Hello there")
    assert first.text == second.text
    # the same prompt again: only its last token is evaluated again
    assert fast.model.n_tokens >= len(second.prompt_ids)


def test_a_new_question_under_the_same_instructions_reads_only_its_own_part_and_answers_as_from_scratch(
        fast, monkeypatch):
    from studio.knowledge import store

    settings = dataclasses.replace(GREEDY, system_prompt="You answer for an insurer. " + store.GROUNDING_INSTRUCTIONS)
    first = stream(fast, "Is maternity covered under Silver?", settings)
    read = []
    real_eval = fast.model.eval
    monkeypatch.setattr(fast.model, "eval", lambda ids: (read.append(len(ids)), real_eval(ids))[1])
    second = stream(fast, "How long is the grace period for renewal?", settings)
    shared = next(i for i, (a, b) in enumerate(zip(first.prompt_ids, second.prompt_ids)) if a != b)
    assert shared > len(fast.tokenizer(settings.system_prompt)["input_ids"])  # the instructions came from the cache
    assert read[0] == len(second.prompt_ids) - shared
    fast.model.reset()  # nothing cached: the same prompt read from scratch
    assert stream(fast, "How long is the grace period for renewal?", settings).text == second.text


def test_leaving_the_stream_stops_generation(fast, monkeypatch):
    pace(monkeypatch)
    reply = ReplyStream(fast, prompts.render_prompt(fast, [{"role": "user", "content": "Hi"}], ""),
                        GenerationSettings(max_new_tokens=200, min_new_tokens=200))
    for _ in reply:
        break
    evaluated = fast.model.n_tokens - len(reply.prompt_ids)
    assert evaluated < 10, f"{evaluated} tokens of 200 were generated: the consumer had left after the first text"


def test_stop_strings_end_the_reply_before_them(fast, monkeypatch):
    qa = dataclasses.replace(fast, entry=dataclasses.replace(fast.entry, prompt_style="qa"))
    script = fast.tokenizer("Cashless claims\nQuestion: and more tokens", add_special_tokens=False).input_ids
    picked = []

    def scripted(logits, temperature, top_p, rng):
        time.sleep(0.02)
        picked.append(script[len(picked)])
        return picked[-1]

    monkeypatch.setattr(llama_cpp, "pick_token", scripted)
    reply = stream(qa, "What is cashless?", GenerationSettings(max_new_tokens=len(script) - 1))
    assert reply.text == "Cashless claims" and all("Question" not in u for u in reply.updates)
    stop_at = next(n for n in range(len(script)) if "Question:" in fast.tokenizer.decode(script[:n + 1]))
    assert len(picked) <= stop_at + 3, "generation should stop within a token or two of the stop string"


def test_repetition_penalty_reads_only_the_reply(fast, monkeypatch):
    seen = []
    real = pick_token

    def recording(logits, temperature, top_p, rng):
        seen.append(logits.copy())
        return real(logits, temperature, top_p, rng)

    settings = GenerationSettings(max_new_tokens=3, min_new_tokens=3, repetition_penalty=5.0)
    monkeypatch.setattr(llama_cpp, "pick_token", recording)
    reply = stream(fast, "Hello there", settings)
    first_reply_token = int(np.argmax(seen[0]))
    _read_prompt(fast.model, reply.prompt_ids)
    raw = _logits(fast.model).copy()
    assert set(np.flatnonzero(np.isinf(seen[0]))) == set(fast.end_tokens)  # min_new_tokens: no end token yet
    ok = np.isfinite(seen[0])
    np.testing.assert_allclose(seen[0][ok], raw[ok], atol=1e-4)  # first token: nothing penalised (prompt included)
    _read_prompt(fast.model, reply.prompt_ids + [first_reply_token])
    raw = _logits(fast.model)
    value = raw[first_reply_token]
    assert seen[1][first_reply_token] == pytest.approx(value / 5.0 if value > 0 else value * 5.0, abs=1e-4)


@pytest.mark.parametrize("logits, reply, penalty, expected", [
    ([2.0, -2.0, 1.0], [0, 1, 1], 2.0, [1.0, -4.0, 1.0]),
    ([2.0, -2.0, 1.0], [], 2.0, [2.0, -2.0, 1.0]),
    ([2.0, -2.0, 1.0], [2], 1.0, [2.0, -2.0, 1.0]),
])
def test_penalty_divides_positive_and_multiplies_negative_logits(logits, reply, penalty, expected):
    values = np.array(logits, dtype=np.float32)
    penalise(values, reply, penalty)
    assert values.tolist() == expected


def test_sampling_keeps_to_the_top_p_nucleus():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    rng = np.random.default_rng(0)
    picked = {pick_token(logits.copy(), 1.0, 0.7, rng) for _ in range(200)}
    assert picked == {0, 1}
    assert pick_token(logits.copy(), 0.0, 0.7, rng) == 0


def test_memory_token_counts_match_the_transformers_engine(fast, tiny_models):
    slow = loader.load_model(f"folder:{tiny_models['llama']}", "float32", engine="transformers")
    history = [{"role": "user", "content": "My name is Priya."}, {"role": "assistant", "content": "Hello Priya"}]
    count_fast = prompts.history_token_counter(fast, "Be brief.")
    assert count_fast(history) == prompts.history_token_counter(slow, "Be brief.")(history) > 0


def test_chat_turn_with_memory_through_llama_cpp(fast):
    config, settings = MemoryConfig("buffer"), dataclasses.replace(GREEDY, max_new_tokens=6)
    first = list(chat_turn(fast, config, MemoryState(), "My name is Priya.", settings))[-1]
    second = list(chat_turn(fast, config, first.state, "What is my name?", settings))[-1]
    assert "<|im_start|>user\nMy name is Priya.<|im_end|>" in second.prompt
    assert second.stats.engine == "llama.cpp" and len(second.state.messages) == 4
    summary = list(chat_turn(fast, MemoryConfig("summary"), first.state, "And now?", settings))[-1]
    assert summary.state.summarized == 4  # the summary was written by the llama.cpp engine too


@pytest.mark.parametrize("family, seq2seq, reason", [
    ("t5", True, "encoder-decoder"),
    ("gpt2", False, "gpt2 model"),
])
def test_auto_keeps_models_llama_cpp_does_not_run_on_transformers(family, seq2seq, reason, cpu_without_fast_bf16):
    entry = refs.ModelEntry(ModelRef("folder", "/x"), "x", family, 1, seq2seq, "qa", True)
    chosen, why = loader.resolve_engine(entry, "auto")
    assert chosen == "transformers" and reason in why
    with pytest.raises(ModelError, match=reason):
        loader.resolve_engine(entry, "llama.cpp")


@pytest.fixture
def cpu_without_fast_bf16(monkeypatch):
    """auto, not pinned by $CQA_ENGINE, on a CPU (no GPU)."""
    monkeypatch.delenv("CQA_ENGINE", raising=False)
    monkeypatch.setattr(runtime, "cpu_bf16_is_fast", lambda: False)
    monkeypatch.setattr(runtime, "pick_device", lambda: "cpu")


@pytest.mark.parametrize("device, bf16_fast, expected", [
    ("cpu", False, ("llama.cpp", "")),
    ("cpu", True, ("llama.cpp", "")),  # fast bf16 reads long prompts faster, llama.cpp decodes 3x faster
    ("cuda", False, ("transformers", "GPU is present")),
])
def test_auto_follows_the_hardware(monkeypatch, device, bf16_fast, expected):
    monkeypatch.delenv("CQA_ENGINE", raising=False)
    monkeypatch.setattr(runtime, "cpu_bf16_is_fast", lambda: bf16_fast)
    monkeypatch.setattr(runtime, "pick_device", lambda: device)
    entry = refs.ModelEntry(ModelRef("folder", "/x"), "x", "llama", 1, False, "chat", True)
    chosen, why = loader.resolve_engine(entry, "auto")
    assert chosen == expected[0] and expected[1] in why
    assert loader.resolve_engine(entry, "llama.cpp") == ("llama.cpp", "")  # asked for by name: always


def test_engine_choice_without_llama_cpp_and_with_a_pin(monkeypatch, cpu_without_fast_bf16):
    monkeypatch.delenv("CQA_ENGINE", raising=False)
    entry = refs.ModelEntry(ModelRef("folder", "/x"), "x", "llama", 1, False, "chat", True)
    assert loader.resolve_engine(entry, "auto") == ("llama.cpp", "")
    monkeypatch.setenv("CQA_ENGINE", "transformers")
    assert loader.resolve_engine(entry, "auto") == ("transformers", "CQA_ENGINE=transformers")
    assert loader.resolve_engine(entry, "llama.cpp") == ("llama.cpp", "")
    monkeypatch.delenv("CQA_ENGINE")
    monkeypatch.setattr(gguf_files, "llama_cpp_problem", lambda: "llama_cpp failed to import: libfoo missing")
    assert loader.resolve_engine(entry, "auto") == ("transformers", "llama_cpp failed to import: libfoo missing")
    with pytest.raises(ModelError, match="libfoo missing"):
        loader.resolve_engine(entry, "llama.cpp")
    with pytest.raises(ModelError, match="Unknown engine"):
        loader.resolve_engine(entry, "vllm")


def test_a_model_llama_cpp_cannot_load_falls_back_with_the_reason(tiny_models, monkeypatch, cpu_without_fast_bf16):
    def broken(ref, progress=print):
        raise gguf_files.GgufError("the converter does not know this tokenizer")

    monkeypatch.setattr(gguf_files, "base_gguf", broken)
    monkeypatch.setattr(loader, "_llama_failures", {})
    monkeypatch.delenv("CQA_ENGINE", raising=False)
    loaded = loader.load_model(f"folder:{tiny_models['llama']}", "float32")
    assert loaded.engine == "transformers" and "does not know this tokenizer" in loaded.engine_note
    with pytest.raises(ModelError, match="does not know this tokenizer"):
        loader.load_model(f"folder:{tiny_models['llama']}", "float32", engine="llama.cpp")


def test_an_adapter_that_cannot_be_merged_is_applied_at_run_time(fast, tiny_models, tiny_gguf, tmp_path,
                                                                 monkeypatch):
    config = json.loads((tiny_models["llama"] / "config.json").read_text())
    lora = write_tiny_lora(tmp_path / "lora.gguf", config)
    adapter = tmp_path / "run" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / catalogue.ADAPTER_CONFIG).write_text(json.dumps(
        {"base_model_name_or_path": f"folder:{tiny_models['llama']}", "peft_type": "LORA", "r": 4}))
    monkeypatch.setattr(gguf_files, "adapter_gguf", lambda folder, progress=print: lora)

    def cannot_merge(*args, **kwargs):
        raise gguf_files.GgufError("the converter does not know this tokenizer")

    monkeypatch.setattr(llama_files, "merged_gguf", cannot_merge)
    tuned = loader.load_model(f"adapter:{adapter.parent}", engine="llama.cpp")
    assert tuned.adapter == lora and tuned.gguf == tiny_gguf
    assert tuned.lora.startswith("applied at run time") and "does not know this tokenizer" in tuned.lora
    ids = ReplyStream(fast, prompts.render_prompt(fast, [{"role": "user", "content": "Hi"}], ""), GREEDY).prompt_ids
    _read_prompt(fast.model, ids)
    _read_prompt(tuned.model, ids)
    assert not np.allclose(_logits(fast.model), _logits(tuned.model), atol=1e-3)


def test_answer_log_likelihood_matches_the_transformers_loss(fast, tiny_models):
    slow = loader.load_model(f"folder:{tiny_models['llama']}", "float32", engine="transformers")
    ids = fast.tokenizer("Question: the free look period? Answer: fifteen days").input_ids
    labels = [-100] * 6 + ids[6:]
    total, count = answer_log_likelihood(fast, ids, labels)
    with torch.inference_mode():
        loss = slow.model(torch.tensor([ids]), labels=torch.tensor([labels])).loss.item()
    assert count == len(ids) - 6 and total / count == pytest.approx(loss, abs=1e-3)


@pytest.mark.skipif(catalogue.describe(refs.DEFAULT_MODEL).available is False, reason="default model not installed")
def test_the_default_model_answers_through_llama_cpp():
    start = time.perf_counter()
    loaded = loader.load_model(refs.DEFAULT_MODEL, engine="llama.cpp")
    update = list(chat_turn(loaded, MemoryConfig("buffer"), MemoryState(), "What is the capital of France?",
                            GenerationSettings(max_new_tokens=24)))[-1]
    assert loaded.engine == "llama.cpp" and update.stats.engine == "llama.cpp"
    assert "paris" in update.reply.lower(), update.reply
    assert time.perf_counter() - start < 60


@pytest.mark.skipif(catalogue.describe(refs.DEFAULT_MODEL).available is False, reason="default model not installed")
def test_a_process_that_used_llama_cpp_exits_without_a_traceback():
    import subprocess
    import sys

    code = ("from studio.engines import loader\nfrom studio.models.refs import DEFAULT_MODEL\n"
            "print(loader.load_model(DEFAULT_MODEL, engine='llama.cpp', progress=lambda s: None).engine)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0 and done.stdout.strip() == "llama.cpp"
    assert "Traceback" not in done.stderr and "TypeError" not in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize("stop_after", [0, 1, 3])
def test_stop_event_is_checked_before_every_token(fast, stop_after):
    stop, got = threading.Event(), []

    def emit(token: int) -> None:
        got.append(token)
        if len(got) >= stop_after:
            stop.set()

    if stop_after == 0:
        stop.set()
    ids = ReplyStream(fast, "Hi", GREEDY).prompt_ids
    settings = dataclasses.replace(GREEDY, min_new_tokens=GREEDY.max_new_tokens)
    assert generate(fast, ids, settings, stop, emit) == stop_after == len(got)


@pytest.mark.parametrize("merge", [True, False])
def test_a_trained_adapter_answers_like_peft(gguf_cache, tiny_llama, tmp_path, monkeypatch, merge):
    """The whole path a fine-tuned run takes with the toolchain's real converters: merged into the base
    (convert_hf_to_gguf.py) or, when merging fails, a GGUF LoRA (convert_lora_to_gguf.py) applied at run time;
    either way llama.cpp's logits match PEFT's merged model."""
    from tests.tiny_gguf import save_random_lora

    if not merge:
        monkeypatch.setattr(llama_files, "merged_gguf", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    adapter = save_random_lora(tiny_llama, tmp_path / "run" / "adapter", f"folder:{tiny_llama}")
    fast = loader.load_model(f"adapter:{adapter.parent}", engine="llama.cpp")
    slow = loader.load_model(f"adapter:{adapter.parent}", "float32", engine="transformers")
    base = loader.load_model(f"folder:{tiny_llama}", engine="llama.cpp")
    if merge:
        assert fast.adapter is None and fast.lora.startswith("merged into") and fast.gguf != base.gguf
    else:
        assert fast.adapter is not None and fast.gguf == base.gguf and "disk full" in fast.lora
    ids = ReplyStream(fast, prompts.render_prompt(fast, [{"role": "user", "content": "Hello"}], ""), GREEDY).prompt_ids
    for loaded in (fast, base):
        _read_prompt(loaded.model, ids)
    with torch.inference_mode():
        expected = slow.model(torch.tensor([ids])).logits[0, -1].numpy()
    tuned = _logits(fast.model)
    np.testing.assert_allclose(tuned, expected, atol=0.05 * np.abs(expected).max())  # F16 base weights
    assert np.abs(tuned - _logits(base.model)).max() > 0.1 * np.abs(expected).max()


@pytest.mark.parametrize("problem, hardware, expected", [
    ("llama_cpp failed to import", None, "unavailable**: llama_cpp failed to import"),
    (None, "a GPU is present", "\"auto\" uses PyTorch on this machine: a GPU is present"),
    (None, None, "the models it runs are answered by llama.cpp"),
])
def test_the_models_tab_says_what_auto_does_here(monkeypatch, problem, hardware, expected):
    from studio.ui import models

    monkeypatch.setattr(gguf_files, "llama_cpp_problem", lambda: problem)
    monkeypatch.setattr(loader, "hardware_prefers_pytorch", lambda: hardware)
    assert expected in models.engine_line()

