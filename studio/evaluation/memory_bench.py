"""Which conversation memory keeps the context a follow-up question needs? Numbers instead of anecdotes.

Each conversation in assets/memory_bench.jsonl states a fact early on ("I have the Gold Plus plan") and ends
with a question that only makes sense with it ("What kind of hospital room am I entitled to?"). For every
memory kind the earlier exchanges are replayed into that memory (the same assistant texts for every kind, so
only what memory keeps differs), the final question's prompt is built exactly as the chat builds it, and we
measure:
  retention      whether the needed fact is in the memory part of the prompt (before any cut to fit the
                 model's context; a cut is reported separately as `truncated`)
  ROUGE-L x100   the model's greedy answer against the reference answer (studio.metrics.rouge, seeded bootstrap 95% CI)
  prompt tokens  what the memory costs

    python -m studio memory-bench --model bundled:smollm2-135m-instruct [--k 2] [--max-tokens 192] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from studio import memory
from studio.core import paths
from studio.engines import base, loader
from studio.engines.base import GenerationSettings
from studio.jobs import runs
from studio.jobs.kinds import MemoryBenchJob
from studio.memory import MEMORY_KINDS, MEMORY_LABELS, MemoryConfig, MemoryState
from studio.metrics import rouge
from studio.models import refs

log = logging.getLogger("memory_bench")
BENCH_FILE = paths.ASSETS / "memory_bench.jsonl"
SEED = 0
"""Seed of the ROUGE bootstrap, so intervals reproduce."""
TEXT_KEYS = ("id", "final_question", "reference", "needed_fact")


# ------------------------------------------------------------------------------------------------- the data


def _problem(record) -> str | None:
    """What is wrong with one bench record, or None."""
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}"
    missing = [key for key in (*TEXT_KEYS, "turns") if key not in record]
    if missing:
        return f"missing key(s) {', '.join(missing)}"
    bad = [key for key in TEXT_KEYS if not isinstance(record[key], str) or not record[key].strip()]
    if bad:
        return f"{', '.join(bad)} must be non-empty text"
    turns = record["turns"]
    if not isinstance(turns, list) or not turns:
        return "turns must be a non-empty list of {\"user\", \"assistant\"} exchanges"
    for number, turn in enumerate(turns, 1):
        if not (isinstance(turn, dict) and all(isinstance(turn.get(key), str) for key in ("user", "assistant"))):
            return f"exchange {number} of turns needs text in both \"user\" and \"assistant\""
    fact = record["needed_fact"].lower()
    if fact in record["final_question"].lower():
        return f"needed_fact {record['needed_fact']!r} is in the final question, so no memory is needed"
    if not any(fact in (turn["user"] + "\n" + turn["assistant"]).lower() for turn in turns):
        return f"needed_fact {record['needed_fact']!r} is in none of the earlier exchanges"
    return None


def load_conversations(path: str | Path = BENCH_FILE) -> list[dict]:
    """The bench conversations, checked; a bad line raises ValueError naming the file and line."""
    path = Path(path)
    conversations, seen = [], {}
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} line {number}: not valid JSON ({e.msg} at column {e.colno})") from e
        problem = _problem(record)
        if problem is None and record["id"] in seen:
            problem = f"id {record['id']!r} was already used on line {seen[record['id']]}"
        if problem:
            raise ValueError(f"{path} line {number}: {problem}")
        seen[record["id"]] = number
        conversations.append(record)
    if not conversations:
        raise ValueError(f"{path} holds no conversations")
    return conversations


def memory_configs(k: int = 2, max_tokens: int = 192) -> dict[str, MemoryConfig]:
    return {kind: MemoryConfig(kind, k=k, max_tokens=max_tokens) for kind in MEMORY_KINDS}


# ------------------------------------------------------------------------------------------------ the run


def _ask(loaded, config: MemoryConfig, conversation: dict, settings: GenerationSettings) -> dict:
    """Replay one conversation into one memory, ask the final question, and return its result row."""
    count_tokens = loaded.token_counter(settings.system_prompt)
    state = MemoryState()
    for turn in conversation["turns"]:
        state = memory.record_turn(config, state, turn["user"], turn["assistant"], count_tokens,
                                   lambda messages: base.complete(loaded, messages, settings))
    context = memory.context(config, state, count_tokens)
    # The contents are what memory chose to keep; rendering only adds the model's markup around them.
    kept = "\n".join(m["content"] for m in context)
    stream = loaded.open_stream(context + [{"role": "user", "content": conversation["final_question"]}],
                                settings.system_prompt, settings)
    for _ in stream:
        pass
    return {
        "id": conversation["id"],
        "kind": config.kind,
        "retained": conversation["needed_fact"].lower() in kept.lower(),
        "answer": stream.text,
        "reference": conversation["reference"],
        "rougeL": 0.0,  # filled in per kind, below
        "prompt_tokens": stream.stats.prompt_tokens,
        "truncated": stream.truncated,
        "needed_fact": conversation["needed_fact"],
    }


def run_benchmark(
    model: str,
    conversations: list[dict] | None = None,
    k: int = 2,
    max_tokens: int = 192,
    kinds: list[str] | None = None,
    max_new_tokens: int = 96,
    precision: str = "auto",
    progress: Callable[[str], None] | None = None,
    engine: str = "auto",
) -> dict:
    """Every conversation through every memory kind (in MEMORY_KINDS order); a JSON-serialisable result."""
    conversations = load_conversations() if conversations is None else conversations
    if not conversations:
        raise ValueError("No conversations to run.")
    unknown = sorted(set(kinds or ()) - set(MEMORY_KINDS))
    if unknown:
        raise ValueError(f"Unknown memory kind(s) {', '.join(unknown)}; choose from {', '.join(MEMORY_KINDS)}.")
    kinds = [kind for kind in MEMORY_KINDS if kinds is None or kind in kinds]
    progress = progress or (lambda message: None)
    configs = memory_configs(k, max_tokens)
    loaded = loader.load_model(model, precision, progress=progress, engine=engine)
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=0.0)

    by_kind, rows = {}, []
    for kind in kinds:
        start = time.perf_counter()
        kind_rows = []
        for number, conversation in enumerate(conversations, 1):
            progress(f"{kind}: conversation {number}/{len(conversations)}")
            kind_rows.append(_ask(loaded, configs[kind], conversation, settings))
        scores = rouge.score([r["reference"] for r in kind_rows], [r["answer"] for r in kind_rows])
        for row, scored in zip(kind_rows, scores):
            row["rougeL"] = scored[rouge.HEADLINE]
        aggregated = rouge.aggregate(scores, seed=SEED)
        by_kind[kind] = {
            "label": MEMORY_LABELS[kind],
            "retention": sum(r["retained"] for r in kind_rows) / len(kind_rows),
            "truncated": sum(r["truncated"] for r in kind_rows) / len(kind_rows),
            "rouge": aggregated,
            "rougeL_x100": rouge.headline(aggregated),
            "prompt_tokens_mean": sum(r["prompt_tokens"] for r in kind_rows) / len(kind_rows),
            "seconds": time.perf_counter() - start,
        }
        rows += kind_rows

    return {
        "model": str(loaded.entry.ref),
        "model_name": loaded.entry.name,
        "created_at": datetime.now().isoformat(timespec="seconds"),
        "settings": {
            "k": k,
            "max_tokens": max_tokens,
            "max_new_tokens": max_new_tokens,
            "precision": loaded.precision,
            "device": loaded.device,
            "engine": loaded.engine,
            "system_prompt": settings.system_prompt,
            "repetition_penalty": settings.repetition_penalty,
            "bootstrap_seed": SEED,
        },
        "conversations": len(conversations),
        "kinds": by_kind,
        "rows": rows,
    }


# ------------------------------------------------------------------------------------------- files and table


def _slug(model: str) -> str:
    """"bundled:smollm2-135m-instruct" -> "smollm2-135m-instruct"; "folder:/a/b/tiny" -> "tiny"."""
    name = model.rstrip("/").split("/")[-1].split(":")[-1]
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name) or "model"


def write(result: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def save(result: dict, out_dir: Path | None = None) -> Path:
    """Write the result to <out_dir>/<model slug>-<YYYYmmdd-HHMMSS>.json (default: runs.memory_bench_dir())."""
    out_dir = Path(out_dir) if out_dir else runs.memory_bench_dir()
    stamp = datetime.fromisoformat(result["created_at"]).strftime("%Y%m%d-%H%M%S")
    return write(result, out_dir / f"{_slug(result['model'])}-{stamp}.json")


def format_table(result: dict) -> str:
    s = result["settings"]
    lines = [
        f"{result['model_name']} · {result['conversations']} conversations · k={s['k']} · "
        f"max_tokens={s['max_tokens']} · max_new_tokens={s['max_new_tokens']} · {s['precision']}",
        f"{'memory':<15} {'retention':>9}  {'ROUGE-L x100 (95% CI)':<22} {'prompt tokens':>13} {'seconds':>8}",
    ]
    for kind, r in result["kinds"].items():
        ci = r["rouge"][rouge.HEADLINE]
        score = f"{r['rougeL_x100']:5.1f} ({100 * ci['low']:.1f}-{100 * ci['high']:.1f})"
        lines.append(f"{kind:<15} {100 * r['retention']:>8.0f}%  {score:<22} {r['prompt_tokens_mean']:>13.0f} "
                     f"{r['seconds']:>8.1f}")
    cut = [kind for kind, r in result["kinds"].items() if r["truncated"]]
    if cut:
        lines.append(f"prompt cut to fit the model's context for some conversations: {', '.join(cut)}")
    return "\n".join(lines)


def run_job(config_path: Path) -> int:
    """`python -m studio memory-bench runs/<id>/config.json`: a MemoryBenchJob from the job queue."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    run_dir = Path(config_path).resolve().parent
    with runs.job_lifecycle(run_dir, log, "Loading the model...") as end:
        job = MemoryBenchJob.load(config_path)
        conversations = load_conversations()[: job.limit or None]
        total = len(conversations) * len(MEMORY_KINDS)
        done = {"n": 0}

        def progress(message: str) -> None:
            done["n"] += 1
            runs.update_status(run_dir, message=message, step=min(done["n"], total), total_steps=total)
            log.info("%s", message)

        result = run_benchmark(job.model, conversations, job.k, job.max_tokens, None, job.max_new_tokens,
                               progress=progress)
        path = save(result)
        write(result, run_dir / runs.MEMORY_BENCH_RESULT)
        print(format_table(result))
        runs.write_json(run_dir / runs.SUMMARY, {"state": "finished", "result": str(path),
                                                 "retention": {k: v["retention"] for k, v in result["kinds"].items()}})
        end.message = f"Done: {path.name}"
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0].endswith(".json"):
        try:
            return run_job(Path(argv[0]))
        except Exception:  # noqa: BLE001 - runs.job_lifecycle has logged it and recorded it in the run status
            return 1
    parser = argparse.ArgumentParser(prog="python -m studio memory-bench", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="model reference, e.g. bundled:smollm2-135m-instruct")
    parser.add_argument("--k", type=int, default=2, help="window memory: exchanges kept (default 2)")
    parser.add_argument("--max-tokens", type=int, default=192,
                        help="token_budget and summary_buffer: token limit of earlier turns (default 192)")
    parser.add_argument("--max-new-tokens", type=int, default=96, help="answer length bound (default 96)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--engine", default="auto", choices=("auto", "llama.cpp", "transformers"),
                        help="auto (default): llama.cpp when it is installed and runs the model")
    parser.add_argument("--limit", type=int, help="only the first N conversations")
    parser.add_argument("--kinds", nargs="+", choices=MEMORY_KINDS, help="memory kinds to run (default: all)")
    parser.add_argument("--bench", default=str(BENCH_FILE), help="conversations JSONL (default: the bundled one)")
    parser.add_argument("--out", help="result JSON to write (default: runs/memory-bench/<model>-<time>.json)")
    args = parser.parse_args(argv)
    try:
        conversations = load_conversations(args.bench)[: args.limit]
        result = run_benchmark(args.model, conversations, args.k, args.max_tokens, args.kinds, args.max_new_tokens,
                               args.precision, progress=lambda message: print(message, file=sys.stderr, flush=True),
                               engine=args.engine)
    except (ValueError, OSError, refs.ModelError) as e:
        print(e, file=sys.stderr)
        return 2
    path = write(result, Path(args.out)) if args.out else save(result)
    print(format_table(result))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
