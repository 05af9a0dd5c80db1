"""Greedy answers of the llama.cpp and transformers engines on the same questions: how many are identical, and
the ROUGE-L of each against the reference answers.

Both engines answer through studio.evaluation.evaluate.generate_answers (the evaluation path: the chat's prompt and settings,
greedy, no earlier turns); llama.cpp reads the model's GGUF file, transformers its converted folder.

    python bench/engine_agreement.py                               # Qwen2.5-Coder-0.5B, first 20 brief questions
    python bench/engine_agreement.py --model bundled:smollm2-135m-instruct --limit 36
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studio.data import qa
from studio.engines import loader
from studio.engines.base import GenerationSettings
from studio.evaluation.evaluate import EVAL, generate_answers
from studio.metrics import rouge


def first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled:qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--test", default="assets/test_brief.csv")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--max-new-tokens", type=int, default=EVAL.max_new_tokens)
    parser.add_argument("--precision", default=EVAL.precision, help="the transformers engine's (evaluation default)")
    parser.add_argument("--show", type=int, default=3, help="print this many differing answer pairs")
    args = parser.parse_args()
    records = qa.load_file(args.test).records[: args.limit]
    questions, references = [r["question"] for r in records], [r["answer"] for r in records]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=0.0)
    answers, scores = {}, {}
    for engine in ("llama.cpp", "transformers"):
        loaded = loader.load_model(args.model, args.precision, engine=engine)
        answers[engine], timing = generate_answers(loaded, questions, settings)
        aggregated = rouge.aggregate(rouge.score(references, answers[engine]), seed=0)
        scores[engine] = rouge.headline(aggregated)
        print(f"{engine} ({loaded.precision}): ROUGE-L x100 {scores[engine]:.2f} "
              f"(95% CI {100 * aggregated['rougeL']['low']:.2f}-{100 * aggregated['rougeL']['high']:.2f}), "
              f"{timing['generated_tokens']} tokens in {timing['seconds']} s ({timing['tokens_per_s']} tok/s)",
              flush=True)
        loader._cache.clear()
    pairs = list(zip(questions, answers["llama.cpp"], answers["transformers"]))
    same = sum(a == b for _, a, b in pairs)
    shown = 0
    for question, a, b in pairs:
        if a != b and shown < args.show:
            shown += 1
            cut = first_difference(a, b)
            print(f"\nQ: {question}\n  llama.cpp:    {a}\n  transformers: {b}\n  (same for the first {cut} characters)")
    print(f"\n{args.model} on {args.test} (first {len(pairs)} questions): identical answers {same}/{len(pairs)}; "
          f"ROUGE-L x100 llama.cpp {scores['llama.cpp']:.2f} vs transformers {scores['transformers']:.2f} "
          f"(difference {scores['llama.cpp'] - scores['transformers']:+.2f})")


if __name__ == "__main__":
    main()
