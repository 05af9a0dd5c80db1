"""GPU check, one short script (under 8 minutes on one H100): chat, LoRA, QLoRA and evaluation on CUDA.

1. The largest installed bundled model on the GPU through the app's own engine (auto picks transformers on a GPU):
   two chat turns with full-buffer memory ("My name is Priya." / "What is my name?"), decode tok/s.
2. One epoch of LoRA and one of QLoRA on the sample data with a >= 0.5B model, each in its own process (as the
   job queue runs them), so each peak GPU memory is its own: tokens/s and peak GPU memory. Goal: QLoRA's peak at
   most 0.4x LoRA's.
3. The LoRA adapter evaluated on test_brief.csv: ROUGE-L and key facts with 95% intervals.
Then one summary table.

    python bench/gpu_check.py
    python bench/gpu_check.py --train-model bundled:qwen2.5-coder-1.5b-instruct --limit 36

On a machine without a CUDA GPU it says so and exits 0 (CI runs it that way).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TRAIN_MODEL = "bundled:qwen2.5-coder-0.5b-instruct"
QLORA_GOAL = 0.4


def largest_bundled() -> str:
    from studio.models import catalogue

    installed = [e for e in catalogue.catalogue() if e.ref.kind == "bundled" and e.available]
    if not installed:
        sys.exit("no bundled model is installed (make run installs them)")
    return str(max(installed, key=lambda e: e.params).ref)


def chat_two_turns(ref: str) -> dict:
    from studio.chat import chat_turn
    from studio.engines import loader
    from studio.engines.base import GenerationSettings
    from studio.memory import MemoryConfig, MemoryState

    started = time.perf_counter()
    loaded = loader.load_model(ref, engine="auto")
    load_s = time.perf_counter() - started
    state, turns = MemoryState(), []
    settings = GenerationSettings(max_new_tokens=64, min_new_tokens=32, temperature=0.0)
    for text in ("My name is Priya.", "What is my name?"):
        last = None
        for last in chat_turn(loaded, MemoryConfig("buffer"), state, text, settings):
            pass
        state = last.state
        turns.append(last)
    return {"model": loaded.entry.name, "engine": loaded.engine, "device": loaded.device,
            "precision": loaded.precision, "load_s": round(load_s, 1),
            "tok_s": round(turns[-1].stats.tokens_per_second, 1), "replies": [t.reply for t in turns],
            "remembered": "Priya" in turns[-1].reply}


def train(model: str, qlora: bool, out: Path, epochs: int) -> dict:
    command = [sys.executable, "-m", "studio.training.sft", "--model", model, "--data", "assets/insurer_faq.csv",
               "--epochs", str(epochs), "--out", str(out)] + (["--qlora"] if qlora else [])
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
    summary = json.loads((out / "summary.json").read_text())
    return {"seconds": round(time.perf_counter() - started, 1), "tokens_per_s": summary["tokens_per_s"],
            "peak_gpu_mb": summary["peak_gpu_ram_mb"], "steps": summary["steps"], "compute": summary["compute"],
            "best_val_loss": summary["best_val_loss"]}


def evaluate(run: Path, limit: int) -> dict:
    from studio.engines import loader
    from studio.evaluation.evaluate import evaluate as score

    loaded = loader.load_model(f"adapter:{run}", "auto", engine="auto")
    result = score(loaded, ROOT / "assets" / "test_brief.csv", limit=limit)
    agg = result["aggregate"]
    facts = agg.get("facts") or {}
    return {"questions": result["questions"], "rougeL": result["rougeL_x100"],
            "rougeL_ci": [round(100 * agg["rougeL"]["low"], 1), round(100 * agg["rougeL"]["high"], 1)],
            "facts": result["facts_x100"],
            "facts_ci": [round(100 * facts["low"], 1), round(100 * facts["high"], 1)] if facts.get("low") is not None
            else None, "tokens_per_s": result.get("tokens_per_s")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chat-model", help="default: the largest installed bundled model")
    parser.add_argument("--train-model", default=TRAIN_MODEL)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit", type=int, default=0, help="evaluate on the first N test questions (0 = all)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: skipped: no CUDA GPU on this machine (torch.cuda.is_available() is False)")
        return 0
    card = torch.cuda.get_device_name(0)
    memory_gb = torch.cuda.get_device_properties(0).total_memory / 2**30
    print(f"GPU: {card}, {memory_gb:.0f} GiB; torch {torch.__version__}, CUDA {torch.version.cuda}", flush=True)
    results: dict = {"gpu": card}
    started = time.perf_counter()
    chat_model = args.chat_model or largest_bundled()
    results["chat"] = chat_two_turns(chat_model)
    print("chat:", json.dumps(results["chat"]), flush=True)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        for method, qlora in (("lora", False), ("qlora", True)):
            results[method] = train(args.train_model, qlora, Path(tmp) / method, args.epochs)
            print(f"{method}:", json.dumps(results[method]), flush=True)
        if "error" not in results["lora"]:
            results["eval"] = evaluate(Path(tmp) / "lora", args.limit)
            print("eval:", json.dumps(results["eval"]), flush=True)
    results["total_s"] = round(time.perf_counter() - started, 1)
    lora, qlora = results["lora"], results["qlora"]
    ratio = (qlora["peak_gpu_mb"] / lora["peak_gpu_mb"]) if "error" not in lora and "error" not in qlora else None
    results["qlora_peak_ratio"] = ratio
    chat = results["chat"]
    print(f"\n| check ({card}) | result |\n|---|---|")
    print(f"| chat, {chat['model']} ({chat['engine']}, {chat['precision']}) | {chat['tok_s']} tok/s decode, "
          f"loaded in {chat['load_s']} s, second turn {'remembers' if chat['remembered'] else 'forgot'} the name |")
    for method in ("lora", "qlora"):
        r = results[method]
        print(f"| {method.upper()} 1 epoch, {args.train_model} | " + (f"failed: {r['error']}" if "error" in r else
              f"{r['tokens_per_s']} tokens/s, peak {r['peak_gpu_mb']:.0f} MB, {r['seconds']} s ({r['compute']}) |"))
    if ratio is not None:
        print(f"| QLoRA peak / LoRA peak | {ratio:.2f} (goal <= {QLORA_GOAL}) |")
    if "eval" in results:
        e = results["eval"]
        print(f"| LoRA adapter, test_brief ({e['questions']} q) | ROUGE-L {e['rougeL']} {e['rougeL_ci']}, "
              f"facts {e['facts']} {e['facts_ci']} |")
    print(f"| total | {results['total_s']} s |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
