"""Evaluate a model or fine-tuned adapter on a test set: batched greedy answers, ROUGE, perplexity, timings.

    python -m studio evaluate --model bundled:smollm2-135m-instruct --test assets/test_brief.csv [--out FILE.json]
    python -m studio evaluate --model bundled:smollm2-135m-instruct --adapter runs/<id> --test assets/test_brief.csv
    python -m studio evaluate runs/<id>/config.json      # an EvalJob config, as the job queue runs it
    python -m studio evaluate --model bundled:qwen2.5-coder-0.5b-instruct --test assets/test_policy.csv \
        --knowledge sample-policy                       # answer from the passages retrieved for each question

An adapter's results go into its training run folder, anything else's into the evaluation's own run folder
(studio/jobs/runs.py says why).

Answers come from the model as the Chat tab would give them (same prompt format, system prompt and settings,
greedy, no earlier turns), generated a batch at a time with left padding; the reference answers' perplexity
uses the training loss (answer tokens only). Each answer is scored with ROUGE and key-fact accuracy
(studio/metrics/facts.py).

With a knowledge collection (--knowledge NAME, EvalJob.knowledge) each question is answered under the grounded
system prompt the chat builds (studio.knowledge.store.grounded_prompt): the passages retrieved for it, or, when none is
close enough (has_support), the instruction to say there is no source. Rows keep the retrieved citations; when a
test file names each question's source (columns source_section = a Markdown heading, source_page = a 1-based PDF
page), retrieval hit@1 and hit@3 are reported: a hit is a retrieved passage with that section or that page.
The shipped sample collections (studio.knowledge.collection.SAMPLE_FILES) are built on first use.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

from studio.data import files, qa
from studio.engines import base, loader
from studio.engines.base import GenerationSettings, LoadedModel
from studio.engines.prompts import DEFAULT_SYSTEM_PROMPT
from studio.evaluation import grounded
from studio.jobs import runs
from studio.jobs.kinds import EvalJob, SFTJob
from studio.knowledge import holdout, reading, store
from studio.knowledge.collection import MODES, SAMPLE_FILES, KnowledgeError, Passage
from studio.knowledge.support import ANSWER_STYLES
from studio.metrics import facts, rouge
from studio.models import refs
from studio.training import answer_loss

log = logging.getLogger("evaluate")
EVAL = EvalJob()
"""Evaluation defaults (batch size, precision, answer length) shared by the CLI, the grid and post-training."""
MAX_BATCH_PROMPT_TOKENS = 8192
"""Prompt tokens one generation batch may hold (fewer questions per batch when prompts are long): 24 grounded
prompts of ~1,000 tokens in one batch took Qwen2.5-0.5B past 9 GB of RAM and got it killed for memory."""


def test_set_name(test: str | Path) -> str:
    """"assets/test_brief.csv" -> "brief"."""
    stem = Path(test).stem
    return stem[len("test_"):] if stem.startswith("test_") else stem


def result_path(folder: str | Path, test: str | Path, knowledge_name: str | None = None,
                answer_style: str = "auto") -> Path:
    """Where a run keeps its result on one test set: runs.eval_result_path, or eval-<test>+<collection>.json when
    answered with a knowledge collection (a training run folder holds both for the same adapter), with
    +<answer style> after it for a style other than auto."""
    plain = runs.eval_result_path(Path(folder), test)
    if not knowledge_name:
        return plain
    style = f"+{answer_style}" if answer_style != "auto" else ""
    return plain.with_name(f"{plain.stem}+{knowledge_name}{style}.json")


def generate_answers(loaded: LoadedModel, questions: list[str], settings: GenerationSettings,
                     batch_size: int = EVAL.batch_size,
                     system_prompts: list[str] | None = None) -> tuple[list[str], dict]:
    """Greedy answers to each question alone, `batch_size` at a time where the engine batches; returns answers (in
    order) and timings. `system_prompts` (one per question) replaces settings.system_prompt, e.g. with each
    question's sources."""
    return loaded.answer_batch(questions, settings, batch_size, system_prompts)


