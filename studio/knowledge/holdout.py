"""Test a collection on its own Q/A pairs, fairly: N pairs drawn (seeded) from the collection's Q/A passages are
held out, a copy of the collection without them answers their questions, and their answers are the references.

Without the copy the test would be unfair: the held-out question would find its own row, answer included, and the
model would only have to copy it. The copy shares the passages' vectors (nothing is embedded again), so making it
takes about a second; it is named "<collection>.heldout-<N>" and shows in the collection lists like any other, so
the chat can be tried on exactly what was measured. Its folder also holds the test file of the held-out pairs.
A held-out pair whose fact another row (a paraphrase) or a document also states can still be answered from the
copy: that is the collection knowing the answer, which is what the test asks.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from studio.core import paths
from studio.knowledge import store
from studio.knowledge.collection import KnowledgeError, Passage

SUFFIX = ".heldout-"
MIN_LEFT = 5
"""Q/A pairs the copy keeps at least: a collection emptied of its pairs tests nothing but refusals."""


def qa_pair(passage: Passage) -> tuple[str, str] | None:
    """(question, answer) of a Q/A-row passage ("Q: ...\\nA: ..."), None for a document passage."""
    if passage.row is None or not passage.text.startswith("Q: ") or "\nA: " not in passage.text:
        return None
    question, answer = passage.text[3:].split("\nA: ", 1)
    question, answer = question.strip(), answer.strip()
    return (question, answer) if question and answer else None


def copy_name(name: str, n: int) -> str:
    return f"{name[:48]}{SUFFIX}{n}"


def hold_out(name: str, n: int, seed: int = 0) -> tuple[str, Path]:
    """Hold out `n` of collection `name`'s Q/A pairs. Returns (the copy's name, the test CSV of the held-out
    pairs: question, answer, source). The same name, n and seed give the same pairs; the copy is made again
    each time, so it follows the collection's current files."""
    pairs = check(name, n)
    chosen = sorted(random.Random(seed).sample(range(len(pairs)), n))
    held = [pairs[i] for i in chosen]
    copy = store.copy_without(name, copy_name(name, n), {p.id for p, _ in held})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["question", "answer", "source"])
    writer.writerows([question, answer, p.citation] for p, (question, answer) in held)
    test = paths.inside(paths.knowledge_dir(), copy) / f"{copy.replace(SUFFIX, '-heldout-')}.csv"
    test.write_text(buffer.getvalue(), encoding="utf-8")
    return copy, test


def check(name: str, n: int) -> list[tuple[Passage, tuple[str, str]]]:
    """Collection `name`'s Q/A pairs when `n` of them can be held out; else a KnowledgeError saying why."""
    if store.meta(name).get("copied_from"):
        raise KnowledgeError(f"{name!r} is already a copy with pairs held out; pick the collection it came from")
    pairs = [(p, pair) for p in store.passages(name) if (pair := qa_pair(p))]
    if not isinstance(n, int) or n < 1:
        raise KnowledgeError(f"Hold out at least 1 Q/A pair, not {n!r}")
    if len(pairs) < n + MIN_LEFT:
        raise KnowledgeError(
            f"Collection {name!r} has {len(pairs)} Q/A pairs: holding out {n} needs at least {n + MIN_LEFT} (the "
            f"rest answer). Add a Q/A file to it, hold out fewer, or evaluate with a test file of your own"
            if pairs else f"Collection {name!r} has no Q/A pairs to hold out (documents only): evaluate it with a "
                          "test file of questions and reference answers")
    return pairs
