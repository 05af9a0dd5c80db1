"""How long a user waits for a grounded answer with each reader model, side by side in one run: the chat's own
grounded turn (studio/chat.py: retrieval, the model's stream, the support check, a second try or a quote), timed to
the first text shown and to the final, checked reply. Each model reads the same passages.

Questions: the first --questions of each dev set (bench/data/faq_dev.csv, tests/data/knowledge/policy_questions.csv;
not test sets), asked of a collection of the sample FAQ and policy PDF (built in a temporary knowledge folder).
The quality of each reader is measured by the eval CLI on the test sets (docs/grounding.md, "Right or silent").

    python bench/reader_choice.py [--models bundled:qwen2.5-coder-0.5b-instruct,bundled:qwen2.5-coder-1.5b-instruct]
                                  [--questions 6] [--engine llama.cpp]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEV_SETS = (ROOT / "bench/data/faq_dev.csv", ROOT / "tests/data/knowledge/policy_questions.csv")
MODELS = "bundled:qwen2.5-coder-0.5b-instruct,bundled:qwen2.5-coder-1.5b-instruct"


def ask(loaded, question: str, knowledge) -> dict:
    from studio.chat import chat_turn
    from studio.engines.base import GenerationSettings
    from studio.memory import MemoryConfig, MemoryState

    start, first, last = time.perf_counter(), None, None
    for update in chat_turn(loaded, MemoryConfig("none"), MemoryState(), question, GenerationSettings(), knowledge):
        if first is None and update.reply:
            first = time.perf_counter() - start
        last = update
    total = time.perf_counter() - start
    return {"first_s": first or total, "total_s": total, "how": last.answer.how if last.answer else "no source",
            "prompt_tokens": last.stats.prompt_tokens if last.stats else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--questions", type=int, default=6, help="from each dev set")
    parser.add_argument("--engine", default="llama.cpp")
    args = parser.parse_args()
    questions = [row["question"] for path in DEV_SETS
                 for row in list(csv.DictReader(path.open(encoding="utf-8")))[:args.questions]]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CQA_KNOWLEDGE_DIR"] = str(Path(tmp) / "knowledge")
        from studio.engines import loader
        from studio.knowledge import store
        from studio.knowledge.grounding import KnowledgeConfig

        store.add_files("mixed", [ROOT / "assets/insurer_faq.csv", ROOT / "assets/policy_wording.pdf"])
        knowledge = KnowledgeConfig("mixed")
        results = {}
        for ref in args.models.split(","):
            loaded = loader.load_model(ref, "auto", progress=lambda m: None, engine=args.engine)
            ask(loaded, questions[0], knowledge)  # warm-up: embeddings and the model's first call
            results[ref] = [ask(loaded, q, knowledge) for q in questions]
            loader._cache.clear()
        print(f"{len(questions)} grounded questions, collection of FAQ + policy PDF, engine {args.engine}; "
              "median [max] seconds")
        for ref, rows in results.items():
            hows = {h: sum(r["how"] == h for r in rows) for h in sorted({r["how"] for r in rows})}
            print(f"{ref:42s} first text {statistics.median(r['first_s'] for r in rows):5.2f} "
                  f"[{max(r['first_s'] for r in rows):5.2f}]  checked reply "
                  f"{statistics.median(r['total_s'] for r in rows):5.2f} [{max(r['total_s'] for r in rows):5.2f}]"
                  f"  prompt {statistics.median(r['prompt_tokens'] for r in rows):.0f} tokens  answered by {hows}")
        if len(results) == 2:
            (_, a), (_, b) = results.items()
            ratio = statistics.median(r["first_s"] for r in b) / statistics.median(r["first_s"] for r in a)
            print(f"first-text ratio (second / first model): {ratio:.2f}")


if __name__ == "__main__":
    main()