def reference_perplexity(loaded: base.LoadedModel, questions: list[str], references: list[str],
                         system_prompt: str, system_prompts: list[str] | None = None) -> float:
    """exp(mean answer-token loss) of the reference answers, measured as training measures its loss (under each
    question's own system prompt when `system_prompts` is given)."""
    cfg = SFTJob(system_prompt=system_prompt, max_length=loaded.max_positions, batch_size=8)
    systems = system_prompts or [system_prompt] * len(questions)
    items = [answer_loss.tokenize(qa.Example([{"role": "user", "content": q}], a), loaded.tokenizer,
                                  loaded.entry.prompt_style, loaded.entry.seq2seq, cfg, system)
             for q, a, system in zip(questions, references, systems)]
    total, count = loaded.answer_log_likelihood(items)
    return math.exp(min(total / max(1, count), 50))


HIT_AT = (1, 3)
"""Retrieval hit@k reported when a test file names each question's source."""


def question_sources(test: str | Path, count: int) -> list[tuple[str, int | None] | None]:
    """Each row's expected source (section heading, page) from the test file's source_section / source_page
    columns, None for a row naming neither; data.load_file keeps only question and answer, so the rows are read
    again here in the same order."""
    path = Path(test)
    if path.suffix.lower() not in (".csv", ".jsonl", ".json"):
        return [None] * count
    rows = [row for _, row in files.read_rows(path, [])][:count]
    found = []
    for row in rows:
        section = str(row.get("source_section") or "").strip()
        page = str(row.get("source_page") or "").strip()
        found.append((section, int(float(page)) if page.replace(".", "", 1).isdigit() else None)
                     if section or page else None)
    return found + [None] * (count - len(found))


def passage_matches(passage: Passage, source: tuple[str, int | None]) -> bool:
    """A Markdown passage matches by its section heading, a PDF passage by its page."""
    section, page = source
    return bool(section) and passage.section.strip() == section or page is not None and passage.page == page


def retrieval_hits(retrieved: list[list[Passage]], sources: list) -> dict | None:
    """{"hit@1", "hit@3", "with_source"} over the questions whose source is named; None when none is."""
    named = [(found, source) for found, source in zip(retrieved, sources) if source is not None]
    if not named:
        return None
    hits = {f"hit@{k}": sum(any(passage_matches(p, source) for p in found[:k]) for found, source in named)
            / len(named) for k in HIT_AT}
    return {**{k: round(v, 4) for k, v in hits.items()}, "with_source": len(named)}


def ground_questions(questions: list[str], system_prompt: str, collection: str, k: int, mode: str
                     ) -> tuple[list[str], list[list[Passage]], list[list[Passage]]]:
    """Each question's grounded system prompt (as the chat builds it: without support, no passages), the `k`
    passages chosen for it as the chat chooses them, and the max(HIT_AT) passages chosen the same way, for hit@k."""
    if collection in SAMPLE_FILES:
        store.sample_collection(collection)
    # query embeddings batched; the k passages are chosen from the candidates as store.retrieve chooses them
    candidates = store.retrieve_many(collection, questions, max(k, store.CANDIDATES), mode, spread=False)
    chosen = [reading.spread_over_files(found, k) for found in candidates]
    prompts = [store.grounded_prompt(found if store.has_support(found) else [], system_prompt) for found in chosen]
    return prompts, chosen, [reading.spread_over_files(found, max(HIT_AT)) for found in candidates]


