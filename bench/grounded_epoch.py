"""A retrieval-augmented training epoch against a plain one: seconds per training example of our SFT job with and
without --knowledge (each example's retrieved passages in its system prompt), same model, data, batch size and
steps, taking turns round by round; and each again with every row run whole (no shared prefix), to show what
running the shared prefix once saves (studio/engines/answer_logits.py).

The collection is built from the sample FAQ and policy PDF in a temporary knowledge folder, as a user's "mixed"
collection is. Time is the training loop's (optimizer steps), read from the run's metrics; loading, retrieval and the
closing validation are printed apart.

    python bench/grounded_epoch.py                     # SmolLM2, 8 steps of 8 examples, 2 rounds
    python bench/grounded_epoch.py --model bundled:qwen2.5-coder-0.5b-instruct --steps 4 --rounds 1

Ends with `grounded_epoch_ratio: X` = median seconds per example, retrieval-augmented / plain (goal <= 2).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

from studio.engines import answer_logits  # noqa: E402
from studio.jobs import runs  # noqa: E402
from studio.jobs.kinds import SFTJob  # noqa: E402
from studio.knowledge import store  # noqa: E402
from studio.training import sft  # noqa: E402

COLLECTION_FILES = ["assets/insurer_faq.csv", "assets/policy_wording.pdf"]


@contextmanager
def rows_run_whole(whole: bool):
    """Every row run whole (the loss as before the shared prefix), for the side-by-side numbers."""
    real = answer_logits.shared_prefix_length
    if whole:
        answer_logits.shared_prefix_length = lambda *args: 0
    try:
        yield
    finally:
        answer_logits.shared_prefix_length = real


def train(cfg: SFTJob, run_dir: Path, whole: bool) -> dict:
    started = time.perf_counter()
    with rows_run_whole(whole):
        summary = sft.run(cfg, run_dir)
    steps = [m for m in runs.read_metrics(run_dir) if "loss" in m]
    seconds = steps[-1]["elapsed_s"]
    examples = len(steps) * cfg.batch_size
    return {"per_example_s": seconds / examples, "tokens_per_s": steps[-1]["tokens_per_s"],
            "tokens_per_example": summary["tokens"] / examples,
            "other_s": time.perf_counter() - started - summary["train_seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled:smollm2-135m-instruct")
    parser.add_argument("--data", default="assets/insurer_faq.csv")
    parser.add_argument("--steps", type=int, default=8, help="optimizer steps per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: every core)")
    args = parser.parse_args()
    threads = args.threads or len(os.sched_getaffinity(0))

    with tempfile.TemporaryDirectory(prefix="grounded-epoch-") as tmp:
        os.environ["CQA_KNOWLEDGE_DIR"] = str(Path(tmp) / "knowledge")
        started = time.perf_counter()
        counts = store.create("mixed", [ROOT / f for f in COLLECTION_FILES])
        print(f"collection 'mixed' of {', '.join(COLLECTION_FILES)}: {counts} in {time.perf_counter() - started:.0f} s",
              flush=True)
        variants = {f"{kind}, {rows}": (knowledge, rows == "rows whole")
                    for kind, knowledge in (("plain", None), ("retrieval-augmented", "mixed"))
                    for rows in ("shared prefix once", "rows whole")}
        results: dict[str, list[dict]] = {name: [] for name in variants}
        for r in range(args.rounds):
            for name, (knowledge, whole) in variants.items():
                cfg = SFTJob(model=args.model, data=str(ROOT / args.data), knowledge=knowledge,
                             max_steps=args.steps, batch_size=args.batch_size, early_stopping_patience=0,
                             threads=threads).validate()
                result = train(cfg, Path(tmp) / f"{r}-{len(results[name])}-{name.split(',')[0]}-{whole}", whole)
                results[name].append(result)
                print(f"round {r + 1}  {name:42s} {result['per_example_s']:6.3f} s/example  "
                      f"{result['tokens_per_s']:7.1f} tokens/s  {result['tokens_per_example']:5.0f} tokens/example  "
                      f"(loading, retrieval, validation {result['other_s']:.0f} s)", flush=True)
    per_example = {name: statistics.median(r["per_example_s"] for r in rounds) for name, rounds in results.items()}
    for name, seconds in per_example.items():
        print(f"{name:42s} median {seconds:6.3f} s/example")
    for rows in ("shared prefix once", "rows whole"):
        ratio = per_example[f"retrieval-augmented, {rows}"] / per_example[f"plain, {rows}"]
        print(f"retrieval-augmented / plain, {rows}: {ratio:.2f}")
    for kind in ("plain", "retrieval-augmented"):
        saved = per_example[f"{kind}, rows whole"] / per_example[f"{kind}, shared prefix once"]
        print(f"{kind}: rows whole / shared prefix once: {saved:.2f}x")
    ratio = per_example["retrieval-augmented, shared prefix once"] / per_example["plain, shared prefix once"]
    print(f"grounded_epoch_ratio: {ratio:.2f} ({args.model}, {args.steps} steps of {args.batch_size}, "
          f"{threads} threads; goal <= 2)")


if __name__ == "__main__":
    main()
