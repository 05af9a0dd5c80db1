"""Decode speed of the app's chat path on each engine versus llama.cpp's own generation, in alternating rounds.

For each model, and each model with a LoRA adapter (`--adapter BASE=RUN_FOLDER`):
  ours                  a Chat-tab turn (chat_turn: memory, prompt rendering, streaming thread, stop checks) on the
                        llama.cpp engine with the app's settings (reply-only repetition penalty 1.05), N tokens
  ours, penalty 1.0     the same turn without the repetition penalty (what the penalty costs)
  llama.cpp             llama_cpp.Llama.generate on the same GGUF file, the same token ids and thread count,
                        greedy, N tokens: llama-cpp-python's own generation loop (create_completion's core)
  transformers          the same chat turn on the transformers engine (adapter merged)
Then time to first token for a ~1,000-token prompt (a conversation filling the memory), cold (nothing cached)
and as the next turn of the same chat, and peak RAM per engine (each measured in a fresh process). Last, the first
token of a grounded answer: the default model answers GROUNDED_QUESTIONS from a collection of the sample FAQ and
policy PDF as the Chat tab does (retrieval, the check, answer style auto), each question with passages of its own
(the fixed part of the prompt may come from the cache or a prompt state the engine kept, the passages never do); the
p50 over them is printed as `grounded_first_token_s:`, next to the p50 without kept states, in alternating passes.

    python bench/chat_speed.py                      # SmolLM2 and Qwen2.5-Coder-0.5B, 128 tokens, 3 rounds
    python bench/chat_speed.py --models bundled:smollm2-135m-instruct --adapter \
        bundled:smollm2-135m-instruct=runs/<run> --tokens 64 --rounds 5

Ends with `grounded_first_token_s: S` (goal <= 3.0) and `ratio: X` = the lowest (ours tok/s) / (llama.cpp tok/s)
over all models and adapters (goal X >= 1.0).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.chat import chat_turn
from studio.core import runtime
from studio.engines import llama_prefix, loader
from studio.engines.base import GenerationSettings, ReplyStream
from studio.engines.prompts import history_token_counter, render_prompt
from studio.knowledge import store
from studio.knowledge.grounding import KnowledgeConfig
from studio.memory import MemoryConfig, MemoryState, context
from studio.models import bundled, catalogue, gguf_files
from studio.models.refs import DEFAULT_MODEL

HISTORY = MemoryState(messages=[
    {"role": "user", "content": "My name is Priya and I bought the Gold Plus plan last month."},
    {"role": "assistant", "content": "Welcome, Priya. Gold Plus covers hospital stays, day-care treatment and more."},
    {"role": "user", "content": "Is there a waiting period before I can claim?"},
    {"role": "assistant", "content": "Yes. There is a 30-day initial waiting period except for accidents."},
])
GROUNDED_QUESTIONS = [  # written for this bench, none from a test set; each finds passages of its own
    "How does the policy wording define a hospital?", "Which treatments are excluded?",
    "What must I submit for a reimbursement claim?", "When can the company cancel the policy?",
    "How long is the grace period for renewal?", "What does Gold Plus pay for a road ambulance?",
    "Can I port my policy from another insurer?", "Is maternity covered under Silver?",
]
QUESTION = "Tell me a long story about a girl who learns to read the stars, with many details."
LONG_PROMPT_TOKENS = 1000


def chat_path(loaded, settings, history=HISTORY, question=QUESTION) -> tuple[float, int, float, MemoryState]:
    """(seconds, new tokens, seconds to the first reply text, memory after the turn) of one chat turn."""
    start = time.perf_counter()
    first = None
    for update in chat_turn(loaded, MemoryConfig("buffer"), history, question, settings):
        if first is None and update.reply:
            first = time.perf_counter() - start
    return time.perf_counter() - start, update.stats.new_tokens, first or 0.0, update.state


def prompt_ids(loaded, settings, history=HISTORY, question=QUESTION) -> list[int]:
    """The exact token ids the chat path feeds the model, so every row does the same work."""
    kept = context(MemoryConfig("buffer"), history, history_token_counter(loaded, settings.system_prompt))
    prompt = render_prompt(loaded, kept + [{"role": "user", "content": question}], settings.system_prompt)
    return ReplyStream(loaded, prompt, settings).prompt_ids


def raw_llama(llm, ids: list[int], tokens: int) -> tuple[float, int]:
    """llama-cpp-python's own generation loop (Llama.generate: its KV-cache reuse, llama.cpp's greedy sampler
    chain, one decode per token), each token detokenized as a completion does, exactly `tokens` tokens (an end
    token does not stop it, as min_new_tokens keeps ours going), timed from the caller on the model thread."""
    def run():
        text = b""
        for count, token in enumerate(llm.generate(ids, temp=0.0, repeat_penalty=1.0), 1):
            text += llm.detokenize([token])
            if count == tokens:
                return count

    start = time.perf_counter()
    count = runtime.on_model_thread(run)
    return time.perf_counter() - start, count


def raw_first_token(llm, ids: list[int]) -> float:
    def run():
        llm.reset()
        start = time.perf_counter()
        for _ in llm.create_completion(prompt=ids, max_tokens=8, temperature=0.0, repeat_penalty=1.0, stream=True):
            return time.perf_counter() - start

    return runtime.on_model_thread(run)


def long_history(loaded, settings) -> MemoryState:
    """Insurer FAQ exchanges until the earlier turns take about LONG_PROMPT_TOKENS tokens."""
    count = history_token_counter(loaded, settings.system_prompt)
    messages = []
    with (ROOT / "assets" / "insurer_faq.csv").open() as f:
        for row in csv.DictReader(f):
            messages += [{"role": "user", "content": row["question"]}, {"role": "assistant", "content": row["answer"]}]
            if count(messages) >= LONG_PROMPT_TOKENS:
                break
    return MemoryState(messages=messages)


def first_token_times(loaded, raw, settings) -> dict:
    """Seconds to the first reply text for a ~1,000-token prompt: cold and as the next turn of the same chat."""
    history, question = long_history(loaded, settings), "Summarise what we discussed."
    short = GenerationSettings(max_new_tokens=8, repetition_penalty=settings.repetition_penalty)
    if loaded.engine == "llama.cpp":
        loaded.model.reset()  # nothing cached: the whole prompt is read
    _, _, cold, after = chat_path(loaded, short, history, question)
    _, _, warm, _ = chat_path(loaded, short, after, "And the waiting periods?")
    ids = prompt_ids(loaded, short, history, question)
    result = {"prompt_tokens": len(ids), "cold_s": cold, "next_turn_s": warm}
    if raw is not None:
        result["llama_cpp_cold_s"] = raw_first_token(raw, ids)
    return result


def grounded_first_tokens(ref: str, rounds: int) -> dict[str, list[dict]]:
    """Seconds from sending each GROUNDED_QUESTIONS question to the first reply text, on a fresh chat each time,
    answered from a collection of the sample FAQ and policy PDF built in a temporary folder. On llama.cpp, in
    alternating passes with the engine's kept prompt states (the app's path) and without them; each pass starts from one
    untimed grounded turn and no kept state."""
    os.environ["CQA_KNOWLEDGE_DIR"] = tempfile.mkdtemp(prefix="chat-speed-")
    store.add_files("mixed", [ROOT / "assets" / "insurer_faq.csv", ROOT / "assets" / "policy_wording.pdf"])
    loaded = loader.load_model(ref, "auto", progress=lambda m: None)
    knowledge, short = KnowledgeConfig(collection="mixed"), GenerationSettings(max_new_tokens=8)
    arms = ["kept states", "no kept states"] if loaded.engine == "llama.cpp" else ["the app's path"]
    timings: dict[str, list[dict]] = {arm: [] for arm in arms}
    for _ in range(rounds):
        for arm in arms:
            if loaded.engine == "llama.cpp":
                loaded.model.reset()
                loaded.kept = llama_prefix.KeptPrefixes() if arm == "kept states" else None
            for _ in chat_turn(loaded, MemoryConfig("buffer"), MemoryState(), "Is there a co-payment?", short,
                               knowledge):
                pass  # warm-up: the embedding model, the engine's first call, a grounded prompt in the cache
            for question in GROUNDED_QUESTIONS:
                start, first, prompt = time.perf_counter(), None, ""
                for update in chat_turn(loaded, MemoryConfig("buffer"), MemoryState(), question, short, knowledge):
                    if first is None and update.reply:
                        first, prompt = time.perf_counter() - start, update.prompt
                tokens = len(loaded.tokenizer(prompt)["input_ids"])
                timings[arm].append({"question": question, "first_token_s": first, "prompt_tokens": tokens,
                                     "answer": update.reply})
                print(f"  grounded, {arm}: {first:.2f} s to the first token, prompt {tokens} tokens: {question}",
                      flush=True)
            if arm == "kept states":
                print(f"  a kept prompt state was restored for {loaded.kept.restores} prompts", flush=True)
    if loaded.engine == "llama.cpp":
        loaded.kept = llama_prefix.KeptPrefixes()
    return timings


def peak_ram(ref: str, engine: str, tokens: int) -> float:
    """Peak resident memory (GB) of a fresh process that loads `ref` on `engine` and answers one long-prompt turn."""
    out = subprocess.run([sys.executable, __file__, "--peak-ram-of", ref, engine, "--tokens", str(tokens)],
                         capture_output=True, text=True, check=True, env=os.environ)
    return float(out.stdout.strip().splitlines()[-1])


def measure_peak_ram(ref: str, engine: str, tokens: int) -> None:
    loaded = loader.load_model(ref, "auto", progress=lambda m: None, engine=engine)
    settings = GenerationSettings(max_new_tokens=tokens, min_new_tokens=tokens)
    chat_path(loaded, settings, long_history(loaded, settings), "Summarise what we discussed.")
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec
    peak_kb = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                   if line.startswith("VmHWM:"))
    print(peak_kb / 1e6)


def bench_model(ref: str, tokens: int, rounds: int, with_transformers: bool, first_token: bool = True) -> dict:
    import llama_cpp

    loaded = loader.load_model(ref, "auto", engine="llama.cpp")
    threads = runtime.pick_threads()
    raw = llama_cpp.Llama(model_path=str(loaded.gguf), lora_path=str(loaded.adapter) if loaded.adapter else None,
                          n_ctx=loaded.context, n_threads=threads, n_threads_batch=threads, verbose=False)
    settings = GenerationSettings(max_new_tokens=tokens, min_new_tokens=tokens)
    plain = GenerationSettings(max_new_tokens=tokens, min_new_tokens=tokens, repetition_penalty=1.0)
    ids = prompt_ids(loaded, settings)
    slow = loader.load_model(ref, "auto", engine="transformers") if with_transformers else None
    warm_up = GenerationSettings(max_new_tokens=8)
    chat_path(loaded, warm_up)
    raw_llama(raw, ids, 8)
    if slow:
        chat_path(slow, warm_up)
    speeds: dict[str, list[float]] = {"ours": [], "ours, penalty 1.0": [], "llama.cpp": [], "transformers": []}
    paths = [("ours", lambda: chat_path(loaded, settings)[:2]), ("llama.cpp", lambda: raw_llama(raw, ids, tokens)),
             ("ours, penalty 1.0", lambda: chat_path(loaded, plain)[:2])]
    paths += [("transformers", lambda: chat_path(slow, settings)[:2])] if slow else []
    for r in range(rounds):
        line = []
        for name, run in paths[r % len(paths):] + paths[: r % len(paths)]:  # each path takes each turn in order
            seconds, count = run()
            speeds[name].append(count / seconds)
            line.append(f"{name} {count} tok in {seconds:.2f} s = {speeds[name][-1]:.1f} tok/s")
        print(f"  round {r + 1}: " + " | ".join(line), flush=True)
    result = {"model": loaded.entry.name, "ref": ref, "gguf": loaded.gguf.name, "weights": loaded.precision,
              "adapter": loaded.lora or None, "threads": threads, "prompt_tokens": len(ids),
              "tok_s": {name: statistics.median(values) for name, values in speeds.items() if values},
              "transformers_precision": slow.precision if slow else None}
    result["ratio"] = result["tok_s"]["ours"] / result["tok_s"]["llama.cpp"]
    if first_token:
        result["first_token"] = first_token_times(loaded, raw, settings)
        if slow:
            result["first_token_transformers"] = first_token_times(slow, None, settings)
    raw.close()
    return result


def print_table(results: list[dict]) -> None:
    print("\n| model | adapter | ours tok/s | ours, penalty 1.0 | llama.cpp tok/s | ratio | transformers tok/s | "
          "TTFT ~1k prompt: ours cold / next turn / llama.cpp cold / transformers cold | peak RAM llama.cpp / "
          "transformers |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        s, f, t = r["tok_s"], r.get("first_token"), r.get("first_token_transformers") or {}
        trans = f"{s['transformers']:.1f}" if "transformers" in s else "-"
        ttft = (f"{f['prompt_tokens']} tok: {f['cold_s']:.2f} / {f['next_turn_s']:.2f} / {f['llama_cpp_cold_s']:.2f} / "
                + (f"{t['cold_s']:.2f} s" if t else "- s")) if f else "-"
        ram = " / ".join(f"{gb:.2f}" for gb in r.get("peak_ram_gb", {}).values()) or "-"
        adapter = (r["adapter"] or "-").split(" (")[0]
        print(f"| {r['model']} ({r['weights']}) | {adapter} | {s['ours']:.1f} | {s['ours, penalty 1.0']:.1f} "
              f"| {s['llama.cpp']:.1f} | {r['ratio']:.3f} | {trans} | {ttft} | {ram} GB |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+",
                        default=["bundled:smollm2-135m-instruct", "bundled:qwen2.5-coder-0.5b-instruct"])
    parser.add_argument("--adapter", action="append", default=[],
                        help="BASE=ADAPTER_FOLDER: also measure this fine-tuned adapter (repeatable)")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for every engine (default: idle cores)")
    parser.add_argument("--no-transformers", action="store_true", help="skip the transformers engine rows")
    parser.add_argument("--no-ram", action="store_true", help="skip the peak RAM processes")
    parser.add_argument("--no-first-token", action="store_true", help="skip the ~1,000-token first-token timings")
    parser.add_argument("--grounded-model", default=str(DEFAULT_MODEL),
                        help="the model of the grounded first-token timing (default: the app's default model)")
    parser.add_argument("--only-grounded", action="store_true", help="only the grounded first-token timing")
    parser.add_argument("--grounded-rounds", type=int, default=2,
                        help="passes over the grounded questions with and without kept prompt states, alternating")
    parser.add_argument("--shipped-weights", action="store_true",
                        help="llama.cpp reads the bundled models' shipped files, not their llama_weights copies")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--peak-ram-of", nargs=2, metavar=("REF", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_ram_of:
        measure_peak_ram(*args.peak_ram_of, args.tokens)
        return
    if problem := gguf_files.llama_cpp_problem():
        sys.exit(f"llama.cpp is not available: {problem}")
    if args.shipped_weights:
        for key, model in bundled.BUNDLED.items():
            bundled.BUNDLED[key] = dataclasses.replace(model, llama_weights="")
    os.environ["OMP_NUM_THREADS"] = str(args.threads or runtime.pick_threads())  # the same count for every engine
    refs = [] if args.only_grounded else list(args.models) + [f"adapter:{a.split('=', 1)[1]}" for a in args.adapter]
    results = []
    for ref in refs:
        print(f"{ref}: {args.tokens} new tokens, {args.rounds} alternating rounds, "
              f"{os.environ['OMP_NUM_THREADS']} threads", flush=True)
        result = bench_model(ref, args.tokens, args.rounds, not args.no_transformers, not args.no_first_token)
        if not args.no_ram:
            engines = ["llama.cpp"] + ([] if args.no_transformers else ["transformers"])
            result["peak_ram_gb"] = {engine: peak_ram(ref, engine, args.tokens) for engine in engines}
        print(json.dumps(result), flush=True)
        results.append(result)
        loader._cache.clear()
    if results:
        print_table(results)
    by_ref = {r["ref"]: r for r in results}
    for r in results:  # the second goal: a fine-tuned adapter decodes within 10% of its base
        kind, _, path = r["ref"].partition(":")
        if kind == "adapter" and (base := by_ref.get(str(catalogue.adapter_base(path)))):
            print(f"adapter/base: {r['model']} {r['tok_s']['ours']:.1f} / {base['tok_s']['ours']:.1f} tok/s = "
                  f"{r['tok_s']['ours'] / base['tok_s']['ours']:.3f} ({r['weights']} vs {base['weights']})")
    grounded = grounded_first_tokens(args.grounded_model, args.grounded_rounds)
    if args.json:
        Path(args.json).write_text(json.dumps({"decode": results, "grounded": grounded}, indent=2))
    app_path, *other = grounded.values()
    p50 = statistics.median(g["first_token_s"] for g in app_path)
    if other:
        without = statistics.median(g["first_token_s"] for g in other[0])
        same = sum(a["answer"] == b["answer"] for a, b in zip(app_path, other[0]))
        print(f"grounded first token without kept prompt states: {without:.2f} s p50 ({without / p50:.2f}x the app's); "
              f"the same answer with and without it: {same} of {len(app_path)}")
    print(f"grounded_first_token_s: {p50:.2f} (p50 of {len(app_path)} answers to {len(GROUNDED_QUESTIONS)} "
          f"questions, {args.grounded_model}, prompts {statistics.median(g['prompt_tokens'] for g in app_path):.0f} "
          "tokens p50)")
    if results:
        print(f"ratio: {min(r['ratio'] for r in results):.3f}")


if __name__ == "__main__":
    main()