def evaluate(loaded: base.LoadedModel, test: str | Path, batch_size: int = EVAL.batch_size,
             max_new_tokens: int = EVAL.max_new_tokens,
             system_prompt: str = DEFAULT_SYSTEM_PROMPT, limit: int = 0, knowledge_name: str | None = None,
             knowledge_k: int = EVAL.knowledge_k, knowledge_mode: str = EVAL.knowledge_mode,
             answer_style: str = EVAL.answer_style) -> dict:
    """Answer and score one test set (with retrieval from collection `knowledge_name` when given, answered and
    checked as the chat does: studio/evaluation/grounded.py). The result is plain JSON-able data."""
    records = qa.load_file(test).records
    if limit:
        records = records[:limit]
    questions = [r["question"] for r in records]
    references = [r["answer"] for r in records]
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=0.0, system_prompt=system_prompt)
    systems, retrieved, retrieval, checked = None, [[] for _ in questions], None, [None] * len(questions)
    if knowledge_name:
        systems, retrieved, ranked = ground_questions(questions, system_prompt, knowledge_name, knowledge_k,
                                                      knowledge_mode)
        retrieval = retrieval_hits(ranked, question_sources(test, len(records)))
        given = [found if store.has_support(found) else [] for found in retrieved]

        def generate(asked: list[str], prompts: list[str]) -> tuple[list[str], dict]:
            return generate_answers(loaded, asked, settings, batch_size, prompts)

        answers, checked, timing = grounded.grounded_answers(loaded, questions, given, knowledge_name,
                                                             system_prompt, answer_style, generate)
    else:
        answers, timing = generate_answers(loaded, questions, settings, batch_size, systems)
    per_item = rouge.score(references, answers)
    aggregated = rouge.aggregate(per_item, seed=0)
    fact_scores = facts.score_all(references, answers)
    fact_summary = facts.aggregate(fact_scores, seed=0)
    rows = []
    for q, ref, a, s, f, found, check in zip(questions, references, answers, per_item, fact_scores, retrieved,
                                             checked):
        row = {"question": q, "reference": ref, "answer": a, **{k: round(v, 4) for k, v in s.items()},
               "facts": None if f.accuracy is None else round(f.accuracy, 4),
               "missed_facts": [fact.span for fact in f.missed]}
        if knowledge_name:
            row["sources"] = [p.citation for p in found[:knowledge_k]]
            row.update(grounded.row_fields(a, check, found[:knowledge_k]))
        rows.append(row)
    return {
        "model": str(loaded.entry.ref), "model_name": loaded.entry.name, "test": str(test),
        "test_set": test_set_name(test), "questions": len(records), "created_at": time.time(),
        "precision": loaded.precision, "device": loaded.device, "engine": loaded.engine,
        "max_new_tokens": max_new_tokens,
        "knowledge": knowledge_name, "knowledge_k": knowledge_k if knowledge_name else None,
        "knowledge_mode": knowledge_mode if knowledge_name else None,
        "answer_style": answer_style if knowledge_name else None,
        "grounded": grounded.summary(rows) if knowledge_name else None,
        "aggregate": {**aggregated, "facts": fact_summary}, "rougeL_x100": round(rouge.headline(aggregated), 2),
        "facts_x100": None if fact_summary["mean"] is None else round(100 * fact_summary["mean"], 2),
        "retrieval": retrieval,
        "perplexity": round(reference_perplexity(loaded, questions, references, system_prompt, systems), 3),
        **timing,
        "rows": rows,
    }


def summary_line(result: dict) -> str:
    """ROUGE-L and fact accuracy with their 95% intervals, and retrieval hit@k when measured: one line."""
    agg = result["aggregate"]
    line = (f"ROUGE-L F1 x100 = {result['rougeL_x100']:.2f} (95% CI {100 * agg['rougeL']['low']:.2f}-"
            f"{100 * agg['rougeL']['high']:.2f})")
    fact = agg.get("facts") or {}
    if fact.get("mean") is not None:
        line += (f", facts {100 * fact['mean']:.1f}% (95% CI {100 * fact['low']:.1f}-{100 * fact['high']:.1f}; "
                 f"{fact['scored']} scored, {fact['skipped']} without key facts)")
    if result.get("retrieval"):
        hits = result["retrieval"]
        line += (f", retrieval hit@1 {hits['hit@1']:.2f} hit@3 {hits['hit@3']:.2f} "
                 f"({hits['with_source']} questions with a named source)")
    for name, label in (("faithfulness", "faithfulness"), ("unsupported", "unsupported answers"),
                        ("citation_precision", "citation precision"), ("refused", "refused")):
        measure = (result.get("grounded") or {}).get(name) or {}
        if measure.get("mean") is not None:
            line += (f", {label} {100 * measure['mean']:.1f}% (95% CI {100 * measure['low']:.1f}-"
                     f"{100 * measure['high']:.1f}; n={measure['n']})")
    return line


