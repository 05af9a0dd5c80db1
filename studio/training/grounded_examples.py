"""Retrieval-augmented fine-tuning examples: each example's system prompt holds the passages retrieved for its
question, built with studio.knowledge.store.grounded_prompt exactly as the chat and the evaluation build it.

Choices, with why:
  gold passage   the collection's Q/A passage whose question equals the example's question (case and spacing
                 ignored). Not file name + row: training records do not carry row numbers, and a registered
                 dataset is a copy under another name, while the question text is the same wherever the pair is
                 indexed (studio/data/qa.py refuses files that repeat a question, so the match is unique).
  retrieval      k + 1 passages per question, once, before training: the extra one replaces the gold passage
                 when it is dropped. The query is the question (dialogue mode: the earlier user turns, then the
                 question, as the chat's default follow-up strategy searches).
  gold kept      the gold passage is in the context; a gold passage found only at rank k + 1 takes the k-th place.
  gold dropped   a seeded round(gold_drop x n) of the examples whose gold passage was retrieved lose it; the
                 context is the other k passages. The target stays the reference when those passages still state
                 the reference's facts (paraphrased FAQ pairs are common) and becomes the chat's no-source reply
                 (studio.knowledge.grounding.no_source_reply, the one place that text lives) otherwise.
  no gold        (the collection does not hold this pair) the context is the top k and the target the reference.
  refusals       a reference that declines (studio.metrics.refusal, e.g. "I have no source for that.": a question
                 the collection does not answer, written to teach refusing) becomes the chat's no-source reply
                 whatever was retrieved, so the model learns the exact words the chat and the refusal metric use.
Facts, for that rule: the numbers (1,000 = 1000, "24-month" gives 24, "five" = 5; "one" is no fact) and the
capitalised names (not a sentence's first word) of the reference answer. A context carries the answer when it has
every one of them; an answer with none (a plain yes/no) is never taken as carried, so its dropped example teaches
the refusal.
This is a deliberately small overlap check, not studio/metrics/facts.py (the scorer, which reads more kinds of fact).

Length: a prompt too long for max_length loses its lowest-ranked passages first (never the question, the
instructions or the best passage); only a prompt that is still too long with one passage is cut from the left.
Measured on the sample FAQ with SmolLM2's tokenizer and k=3: prompt + answer median 338 tokens, max 464 (plain
fine-tuning: median 72), so the default max_length of 512 fits every example and needs no knowledge-run default.
Measured (SmolLM2, insurer_faq collection, asked 5 paraphrased assets/test_brief.csv questions with retrieval): one
epoch with gold_drop 0.2 (54 of 395 targets the no-source reply) answered all 5 "I have no source for that", yet
copied the answer when asked a training question word for word: in a collection built from the training file the
kept gold passage repeats the example's own question, so the model learned "my question verbatim in the sources ->
copy, else refuse". gold_drop 0 (25 steps) stated the right facts in 5 of 5 (one began with a wrong "Yes."). For
Q/A collections that hold the training file, train with gold_drop 0 (the default) until the no-source rule is
revisited.
"""

from __future__ import annotations

import json
import logging
import random
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from studio.data import qa
from studio.jobs.config import ConfigError
from studio.jobs.kinds import SFTJob
from studio.knowledge import collection, grounding, store
from studio.knowledge.collection import Passage
from studio.metrics.refusal import is_refusal

log = logging.getLogger("sft")

EXAMPLES_FILE = "knowledge_examples.jsonl"
"""In the run folder: per example, its question, the citations of its passages, gold kept/dropped, its target."""
NUMBER_WORDS = {w: str(n) for n, w in enumerate(
    ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
     "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"), 2)}
"""Spelled-out numbers read as facts; "one" is left out: it is mostly an article ("in one policy year")."""
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
WORD = re.compile(r"[A-Za-z][A-Za-z'&.-]*[A-Za-z]|[A-Za-z]")
SENTENCE_END = re.compile(r"[.!?:;]\s+|\n")


