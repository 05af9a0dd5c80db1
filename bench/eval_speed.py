"""Evaluation speed. First, batched versus one-by-one answer generation, the path studio.evaluation.evaluate
uses, on the same questions and model: both take turns round by round in one run; the greedy answers of both are
compared word for word. Then the grounded evaluation a user starts with one click ("Evaluate this collection"):
`python -m studio evaluate --knowledge mixed --holdout 20` with the app's default model on a collection of the
sample FAQ and policy PDF (built beforehand, as the user's collection is), timed from the command to its printed
scores: loading, the copy of the collection without the held-out pairs, answering with the check, the perplexity.

    python bench/eval_speed.py                                   # SmolLM2, the brief test set, evaluation defaults
    python bench/eval_speed.py --model bundled:gemma-3-270m --test assets/test_detailed.csv --batch-size 16
    python bench/eval_speed.py --only-grounded --holdout 20

Ends with `grounded_eval_s: S` (goal <= 300 for 20 questions) and `ratio: X` = one-by-one seconds / batched
seconds (median over rounds).
"""

from __future__ import annotations

import argparse
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

from studio.data import qa
from studio.engines import loader
from studio.engines.base import GenerationSettings
from studio.evaluation.evaluate import EVAL, generate_answers
from studio.models.refs import DEFAULT_MODEL


def grounded_evaluation(model: str, holdout: int) -> float:
    """Seconds the one-click grounded evaluation of `holdout` held-out pairs takes, printing what it printed."""
    env = dict(os.environ, CQA_KNOWLEDGE_DIR=tempfile.mkdtemp(prefix="eval-speed-"),
               CQA_RUNS_DIR=tempfile.mkdtemp(prefix="eval-speed-runs-"))
    subprocess.run([sys.executable, "-m", "studio", "knowledge", "add", "mixed", "assets/insurer_faq.csv",
                    "assets/policy_wording.pdf"], cwd=ROOT, env=env, check=True, capture_output=True)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "studio", "evaluate", "--model", model, "--knowledge", "mixed",
                           "--holdout", str(holdout)], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    print("\n".join(line for line in done.stdout.splitlines() if line.strip()))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled:smollm2-135m-instruct")
    parser.add_argument("--test", default="assets/test_brief.csv")
    parser.add_argument("--batch-size", type=int, default=EVAL.batch_size)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--precision", default=EVAL.precision)
    parser.add_argument("--grounded-model", default=str(DEFAULT_MODEL))
    parser.add_argument("--holdout", type=int, default=20, help="held-out pairs of the grounded evaluation")
    parser.add_argument("--only-grounded", action="store_true", help="only the grounded evaluation's time")
    args = parser.parse_args()
    grounded_s = grounded_evaluation(args.grounded_model, args.holdout)
    print(f"grounded_eval_s: {grounded_s:.0f} ({args.holdout} held-out questions, {args.grounded_model}, "
          "from the command to its scores)", flush=True)
    if args.only_grounded:
        return
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