def evaluate_into(run_dir: Path, loaded: base.LoadedModel, tests: list[str], batch_size: int = EVAL.batch_size,
                  max_new_tokens: int = EVAL.max_new_tokens, system_prompt: str = EVAL.system_prompt,
                  limit: int = 0, progress: Callable[[int, str], None] = lambda i, test: None,
                  knowledge_name: str | None = None, knowledge_k: int = EVAL.knowledge_k,
                  knowledge_mode: str = EVAL.knowledge_mode, answer_style: str = EVAL.answer_style
                  ) -> dict[str, dict]:
    """Answer and score each test set, keeping each result in the run folder. Returns {test file: result}."""
    results = {}
    for i, test in enumerate(tests):
        progress(i, test)
        result = evaluate(loaded, test, batch_size, max_new_tokens, system_prompt, limit, knowledge_name,
                          knowledge_k, knowledge_mode, answer_style)
        runs.write_json(result_path(run_dir, test, knowledge_name, answer_style), result)
        results[test] = result
        log.info("%s on %s%s: %s, perplexity %.2f, %d questions in %.1f s", result["model_name"],
                 result["test_set"], f" with {knowledge_name}" if knowledge_name else "", summary_line(result),
                 result["perplexity"], result["questions"], result["seconds"])
    return results


def _answer_tests(job: EvalJob, run_dir: Path, end: runs.JobEnd) -> dict:
    started = time.time()
    folder = runs.eval_results_folder(job.model, run_dir)
    tests, knowledge = list(job.tests), job.knowledge
    if knowledge and knowledge not in SAMPLE_FILES:
        store.retrieve(knowledge, "check", 1)  # an unknown collection fails before the model loads
    if job.holdout:  # every test is answered from the copy without the held-out pairs
        if job.knowledge in SAMPLE_FILES:
            store.sample_collection(job.knowledge)
        knowledge, held_out = holdout.hold_out(job.knowledge, job.holdout)
        tests = [str(held_out), *tests]
        log.info("held out %d Q/A pairs of %s: answered from %s, the collection without them", job.holdout,
                 job.knowledge, knowledge)
    runs.update_status(run_dir, total_steps=len(tests))
    loaded = loader.load_model(job.model, job.precision, progress=log.info, engine=job.engine)
    results = evaluate_into(
        folder, loaded, tests, job.batch_size, job.max_new_tokens, job.system_prompt, job.limit,
        progress=lambda i, test: runs.update_status(run_dir, message=f"Answering {Path(test).name}...", step=i),
        knowledge_name=knowledge, knowledge_k=job.knowledge_k, knowledge_mode=job.knowledge_mode,
        answer_style=job.answer_style)
    runs.write_json(run_dir / runs.SUMMARY, {"state": "finished", "model": job.model, "results_in": str(folder),
                                             "runtime_s": round(time.time() - started, 1),
                                             "knowledge": knowledge, "held_out": job.holdout,
                                             "tests": {Path(t).stem: r["rougeL_x100"] for t, r in results.items()},
                                             "facts": {Path(t).stem: r["facts_x100"] for t, r in results.items()}})
    end.message, end.fields = "Evaluated.", {"step": len(tests)}
    return results


def run(job: EvalJob, run_dir: Path) -> dict:
    """An evaluation job: every test set of `job`, results where runs.eval_results_folder says. Returns
    {test file: result}; the status follows runs.job_lifecycle."""
    run_dir.mkdir(parents=True, exist_ok=True)
    job.save(run_dir / runs.CONFIG)
    with runs.job_lifecycle(run_dir, log, "Loading the model...", step=0) as end:
        return _answer_tests(job, run_dir, end)