@dataclass
class GroundedExample:
    example: qa.Example
    passages: list[Passage]
    """The context, best first (before any cut for length)."""
    gold: str
    """"kept", "dropped" or "none" (the collection holds no passage for this pair, or retrieval missed it)."""
    no_source: bool = False
    """True when the target is the no-source reply (gold dropped and the rest does not state the facts)."""
    dropped_for_length: int = 0
    citations: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ facts


def answer_facts(text: str) -> set[str]:
    """The numbers and capitalised names in `text`, normalised for comparison (see module docstring)."""
    facts = {n.replace(",", "").rstrip(".") for n in NUMBER.findall(text)}
    for sentence in SENTENCE_END.split(text):
        words = WORD.findall(sentence)
        for position, word in enumerate(words):
            lower = word.lower()
            if lower in NUMBER_WORDS:
                facts.add(NUMBER_WORDS[lower])
            elif position > 0 and word[0].isupper() and word != "I":
                facts.add(lower.rstrip("."))
    return facts


def context_carries(answer: str, passages: list[Passage]) -> bool:
    """Whether the passages state every fact of `answer`; False for an answer without facts."""
    wanted = answer_facts(answer)
    if not wanted:
        return False
    context = " ".join(p.text for p in passages)
    found = {n.replace(",", "").rstrip(".") for n in NUMBER.findall(context)}
    found |= {w.lower().rstrip(".") for w in WORD.findall(context)}
    found |= {NUMBER_WORDS[w] for w in found if w in NUMBER_WORDS}
    return wanted <= found


# ------------------------------------------------------------------------------------------------ retrieval


def check_collection(cfg: SFTJob) -> None:
    """A ConfigError before any training when the collection is unusable."""
    try:
        name = collection.check_name(cfg.knowledge)
    except (collection.KnowledgeError, ValueError) as e:
        raise ConfigError(f"knowledge: {e}") from e
    if name not in collection.names():
        raise ConfigError(f"knowledge: no collection named {name!r}; existing: "
                          f"{', '.join(collection.names()) or 'none'}. Build one with python -m studio knowledge add "
                          f"{name} FILE...")


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def _passage_question(p: Passage) -> str | None:
    if p.row is None or not p.text.startswith("Q: "):
        return None
    return _key(p.text[3:].split("\nA: ", 1)[0])


def _query(example: qa.Example) -> str:
    users = [m["content"] for m in example.messages if m["role"] == "user"]
    return store.standalone_query(users[-1], users[:-1])


def ground_examples(cfg: SFTJob, examples: list[qa.Example], seed: int) -> list[GroundedExample]:
    """Retrieve once for every example, choose the seeded gold_drop share, decide each target."""
    check_collection(cfg)
    k = cfg.knowledge_k
    retrieved = store.retrieve_many(cfg.knowledge, [_query(e) for e in examples], k + 1)
    gold_rank = []
    for e, found in zip(examples, retrieved):
        question = _key(e.messages[-1]["content"])
        gold_rank.append(next((i for i, p in enumerate(found) if _passage_question(p) == question), None))
    with_gold = [i for i, rank in enumerate(gold_rank) if rank is not None]
    dropped = set(random.Random(seed).sample(with_gold, int(cfg.gold_drop * len(with_gold) + 0.5)))
    grounded = []
    for i, (e, found) in enumerate(zip(examples, retrieved)):
        rank = gold_rank[i]
        if rank is None:
            grounded.append(GroundedExample(e, found[:k], "none", no_source=is_refusal(e.answer)))
        elif i in dropped:
            context = found[:rank] + found[rank + 1:]
            grounded.append(GroundedExample(e, context[:k], "dropped",
                                            no_source=not context_carries(e.answer, context[:k])))
        else:
            context = found[:k] if rank < k else found[:k - 1] + [found[rank]]
            grounded.append(GroundedExample(e, context, "kept", no_source=is_refusal(e.answer)))
    return grounded


def target(grounded: GroundedExample, cfg: SFTJob) -> str:
    return grounding.no_source_reply(cfg.knowledge) if grounded.no_source else grounded.example.answer


