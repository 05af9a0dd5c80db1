"""Batched versus one-by-one answer generation, the path studio.evaluation.evaluate uses, on the same questions and model.

Both take turns round by round in one run; the greedy answers of both are compared word for word.

    python bench/eval_speed.py                                   # SmolLM2, the brief test set, evaluation defaults
    python bench/eval_speed.py --model bundled:gemma-3-270m --test assets/test_detailed.csv --batch-size 16

Ends with `ratio: X` = one-by-one seconds / batched seconds (median over rounds).
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

from studio.data import qa
from studio.engines import loader
from studio.engines.base import GenerationSettings
from studio.evaluation.evaluate import EVAL, generate_answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled:smollm2-135m-instruct")
    parser.add_argument("--test", default="assets/test_brief.csv")
    parser.add_argument("--batch-size", type=int, default=EVAL.batch_size)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--precision", default=EVAL.precision)
    args = parser.parse_args()
    loaded = loader.load_model(args.model, args.precision)
    questions = [r["question"] for r in qa.load_file(args.test).records]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=0.0)
    print(f"{loaded.entry.name} on {loaded.device} ({loaded.precision}): {len(questions)} questions from {args.test}, "
          f"up to {args.max_new_tokens} new tokens, greedy", flush=True)
    generate_answers(loaded, questions[:2], settings, 2)  # warm-up
    timings = {"one by one": [], "batched": []}
    answers = {}
    for r in range(args.rounds):
        for name, size in [("one by one", 1), ("batched", args.batch_size)]:
            start = time.perf_counter()
            answers[name], stats = generate_answers(loaded, questions, settings, size)
            timings[name].append(time.perf_counter() - start)
            print(f"  round {r + 1}: {name:10s} {timings[name][-1]:6.1f} s  {stats['generated_tokens']} tokens  "
                  f"{stats['tokens_per_s']} tokens/s", flush=True)
    same = sum(a == b for a, b in zip(answers["one by one"], answers["batched"]))
    print(f"identical greedy answers: {same}/{len(questions)}")
    for a, b, q in zip(answers["one by one"], answers["batched"], questions):
        if a != b:
            print(f"  differs on {q!r}:\n    one by one: {a[:120]!r}\n    batched:    {b[:120]!r}")
    one, batched = statistics.median(timings["one by one"]), statistics.median(timings["batched"])
    print(f"one by one {one:.1f} s, batched (batch {args.batch_size}) {batched:.1f} s")
    print(f"ratio: {one / batched:.2f}")


if __name__ == "__main__":
    main()
