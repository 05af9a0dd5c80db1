"""Every command-line verb of the app: `python -m studio VERB ...` (`python -m studio --help` lists them).

Most verbs are a module's own `main` (the job queue runs the same modules with a config file, e.g. `python -m
studio.training.sft runs/<id>/config.json`); `knowledge` and `grid` live here because they reach across the
layers (answering with a model, planning and reading results).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import time

VERBS = {
    "train": ("studio.training.sft", "LoRA/QLoRA fine-tuning of a model on Q/A data"),
    "rlhf": ("studio.training.rlhf", "GRPO, RLOO or DPO from a model or a fine-tuned run"),
    "export": ("studio.training.export", "a fine-tuned run as one GGUF file plus an Ollama Modelfile"),
    "evaluate": ("studio.evaluation.evaluate", "answer and score test sets (ROUGE, key facts, perplexity)"),
    "memory-bench": ("studio.evaluation.memory_bench", "which conversation memory keeps the needed context"),
    "grid": ("studio.cli", "the experiment grid: plan it, queue its cells, wait for results"),
    "knowledge": ("studio.cli", "knowledge collections: add, list, delete, rebuild, search, ask"),
    "conversations": ("studio.data.dialogue", "turn Q/A pairs into multi-turn conversations"),
    "gguf": ("studio.models.gguf_files", "the llama.cpp toolchain: sdist, tools, quantize"),
}
"""verb -> (module whose main(argv) runs it, what it does)."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in VERBS:
        width = max(map(len, VERBS))
        print("usage: python -m studio VERB [ARGS...]   (python -m studio VERB --help for its options)\n\nverbs:")
        for verb, (_, what) in VERBS.items():
            print(f"  {verb:<{width}}  {what}")
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nerror: unknown verb {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    verb, rest = argv[0], argv[1:]
    if verb == "knowledge":
        return knowledge(rest)
    if verb == "grid":
        return grid(rest)
    return importlib.import_module(VERBS[verb][0]).main(rest) or 0


# ------------------------------------------------------------------------------------------------ knowledge


def _ask(name: str, question: str, model: str, k: int, mode: str, threshold: float, style: str) -> None:
    """One grounded chat turn, as the Chat tab answers it: checked against its sources (answer style `style`)."""
    from studio.chat import chat_turn
    from studio.engines.base import GenerationSettings
    from studio.engines.loader import load_model
    from studio.knowledge import store
    from studio.knowledge.grounding import KnowledgeConfig, no_source_reply
    from studio.memory import MemoryConfig, MemoryState

    passages = store.retrieve(name, question, k, mode)
    if not store.has_support(passages, threshold):
        # Not left to the model: asked to admit it had no source, Qwen2.5-0.5B still answered from memory.
        best = max((p.dense_score for p in passages), default=0.0)
        print(f"{no_source_reply(name)}\n\n(best passage cosine {best:.2f} < threshold {threshold:.2f})")
        return
    loaded = load_model(model, progress=lambda m: print(m, file=sys.stderr))
    config = KnowledgeConfig(name, k=k, mode=mode, threshold=threshold, answer_style=style)
    update = None
    for update in chat_turn(loaded, MemoryConfig("none"), MemoryState(), question,
                            GenerationSettings(temperature=0.0, max_new_tokens=160), config):
        pass
    checked = f"\n({update.answer.describe()})" if update.answer else ""
    print(update.reply + checked + "\n\nSources:")
    for n, p in enumerate(update.sources, 1):
        used = "".join(f"\n      used: {sentence}" for sentence in update.answer.check.used.get(n - 1, [])) \
            if update.answer else ""
        print(f"  [{n}] {p.citation} (cosine {p.dense_score:.2f}){used}")


def knowledge(argv: list[str] | None = None) -> int:
    """`python -m studio knowledge add|list|delete|rebuild|search|ask ...`"""
    from studio.core import paths
    from studio.knowledge import store
    from studio.knowledge.collection import DEFAULT_MODE, MODES, KnowledgeError
    from studio.knowledge.support import ANSWER_STYLES

    parser = argparse.ArgumentParser(prog="python -m studio knowledge",
                                     description="Knowledge collections: documents and Q/A files indexed for "
                                                 "retrieval, searched and answered from with sources.")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="index files into a collection (created when missing)")
    add.add_argument("name")
    add.add_argument("files", nargs="+")
    add.add_argument("--replace", action="store_true", help="re-index files already in the collection")
    commands.add_parser("list", help="collections, their files and passage counts, and why one is damaged")
    remove = commands.add_parser("delete", help="delete a collection (damaged or not), or one file from it")
    remove.add_argument("name")
    remove.add_argument("file", nargs="?")
    rebuild = commands.add_parser("rebuild", help="index a collection again from the copies of its files it keeps "
                                                  "(the way back for a damaged one)")
    rebuild.add_argument("name")
    for command in ("search", "ask"):
        sub = commands.add_parser(command, help="show the best passages" if command == "search"
                                  else "answer from the collection with a model, and cite the sources")
        sub.add_argument("name")
        sub.add_argument("question")
        sub.add_argument("-k", type=int, default=3)
        sub.add_argument("--mode", choices=MODES, default=DEFAULT_MODE)
        if command == "ask":
            sub.add_argument("--model", default="bundled:qwen2.5-coder-0.5b-instruct")
            sub.add_argument("--threshold", type=float, default=store.SUPPORT_THRESHOLD)
            sub.add_argument("--answer-style", choices=ANSWER_STYLES, default="auto",
                             help="auto (checked, asked again, then quoted), generate or quote")
    args = parser.parse_args(argv)
    try:
        if args.command in ("add", "rebuild"):
            added = store.add_files(args.name, args.files, replace=args.replace) if args.command == "add" \
                else store.rebuild(args.name)
            for file, count in added.items():
                print(f"{file}: {count} passages")
        elif args.command == "list":
            for info in store.list_collections():
                print(f"{info.name}: damaged: {info.damaged} (delete it, or rebuild it: python -m studio knowledge "
                      f"rebuild {info.name})" if info.damaged else f"{info.name}: {info.passages} passages")
                for file, count in info.files.items():
                    print(f"  {file}: {count}")
        elif args.command == "delete":
            print(store.delete(args.name, args.file))
        elif args.command == "search":
            for n, p in enumerate(store.retrieve(args.name, args.question, args.k, args.mode), 1):
                print(f"[{n}] {p.citation}  score {p.score:.4f}  cosine {p.dense_score:.3f}  bm25 {p.bm25_score:.2f}")
                print("    " + p.text.replace("\n", "\n    "))
        else:
            _ask(args.name, args.question, args.model, args.k, args.mode, args.threshold, args.answer_style)
    except (KnowledgeError, paths.PathError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


# ----------------------------------------------------------------------------------------------------- grid


def grid(argv: list[str] | None = None) -> int:
    """`python -m studio grid ...`: see studio/evaluation/grid.py."""
    from studio.data.files import DataError
    from studio.evaluation import grid, grid_plan, results
    from studio.jobs import queue, runs
    from studio.jobs.config import ConfigError
    from studio.knowledge.collection import KnowledgeError
    from studio.knowledge.support import ANSWER_STYLES
    from studio.models.refs import ModelError

    parser = argparse.ArgumentParser(prog="python -m studio grid", description=grid.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(grid.PRESETS), default="small")
    parser.add_argument("--name", help="grid name (default: the preset's)")
    parser.add_argument("--models", nargs="+")
    parser.add_argument("--methods", nargs="+", choices=grid.METHODS)
    parser.add_argument("--epochs", nargs="+", type=int)
    parser.add_argument("--sizes", nargs="+", type=float, help="fractions (0.25) or counts (200)")
    parser.add_argument("--data")
    parser.add_argument("--tests", nargs="+", help="test files every cell is scored on (default: the preset's)")
    parser.add_argument("--conditions", nargs="+", choices=grid.CONDITIONS)
    parser.add_argument("--knowledge", metavar="NAME", help="the collection every +rag cell answers from and raft+rag "
                        "trains with (default: the sample collections, which answer only the sample test sets)")
    parser.add_argument("--answer-styles", nargs="+", choices=ANSWER_STYLES,
                        help="+rag conditions: how grounded answers are given (default: auto)")
    parser.add_argument("--job", help='other SFTJob fields as JSON, e.g. \'{"learning_rate": 0.0005}\'')
    parser.add_argument("--rlhf-job", help='RLHFJob fields for ft+grpo/ft+dpo as JSON, e.g. \'{"max_steps": 60}\'')
    parser.add_argument("--plan", action="store_true", help="print the cells and the time estimate only")
    parser.add_argument("--wait", action="store_true", help="wait for every cell and print the results")
    args = parser.parse_args(argv)
    spec = dataclasses.replace(grid.PRESETS[args.preset])
    for name, value in [("name", args.name), ("models", args.models), ("methods", args.methods),
                        ("epochs", args.epochs), ("train_sizes", args.sizes), ("data", args.data),
                        ("conditions", args.conditions), ("answer_styles", args.answer_styles),
                        ("tests", args.tests)]:
        if value:
            setattr(spec, name, value)
    if args.knowledge:
        spec.knowledge = {test: args.knowledge for test in spec.tests}
        spec.train_knowledge = args.knowledge
    if args.job:
        spec.job = json.loads(args.job)
    if args.rlhf_job:
        spec.rlhf_job = json.loads(args.rlhf_job)
    try:
        print(grid_plan.describe_plan(spec))
        if args.plan:
            return 0
        outcome = grid.submit(spec)
    except (ConfigError, DataError, ModelError, runs.RunError, KnowledgeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"queued {len(outcome['queued'])} cells; {len(outcome['done'])} already done; "
          f"{len(outcome['in progress'])} in progress")
    if args.wait:
        shown = None
        while (state := grid.progress(spec))["finished"] + state["failed"] + state["stopped"] < state["cells"]:
            queue.pump()  # start the next cell as soon as one ends (the app's queue thread may do it too)
            if state != shown:
                print(f"  {time.strftime('%H:%M:%S')} {state['finished']}/{state['cells']} cells done, "
                      f"{state['failed']} failed", flush=True)
                shown = state
            time.sleep(3)
        table = results.collect()
        table = table[table["grid"] == spec.name]
        print(table[["model_name", "condition", "method", "epochs", "train_examples", "test_set", "rougeL",
                     "rougeL_low", "rougeL_high", "facts", "facts_low", "facts_high", "hit3",
                     "runtime_s"]].round(2).to_string(index=False))
    return 0