def system_prompt(grounded: GroundedExample, cfg: SFTJob, fits) -> str:
    """The grounded system prompt, lowest-ranked passages left out while `fits(prompt)` says it is too long."""
    passages = list(grounded.passages)
    prompt = store.grounded_prompt(passages, cfg.system_prompt)
    while len(passages) > 1 and not fits(prompt):
        passages.pop()
        prompt = store.grounded_prompt(passages, cfg.system_prompt)
    grounded.dropped_for_length = len(grounded.passages) - len(passages)
    grounded.citations = [p.citation for p in passages]
    return prompt


def retrieve_all(cfg: SFTJob, train_examples, val_examples) -> dict:
    """Grounded train and validation examples (retrieval for all of them, batched), before the model loads."""
    started = time.perf_counter()
    train_grounded = ground_examples(cfg, train_examples, cfg.seed)
    val_grounded = ground_examples(cfg, val_examples, cfg.seed + 1)
    seconds = time.perf_counter() - started
    log.info("retrieval from %s for %d examples (k=%d, batched query embedding): %.1f s", cfg.knowledge,
             len(train_grounded) + len(val_grounded), cfg.knowledge_k, seconds)
    return {"train": train_grounded, "val": val_grounded, "retrieval_s": seconds}


def build(cfg: SFTJob, grounded: dict, tokenize) -> tuple[list, list, dict]:
    """Tokenized train and validation examples with their grounded prompts, and the counts for the run summary.

    `grounded` comes from retrieve_all; `tokenize(example, system_prompt)` returns a Tokenized whose `prompt_cut`
    says how many prompt tokens were cut.
    """
    train_grounded, val_grounded = grounded["train"], grounded["val"]

    def tokenized(grounded: GroundedExample):
        example = qa.Example(grounded.example.messages, target(grounded, cfg))
        prompt = system_prompt(grounded, cfg, lambda text: tokenize(example, text).prompt_cut == 0)
        return tokenize(example, prompt)

    train, val = [tokenized(g) for g in train_grounded], [tokenized(g) for g in val_grounded]
    everything = train_grounded + val_grounded
    lengths = [len(t.input_ids) for t in train + val]
    counts = {
        "collection": cfg.knowledge, "k": cfg.knowledge_k, "gold_drop": cfg.gold_drop,
        "retrieval_s": round(grounded["retrieval_s"], 2), "examples": len(everything),
        "gold_kept": sum(g.gold == "kept" for g in everything),
        "gold_dropped": sum(g.gold == "dropped" for g in everything),
        "no_gold": sum(g.gold == "none" for g in everything),
        "no_source_targets": sum(g.no_source for g in everything),
        "passages_left_out_for_length": sum(g.dropped_for_length > 0 for g in everything),
        "prompts_cut_from_left": sum(t.prompt_cut > 0 for t in train + val),
        "tokens_median": int(statistics.median(lengths)) if lengths else 0,
        "tokens_max": max(lengths, default=0),
    }
    log.info("knowledge examples: %(gold_kept)d gold kept, %(gold_dropped)d dropped (%(no_source_targets)d with the "
             "no-source reply as target), %(no_gold)d without a gold passage; tokens per example median "
             "%(tokens_median)d, max %(tokens_max)d; %(passages_left_out_for_length)d prompts left passages out and "
             "%(prompts_cut_from_left)d were cut from the left to fit max_length", counts)
    return train, val, {"counts": counts, "train": train_grounded, "val": val_grounded}


def write_record(run_dir: Path, built: dict) -> Path:
    """One line per example: split, question, the passages' citations, gold kept/dropped/none, target kind."""
    lines = []
    for split, items in (("train", built["train"]), ("val", built["val"])):
        for g in items:
            lines.append(json.dumps({"split": split, "question": g.example.messages[-1]["content"],
                                     "sources": g.citations, "gold": g.gold,
                                     "target": "no_source" if g.no_source else "reference",
                                     "passages_left_out_for_length": g.dropped_for_length}))
    path = run_dir / EXAMPLES_FILE
    path.write_text("".join(line + "\n" for line in lines))
    return path


def collection_choices() -> list[tuple[str, str]]:
    """The Training tab's Knowledge picker: "None" (plain fine-tuning, sent as "") and every collection."""
    return [("None", "")] + [(name, name) for name in collection.names()]
