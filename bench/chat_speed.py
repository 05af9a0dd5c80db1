"""Decode speed of the app's chat path versus raw `model.generate`, measured alternately in one run.

The chat path is everything a Chat-tab turn does: memory picks the context, the prompt is rendered and
tokenised, the reply streams token by token through a thread with stop checks. The raw path is one
`model.generate` call on the very token ids the chat path produced, with the same settings and token count.

    python bench/chat_speed.py                      # SmolLM2 and Qwen2.5-Coder-0.5B, 128 tokens, 3 rounds
    python bench/chat_speed.py --models bundled:smollm2-135m-instruct --tokens 64 --rounds 5

Ends with `ratio: X` = the lowest (chat path tok/s) / (raw generate tok/s) over the models; goal X >= 0.9.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from chat import models, runtime  # noqa: E402
from chat.engine import GenerationSettings, chat_turn  # noqa: E402
from chat.memory import MemoryConfig, MemoryState  # noqa: E402

HISTORY = MemoryState(messages=[
    {"role": "user", "content": "My name is Priya and I bought the Gold Plus plan last month."},
    {"role": "assistant", "content": "Welcome, Priya. Gold Plus covers hospital stays, day-care treatment and more."},
    {"role": "user", "content": "Is there a waiting period before I can claim?"},
    {"role": "assistant", "content": "Yes. There is a 30-day initial waiting period except for accidents."},
])
QUESTION = "Tell me a long story about a girl who learns to read the stars, with many details."


def chat_path(loaded, settings) -> tuple[float, int, list[int]]:
    start = time.perf_counter()
    for update in chat_turn(loaded, MemoryConfig("buffer"), HISTORY, QUESTION, settings):
        pass
    return time.perf_counter() - start, update.stats.new_tokens, update.stats.prompt_tokens


def raw_generate(loaded, input_ids, settings) -> tuple[float, int]:
    """model.generate on the same compute thread the chat path uses, timed from the caller as the chat path is."""
    threads = runtime.pick_threads() if loaded.device == "cpu" else torch.get_num_threads()
    start = time.perf_counter()
    out = runtime.on_model_thread(generate, loaded, input_ids, settings, threads)
    return time.perf_counter() - start, out.shape[1] - input_ids.shape[1]


def generate(loaded, input_ids, settings, threads):
    runtime.use_threads(threads)
    with torch.inference_mode():
        return loaded.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                    max_new_tokens=settings.max_new_tokens, min_new_tokens=settings.min_new_tokens,
                                    do_sample=False, repetition_penalty=settings.repetition_penalty,
                                    pad_token_id=loaded.tokenizer.pad_token_id)


def bench_model(ref: str, tokens: int, rounds: int, precision: str) -> float:
    loaded = models.load_model(ref, precision)
    settings = GenerationSettings(max_new_tokens=tokens, min_new_tokens=tokens)
    # The exact ids the chat path feeds the model, so both paths do the same work.
    from chat.engine import ReplyStream, history_token_counter, render_prompt
    from chat.memory import context

    history = context(MemoryConfig("buffer"), HISTORY, history_token_counter(loaded, settings.system_prompt))
    prompt = render_prompt(loaded, history + [{"role": "user", "content": QUESTION}], settings.system_prompt)
    input_ids = ReplyStream(loaded, prompt, settings).input_ids
    chat_path(loaded, GenerationSettings(max_new_tokens=8))  # warm-up both paths
    raw_generate(loaded, input_ids, GenerationSettings(max_new_tokens=8))
    chat_speeds, raw_speeds = [], []
    for r in range(rounds):
        seconds, new_tokens, prompt_tokens = chat_path(loaded, settings)
        chat_speeds.append(new_tokens / seconds)
        raw_seconds, raw_tokens = raw_generate(loaded, input_ids, settings)
        raw_speeds.append(raw_tokens / raw_seconds)
        print(f"  round {r + 1}: chat path {new_tokens} tokens in {seconds:.2f} s = {chat_speeds[-1]:.1f} tok/s | "
              f"raw generate {raw_tokens} tokens in {raw_seconds:.2f} s = {raw_speeds[-1]:.1f} tok/s "
              f"(prompt {prompt_tokens} tokens)", flush=True)
    chat_median, raw_median = statistics.median(chat_speeds), statistics.median(raw_speeds)
    threads = f", {torch.get_num_threads()} threads" if loaded.device == "cpu" else ""
    print(f"{loaded.entry.name} on {loaded.device} ({loaded.precision}{threads}): chat path {chat_median:.1f} tok/s, "
          f"raw generate {raw_median:.1f} tok/s, ratio {chat_median / raw_median:.3f}", flush=True)
    return chat_median / raw_median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+",
                        default=["bundled:smollm2-135m-instruct", "bundled:qwen2.5-coder-0.5b-instruct"])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precision", default="auto", choices=runtime.PRECISIONS)
    args = parser.parse_args()
    ratios = []
    for ref in args.models:
        print(f"{ref}: {args.tokens} new tokens, {args.rounds} alternating rounds", flush=True)
        ratios.append(bench_model(ref, args.tokens, args.rounds, args.precision))
    print(f"ratio: {min(ratios):.3f}")


if __name__ == "__main__":
    main()
