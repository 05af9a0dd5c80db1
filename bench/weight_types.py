"""Weight types for the llama.cpp engine, side by side in one run: the shipped GGUF against copies of it
requantized to types that have fast batched kernels on x86 CPUs (llama.cpp repacks Q4_0 at load time for AVX2;
Q8_0 goes through its llamafile matrix multiply).

For each type, in alternating rounds: prompt reading (tokens/s over a 1,000-token grounded prompt, nothing cached)
and decode tokens/s (64 tokens). Then the grounded answers to the first questions of the sample brief and policy
test sets, each answered from a collection of the sample FAQ and policy PDF as the evaluation answers them (answer
style "generate": the model's own first answers, before any retry or quote), compared word for word with the
shipped file's, with ROUGE-L and key facts and their 95% intervals. Requantizing starts from the shipped 4-5 bit
weights, so a type can lose what the shipped file kept: the answers say whether it did.

    python bench/weight_types.py                                    # Qwen2.5-Coder-0.5B: shipped, Q8_0, Q4_0
    python bench/weight_types.py --model smollm2-135m-instruct --types Q4_0 --questions 10

Ends with one `<type>: prompt X tok/s (Y x shipped), decode ..., identical answers a/b` line per type.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.data import qa
from studio.engines import llama_cpp
from studio.engines.base import GenerationSettings
from studio.engines.prompts import DEFAULT_SYSTEM_PROMPT
from studio.evaluation import grounded
from studio.evaluation.evaluate import EVAL, ground_questions
from studio.metrics import facts, rouge
from studio.models import bundled
from studio.models.refs import ModelRef

SHIPPED = "shipped"
TESTS = (ROOT / "assets" / "test_brief.csv", ROOT / "assets" / "test_policy.csv")


def load_as(key: str, kind: str):
    """The bundled model in llama.cpp, read in `kind` ("" the shipped file)."""
    bundled.BUNDLED[key] = dataclasses.replace(bundled.BUNDLED[key], llama_weights=kind)
    return llama_cpp.load(ModelRef("bundled", key), progress=lambda message: None)


def emptied(loaded):
    """The model's llama.cpp object with nothing in its KV cache."""
    llm = loaded.model
    llm.reset()
    llm._ctx.kv_cache_seq_rm(-1, 0, -1)
    return llm


def prompt_seconds(loaded, ids: list[int]) -> float:
    llm = emptied(loaded)
    start = time.perf_counter()
    llm.eval(ids)
    return time.perf_counter() - start


def decode_rate(loaded, ids: list[int], tokens: int = 64) -> float:
    llm = emptied(loaded)
    llm.eval(ids[:32])
    start = time.perf_counter()
    for token in ids[32:32 + tokens]:
        llm.eval([token])
    return tokens / (time.perf_counter() - start)


def interval(aggregated: dict) -> str:
    return f"{100 * aggregated['mean']:.1f} [{100 * aggregated['low']:.1f}-{100 * aggregated['high']:.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct", help="a bundled model's key")
    parser.add_argument("--types", default="Q8_0,Q4_0", help="requantized types to compare with the shipped file")
    parser.add_argument("--questions", type=int, default=10, help="from each of the brief and policy test sets")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prompt-tokens", type=int, default=1000)
    args = parser.parse_args()
    kinds = [SHIPPED] + [k.strip() for k in args.types.split(",") if k.strip()]
    os.environ["CQA_KNOWLEDGE_DIR"] = tempfile.mkdtemp(prefix="weight-types-")
    from studio.knowledge import store

    store.add_files("mixed", [ROOT / "assets" / "insurer_faq.csv", ROOT / "assets" / "policy_wording.pdf"])
    records = [r for test in TESTS for r in qa.load_file(test).records[: args.questions]]
    questions, references = [r["question"] for r in records], [r["answer"] for r in records]
    prompts, chosen, _ = ground_questions(questions, DEFAULT_SYSTEM_PROMPT, "mixed", 3, "hybrid")
    passages = [found if store.has_support(found) else [] for found in chosen]

    models = {kind: load_as(args.model, "" if kind == SHIPPED else kind) for kind in kinds}
    shipped = models[SHIPPED]
    print(f"{shipped.entry.name}: {', '.join(f'{k} {m.gguf.name}' for k, m in models.items())}; "
          f"threads {shipped.threads}", flush=True)
    long_ids = shipped.tokenizer("\n\n".join(prompts))["input_ids"][: args.prompt_tokens]
    reading, decoding = {k: [] for k in kinds}, {k: [] for k in kinds}
    for r in range(args.rounds):
        for kind, loaded in models.items():
            reading[kind].append(prompt_seconds(loaded, long_ids))
            decoding[kind].append(decode_rate(loaded, long_ids))
            print(f"  round {r + 1} {kind:8s} prompt {len(long_ids)} tokens {reading[kind][-1]:.2f} s, "
                  f"decode {decoding[kind][-1]:.1f} tok/s", flush=True)

    settings = GenerationSettings(max_new_tokens=EVAL.max_new_tokens, temperature=0.0)
    answers, lines = {}, []
    for kind, loaded in models.items():
        def generate(asked: list[str], systems: list[str], loaded=loaded):
            return loaded.answer_batch(asked, settings, 1, systems)

        answers[kind], checked, timing = grounded.grounded_answers(
            loaded, questions, passages, "mixed", DEFAULT_SYSTEM_PROMPT, "generate", generate)
        rouge_l = rouge.aggregate(rouge.score(references, answers[kind]), seed=0)["rougeL"]
        key_facts = facts.aggregate(facts.score_all(references, answers[kind]), seed=0)
        unsupported = sum(1 for c in checked if c is not None and not c.check.supported)
        same = sum(a == b for a, b in zip(answers[kind], answers[SHIPPED]))
        speed_up = statistics.median(reading[SHIPPED]) / statistics.median(reading[kind])
        lines.append(f"{kind}: prompt {len(long_ids) / statistics.median(reading[kind]):.0f} tok/s ({speed_up:.2f}x "
                     f"shipped), decode {statistics.median(decoding[kind]):.1f} tok/s, identical answers "
                     f"{same}/{len(questions)}, ROUGE-L {interval(rouge_l)}, key facts {interval(key_facts)}, "
                     f"answers the check rejects {unsupported}, answering {timing['seconds']:.0f} s")
        print(lines[-1], flush=True)
    for kind in kinds[1:]:
        shown = 0
        for question, a, b in zip(questions, answers[SHIPPED], answers[kind]):
            if a != b and shown < 4:
                shown += 1
                print(f"\nQ: {question}\n  shipped: {a}\n  {kind}: {b}")
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
