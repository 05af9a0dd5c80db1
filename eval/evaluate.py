"""Evaluate a model or fine-tuned adapter on a test set: batched greedy answers, ROUGE, perplexity, timings.

    python -m eval.evaluate --model bundled:smollm2-135m-instruct --test assets/test_brief.csv [--out FILE.json]
    python -m eval.evaluate --model bundled:smollm2-135m-instruct --adapter runs/<id> --test assets/test_brief.csv
    python -m eval.evaluate runs/<id>/config.json      # an EvalJob config, as the job queue runs it

An adapter's results go into its training run folder, anything else's into the evaluation's own run folder
(training/runs.py says why).

Answers come from the model as the Chat tab would give them (same prompt format, system prompt and settings,
greedy, no earlier turns), generated a batch at a time with left padding; the reference answers' perplexity
uses the training loss (answer tokens only).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from chat import engine, models, runtime
from chat.engine import GenerationSettings
from eval import rouge
from training import answer_loss, data, runs
from training.configs import EvalJob, SFTJob

log = logging.getLogger("evaluate")
EVAL = EvalJob()
"""Evaluation defaults (batch size, precision, answer length) shared by the CLI, the grid and post-training."""


def test_set_name(test: str | Path) -> str:
    """"assets/test_brief.csv" -> "brief"."""
    stem = Path(test).stem
    return stem[len("test_"):] if stem.startswith("test_") else stem


def prompts_for(loaded: models.LoadedModel, questions: list[str], system_prompt: str) -> list[list[int]]:
    style = loaded.entry.prompt_style
    return [engine.encode_prompt(loaded.tokenizer, style,
                                 engine.render_prompt(loaded, [{"role": "user", "content": q}], system_prompt))
            for q in questions]


def generate_answers(loaded: models.LoadedModel, questions: list[str], settings: GenerationSettings,
                     batch_size: int = EVAL.batch_size) -> tuple[list[str], dict]:
    """Greedy answers to each question alone, `batch_size` at a time; returns answers (in order) and timings."""
    return runtime.on_model_thread(_generate_answers, loaded, questions, settings, batch_size)


def _generate_answers(loaded, questions, settings, batch_size):
    if loaded.device == "cpu":
        runtime.use_threads(runtime.pick_threads())
    tokenizer, seq2seq = loaded.tokenizer, loaded.entry.seq2seq
    stops = engine.STOP_STRINGS[loaded.entry.prompt_style]
    limit = max(16, loaded.max_positions - (0 if seq2seq else settings.max_new_tokens))
    encoded = [ids[-limit:] for ids in prompts_for(loaded, questions, settings.system_prompt)]
    order = sorted(range(len(questions)), key=lambda i: len(encoded[i]))  # similar lengths share a batch
    answers, generated = [""] * len(questions), 0
    start = time.perf_counter()
    for first in range(0, len(order), batch_size):
        rows = order[first:first + batch_size]
        width = max(len(encoded[i]) for i in rows)
        ids = torch.full((len(rows), width), tokenizer.pad_token_id)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):  # causal models read left-padded prompts; T5's encoder is fine either way
            ids[r, width - len(encoded[i]):] = torch.tensor(encoded[i])
            mask[r, width - len(encoded[i]):] = 1
        kwargs = engine.generation_kwargs(loaded, settings, width)
        with torch.inference_mode():
            out = loaded.model.generate(input_ids=ids.to(loaded.device), attention_mask=mask.to(loaded.device), **kwargs)
        new = out[:, 1:] if seq2seq else out[:, width:]
        for r, i in enumerate(rows):
            tokens = new[r].tolist()
            if tokenizer.eos_token_id in tokens:
                tokens = tokens[: tokens.index(tokenizer.eos_token_id) + 1]
            generated += len(tokens)
            answers[i] = engine.cut_at_stop(tokenizer.decode(tokens, skip_special_tokens=True), stops)[0].strip()
    seconds = time.perf_counter() - start
    return answers, {"seconds": round(seconds, 2), "generated_tokens": generated,
                     "tokens_per_s": round(generated / max(seconds, 1e-9), 1), "batch_size": batch_size}


def reference_perplexity(loaded: models.LoadedModel, questions: list[str], references: list[str],
                         system_prompt: str) -> float:
    """exp(mean answer-token loss) of the reference answers, measured as training measures its loss."""
    cfg = SFTJob(system_prompt=system_prompt, max_length=loaded.max_positions, batch_size=8)
    items = [answer_loss.tokenize(data.Example([{"role": "user", "content": q}], a), loaded.tokenizer,
                          loaded.entry.prompt_style, loaded.entry.seq2seq, cfg) for q, a in zip(questions, references)]
    pad = loaded.tokenizer.pad_token_id
    loss = runtime.on_model_thread(answer_loss.mean_loss, loaded.model, items, cfg, pad, loaded.entry.seq2seq, loaded.device,
                                   contextlib.nullcontext)
    return math.exp(min(loss, 50))


def evaluate(loaded: models.LoadedModel, test: str | Path, batch_size: int = EVAL.batch_size,
             max_new_tokens: int = EVAL.max_new_tokens,
             system_prompt: str = engine.DEFAULT_SYSTEM_PROMPT, limit: int = 0) -> dict:
    """Answer and score one test set. The result is plain JSON-able data."""
    records = data.load_file(test).records
    if limit:
        records = records[:limit]
    questions = [r["question"] for r in records]
    references = [r["answer"] for r in records]
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=0.0, system_prompt=system_prompt)
    answers, timing = generate_answers(loaded, questions, settings, batch_size)
    per_item = rouge.score(references, answers)
    aggregated = rouge.aggregate(per_item, seed=0)
    return {
        "model": str(loaded.entry.ref), "model_name": loaded.entry.name, "test": str(test),
        "test_set": test_set_name(test), "questions": len(records), "created_at": time.time(),
        "precision": loaded.precision, "device": loaded.device, "max_new_tokens": max_new_tokens,
        "aggregate": aggregated, "rougeL_x100": round(rouge.headline(aggregated), 2),
        "perplexity": round(reference_perplexity(loaded, questions, references, system_prompt), 3),
        **timing,
        "rows": [{"question": q, "reference": ref, "answer": a, **{k: round(v, 4) for k, v in s.items()}}
                 for q, ref, a, s in zip(questions, references, answers, per_item)],
    }


def evaluate_into(run_dir: Path, loaded: models.LoadedModel, tests: list[str], batch_size: int = EVAL.batch_size,
                  max_new_tokens: int = EVAL.max_new_tokens, system_prompt: str = EVAL.system_prompt,
                  limit: int = 0, progress: Callable[[int, str], None] = lambda i, test: None) -> dict[str, dict]:
    """Answer and score each test set, keeping each result in the run folder. Returns {test file: result}."""
    results = {}
    for i, test in enumerate(tests):
        progress(i, test)
        result = evaluate(loaded, test, batch_size, max_new_tokens, system_prompt, limit)
        runs.write_json(runs.eval_result_path(run_dir, test), result)
        results[test] = result
        log.info("%s on %s: ROUGE-L %.2f (95%% CI %.2f-%.2f), perplexity %.2f, %d questions in %.1f s",
                 result["model_name"], result["test_set"], result["rougeL_x100"],
                 100 * result["aggregate"]["rougeL"]["low"], 100 * result["aggregate"]["rougeL"]["high"],
                 result["perplexity"], result["questions"], result["seconds"])
    return results


def _answer_tests(job: EvalJob, run_dir: Path, end: runs.JobEnd) -> dict:
    started = time.time()
    folder = runs.eval_results_folder(job.model, run_dir)
    runs.update_status(run_dir, total_steps=len(job.tests))
    loaded = models.load_model(job.model, job.precision, progress=log.info)
    results = evaluate_into(
        folder, loaded, job.tests, job.batch_size, job.max_new_tokens, job.system_prompt, job.limit,
        progress=lambda i, test: runs.update_status(run_dir, message=f"Answering {Path(test).name}...", step=i))
    runs.write_json(run_dir / runs.SUMMARY, {"state": "finished", "model": job.model, "results_in": str(folder),
                                             "runtime_s": round(time.time() - started, 1),
                                             "tests": {Path(t).stem: r["rougeL_x100"] for t, r in results.items()}})
    end.message, end.fields = "Evaluated.", {"step": len(job.tests)}
    return results


def run(job: EvalJob, run_dir: Path) -> dict:
    """An evaluation job: every test set of `job`, results where runs.eval_results_folder says. Returns
    {test file: result}; the status follows runs.job_lifecycle."""
    run_dir.mkdir(parents=True, exist_ok=True)
    job.save(run_dir / runs.CONFIG)
    with runs.job_lifecycle(run_dir, log, "Loading the model...", step=0) as end:
        return _answer_tests(job, run_dir, end)


def run_job(config_path: str | Path) -> dict:
    """`python -m eval.evaluate runs/<id>/config.json`, as the job queue runs it (a bad config is recorded too)."""
    run_dir = Path(config_path).resolve().parent
    with runs.job_lifecycle(run_dir, log, "Loading the model...", step=0) as end:
        return _answer_tests(EvalJob.load(config_path), run_dir, end)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", help="an EvalJob config JSON (its folder is the run folder)")
    parser.add_argument("--model", help="model reference")
    parser.add_argument("--adapter", help="a training run folder whose adapter to evaluate")
    parser.add_argument("--test", action="append", help="test file (repeatable)")
    parser.add_argument("--out", help="write the result JSON here (one test) or into this folder (several)")
    parser.add_argument("--batch-size", type=int, default=EVAL.batch_size)
    parser.add_argument("--max-new-tokens", type=int, default=EVAL.max_new_tokens)
    parser.add_argument("--precision", default=EVAL.precision, help="float32 (default), bfloat16, auto, ...")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        if args.config:
            run_job(args.config)
            return 0
        if not (args.test and (args.model or args.adapter)):
            parser.error("give a CONFIG.json, or --test and --model (or --adapter)")
        ref = models.ModelRef("adapter", args.adapter) if args.adapter else models.ModelRef.parse(args.model)
        loaded = models.load_model(ref, args.precision, progress=log.info)
        for test in args.test:
            result = evaluate(loaded, test, args.batch_size, args.max_new_tokens, limit=args.limit)
            agg = result["aggregate"]
            print(f"{result['model_name']} on {test}: ROUGE-L F1 x100 = {result['rougeL_x100']:.2f} "
                  f"(95% CI {100 * agg['rougeL']['low']:.2f}-{100 * agg['rougeL']['high']:.2f}), "
                  f"ROUGE-1 {100 * agg['rouge1']['mean']:.2f}, ROUGE-2 {100 * agg['rouge2']['mean']:.2f}, "
                  f"ROUGE-Lsum {100 * agg['rougeLsum']['mean']:.2f}, perplexity {result['perplexity']:.2f}, "
                  f"{result['questions']} questions in {result['seconds']:.1f} s ({result['tokens_per_s']} tokens/s)")
            if args.out:
                out = Path(args.out)
                out = runs.eval_result_path(out, test) if out.is_dir() or len(args.test) > 1 else out
            else:  # an adapter's evaluation goes into its run folder; a base model's only where asked
                out = runs.eval_result_path(args.adapter, test) if args.adapter else None
            if out:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(result, indent=2))
                print(f"written to {out}")
    except Exception as e:  # noqa: BLE001 - a job's failure is already logged and recorded by runs.job_lifecycle
        if not args.config and not isinstance(e, runs.known_errors()):
            log.exception("evaluation failed")
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