def run_job(config_path: str | Path) -> dict:
    """`python -m studio evaluate runs/<id>/config.json`, as the job queue runs it (a bad config is recorded too)."""
    run_dir = Path(config_path).resolve().parent
    with runs.job_lifecycle(run_dir, log, "Loading the model...", step=0) as end:
        return _answer_tests(EvalJob.load(config_path), run_dir, end)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", help="an EvalJob config JSON (its folder is the run folder)")
    parser.add_argument("--model", help="model reference")
    parser.add_argument("--adapter", help="a training run folder whose adapter to evaluate")
    parser.add_argument("--test", action="append", help="test file (repeatable)")
    parser.add_argument("--out", help="write the result JSON here (one test) or into this folder (several)")
    parser.add_argument("--batch-size", type=int, default=EVAL.batch_size)
    parser.add_argument("--max-new-tokens", type=int, default=EVAL.max_new_tokens)
    parser.add_argument("--precision", default=EVAL.precision, help="float32 (default), bfloat16, auto, ... "
                        "(transformers engine only; llama.cpp reads the GGUF file's weights)")
    parser.add_argument("--engine", default="auto", choices=loader.ENGINES,
                        help="auto (default): llama.cpp when it is installed and runs the model, else transformers")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--knowledge", help="answer with the passages retrieved from this collection (the samples "
                        f"{', '.join(SAMPLE_FILES)} are built on first use)")
    parser.add_argument("--knowledge-k", type=int, default=EVAL.knowledge_k, help="passages per question")
    parser.add_argument("--knowledge-mode", default=EVAL.knowledge_mode, choices=MODES)
    parser.add_argument("--answer-style", default=EVAL.answer_style, choices=ANSWER_STYLES,
                        help="with --knowledge: auto (checked, asked again, then quoted), generate or quote")
    parser.add_argument("--holdout", type=int, default=0, metavar="N",
                        help="with --knowledge: test on N of the collection's own Q/A pairs, answered from a copy "
                        "without them; a run folder is made for the Results tab (--test optional)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        if args.config:
            run_job(args.config)
            return 0
        if not ((args.test or args.holdout) and (args.model or args.adapter)):
            parser.error("give a CONFIG.json, or --test (or --knowledge and --holdout) and --model (or --adapter)")
        job = EvalJob(model=args.model or f"adapter:{args.adapter}", tests=args.test or [],
                      batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, limit=args.limit,
                      knowledge=args.knowledge, knowledge_k=args.knowledge_k, knowledge_mode=args.knowledge_mode,
                      answer_style=args.answer_style, engine=args.engine, holdout=args.holdout).validate()
        if args.holdout:  # the flags pass the same checks as a queued job, above
            return _held_out_run(job)
        if args.knowledge and args.knowledge not in SAMPLE_FILES:
            store.retrieve(args.knowledge, "check", 1)  # an unknown collection fails before the model loads
        ref = refs.ModelRef("adapter", args.adapter) if args.adapter else refs.ModelRef.parse(args.model)
        loaded = loader.load_model(ref, args.precision, progress=log.info, engine=args.engine)
        for test in args.test:
            result = evaluate(loaded, test, args.batch_size, args.max_new_tokens, limit=args.limit,
                              knowledge_name=args.knowledge, knowledge_k=args.knowledge_k,
                              knowledge_mode=args.knowledge_mode, answer_style=args.answer_style)
            agg = result["aggregate"]
            print(f"{result['model_name']} on {test}{' with ' + args.knowledge if args.knowledge else ''}: "
                  f"{summary_line(result)}, ROUGE-1 {100 * agg['rouge1']['mean']:.2f}, "
                  f"ROUGE-2 {100 * agg['rouge2']['mean']:.2f}, ROUGE-Lsum {100 * agg['rougeLsum']['mean']:.2f}, "
                  f"perplexity {result['perplexity']:.2f}, {result['questions']} questions in "
                  f"{result['seconds']:.1f} s ({result['tokens_per_s']} tokens/s)")
            if args.out:
                out = Path(args.out)
                if out.is_dir() or len(args.test) > 1:
                    out = result_path(out, test, args.knowledge, args.answer_style)
            else:  # an adapter's evaluation goes into its run folder; a base model's only where asked
                out = result_path(args.adapter, test, args.knowledge, args.answer_style) if args.adapter else None
            if out:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(result, indent=2))
                print(f"written to {out}")
    except Exception as e:  # noqa: BLE001 - a job's failure is already logged and recorded by runs.job_lifecycle
        if not args.config and not isinstance(e, (*runs.known_errors(), KnowledgeError)):
            log.exception("evaluation failed")
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def _held_out_run(job: EvalJob) -> int:
    """--holdout: the evaluation job run here, in a run folder of its own, so the Results tab lists it."""
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{job.knowledge}-heldout-{job.holdout}-eval"
    run_dir = runs.root() / name
    for test, result in run(job, run_dir).items():
        print(f"{result['model_name']} on {result['test_set']} with {result['knowledge']}: {summary_line(result)}, "
              f"{result['questions']} questions in {result['seconds']:.1f} s")
    print(f"run folder {run_dir} (the Results tab lists it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
